//! The file: `pipeline NAME { ... }`, its `version` and its sections.

use super::Rule;
use super::binding::binding;
use super::builder::{Builder, tight_span};
use super::input::input_decl;
use super::literal::{ident, string, unterminated};
use super::model::model_decl;
use crate::ast::{Monitor, MonitorEntry, Pipeline, SectionKind, StrLit};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::{Pair, Pairs};

const SECTIONS: [&str; 6] = ["input", "features", "models", "output", "checks", "monitor"];

pub(super) fn build(pairs: Pairs<'_, Rule>, source: &str) -> Result<Pipeline, Vec<Diagnostic>> {
    let mut b = Builder::new();
    let pipeline = pairs.flatten().find(|p| p.as_rule() == Rule::pipeline).and_then(|p| pipeline(p, &mut b));
    match pipeline {
        Some(p) if b.diagnostics.is_empty() => Ok(p),
        _ => {
            if b.diagnostics.is_empty() {
                b.malformed(Span::new(0, source.len()));
            }
            Err(b.diagnostics)
        }
    }
}

fn pipeline(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<Pipeline> {
    let span = tight_span(&pair);
    let mut name = None;
    let mut version: Option<(StrLit, Span)> = None;
    let mut p = Pipeline {
        name: crate::ast::Ident { name: String::new(), span },
        version: None,
        inputs: Vec::new(),
        features: Vec::new(),
        models: Vec::new(),
        outputs: Vec::new(),
        checks: Vec::new(),
        monitor: None,
        sections: Vec::new(),
        span,
    };
    for item in pair.into_inner() {
        match item.as_rule() {
            Rule::pipeline_name => name = Some(ident(&item)),
            Rule::version_decl => version_decl(item, &mut version, b),
            Rule::input_section => section(SectionKind::Input, item, &mut p, b),
            Rule::features_section => section(SectionKind::Features, item, &mut p, b),
            Rule::models_section => section(SectionKind::Models, item, &mut p, b),
            Rule::output_section => section(SectionKind::Output, item, &mut p, b),
            Rule::checks_section => section(SectionKind::Checks, item, &mut p, b),
            Rule::monitor_section => section(SectionKind::Monitor, item, &mut p, b),
            Rule::unknown_section => unknown_section(&item, b),
            _ => {}
        }
    }
    p.name = name?;
    p.version = version.map(|(lit, _)| lit);
    Some(p)
}

/// `version "x.y.z"`, at most once.
fn version_decl(pair: Pair<'_, Rule>, first: &mut Option<(StrLit, Span)>, b: &mut Builder) {
    let mut keyword = Span::from(pair.as_span());
    let mut lit = None;
    for part in pair.into_inner().flatten() {
        match part.as_rule() {
            Rule::kw_version => keyword = part.as_span().into(),
            Rule::string => lit = Some(string(&part, b)),
            Rule::unterminated_string => b.report(unterminated(part.as_span().into())),
            _ => {}
        }
    }
    if let Some((_, first_keyword)) = first {
        b.report(
            Diagnostic::error("E0004", "`version` is given twice")
                .with_primary(keyword, "expected at most one `version`")
                .with_secondary(*first_keyword, "first `version` here"),
        );
    } else if let Some(lit) = lit {
        *first = Some((lit, keyword));
    }
}

/// One section; each kind at most once. The entries of a repeated section are still read, so
/// that their own errors are reported, but they are not added.
fn section(kind: SectionKind, pair: Pair<'_, Rule>, p: &mut Pipeline, b: &mut Builder) {
    let mut inner = pair.into_inner();
    let Some(keyword) = inner.next() else { return };
    let keyword_span = Span::from(keyword.as_span());
    let repeated = p.sections.iter().find(|(k, _)| *k == kind).map(|(_, s)| *s);
    if let Some(first) = repeated {
        let name = keyword.as_str();
        b.report(
            Diagnostic::error("E0004", format!("section `{name}` appears twice"))
                .with_primary(keyword_span, format!("expected at most one `{name}` section"))
                .with_secondary(first, format!("first `{name}` section here"))
                .with_note("each section may appear at most once: merge the two"),
        );
    } else {
        p.sections.push((kind, keyword_span));
    }
    let keep = repeated.is_none();
    if kind == SectionKind::Monitor && keep {
        p.monitor = Some(Monitor { entries: Vec::new(), keyword: keyword_span });
    }
    for entry in inner {
        let before = b.diagnostics.len();
        let entry_span = tight_span(&entry);
        let added = match (entry.as_rule(), kind) {
            (Rule::input_decl, _) => input_decl(entry, b).map(|d| keep && push(&mut p.inputs, d)),
            (Rule::binding, SectionKind::Features) => binding(entry, b).map(|x| keep && push(&mut p.features, x)),
            (Rule::binding, SectionKind::Checks) => binding(entry, b).map(|x| keep && push(&mut p.checks, x)),
            (Rule::binding, _) => binding(entry, b).map(|x| keep && push(&mut p.outputs, x)),
            (Rule::monitor_entry, _) => {
                monitor_entry(entry, b).map(|e| keep && p.monitor.as_mut().is_some_and(|m| push(&mut m.entries, e)))
            }
            (Rule::model_decl, _) => model_decl(entry, b).map(|m| keep && push(&mut p.models, m)),
            _ => Some(false),
        };
        // An entry is dropped only with a diagnostic that says why.
        if added.is_none() && b.diagnostics.len() == before {
            b.malformed(entry_span);
        }
    }
}

/// `key: value` in the monitor section.
fn monitor_entry(pair: Pair<'_, Rule>, b: &mut Builder) -> Option<MonitorEntry> {
    let span = tight_span(&pair);
    let mut key = None;
    let mut value = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::arg_name => key = Some(ident(&part)),
            Rule::expr => {
                b.start_expression();
                value = super::expr::expr(part, b);
            }
            _ => {}
        }
    }
    Some(MonitorEntry { key: key?, value: value?, span })
}

