//! `parse` returns on any text, never panics, and every span it gives (in the AST or in a
//! diagnostic) lies inside the source, on char boundaries.

use pipec_dsl::ast::{Arg, Expr, ExprKind, Pipeline};
use pipec_dsl::{Diagnostic, Span, parse};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("data/credit_risk.pipe");

/// Pieces of the language, to build token soups that get further than random text.
const TOKENS: &[&str] = &[
    "pipeline", "p", "{", "}", "version", "\"1\"", "input", "features", "models", "output", "x", ":", "f32", "str?",
    "f32[8]", "=", "(", ")", "[", "]", ",", ";", "+", "-", "*", "/", "<", "<=", "==", "!=", "and", "or", "not", "true",
    "1", "2.5e-3", "1.", ".5", "\"a\\n\"", "\"abc", "\\", "#c\n", "\n", "é", "日本", "\u{feff}", "mlp", "f(", "[0]",
    "?", "\"", "'", "!", "&&",
];

fn check_span(source: &str, span: Span, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(span.start <= span.end, "{what}: {span:?} is reversed");
    prop_assert!(span.end <= source.len(), "{what}: {span:?} is past the end ({})", source.len());
    prop_assert!(
        source.is_char_boundary(span.start) && source.is_char_boundary(span.end),
        "{what}: {span:?} is not on char boundaries"
    );
    Ok(())
}

fn check_diagnostics(source: &str, diagnostics: &[Diagnostic]) -> Result<(), TestCaseError> {
    prop_assert!(!diagnostics.is_empty(), "an error without diagnostics");
    for d in diagnostics {
        prop_assert!(d.code.starts_with("E00"), "{d:?}");
        prop_assert_eq!(d.labels.iter().filter(|l| l.primary).count(), 1, "{:?}", d);
        for l in &d.labels {
            check_span(source, l.span, &d.message)?;
        }
        prop_assert!(d.line_col(source).is_some());
    }
    Ok(())
}

/// Walks the expression with an explicit stack (expressions may be deep).
fn check_expr(source: &str, e: &Expr) -> Result<(), TestCaseError> {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        check_span(source, e.span, "expression")?;
        match &e.kind {
            ExprKind::List(items) => stack.extend(items),
            ExprKind::Name(i) => check_span(source, i.span, "name")?,
            ExprKind::Call { callee, args } => {
                check_span(source, callee.span, "callee")?;
                check_args(source, args)?;
                stack.extend(args.iter().map(|a| &a.value));
            }
            ExprKind::Unary { operand, .. } => stack.push(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                stack.push(lhs);
                stack.push(rhs);
            }
            ExprKind::Index { base, index_span, .. } => {
                check_span(source, *index_span, "index")?;
                stack.push(base);
            }
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {}
        }
    }
    Ok(())
}

fn check_args(source: &str, args: &[Arg]) -> Result<(), TestCaseError> {
    for a in args {
        check_span(source, a.span, "argument")?;
        if let Some(n) = &a.name {
            check_span(source, n.span, "argument name")?;
        }
    }
    Ok(())
}

fn check_pipeline(source: &str, p: &Pipeline) -> Result<(), TestCaseError> {
    check_span(source, p.span, "pipeline")?;
    check_span(source, p.name.span, "pipeline name")?;
    if let Some(v) = &p.version {
        check_span(source, v.span, "version")?;
    }
    for (_, s) in &p.sections {
        check_span(source, *s, "section")?;
    }
    for d in &p.inputs {
        for s in [d.span, d.name.span, d.ty.span] {
            check_span(source, s, "input")?;
        }
    }
    for b in p.features.iter().chain(&p.outputs) {
        check_span(source, b.span, "binding")?;
        check_span(source, b.name.span, "binding name")?;
        check_expr(source, &b.value)?;
    }
    for m in &p.models {
        for s in [m.span, m.name.span, m.kind.span] {
            check_span(source, s, "model")?;
        }
        check_args(source, &m.args)?;
        for a in &m.args {
            check_expr(source, &a.value)?;
        }
    }
    Ok(())
}

fn check(source: &str) -> Result<(), TestCaseError> {
    match parse(source) {
        Ok(p) => check_pipeline(source, &p),
        Err(d) => check_diagnostics(source, &d),
    }
}

/// The example with bytes replaced, inserted or deleted; invalid UTF-8 is repaired lossily.
fn mutated(edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = EXAMPLE.as_bytes().to_vec();
    for &(at, kind, byte) in edits {
        let at = at % (bytes.len() + 1);
        match kind % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn the_example_parses() {
    let p = parse(EXAMPLE).unwrap_or_else(|d| panic!("{}", pipec_dsl::render(&d, "example.pipe", EXAMPLE, false)));
    check_pipeline(EXAMPLE, &p).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(source in any::<String>()) {
        check(&source)?;
    }

    #[test]
    fn mutated_example(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        check(&mutated(&edits))?;
    }

    #[test]
    fn mutated_example_printable(edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0x20u8..0x7f), 1..8)) {
        check(&mutated(&edits))?;
    }

    #[test]
    fn token_soup(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..60)) {
        let body = tokens.join(" ");
        check(&body)?;
        check(&format!("pipeline p {{ input {{ x: f32 }} output {{ y = {body} }} }}"))?;
        check(&format!("pipeline p {{ {body} }}"))?;
    }
}
