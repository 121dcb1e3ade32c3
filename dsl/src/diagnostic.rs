//! Diagnostics shared by every phase of pipec, and their rendering in rustc's style.
//!
//! A [`Diagnostic`] carries a stable code (`E0101`), a message, and labelled spans into the
//! `.pipe` source. Phases only build diagnostics; [`render`] turns them into text (file, line,
//! column, the source line with the span underlined) with codespan-reporting, at the edge.

use crate::span::Span;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One labelled span. The primary label says what is wrong; secondary labels give context.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, for example `E0201`; the list is in `docs/language.md`.
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, code, message: message.into(), labels: Vec::new(), notes: Vec::new() }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    /// Adds the primary label: the span that is wrong, and what was expected there.
    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into(), primary: true });
        self
    }

    /// Adds a secondary label, for context such as "first defined here".
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Whether `text` occurs in the message, a label or a note.
    pub fn mentions(&self, text: &str) -> bool {
        self.message.contains(text)
            || self.labels.iter().any(|l| l.message.contains(text))
            || self.notes.iter().any(|n| n.contains(text))
    }

    /// The span of the primary label, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    /// 1-based (line, column) of the primary span's start in `source`; columns count chars.
    pub fn line_col(&self, source: &str) -> Option<(usize, usize)> {
        self.primary_span().map(|s| line_col(source, s.start))
    }
}

/// 1-based (line, column) of byte offset `offset`, columns counted in chars.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_to_char_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

fn clamp_to_char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders diagnostics as rustc does: `error[E0201]: message`, then `--> file:line:col`, the
/// source line and the span underlined with its label. `color` adds ANSI colours.
pub fn render(diagnostics: &[Diagnostic], file_name: &str, source: &str, color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut buffer = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
    for diagnostic in diagnostics {
        let cs_diag = to_codespan(diagnostic, source);
        // Writing into an in-memory buffer cannot fail; a failure would only lose this text.
        let _ = term::emit(&mut buffer, &config, &file, &cs_diag);
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn to_codespan(diagnostic: &Diagnostic, source: &str) -> cs::Diagnostic<()> {
    let base = match diagnostic.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let labels = diagnostic
        .labels
        .iter()
        .map(|label| {
            let start = clamp_to_char_boundary(source, label.span.start);
            let end = clamp_to_char_boundary(source, label.span.end.max(start));
            let l =
                if label.primary { cs::Label::primary((), start..end) } else { cs::Label::secondary((), start..end) };
            l.with_message(label.message.clone())
        })
        .collect();
    base.with_code(diagnostic.code)
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(diagnostic.notes.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_underline() {
        let source = "pipeline p {\n  input { x: f33 }\n}\n";
        let start = source.find("f33").unwrap();
        let d = Diagnostic::error("E0102", "unknown type `f33`")
            .with_primary(Span::new(start, start + 3), "expected one of f32, f64, i64, bool, str");
        let text = render(&[d], "p.pipe", source, false);
        assert!(text.contains("error[E0102]: unknown type `f33`"), "{text}");
        assert!(text.contains("p.pipe:2:14"), "{text}");
        assert!(text.contains("^^^"), "{text}");
    }

    #[test]
    fn line_col_counts_chars_not_bytes() {
        let source = "é\nab";
        assert_eq!(line_col(source, 3), (2, 1));
        assert_eq!(line_col(source, 2), (1, 2));
        assert_eq!(line_col(source, 1), (1, 1));
    }
}
