//! Names, string literals and number literals.

use super::Rule;
use super::builder::Builder;
use crate::ast::{Ident, StrLit};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

/// Any name token (`ident`, `pipeline_name`, `model_kind`, `arg_name`).
pub(super) fn ident(pair: &Pair<'_, Rule>) -> Ident {
    Ident { name: pair.as_str().to_string(), span: pair.as_span().into() }
}

/// A `string` token: quotes removed, escapes resolved. An unknown escape is reported (E0003)
/// and the literal is still returned, so that later errors are found too.
pub(super) fn string(pair: &Pair<'_, Rule>, b: &mut Builder) -> StrLit {
    let span = Span::from(pair.as_span());
    let text = pair.as_str();
    let body = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or("");
    let body_start = span.start + 1;
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
                let escape = Span::new(body_start + i, body_start + j + other.len_utf8());
                b.report(
                    Diagnostic::error("E0003", format!("unknown escape `\\{}` in a string", other.escape_debug()))
                        .with_primary(escape, "expected one of the escapes \\\" \\\\ \\n \\t")
                        .with_note("to write a backslash, double it: `\\\\`"),
                );
            }
            // The grammar ends a string at a lone backslash only when it is unterminated.
            None => value.push('\\'),
        }
    }
    StrLit { value, span }
}

/// E0003 for an `unterminated_string` token (or a span the pre-scan found).
pub(super) fn unterminated(span: Span) -> Diagnostic {
    Diagnostic::error("E0003", "unterminated string literal")
        .with_primary(span, "expected a closing `\"` before the end of the line")
        .with_note("a string cannot span lines; write a line break as `\\n`")
}

/// A `number` token as f64; a value beyond f32's range is reported (E0007).
pub(super) fn number(pair: &Pair<'_, Rule>, b: &mut Builder) -> Option<f64> {
    let text = pair.as_str();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= f64::from(f32::MAX) => Some(v),
        _ => {
            b.report(
                Diagnostic::error("E0007", format!("number `{}` is out of range", shorten(text)))
                    .with_primary(pair.as_span().into(), "expected a number that fits in f32 (at most about 3.4e38)"),
            );
            None
        }
    }
}

/// E0007 for a `bad_number` token such as `.5`, `1e` or `1.2.3`.
pub(super) fn bad_number(pair: &Pair<'_, Rule>, b: &mut Builder) {
    let text = pair.as_str();
    let mut d = Diagnostic::error("E0007", format!("invalid number `{}`", shorten(text)))
        .with_primary(pair.as_span().into(), "expected a number such as 3, 0.5, 1e-3 or 2.5E+4");
    if text.starts_with('.') {
        d = d.with_note(format!("write a leading zero: `0{}`", shorten(text)));
    } else if text.chars().any(|c| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E')) {
        d = d.with_note("a name cannot start with a digit");
    }
    b.report(d);
}

/// At most 40 chars of a token, for messages.
pub(super) fn shorten(text: &str) -> String {
    if text.chars().count() <= 40 {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(24).collect::<String>())
    }
}
