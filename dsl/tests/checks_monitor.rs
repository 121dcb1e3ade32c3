//! The `checks` and `monitor` sections: their AST, spans, and errors.

use pipec_dsl::ast::{BinaryOp, ExprKind, Pipeline, SectionKind};
use pipec_dsl::{Span, parse};

const SOURCE: &str = r#"pipeline p {
  version "1.0.0"
  input { age: f32? sibsp: f32 sex: str }
  features { age_f = impute(age, 30) }
  output { y = age_f * 2 }
  checks {
    sibsp_ok = sibsp >= 0 and sibsp < 20
    age_ok   = is_missing(age) or age < 120;
  }
  monitor {
    reference: "ref.csv"   # the reference rows
    watch: [age, sibsp, sex, y],
    window: 500
    drift_threshold: 0.25
    label: y
  }
}
"#;

fn parse_ok(source: &str) -> Pipeline {
    parse(source).unwrap_or_else(|d| panic!("does not parse: {d:#?}"))
}

fn text(span: Span) -> &'static str {
    &SOURCE[span.start..span.end]
}

#[test]
fn checks_are_bindings() {
    let p = parse_ok(SOURCE);
    let names: Vec<&str> = p.checks.iter().map(|b| b.name.name.as_str()).collect();
    assert_eq!(names, ["sibsp_ok", "age_ok"]);
    assert_eq!(text(p.checks[0].span), "sibsp_ok = sibsp >= 0 and sibsp < 20");
    assert!(matches!(p.checks[1].value.kind, ExprKind::Binary { op: BinaryOp::Or, .. }));
    assert_eq!(p.outputs.len(), 1, "checks are not outputs");
    let kinds: Vec<SectionKind> = p.sections.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [SectionKind::Input, SectionKind::Features, SectionKind::Output, SectionKind::Checks, SectionKind::Monitor]
    );
}

#[test]
fn monitor_entries_keep_keys_values_and_spans() {
    let p = parse_ok(SOURCE);
    let m = p.monitor.expect("a monitor section");
    assert_eq!(text(m.keyword), "monitor");
    let keys: Vec<&str> = m.entries.iter().map(|e| e.key.name.as_str()).collect();
    assert_eq!(keys, ["reference", "watch", "window", "drift_threshold", "label"]);
    assert_eq!(m.entries[0].value.kind, ExprKind::Str("ref.csv".into()));
    assert_eq!(text(m.entries[0].value.span), "\"ref.csv\"");
    let ExprKind::List(items) = &m.entries[1].value.kind else { panic!("a list") };
    let names: Vec<&str> = items
        .iter()
        .map(|e| match &e.kind {
            ExprKind::Name(i) => i.name.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["age", "sibsp", "sex", "y"]);
    assert_eq!(m.entries[2].value.kind, ExprKind::Number(500.0));
    assert_eq!(m.entries[3].value.kind, ExprKind::Number(0.25));
    assert_eq!(text(m.entries[4].span), "label: y");
}

#[test]
fn sections_are_optional_and_names_stay_free() {
    let p = parse_ok("pipeline p { input { x: f32 } output { y = x } }");
    assert!(p.checks.is_empty());
    assert!(p.monitor.is_none());
    // `checks` and `monitor` are not reserved words.
    let p = parse_ok("pipeline p { input { monitor: f32 } features { checks = monitor * 2 } output { y = checks } }");
    assert_eq!(p.inputs[0].name.name, "monitor");
    assert_eq!(p.features[0].name.name, "checks");
    // Keys may be any word, keywords included; the compiler checks them.
    let p = parse_ok("pipeline p { monitor { output: x, input: 3 } }");
    assert_eq!(p.monitor.unwrap().entries.len(), 2);
}

#[test]
fn errors_in_the_sections() {
    let dup = parse("pipeline p { checks { a = true } checks { b = false } }").unwrap_err();
    assert_eq!(dup[0].code, "E0004");
    let dup = parse("pipeline p { monitor { window: 1 } monitor { window: 2 } }").unwrap_err();
    assert_eq!(dup[0].code, "E0004");
    let bad = parse("pipeline p { monitor { window = 1 } }").unwrap_err();
    assert_eq!(bad[0].code, "E0001");
    assert!(bad[0].message.contains("`:`"), "{:?}", bad[0].message);
    let bad = parse("pipeline p { checks { a: f32 } }").unwrap_err();
    assert_eq!(bad[0].code, "E0001");
    let unknown = parse("pipeline p { check { a = true } }").unwrap_err();
    assert_eq!(unknown[0].code, "E0005");
    assert!(unknown[0].notes.iter().any(|n| n.contains("`checks`")), "{:?}", unknown[0].notes);
}
