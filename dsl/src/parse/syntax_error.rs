//! pest's errors as diagnostics that say, in words, what was expected and what was found.

use super::Rule;
use super::literal::{shorten, unterminated};
use super::prescan::Scan;
use super::rule_names::{expected_list, join_alternatives};
use super::syntax_hints::hints;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::error::{ErrorVariant, InputLocation};

/// The diagnostics for a failed pest parse: an E0003 for each unterminated string before the
/// error (the likely cause), then the error itself.
pub(super) fn from_pest(error: &pest::error::Error<Rule>, source: &str, scan: &Scan) -> Vec<Diagnostic> {
    let pos = clamp(
        source,
        match error.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        },
    );
    let mut out: Vec<Diagnostic> =
        scan.unterminated.iter().filter(|s| s.start < pos).map(|s| unterminated(*s)).collect();
    let found = Found::at(source, pos);
    let diagnostic = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let expected = expected_list(positives);
            let list = join_alternatives(&expected);
            let mut d =
                Diagnostic::error("E0001", format!("syntax error: expected {list}, found {}", found.description))
                    .with_primary(found.span, format!("expected {list}"));
            let hints = hints(source, &expected, &found);
            if let Some((span, label)) = hints.secondary {
                d = d.with_secondary(span, label);
            }
            for note in hints.notes {
                d = d.with_note(note);
            }
            d
        }
        // pest's own guards: out of stack (or calls) despite the nesting limit.
        ErrorVariant::CustomError { message } => Diagnostic::error("E0008", "nesting too deep")
            .with_primary(found.span, "expected less deeply nested brackets or expressions here")
            .with_note(format!("the parser stopped: {message}")),
    };
    out.push(diagnostic);
    out
}

/// The token at an error position.
pub(super) struct Found {
    pub span: Span,
    /// Its text (empty at the end of the file).
    pub text: String,
    /// `end of file`, `` `word` ``, `a string`, ...
    pub description: String,
}

impl Found {
    fn at(source: &str, pos: usize) -> Found {
        let rest = source.get(pos..).unwrap_or("");
        let Some(c) = rest.chars().next() else {
            return Found { span: Span::new(pos, pos), text: String::new(), description: "end of file".into() };
        };
        let len = if c.is_ascii_alphanumeric() || c == '_' {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len())
        } else if c == '"' {
            string_len(rest)
        } else if ["<=", ">=", "==", "!=", "&&", "||", "=>", "->", "**"].iter().any(|op| rest.starts_with(op)) {
            2
        } else {
            c.len_utf8()
        };
        let span = Span::new(pos, pos + len);
        let text = rest.get(..len).unwrap_or("").to_string();
        let description = if c == '"' {
            "a string".to_string()
        } else if c.is_whitespace() || c.is_control() {
            format!("the character `{}`", c.escape_unicode())
        } else {
            format!("`{}`", shorten(&text))
        };
        Found { span, text, description }
    }
}

/// Length of the string literal at the start of `rest`, up to its closing quote or line end.
fn string_len(rest: &str) -> usize {
    let mut escaped = false;
    for (i, c) in rest.char_indices().skip(1) {
        match c {
            '\n' => return i,
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return i + 1,
            _ => {}
        }
    }
    rest.len()
}

fn clamp(source: &str, pos: usize) -> usize {
    let mut pos = pos.min(source.len());
    while !source.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}
