//! pipec's front end: the `.pipe` language.
//!
//! This crate owns the pest grammar (`src/pipe.pest`), the parser from source text into the
//! spanned AST of [`ast`], and the [`Diagnostic`] type that every later phase reports with.
//! Parsing never panics: any byte string gives either an AST or diagnostics with spans.
//! pest appears in this crate only.

pub mod ast;
pub mod diagnostic;
mod parse;
pub mod span;

pub use diagnostic::{Diagnostic, Label, Severity, render};
pub use parse::parse;
pub use span::Span;
