//! Source text to AST: pest recognises the text (`src/pipe.pest`), the other files build
//! the AST from pest's tree, one construct each.
//!
//! Guarantees: no panic on any input; every error is a [`Diagnostic`] with a primary label
//! whose span lies inside the source on char boundaries; nesting depth and expression size are
//! bounded before anything recursive runs, so no input can exhaust the stack.

mod args;
mod binding;
mod builder;
mod expr;
mod input;
mod literal;
mod model;
mod operand;
mod pipeline;
mod prescan;
mod rule_names;
mod syntax_error;
mod syntax_hints;

use crate::ast::Pipeline;
use crate::diagnostic::Diagnostic;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "pipe.pest"]
pub(crate) struct PipeParser;

/// Deepest nesting of `(`, `[` and `{` accepted (the pipeline's and a section's braces count).
pub const MAX_NESTING: usize = 64;
/// Most nodes in one expression (a binding's value, or a model declaration's arguments).
pub const MAX_EXPR_NODES: usize = 2048;

/// Parses one `.pipe` file into its AST, or gives the diagnostics of everything wrong with it.
///
/// Never panics. On a syntax error pest stops at the first one, so the result holds that one
/// (with an E0003 before it for an unterminated string earlier in the file); when the text is
/// well-formed, all the errors the AST builder finds are reported, in source order.
pub fn parse(source: &str) -> Result<Pipeline, Vec<Diagnostic>> {
    let scan = prescan::scan(source);
    if let Some(too_deep) = scan.too_deep {
        return Err(vec![too_deep]);
    }
    match PipeParser::parse(Rule::file, source) {
        Ok(pairs) => pipeline::build(pairs, source),
        Err(error) => Err(syntax_error::from_pest(&error, source, &scan)),
    }
}
