//! Source text to AST: pest does the recognition, the `parse_*` files build the AST.
//!
//! Guarantees: no panic on any input; every error is a [`Diagnostic`] whose spans lie inside
//! the source on char boundaries; nesting and expression size are bounded before anything
//! recursive runs, so no input can exhaust the stack.

mod errors;
mod parse_decl;
mod parse_expr;
mod parse_literal;
mod parse_pipeline;

use crate::ast::Pipeline;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "pipe.pest"]
pub(crate) struct PipeParser;

/// Deepest nesting of brackets and parentheses accepted.
pub const MAX_NESTING: usize = 64;
/// Most nodes in one expression.
pub const MAX_EXPR_NODES: usize = 2048;

/// Parses one `.pipe` file.
pub fn parse(source: &str) -> Result<Pipeline, Vec<Diagnostic>> {
    if let Some(d) = check_nesting(source) {
        return Err(vec![d]);
    }
    let pairs = PipeParser::parse(Rule::file, source).map_err(|e| vec![errors::from_pest(&e, source)])?;
    parse_pipeline::build(pairs, source)
}

/// Rejects inputs nested deeper than [`MAX_NESTING`] (outside strings and comments).
fn check_nesting(source: &str) -> Option<Diagnostic> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    for (i, c) in source.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"' | '\n') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => in_string = true,
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error("E0008", "nesting too deep")
                            .with_primary(Span::new(i, i + 1), format!("more than {MAX_NESTING} levels of brackets")),
                    );
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}
