//! pipec's middle: from the AST of a `.pipe` file to a checked, optimised dataflow IR.
//!
//! This crate owns name resolution, types and vector lengths, reading and checking the
//! artifact files (weights, statistics, vocabularies) against the features fed to them,
//! lowering to the typed IR of [`ir`], the reference interpreter [`interp`], and the
//! optimisation passes of [`passes`], the `checks` and `monitor` sections (baselines computed
//! from the reference CSV with the interpreter), and the build [`identity`]. A [`Checked`] pipeline can only be made here, by
//! [`check_source`], so nothing unvalidated reaches code generation.

pub mod artifacts;
/// The front end's invariants as the fuzzers check them (`fuzz/`, `tests/fuzz_check.rs`).
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod interp;
pub mod ir;
mod lower;
pub mod passes;

use pipec_dsl::Diagnostic;
use std::path::Path;

pub use passes::Pass;

/// A pipeline that parsed, resolved and type-checked, with its artifacts read.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    graph: ir::Graph,
}

impl Checked {
    pub fn graph(&self) -> &ir::Graph {
        &self.graph
    }

    /// The build identity (lowercase hex SHA-256, see [`identity`]); an optimised pipeline
    /// built with passes disabled has that folded in.
    pub fn identity(&self) -> &str {
        &self.graph.identity
    }

    /// The monitor section with its baselines, if the pipeline has one.
    pub fn monitor(&self) -> Option<&pipec_monitor::MonitorSpec> {
        self.graph.monitor.as_ref()
    }

    /// The same pipeline after the optimisation passes, minus those in `disabled`. The
    /// names of the disabled passes are folded into the identity
    /// ([`identity::with_disabled`]).
    pub fn optimised(&self, disabled: &[Pass]) -> Checked {
        let mut graph = passes::optimise(&self.graph, disabled);
        graph.identity = identity::with_disabled(&self.graph.identity, disabled);
        Checked { graph }
    }
}

/// The result of checking one source: the pipeline if it had no errors, and every
/// diagnostic (errors and warnings) in source order.
#[derive(Debug)]
pub struct Outcome {
    pub checked: Option<Checked>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks `.pipe` source text; artifact paths resolve against `base_dir` (the folder of the
/// `.pipe` file). Never panics on any input.
pub fn check_source(source: &str, base_dir: &Path) -> Outcome {
    let ast = match pipec_dsl::parse(source) {
        Ok(ast) => ast,
        Err(diagnostics) => return Outcome { checked: None, diagnostics },
    };
    match lower::lower(&ast, source, base_dir) {
        Ok((graph, mut diagnostics)) => {
            sort(&mut diagnostics);
            Outcome { checked: Some(Checked { graph }), diagnostics }
        }
        Err(mut diagnostics) => {
            sort(&mut diagnostics);
            Outcome { checked: None, diagnostics }
        }
    }
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.primary_span().map_or(0, |s| s.start), d.severity == pipec_dsl::Severity::Warning));
}
