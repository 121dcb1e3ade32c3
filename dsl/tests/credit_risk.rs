//! The example of the language brief, `credit_risk`: its whole AST, with spans checked
//! against the text they cover.

use pipec_dsl::ast::{Arg, BinaryOp, Expr, ExprKind, Pipeline, ScalarType, SectionKind, UnaryOp};
use pipec_dsl::{Span, parse};

const SOURCE: &str = include_str!("data/credit_risk.pipe");

fn pipeline() -> Pipeline {
    parse(SOURCE).unwrap_or_else(|d| panic!("{}", pipec_dsl::render(&d, "credit_risk.pipe", SOURCE, false)))
}

fn text(span: Span) -> &'static str {
    &SOURCE[span.range()]
}

/// The tree as an s-expression, with each node's text checked against its span.
fn sexpr(e: &Expr) -> String {
    let s = match &e.kind {
        ExprKind::Number(v) => format!("{v}"),
        ExprKind::Bool(b) => format!("{b}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::List(items) => format!("[{}]", items.iter().map(sexpr).collect::<Vec<_>>().join(" ")),
        ExprKind::Name(i) => {
            assert_eq!(text(i.span), i.name);
            assert_eq!(i.span, e.span);
            i.name.clone()
        }
        ExprKind::Call { callee, args } => {
            assert_eq!(text(callee.span), callee.name);
            assert!(text(e.span).starts_with(&format!("{}(", callee.name)) && text(e.span).ends_with(')'));
            let args: Vec<String> = args.iter().map(arg).collect();
            format!("({} {})", callee.name, args.join(" "))
        }
        ExprKind::Unary { op, operand } => {
            let word = if *op == UnaryOp::Neg { "-" } else { "not" };
            assert!(text(e.span).starts_with(word) && e.span.end == operand.span.end, "{}", text(e.span));
            format!("({word} {})", sexpr(operand))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            assert_eq!((e.span.start, e.span.end), (lhs.span.start, rhs.span.end), "{}", text(e.span));
            let between = &SOURCE[lhs.span.end..rhs.span.start];
            assert_eq!(between.trim(), op.symbol());
            format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs))
        }
        ExprKind::Index { base, index, index_span } => {
            assert_eq!(text(*index_span), index.to_string());
            assert_eq!(e.span, Span::new(base.span.start, index_span.end + 1));
            format!("{}[{index}]", sexpr(base))
        }
    };
    assert_eq!(text(e.span).trim(), text(e.span), "no whitespace around a span");
    s
}

fn arg(a: &Arg) -> String {
    match &a.name {
        Some(n) => {
            assert_eq!(text(n.span), n.name);
            assert_eq!(a.span, Span::new(n.span.start, a.value.span.end));
            format!("{}:{}", n.name, sexpr(&a.value))
        }
        None => {
            assert_eq!(a.span, a.value.span);
            sexpr(&a.value)
        }
    }
}

#[test]
fn header_and_sections() {
    let p = pipeline();
    assert_eq!((p.name.name.as_str(), text(p.name.span)), ("credit_risk", "credit_risk"));
    let v = p.version.as_ref().unwrap();
    assert_eq!((v.value.as_str(), text(v.span)), ("2.3.0", "\"2.3.0\""));
    assert!(text(p.span).starts_with("pipeline credit_risk {") && text(p.span).ends_with("0.2\n  }\n}"));
    let sections: Vec<(SectionKind, &str)> = p.sections.iter().map(|(k, s)| (*k, text(*s))).collect();
    assert_eq!(
        sections,
        [
            (SectionKind::Input, "input"),
            (SectionKind::Features, "features"),
            (SectionKind::Models, "models"),
            (SectionKind::Output, "output")
        ]
    );
}

