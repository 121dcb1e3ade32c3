//! Corners of the grammar and of the parser's guarantees: operator placement, catch-alls,
//! notes for common mistakes, limits, and inputs that once could crash a parser.

use pipec_dsl::ast::{ExprKind, Pipeline};
use pipec_dsl::{Diagnostic, parse};

fn ok(source: &str) -> Pipeline {
    parse(source).unwrap_or_else(|d| panic!("{}", pipec_dsl::render(&d, "t.pipe", source, false)))
}

fn err(source: &str) -> Vec<Diagnostic> {
    match parse(source) {
        Ok(p) => panic!("parses, but should not: {p:#?}"),
        Err(d) => d,
    }
}

fn output(expr: &str) -> String {
    format!("pipeline p {{ output {{ y = {expr} }} }}")
}

/// Code, primary text and the whole of message, labels and notes of the single diagnostic.
fn single(source: &str) -> (&'static str, String, String) {
    let d = err(source);
    assert_eq!(d.len(), 1, "{d:#?}");
    let d = &d[0];
    let span = d.primary_span().unwrap();
    let all = std::iter::once(d.message.clone())
        .chain(d.labels.iter().map(|l| l.message.clone()))
        .chain(d.notes.iter().cloned())
        .collect::<Vec<_>>()
        .join(" | ");
    (d.code, source[span.range()].to_string(), all)
}

#[test]
fn not_only_where_a_condition_starts() {
    for good in ["not a", "not not a", "a and not b", "a or not b", "not a and not b", "(not a) == b", "x + (not b)"] {
        ok(&output(good));
    }
    for (bad, after) in [("a + not b", "+"), ("a == not b", "=="), ("-not b", "-"), ("a * not b", "*")] {
        let (code, at, all) = single(&output(bad));
        assert_eq!((code, at.as_str()), ("E0001", "not"), "{bad}");
        assert!(all.contains(&format!("`not` cannot follow `{after}`")), "{all}");
    }
}

#[test]
fn comparisons_do_not_chain_even_across_other_operators() {
    for bad in ["a < b < c", "a == b != c", "a < b + 1 < c", "not a < b < c", "a < -b >= c"] {
        let (code, _, all) = single(&output(bad));
        assert_eq!(code, "E0001", "{bad}");
        assert!(all.contains("cannot be chained"), "{all}");
    }
    ok(&output("a < b and b < c"));
    ok(&output("(a < b) == (b < c)"));
}

#[test]
fn only_names_are_called() {
    for bad in ["(f)(x)", "f(x)(y)", "1(2)", "[a](b)", "x[0](1)"] {
        let (code, at, all) = single(&output(bad));
        assert_eq!(code, "E0001", "{bad}");
        assert!(at.starts_with('(') && at.ends_with(')'), "{bad}: {at}");
        assert!(all.contains("only a name can be called"), "{all}");
    }
}

#[test]
fn numbers() {
    let value = |e: &str| match ok(&output(e)).outputs[0].value.kind {
        ExprKind::Number(v) => v,
        ref k => panic!("{k:?}"),
    };
    assert_eq!(value("3."), 3.0);
    assert_eq!(value("2.5E+4"), 25000.0);
    assert_eq!(value("1e-3"), 0.001);
    assert_eq!(value("007"), 7.0);
    assert_eq!(value("3.4e38"), 3.4e38);
    for bad in [".5", "1e", "1e+", "1.2.3", "2x", "1_000", "0x1F", "1e39", "99999999999999999999999999999999999999999"]
    {
        let (code, at, _) = single(&output(bad));
        assert_eq!((code, at.as_str()), ("E0007", bad), "{bad}");
    }
}

