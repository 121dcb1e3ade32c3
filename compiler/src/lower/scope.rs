//! Declarations: every name of the pipeline, what it declares, and duplicate names.

use pipec_dsl::Diagnostic;
use pipec_dsl::ast::{self, Binding};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decl {
    Input(usize),
    Feature(usize),
    Model(usize),
    Output(usize),
    Check(usize),
}

pub(crate) struct Scope<'a> {
    pub ast: &'a ast::Pipeline,
    names: HashMap<&'a str, Decl>,
}

impl<'a> Scope<'a> {
    /// Collects all names; a name declared twice is an error pointing at both.
    pub fn collect(ast: &'a ast::Pipeline, diagnostics: &mut Vec<Diagnostic>) -> Self {
        let mut scope = Scope { ast, names: HashMap::new() };
        let inputs = ast.inputs.iter().enumerate().map(|(i, d)| (&d.name, Decl::Input(i)));
        let features = ast.features.iter().enumerate().map(|(i, b)| (&b.name, Decl::Feature(i)));
        let models = ast.models.iter().enumerate().map(|(i, m)| (&m.name, Decl::Model(i)));
        let outputs = ast.outputs.iter().enumerate().map(|(i, b)| (&b.name, Decl::Output(i)));
        let checks = ast.checks.iter().enumerate().map(|(i, b)| (&b.name, Decl::Check(i)));
        for (ident, decl) in inputs.chain(features).chain(models).chain(outputs).chain(checks) {
            match scope.names.get(ident.name.as_str()) {
                Some(first) => {
                    let first_span = scope.ident(*first).span;
                    diagnostics.push(
                        Diagnostic::error("E0102", format!("`{}` is defined more than once", ident.name))
                            .with_primary(ident.span, "defined again here")
                            .with_secondary(first_span, "first defined here")
                            .with_note("inputs, features, models, outputs and checks share one namespace"),
                    );
                }
                None => {
                    scope.names.insert(ident.name.as_str(), decl);
                }
            }
        }
        scope
    }

    pub fn get(&self, name: &str) -> Option<&Decl> {
        self.names.get(name)
    }

    pub fn ident(&self, decl: Decl) -> &'a ast::Ident {
        match decl {
            Decl::Input(i) => &self.ast.inputs[i].name,
            Decl::Feature(i) => &self.ast.features[i].name,
            Decl::Model(i) => &self.ast.models[i].name,
            Decl::Output(i) => &self.ast.outputs[i].name,
            Decl::Check(i) => &self.ast.checks[i].name,
        }
    }

    /// The binding (feature or output) a declaration stands for.
    pub fn binding(&self, decl: Decl) -> Option<&'a Binding> {
        match decl {
            Decl::Feature(i) => Some(&self.ast.features[i]),
            Decl::Output(i) => Some(&self.ast.outputs[i]),
            _ => None,
        }
    }

    /// All declared names, sorted, for "did you mean" suggestions.
    pub fn names(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = self.names.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

/// The closest candidate to `name` by edit distance, if it is close enough to be a typo.
pub(crate) fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= (name.len().max(c.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