#[test]
fn inputs() {
    let p = pipeline();
    type Row<'a> = (&'a str, ScalarType, Option<u32>, bool, &'a str, &'a str);
    let got: Vec<Row> = p
        .inputs
        .iter()
        .map(|d| (d.name.name.as_str(), d.ty.scalar, d.ty.len, d.ty.nullable, text(d.ty.span), text(d.span)))
        .collect();
    assert_eq!(
        got,
        [
            ("age", ScalarType::F32, None, false, "f32", "age: f32"),
            ("income", ScalarType::F32, None, true, "f32?", "income: f32?"),
            ("employment", ScalarType::Str, None, false, "str", "employment: str"),
            ("emb", ScalarType::F32, Some(8), false, "f32[8]", "emb: f32[8]"),
            ("flags", ScalarType::Bool, None, false, "bool", "flags: bool"),
            ("n", ScalarType::I64, None, false, "i64", "n: i64"),
            ("x64", ScalarType::F64, None, false, "f64", "x64: f64"),
        ]
    );
}

#[test]
fn features() {
    let p = pipeline();
    let got: Vec<(&str, String)> = p.features.iter().map(|b| (b.name.name.as_str(), sexpr(&b.value))).collect();
    assert_eq!(
        got,
        [
            ("income_f", "(impute income 42000)".to_string()),
            ("num", r#"(standardize [age (log1p income_f) n] stats:"stats.json")"#.to_string()),
            ("emp", r#"(one_hot employment vocab:["salaried" "self" "retired" "none"])"#.to_string()),
            ("big", "(where (and (> age 65) (not flags)) 1 (* 0.5 (- age)))".to_string()),
            ("first", "emb[0]".to_string()),
            ("x", "(concat num emp emb)".to_string()),
        ]
    );
    let texts: Vec<&str> = p.features.iter().map(|b| text(b.span)).collect();
    assert_eq!(texts[4], "first    = emb[0]");
    assert_eq!(texts[3], "big      = where(age > 65 and not flags, 1, 0.5 * -age)");
    assert_eq!(text(p.features[1].value.span), r#"standardize([age, log1p(income_f), n], stats: "stats.json")"#);
}

#[test]
fn models() {
    let p = pipeline();
    let got: Vec<(&str, &str, Vec<String>, &str)> = p
        .models
        .iter()
        .map(|m| (m.name.name.as_str(), m.kind.name.as_str(), m.args.iter().map(arg).collect(), text(m.span)))
        .collect();
    assert_eq!(
        got,
        [
            (
                "risk",
                "mlp",
                vec![r#""risk_mlp.safetensors""#.to_string(), "activation:relu".into(), "output:sigmoid".into()],
                r#"risk = mlp("risk_mlp.safetensors", activation: relu, output: sigmoid)"#
            ),
            ("lin", "linear", vec![r#""lin.safetensors""#.to_string()], r#"lin  = linear("lin.safetensors")"#),
        ]
    );
    // `output` is a keyword, yet a named argument may be called so.
    assert_eq!(text(p.models[0].args[2].name.as_ref().unwrap().span), "output");
}

#[test]
fn outputs() {
    let p = pipeline();
    let got: Vec<(&str, String)> = p.outputs.iter().map(|b| (b.name.name.as_str(), sexpr(&b.value))).collect();
    assert_eq!(
        got,
        [
            ("p_default", "(sigmoid (+ (* 0.5 (risk x)[0]) (* 0.5 (lin x))))".to_string()),
            ("decision", "(> p_default 0.2)".to_string()),
        ]
    );
    let ExprKind::Call { args, .. } = &p.outputs[0].value.kind else { panic!() };
    let ExprKind::Binary { op: BinaryOp::Add, lhs, .. } = &args[0].value.kind else { panic!() };
    assert_eq!(text(lhs.span), "0.5 * risk(x)[0]");
    let ExprKind::Binary { rhs: indexed, .. } = &lhs.kind else { panic!() };
    assert_eq!(text(indexed.span), "risk(x)[0]");
}