#[test]
fn strings() {
    let p = ok(&output(r#"f("tab\there", "q\"", "b\\", "é日本")"#));
    let ExprKind::Call { args, .. } = &p.outputs[0].value.kind else { panic!() };
    let values: Vec<&str> = args
        .iter()
        .map(|a| match &a.value.kind {
            ExprKind::Str(s) => s.as_str(),
            k => panic!("{k:?}"),
        })
        .collect();
    assert_eq!(values, ["tab\there", "q\"", "b\\", "é日本"]);
    // An unknown escape is pointed at exactly, even after multi-byte chars.
    let (code, at, _) = single(&output(r#""日本\x""#));
    assert_eq!((code, at.as_str()), ("E0003", "\\x"));
    // A backslash at the end of a line does not continue the string.
    let source = "pipeline p { output { y = \"abc\\\n } }";
    let d = err(source);
    assert_eq!(d[0].code, "E0003");
    assert_eq!(&source[d[0].primary_span().unwrap().range()], "\"abc\\");
    // An unterminated string is reported before the syntax error it causes.
    let d = err("pipeline p { output { y = f(\"abc) }\n}");
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0003", "E0001"]);
}

#[test]
fn types() {
    let p = ok("pipeline p { input { a: f32 [ 3 ] ?, b: bool?; c: f64[0] } }");
    let t: Vec<(Option<u32>, bool)> = p.inputs.iter().map(|d| (d.ty.len, d.ty.nullable)).collect();
    assert_eq!(t, [(Some(3), true), (None, true), (Some(0), false)]);
    assert!(single("pipeline p { input { a: float } }").2.contains("did you mean `f32`?"));
    assert!(single("pipeline p { input { a: F32 } }").2.contains("did you mean `f32`?"));
    let (code, at, all) = single("pipeline p { input { a: f32[n] } }");
    assert_eq!((code, at.as_str()), ("E0001", "n"));
    assert!(all.contains("expected a vector length such as 8"), "{all}");
    let (code, at, all) = single("pipeline p { input { a: f32?[3] } }");
    assert_eq!((code, at.as_str()), ("E0001", "["));
    assert!(all.contains("is written `f32[3]?`"), "{all}");
}

#[test]
fn notes_for_common_mistakes() {
    let cases = [
        ("pipeline p { input { input: f32 } }", "input", "`input` is a keyword"),
        ("pipeline p { output { y = x = 1 } }", "=", "to compare, use `==`"),
        ("pipeline p { output { y = a && b } }", "&&", "use `and`"),
        ("pipeline p { output { y = a || b } }", "||", "use `or`"),
        ("pipeline p { output { y = !a } }", "!", "use `not`"),
        ("pipeline p { output { y = 'a' } }", "'", "double quotes"),
        ("pipeline p { output { y = x ** 2 } }", "*", "no power operator"),
        ("pipeline p { input { x = 1 } }", "=", "an input is declared as `name: type`"),
        ("pipeline p { features { x: f32 } }", ":", "declares an input"),
        ("pipeline p { y = 1 }", "y", "declarations go inside a section"),
        ("input { x: f32 }", "input", "go inside one `pipeline NAME"),
        ("pipeline a {} pipeline b {}", "pipeline", "exactly one pipeline"),
        ("pipeline p {} x", "x", "only comments may follow"),
        ("pipeline p { features { a = x\n output { y = a } }", "output", "a `}` may be missing before `output`"),
        ("pipeline p { output { y = f(x, [1, 2) } }", ")", "expected an operator, `,` or `]`"),
        ("pipeline p { output { y = f(x", "", "this `(` is not closed"),
        ("pipeline p { inptu { x: f32 } }", "inptu", "did you mean `input`?"),
        ("pipeline p { Output { y = 1 } }", "Output", "did you mean `output`?"),
        ("pipeline { }", "{", "expected a pipeline name"),
        ("pipeline p { models { m = linear } }", "}", "expected `(`"),
    ];
    for (source, at, note) in cases {
        let (_, found, all) = single(source);
        assert_eq!(found, at, "{source}");
        assert!(all.contains(note), "{source}: {all}");
    }
}

#[test]
fn found_describes_the_token() {
    let (_, _, all) = single("pipeline p { output { y = x \u{a0} } }");
    assert!(all.contains("found the character `\\u{a0}`"), "{all}");
    let (_, at, all) = single("pipeline p { output { y = x \"s\" } }");
    assert_eq!(at, "\"s\"");
    assert!(all.contains("found a string"), "{all}");
    let (_, at, all) = single("");
    assert_eq!(at, "");
    assert!(all.contains("expected `pipeline`, found end of file"), "{all}");
}

#[test]
fn byte_order_mark_and_line_endings() {
    let p = ok("\u{feff}pipeline p {\r\n  input { x: f32 }\r\n  output { y = x }\r\n}\r\n");
    assert_eq!(p.inputs[0].name.name, "x");
    // A BOM anywhere else is an error, not a crash.
    assert_eq!(single("pipeline \u{feff}p {}").0, "E0001");
}

#[test]
fn duplicate_sections_still_report_their_own_errors() {
    let d = err("pipeline p { input { a: f32 } input { b: f99 } }");
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0004", "E0002"]);
}

#[test]
fn unknown_sections_skip_strings_and_comments() {
    // Braces in the skipped block's strings and comments do not count ...
    let d = err("pipeline p { params { a = \"}\" # }\n b = \"{\" } input { x: f32 } }");
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0005"]);
    // ... nor do they nest: many `{` in strings of an unknown section are no stack hazard.
    let source = format!("pipeline p {{ params {{ \"{}\" }} }}", "{".repeat(100_000));
    assert_eq!(single(&source).0, "E0005");
    let source = format!("pipeline p {{ params {{ # {}\n }} }}", "{".repeat(100_000));
    assert_eq!(single(&source).0, "E0005");
}

#[test]
fn nesting_limit_is_exact() {
    // The pipeline and output braces are two levels; 62 parentheses reach 64.
    ok(&output(&format!("{}x{}", "(".repeat(62), ")".repeat(62))));
    let source = output(&format!("{}x{}", "(".repeat(63), ")".repeat(63)));
    let (code, at, _) = single(&source);
    assert_eq!((code, at.as_str()), ("E0008", "("));
    for open in ["[", "f(", "x[", "{"] {
        let (code, _, _) = single(&format!("pipeline p {{ output {{ y = {} }} }}", open.repeat(10_000)));
        assert_eq!(code, "E0008", "{open}");
    }
}

#[test]
fn expression_budget_counts_every_node() {
    // `x + x + ...`: n terms are 2n - 1 nodes.
    ok(&output(&format!("x{}", " + x".repeat(1023))));
    let (code, at, _) = single(&output(&format!("x{}", " + x".repeat(1024))));
    assert_eq!((code, at.as_str()), ("E0008", "x"));
    for e in
        [format!("[{}]", "1, ".repeat(5000)), format!("{}x", "- ".repeat(5000)), format!("x{}", "[0]".repeat(5000))]
    {
        assert_eq!(single(&output(&e)).0, "E0008");
    }
    // The budget is per binding and per model declaration.
    let many: String = (0..10).map(|i| format!("f{i} = x{}\n", " + x".repeat(1000))).collect();
    ok(&format!("pipeline p {{ features {{ {many} }} models {{ m = mlp(\"m\", a: [{}]) }} }}", "1, ".repeat(2000)));
}
