//! Names, strings and numbers.

use super::Rule;
use crate::ast::{Ident, StrLit};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

pub(super) fn ident(pair: Pair<'_, Rule>) -> Ident {
    Ident { name: pair.as_str().to_string(), span: pair.as_span().into() }
}

/// A string literal, escapes resolved; a bad escape is reported (the literal is kept).
pub(super) fn string(pair: Pair<'_, Rule>, diagnostics: &mut Vec<Diagnostic>) -> StrLit {
    let span = Span::from(pair.as_span());
    let text = pair.as_str();
    let body = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
    let mut value = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => value.push('"'),
            Some((_, '\\')) => value.push('\\'),
            Some((_, 'n')) => value.push('\n'),
            Some((_, 't')) => value.push('\t'),
            Some((j, other)) => {
                let start = span.start + 1 + i;
                let end = span.start + 1 + j + other.len_utf8();
                diagnostics.push(
                    Diagnostic::error("E0003", format!("unknown escape `\\{}` in a string", other.escape_debug()))
                        .with_primary(Span::new(start, end), "expected one of \\\" \\\\ \\n \\t"),
                );
            }
            None => {}
        }
    }
    StrLit { value, span }
}

pub(super) fn unterminated(pair: Pair<'_, Rule>) -> Diagnostic {
    Diagnostic::error("E0003", "unterminated string literal")
        .with_primary(pair.as_span().into(), "expected a closing `\"` before the end of the line")
}

/// A number literal as f64; out-of-range numbers are reported.
pub(super) fn number(pair: Pair<'_, Rule>) -> Result<f64, Diagnostic> {
    let span = Span::from(pair.as_span());
    match pair.as_str().parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= f64::from(f32::MAX) => Ok(v),
        _ => Err(Diagnostic::error("E0007", format!("number `{}` is out of range", pair.as_str()))
            .with_primary(span, "expected a number that fits in f32")),
    }
}
