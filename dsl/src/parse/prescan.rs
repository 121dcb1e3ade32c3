//! A pass over the raw text before pest runs: it bounds the nesting of `(`, `[` and `{` (so
//! that pest's recursive descent, and the builder after it, cannot exhaust the stack), finds
//! unterminated strings, and finds the bracket an unexpected end of file leaves open.
//!
//! It reads strings and comments exactly as `pipe.pest` does: a string runs from `"` to the
//! next unescaped `"` or to the end of its line; a comment from `#` to the end of its line.

use super::MAX_NESTING;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

pub(super) struct Scan {
    /// E0008 at the first bracket nested deeper than [`MAX_NESTING`].
    pub too_deep: Option<Diagnostic>,
    /// Each string literal without its closing quote: from the quote to the end of its line.
    pub unterminated: Vec<Span>,
}

enum Token {
    Open(usize, char),
    Close(char),
    Unterminated(Span),
}

/// Calls `f` with each bracket outside strings and comments, and each unterminated string.
fn lex(source: &str, mut f: impl FnMut(Token) -> bool) {
    let mut chars = source.char_indices();
    while let Some((i, c)) = chars.next() {
        let go_on = match c {
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                true
            }
            '"' => match string_end(source, i, &mut chars) {
                Some(end) => f(Token::Unterminated(Span::new(i, end))),
                None => true,
            },
            '(' | '[' | '{' => f(Token::Open(i, c)),
            ')' | ']' | '}' => f(Token::Close(c)),
            _ => true,
        };
        if !go_on {
            return;
        }
    }
}

/// Consumes a string whose opening quote is at `start`; `Some(end)` if it is unterminated.
fn string_end(source: &str, start: usize, chars: &mut std::str::CharIndices<'_>) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in chars.by_ref() {
        match c {
            '\n' => return Some(trim_cr(source, start, i)),
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return None,
            _ => {}
        }
    }
    Some(trim_cr(source, start, source.len()))
}

fn trim_cr(source: &str, start: usize, end: usize) -> usize {
    if end > start + 1 && source.as_bytes().get(end - 1) == Some(&b'\r') { end - 1 } else { end }
}

pub(super) fn scan(source: &str) -> Scan {
    let mut depth = 0usize;
    let mut too_deep = None;
    let mut unterminated = Vec::new();
    lex(source, |token| {
        match token {
            Token::Open(i, c) => {
                depth += 1;
                if depth > MAX_NESTING {
                    too_deep = Some(
                        Diagnostic::error("E0008", "nesting too deep")
                            .with_primary(
                                Span::new(i, i + c.len_utf8()),
                                format!("expected at most {MAX_NESTING} nested `(`, `[` and `{{`"),
                            )
                            .with_note("split the expression into several features"),
                    );
                    return false;
                }
            }
            Token::Close(_) => depth = depth.saturating_sub(1),
            Token::Unterminated(span) => unterminated.push(span),
        }
        true
    });
    Scan { too_deep, unterminated }
}

/// The innermost bracket opened before `end` and not closed by then, with its span.
pub(super) fn unclosed_before(source: &str, end: usize) -> Option<(Span, char)> {
    let mut stack: Vec<(usize, char)> = Vec::new();
    lex(source, |token| {
        match token {
            Token::Open(i, _) if i >= end => return false,
            Token::Open(i, c) => stack.push((i, c)),
            Token::Close(c) => {
                let opener = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.last().is_some_and(|&(_, top)| top == opener) {
                    stack.pop();
                }
            }
            Token::Unterminated(_) => {}
        }
        true
    });
    stack.last().map(|&(i, c)| (Span::new(i, i + c.len_utf8()), c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_comments_hide_brackets() {
        let s = scan(
            r#"( "((\"(" # (((
 [ "unterminated ((( "#,
        );
        assert!(s.too_deep.is_none());
        assert_eq!(s.unterminated.len(), 1);
        let deep = format!("# {}\n\"{}\"{}", "(".repeat(100), "[".repeat(100), "{".repeat(64));
        assert!(scan(&deep).too_deep.is_none());
        let deeper = format!("{deep}(");
        let d = scan(&deeper).too_deep.expect("too deep");
        assert_eq!(d.primary_span(), Some(Span::new(deeper.len() - 1, deeper.len())));
    }

    #[test]
    fn a_newline_ends_a_string_even_after_a_backslash() {
        let s = scan("\"abc\\\n(((\"\r\n");
        assert_eq!(s.unterminated, [Span::new(0, 5), Span::new(9, 10)]);
    }

    #[test]
    fn finds_the_unclosed_bracket() {
        let src = "pipeline p { output { y = f(x) }";
        assert_eq!(unclosed_before(src, src.len()), Some((Span::new(11, 12), '{')));
        let src = "pipeline p { output { y = [f(x] }";
        assert_eq!(unclosed_before(src, src.len()), Some((Span::new(28, 29), '(')));
        assert_eq!(unclosed_before("a ( b", 5), Some((Span::new(2, 3), '(')));
        assert_eq!(unclosed_before("a ( b )", 7), None);
        assert_eq!(unclosed_before("a ( b ( c", 5), Some((Span::new(2, 3), '(')));
    }
}
