//! Dependency order of the bindings, cycle detection, and unused-name warnings.

use super::scope::{Decl, Scope};
use pipec_dsl::Diagnostic;
use pipec_dsl::ast::{Binding, Expr, ExprKind, Ident};

/// Every name an expression refers to (variables and called names), in source order.
pub(crate) fn references(expr: &Expr) -> Vec<&Ident> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {}
            ExprKind::List(items) => stack.extend(items.iter().rev()),
            ExprKind::Name(ident) => out.push(ident),
            ExprKind::Call { callee, args } => {
                out.push(callee);
                stack.extend(args.iter().rev().map(|a| &a.value));
            }
            ExprKind::Unary { operand, .. } => stack.push(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                stack.push(rhs);
                stack.push(lhs);
            }
            ExprKind::Index { base, .. } => stack.push(base),
        }
    }
    out
}

fn binding_decls(scope: &Scope) -> Vec<Decl> {
    let features = (0..scope.ast.features.len()).map(Decl::Feature);
    let outputs = (0..scope.ast.outputs.len()).map(Decl::Output);
    features
        .chain(outputs)
        // A duplicate declaration is not in the scope under its own index: skip it.
        .filter(|d| scope.get(&scope.ident(*d).name) == Some(d))
        .collect()
}

/// The bindings that are declared once and not part of a cycle, each after the bindings it
/// reads. A cycle is reported once, at the binding where the search entered it.
pub(crate) fn binding_order<'a>(scope: &Scope<'a>, diagnostics: &mut Vec<Diagnostic>) -> Vec<&'a Binding> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
        Cyclic,
    }
    let decls = binding_decls(scope);
    let key = |d: Decl| match d {
        Decl::Feature(i) => i,
        Decl::Output(i) => scope.ast.features.len() + i,
        _ => usize::MAX,
    };
    let mut marks = vec![Mark::New; scope.ast.features.len() + scope.ast.outputs.len()];
    let mut order = Vec::new();
    let deps = |d: Decl| -> Vec<(Decl, &Ident)> {
        let Some(binding) = scope.binding(d) else { return Vec::new() };
        references(&binding.value)
            .into_iter()
            .filter_map(|ident| match scope.get(&ident.name) {
                Some(dep @ (Decl::Feature(_) | Decl::Output(_))) => Some((*dep, ident)),
                _ => None,
            })
            .collect()
    };
    for root in decls {
        if marks[key(root)] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (decl, its dependencies, next dependency to visit).
        let mut stack = vec![(root, deps(root), 0usize)];
        marks[key(root)] = Mark::Active;
        while let Some((decl, edges, next)) = stack.last_mut() {
            if *next < edges.len() {
                let (dep, ident) = edges[*next];
                *next += 1;
                match marks[key(dep)] {
                    Mark::New => {
                        marks[key(dep)] = Mark::Active;
                        let dep_edges = deps(dep);
                        stack.push((dep, dep_edges, 0));
                    }
                    Mark::Active => {
                        let start = stack.iter().position(|(d, _, _)| *d == dep).unwrap_or(0);
                        let cycle: Vec<Decl> = stack[start..].iter().map(|(d, _, _)| *d).collect();
                        let names: Vec<&str> = cycle.iter().map(|d| scope.ident(*d).name.as_str()).collect();
                        let mut diagnostic =
                            Diagnostic::error("E0401", format!("`{}` depends on itself", scope.ident(dep).name))
                                .with_primary(
                                    ident.span,
                                    format!("`{}` is used here, inside its own definition", ident.name),
                                )
                                .with_note(format!("cycle: {} -> {}", names.join(" -> "), names[0]));
                        for d in &cycle {
                            diagnostic = diagnostic.with_secondary(scope.ident(*d).span, "part of the cycle");
                        }
                        diagnostics.push(diagnostic);
                        for d in cycle {
                            marks[key(d)] = Mark::Cyclic;
                        }
                    }
                    Mark::Done | Mark::Cyclic => {}
                }
            } else {
                let decl = *decl;
                if marks[key(decl)] == Mark::Active {
                    marks[key(decl)] = Mark::Done;
                    if let Some(binding) = scope.binding(decl) {
                        order.push(binding);
                    }
                }
                stack.pop();
            }
        }
    }
    order
}

/// A warning for every input, feature and model that no output, check or watched name
/// (`watched`, from the monitor section) depends on.
pub(crate) fn unused_warnings<'a>(scope: &Scope<'a>, watched: &[&'a Ident]) -> Vec<Diagnostic> {
    let ast = scope.ast;
    let mut used = std::collections::HashSet::new();
    let mut stack: Vec<&Expr> = ast.outputs.iter().chain(&ast.checks).map(|b| &b.value).collect();
    let mut pending: Vec<&Ident> = watched.to_vec();
    loop {
        let idents = match stack.pop() {
            Some(expr) => references(expr),
            None => match pending.pop() {
                Some(ident) => vec![ident],
                None => break,
            },
        };
        for ident in idents {
            if !used.insert(ident.name.as_str()) {
                continue;
            }
            if let Some(Decl::Feature(i)) = scope.get(&ident.name) {
                stack.push(&ast.features[*i].value);
            }
            if let Some(Decl::Output(i)) = scope.get(&ident.name) {
                stack.push(&ast.outputs[*i].value);
            }
        }
    }
    let inputs = ast.inputs.iter().map(|d| ("input", &d.name));
    let features = ast.features.iter().map(|b| ("feature", &b.name));
    let models = ast.models.iter().map(|m| ("model", &m.name));
    inputs
        .chain(features)
        .chain(models)
        .filter(|(_, ident)| !used.contains(ident.name.as_str()))
        .map(|(what, ident)| {
            Diagnostic::warning("W0001", format!("{what} `{}` reaches no output", ident.name))
                .with_primary(ident.span, "never used by any output")
                .with_note("it is still checked and accepted, but never computed")
        })
        .collect()
}
