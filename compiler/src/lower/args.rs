//! Matching call arguments against what a built-in function or model kind accepts.

use pipec_dsl::ast::{Arg, Expr, ExprKind, Ident};
use pipec_dsl::{Diagnostic, Span};

/// The arguments of one call, checked for count and names.
pub(crate) struct CallArgs<'a> {
    pub positional: Vec<&'a Expr>,
    named: Vec<(&'a Ident, &'a Expr)>,
}

impl<'a> CallArgs<'a> {
    /// Checks that there are `min..=max` positional arguments (all before the named ones) and
    /// only named arguments from `allowed`, each at most once.
    pub fn check(
        function: &str,
        call_span: Span,
        args: &'a [Arg],
        (min, max): (usize, usize),
        allowed: &[&str],
    ) -> Result<Self, Diagnostic> {
        let mut positional = Vec::new();
        let mut named: Vec<(&Ident, &Expr)> = Vec::new();
        for arg in args {
            match &arg.name {
                None if !named.is_empty() => {
                    return Err(Diagnostic::error("E0104", "positional argument after a named one")
                        .with_primary(arg.span, "expected `name: value` here"));
                }
                None => positional.push(&arg.value),
                Some(name) => {
                    if !allowed.contains(&name.name.as_str()) {
                        let expected = if allowed.is_empty() {
                            format!("`{function}` takes no named arguments")
                        } else {
                            format!("expected one of: {}", allowed.join(", "))
                        };
                        return Err(Diagnostic::error(
                            "E0104",
                            format!("`{function}` has no argument `{}`", name.name),
                        )
                        .with_primary(name.span, expected));
                    }
                    if let Some((first, _)) = named.iter().find(|(n, _)| n.name == name.name) {
                        return Err(Diagnostic::error("E0104", format!("argument `{}` given twice", name.name))
                            .with_primary(name.span, "given again here")
                            .with_secondary(first.span, "first given here"));
                    }
                    named.push((name, &arg.value));
                }
            }
        }
        if positional.len() < min || positional.len() > max {
            let expected = match (min, max) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(Diagnostic::error(
                "E0104",
                format!("`{function}` takes {expected} positional argument(s), {} given", positional.len()),
            )
            .with_primary(call_span, format!("expected {expected} positional argument(s)")));
        }
        Ok(CallArgs { positional, named })
    }

    pub fn named(&self, name: &str) -> Option<&'a Expr> {
        self.named.iter().find(|(n, _)| n.name == name).map(|(_, e)| *e)
    }
}

/// A number literal, possibly negated.
pub(crate) fn literal_number(expr: &Expr) -> Option<f64> {
    match &expr.kind {
        ExprKind::Number(v) => Some(*v),
        ExprKind::Unary { op: pipec_dsl::ast::UnaryOp::Neg, operand } => literal_number(operand).map(|v| -v),
        _ => None,
    }
}

/// A list of number literals, `[1, -2.5, 3e4]`.
pub(crate) fn literal_numbers(expr: &Expr, what: &str) -> Result<Vec<f32>, Diagnostic> {
    let err = || {
        Diagnostic::error("E0201", format!("`{what}` must be a list of numbers"))
            .with_primary(expr.span, "expected a list of number literals, such as [1.0, 2.5]")
    };
    let ExprKind::List(items) = &expr.kind else { return Err(err()) };
    items.iter().map(|item| literal_number(item).map(|v| v as f32).filter(|v| v.is_finite()).ok_or_else(err)).collect()
}

/// A string literal.
pub(crate) fn literal_str<'e>(expr: &'e Expr, what: &str) -> Result<&'e str, Diagnostic> {
    match &expr.kind {
        ExprKind::Str(s) => Ok(s),
        _ => Err(Diagnostic::error("E0201", format!("`{what}` must be a string"))
            .with_primary(expr.span, "expected a string literal")),
    }
}

/// A bare identifier used as an option value, such as `activation: relu`.
pub(crate) fn literal_word<'e>(expr: &'e Expr, what: &str, allowed: &[&str]) -> Result<&'e str, Diagnostic> {
    match &expr.kind {
        ExprKind::Name(ident) if allowed.contains(&ident.name.as_str()) => Ok(&ident.name),
        _ => Err(Diagnostic::error("E0104", format!("invalid value for `{what}`"))
            .with_primary(expr.span, format!("expected one of: {}", allowed.join(", ")))),
    }
}
