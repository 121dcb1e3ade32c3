//! The front end's invariants, as the fuzzers check them after every input: `check_source`
//! gives a checked pipeline exactly when it reports no error, every diagnostic has a primary
//! label, every label lies inside the source on char boundaries, and the rendering keeps the
//! code. Used by the property tests (`tests/fuzz_check.rs`) and the cargo-fuzz target
//! `pipe_front_end` (`fuzz/`).

use crate::check_source;
use pipec_dsl::{Diagnostic, render};
use std::path::Path;

/// Runs `check_source` on `source` (artifacts resolved in `dir`) and checks what it returns;
/// `Err` describes a broken invariant.
pub fn check_invariants(source: &str, dir: &Path) -> Result<Vec<Diagnostic>, String> {
    let outcome = check_source(source, dir);
    let diags = outcome.diagnostics;
    let has_error = diags.iter().any(Diagnostic::is_error);
    if outcome.checked.is_some() == has_error {
        return Err(format!("checked is_some = {}, but errors = {has_error}", outcome.checked.is_some()));
    }
    for d in &diags {
        if d.primary_span().is_none() {
            return Err(format!("{} `{}` has no primary label", d.code, d.message));
        }
        for label in &d.labels {
            let s = label.span;
            if s.start > s.end || s.end > source.len() {
                return Err(format!(
                    "{} `{}`: label {s:?} outside the source (len {})",
                    d.code,
                    d.message,
                    source.len()
                ));
            }
            if !source.is_char_boundary(s.start) || !source.is_char_boundary(s.end) {
                return Err(format!("{} `{}`: label {s:?} not on char boundaries", d.code, d.message));
            }
        }
        let (line, col) = d.line_col(source).ok_or_else(|| format!("{}: no line and column", d.code))?;
        if line == 0 || col == 0 {
            return Err(format!("{}: line_col ({line}, {col})", d.code));
        }
    }
    let text = render(&diags, "fuzz.pipe", source, false);
    if !diags.is_empty() && !text.contains(diags[0].code) {
        return Err(format!("rendering lost the code {}:\n{text}", diags[0].code));
    }
    Ok(diags)
}
