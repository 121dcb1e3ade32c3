//! Notes for common mistakes, added to a syntax error from what was expected and found.

use super::prescan::unclosed_before;
use super::rule_names::{END_OF_FILE, EXPRESSION, OPERATOR, SECTION};
use super::syntax_error::Found;
use crate::span::Span;

const KEYWORDS: [&str; 11] =
    ["pipeline", "version", "input", "features", "models", "output", "true", "false", "and", "or", "not"];
const SECTION_WORDS: [&str; 7] = ["version", "input", "features", "models", "output", "checks", "monitor"];

#[derive(Default)]
pub(super) struct Hints {
    pub secondary: Option<(Span, String)>,
    pub notes: Vec<String>,
}

pub(super) fn hints(source: &str, expected: &[&str], found: &Found) -> Hints {
    let mut h = Hints::default();
    let expects = |what: &str| expected.contains(&what);
    let word = found.text.as_str();
    let pos = found.span.start;

    if found.text.is_empty() {
        if let Some((span, c)) = unclosed_before(source, pos) {
            let close = match c {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            h.secondary = Some((span, format!("this `{c}` is not closed")));
            h.notes.push(format!("add the `{close}` that closes it"));
        }
        return h;
    }
    let rest = source.get(found.span.end..).unwrap_or("").trim_start();
    if expects(SECTION) && !KEYWORDS.contains(&word) && (rest.starts_with('=') || rest.starts_with(':')) {
        h.notes.push(
            "declarations go inside a section: `input { name: type }`, `features { name = expression }`, \
             `models { name = kind(\"file\") }` or `output { name = expression }`"
                .into(),
        );
    }
    if expects("`pipeline`") && SECTION_WORDS.contains(&word) {
        h.notes.push("the sections go inside one `pipeline NAME { ... }` block".into());
    }
    if expected == [END_OF_FILE] {
        h.notes.push(if word == "pipeline" {
            "a file holds exactly one pipeline".into()
        } else {
            "only comments may follow the `}` that closes the pipeline".into()
        });
    }
    let used_as_name = rest.starts_with(':') || rest.starts_with('=');
    if KEYWORDS.contains(&word) && (used_as_name || expects(EXPRESSION) || expects("a pipeline name")) {
        h.notes.push(match word {
            "and" | "or" => format!("`{word}` needs an operand on each side: `a {word} b`"),
            _ => format!("`{word}` is a keyword and cannot be used as a name"),
        });
    } else if SECTION_WORDS.contains(&word) && expects("`}`") && !expects(SECTION) {
        if let Some((span, '{')) = unclosed_before(source, pos) {
            h.secondary = Some((span, "this `{` is not closed".into()));
        }
        h.notes.push(format!("a `}}` may be missing before `{word}`"));
    }
    match word {
        "=" if expects(OPERATOR) => h.notes.push("to compare, use `==`".into()),
        "=" if expects("`:`") => h.notes.push(
            "an input is declared as `name: type`; bindings `name = expression` belong in `features` or `output`"
                .into(),
        ),
        ":" if expects("`=`") => h
            .notes
            .push("`name: type` declares an input, in the `input` section; here, write `name = expression`".into()),
        "!" => h.notes.push("to negate a condition, use `not`".into()),
        "&&" | "&" => h.notes.push("use `and` to combine conditions".into()),
        "||" | "|" => h.notes.push("use `or` to combine conditions".into()),
        "'" => h.notes.push("strings are written in double quotes: \"...\"".into()),
        "*" if source.get(..pos).unwrap_or("").trim_end().ends_with('*') => {
            h.notes.push("there is no power operator; multiply, or use `exp` and `log`".into())
        }
        "**" | "^" => h.notes.push("there is no power operator; multiply, or use `exp` and `log`".into()),
        "[" if source.get(..pos).unwrap_or("").trim_end().ends_with('?') => h.notes.push(nullable_vector(source, pos)),
        _ => {}
    }
    h
}

/// `f32?[9]`: the length comes before the `?` (`f32[9]?`).
fn nullable_vector(source: &str, pos: usize) -> String {
    let before = source.get(..pos).unwrap_or("").trim_end().trim_end_matches('?').trim_end();
    let element = before.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("f32");
    let after = source.get(pos..).unwrap_or("");
    let length = after.get(1..after.find(']').unwrap_or(1)).unwrap_or("").trim();
    let length = if !length.is_empty() && length.bytes().all(|b| b.is_ascii_digit()) { length } else { "N" };
    format!("a vector that may be missing is written `{element}[{length}]?`: the length comes before the `?`")
}
