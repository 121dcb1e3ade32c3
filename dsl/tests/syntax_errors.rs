//! Syntax errors as data: each `tests/syntax_errors/*.pipe` file ends with the diagnostics
//! `parse` must give for it, one comment line each, in order:
//!
//! ```text
//! # expect: E0001 3:9 expected `=`
//! ```
//!
//! `CODE LINE:COL TEXT`: the code, the 1-based line and column (in chars) of the primary span
//! (`Diagnostic::line_col`), and a text that must occur in the message, a label or a note.
//! The file must give exactly the diagnostics listed, no more.

use pipec_dsl::{parse, render};
use std::path::{Path, PathBuf};

struct Expect {
    code: String,
    line: usize,
    col: usize,
    text: String,
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("syntax_errors");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pipe"))
        .collect();
    paths.sort();
    paths
}

fn expectations(path: &Path, source: &str) -> Vec<Expect> {
    source
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("# expect:"))
        .map(|rest| {
            let mut parts = rest.trim().splitn(3, ' ');
            let code = parts.next().unwrap_or_default().to_string();
            let pos = parts.next().unwrap_or_default();
            let text = parts.next().unwrap_or_default().trim().to_string();
            let (line, col) = pos
                .split_once(':')
                .and_then(|(l, c)| Some((l.parse().ok()?, c.parse().ok()?)))
                .unwrap_or_else(|| panic!("{}: bad position `{pos}` in `{rest}`", path.display()));
            assert!(!text.is_empty(), "{}: no text in `{rest}`", path.display());
            Expect { code, line, col, text }
        })
        .collect()
}

fn check(path: &Path) -> Result<usize, String> {
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let expected = expectations(path, &source);
    if expected.is_empty() {
        return Err("no `# expect:` line".into());
    }
    let diagnostics = match parse(&source) {
        Ok(_) => return Err("parses without error".into()),
        Err(d) => d,
    };
    let rendered = || render(&diagnostics, &path.display().to_string(), &source, false);
    if diagnostics.len() != expected.len() {
        return Err(format!("{} diagnostics, {} expected:\n{}", diagnostics.len(), expected.len(), rendered()));
    }
    for (i, (d, e)) in diagnostics.iter().zip(&expected).enumerate() {
        let at = d.line_col(&source);
        if d.code != e.code || at != Some((e.line, e.col)) || !d.mentions(&e.text) {
            return Err(format!(
                "diagnostic {}: expected {} {}:{} `{}`, got {} {:?}:\n{}",
                i + 1,
                e.code,
                e.line,
                e.col,
                e.text,
                d.code,
                at,
                rendered()
            ));
        }
    }
    Ok(expected.len())
}

#[test]
fn syntax_error_cases() {
    let paths = cases();
    assert!(paths.len() >= 12, "only {} cases", paths.len());
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| check(p).err().map(|e| format!("--- {}: {e}", p.file_name().unwrap().to_string_lossy())))
        .collect();
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), paths.len(), failures.join("\n\n"));
}

/// Every code the parser emits has a case.
#[test]
fn every_syntax_code_has_a_case() {
    let mut seen = std::collections::BTreeSet::new();
    for path in cases() {
        let source = std::fs::read_to_string(&path).unwrap();
        seen.extend(expectations(&path, &source).into_iter().map(|e| e.code));
    }
    for code in ["E0001", "E0002", "E0003", "E0004", "E0005", "E0006", "E0007", "E0008"] {
        assert!(seen.contains(code), "no case for {code}");
    }
}

/// Every diagnostic of every case: a primary label that says what was expected, on a span
/// inside the source and on char boundaries.
#[test]
fn every_diagnostic_has_an_expected_primary_label() {
    for path in cases() {
        let source = std::fs::read_to_string(&path).unwrap();
        for d in parse(&source).err().unwrap_or_default() {
            let primary: Vec<_> = d.labels.iter().filter(|l| l.primary).collect();
            assert_eq!(primary.len(), 1, "{}: {d:?}", path.display());
            assert!(primary[0].message.contains("expected"), "{}: {d:?}", path.display());
            let s = primary[0].span;
            assert!(s.start <= s.end && source.get(s.range()).is_some(), "{}: {d:?}", path.display());
        }
    }
}