fn push<T>(list: &mut Vec<T>, item: T) -> bool {
    list.push(item);
    true
}

/// `name { ... }` where `name` is not a section: E0005.
fn unknown_section(pair: &Pair<'_, Rule>, b: &mut Builder) {
    let Some(name) = pair.clone().into_inner().find(|p| p.as_rule() == Rule::ident) else {
        b.malformed(pair.as_span().into());
        return;
    };
    let text = name.as_str();
    let mut d = Diagnostic::error("E0005", format!("unknown section `{text}`")).with_primary(
        name.as_span().into(),
        "expected one of the sections `input`, `features`, `models`, `output`, `checks`, `monitor`",
    );
    if let Some(similar) = similar_section(text) {
        d = d.with_note(format!("did you mean `{similar}`?"));
    }
    b.report(d);
}

/// A section name close to `text`: the same but for case or a plural `s`, or at most two
/// edits away.
fn similar_section(text: &str) -> Option<&'static str> {
    if text.len() > 40 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    SECTIONS.iter().copied().find(|s| {
        lower == *s || lower.trim_end_matches('s') == s.trim_end_matches('s') || edit_distance(&lower, s) <= 2
    })
}

/// Levenshtein distance, for "did you mean" notes (the texts here are short).
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(prev.len());
        cur.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let left = cur.last().map_or(usize::MAX, |l| l + 1);
            let up = prev.get(j + 1).map_or(usize::MAX, |u| u + 1);
            let diagonal = prev.get(j).map_or(usize::MAX, |d| d + usize::from(ca != cb));
            cur.push(left.min(up).min(diagonal));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{edit_distance, similar_section};

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("input", "input"), 0);
        assert_eq!(similar_section("inptu"), Some("input"));
        assert_eq!(similar_section("feature"), Some("features"));
        assert_eq!(similar_section("OUTPUTS"), Some("output"));
        assert_eq!(similar_section("params"), None);
    }
}
