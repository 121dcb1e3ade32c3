//! The parser: the AST of a full example, spans, precedence, separators, comments.

use pipec_dsl::ast::{Arg, BinaryOp, Expr, ExprKind, Pipeline, ScalarType, SectionKind, UnaryOp};
use pipec_dsl::{Diagnostic, Span, parse};

/// The full example of docs/language.md ("A complete example"); `docs_examples_parse`
/// checks that the two stay the same.
const EXAMPLE: &str = r#"# Loan approval: numeric and categorical inputs, two chained models.
pipeline loans {
  version "1.2.0"

  input {
    income: f64            # yearly, in dollars
    age: f32?              # missing for some applicants
    history: f32[4]        # the last four yearly balances
    employed: bool
    region: str?
    channel: str
  }

  features {
    age_f    = impute(age, 35.0)
    num      = standardize([log1p(income), age_f], stats: "stats.json")
    trend    = (history[3] - history[0]) / 4
    region_v = one_hot(impute(region, "north"), vocab: ["north", "south", "east", "west"])
    chan_v   = hash_bucket(channel, buckets: 8);
    young    = float(age_f < 25 and not employed)
    x1       = concat(num, trend, region_v, young)
    risk     = scorer(x1)                     # a model's output feeds later features
    x2       = concat(x1, risk, chan_v)
  }

  models {
    scorer   = logistic("scorer.safetensors")                              # 8 -> 1
    approver = mlp("approver.safetensors", activation: tanh, output: softmax)  # 17 -> 16 -> 2
  }

  output {
    p_risk   = risk[0]
    decision = approver(x2)
    approve  = decision[1] > 0.5 or -p_risk * 2 + 1 >= 0.9,
  }
}
"#;

fn parse_ok(source: &str) -> Pipeline {
    match parse(source) {
        Ok(p) => p,
        Err(d) => panic!("does not parse:\n{}", pipec_dsl::render(&d, "test.pipe", source, false)),
    }
}

fn parse_err(source: &str) -> Vec<Diagnostic> {
    match parse(source) {
        Ok(p) => panic!("parses, but should not: {p:#?}"),
        Err(d) => d,
    }
}

fn text(source: &str, span: Span) -> &str {
    &source[span.range()]
}

/// An expression as an s-expression, to check the shape of the tree.
fn sexpr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(v) => format!("{v}"),
        ExprKind::Bool(b) => format!("{b}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::List(items) => format!("[{}]", items.iter().map(sexpr).collect::<Vec<_>>().join(" ")),
        ExprKind::Name(i) => i.name.clone(),
        ExprKind::Call { callee, args } => {
            let args: Vec<String> = args.iter().map(arg).collect();
            format!("({}{}{})", callee.name, if args.is_empty() { "" } else { " " }, args.join(" "))
        }
        ExprKind::Unary { op: UnaryOp::Neg, operand } => format!("(neg {})", sexpr(operand)),
        ExprKind::Unary { op: UnaryOp::Not, operand } => format!("(not {})", sexpr(operand)),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs))
        }
        ExprKind::Index { base, index, .. } => format!("(index {} {index})", sexpr(base)),
    }
}

fn arg(a: &Arg) -> String {
    match &a.name {
        Some(n) => format!("{}:{}", n.name, sexpr(&a.value)),
        None => sexpr(&a.value),
    }
}

/// The expression of the single output `y` of `pipeline p { output { y = <expr> } }`.
fn expr_of(expr: &str) -> (String, Expr) {
    let source = format!("pipeline p {{ output {{ y = {expr} }} }}");
    let p = parse_ok(&source);
    assert_eq!(p.outputs.len(), 1);
    let e = p.outputs[0].value.clone();
    assert_eq!(text(&source, e.span), expr, "the span of the whole expression");
    (source, e)
}

fn shape(expr: &str) -> String {
    sexpr(&expr_of(expr).1)
}

#[test]
fn full_example_names_and_sections() {
    let p = parse_ok(EXAMPLE);
    assert_eq!(p.name.name, "loans");
    assert_eq!(text(EXAMPLE, p.name.span), "loans");
    let version = p.version.as_ref().expect("version");
    assert_eq!(version.value, "1.2.0");
    assert_eq!(text(EXAMPLE, version.span), "\"1.2.0\"");
    assert!(text(EXAMPLE, p.span).starts_with("pipeline loans {"));
    assert!(text(EXAMPLE, p.span).ends_with('}'));

    let kinds: Vec<SectionKind> = p.sections.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [SectionKind::Input, SectionKind::Features, SectionKind::Models, SectionKind::Output]);
    let words: Vec<&str> = p.sections.iter().map(|(_, s)| text(EXAMPLE, *s)).collect();
    assert_eq!(words, ["input", "features", "models", "output"]);

    let inputs: Vec<&str> = p.inputs.iter().map(|d| d.name.name.as_str()).collect();
    assert_eq!(inputs, ["income", "age", "history", "employed", "region", "channel"]);
    let features: Vec<&str> = p.features.iter().map(|b| b.name.name.as_str()).collect();
    assert_eq!(features, ["age_f", "num", "trend", "region_v", "chan_v", "young", "x1", "risk", "x2"]);
    let models: Vec<(&str, &str)> = p.models.iter().map(|m| (m.name.name.as_str(), m.kind.name.as_str())).collect();
    assert_eq!(models, [("scorer", "logistic"), ("approver", "mlp")]);
    let outputs: Vec<&str> = p.outputs.iter().map(|b| b.name.name.as_str()).collect();
    assert_eq!(outputs, ["p_risk", "decision", "approve"]);

    // Every name's span is exactly its text.
    for d in &p.inputs {
        assert_eq!(text(EXAMPLE, d.name.span), d.name.name);
    }
    for b in p.features.iter().chain(&p.outputs) {
        assert_eq!(text(EXAMPLE, b.name.span), b.name.name);
    }
    for m in &p.models {
        assert_eq!(text(EXAMPLE, m.name.span), m.name.name);
        assert_eq!(text(EXAMPLE, m.kind.span), m.kind.name);
    }
}

#[test]
fn full_example_types() {
    let p = parse_ok(EXAMPLE);
    let types: Vec<(ScalarType, Option<u32>, bool, &str)> =
        p.inputs.iter().map(|d| (d.ty.scalar, d.ty.len, d.ty.nullable, text(EXAMPLE, d.ty.span))).collect();
    assert_eq!(
        types,
        [
            (ScalarType::F64, None, false, "f64"),
            (ScalarType::F32, None, true, "f32?"),
            (ScalarType::F32, Some(4), false, "f32[4]"),
            (ScalarType::Bool, None, false, "bool"),
            (ScalarType::Str, None, true, "str?"),
            (ScalarType::Str, None, false, "str"),
        ]
    );
    assert_eq!(text(EXAMPLE, p.inputs[1].span), "age: f32?");
    assert_eq!(ScalarType::I64.keyword(), "i64");
}

#[test]
fn full_example_expressions_and_spans() {
    let p = parse_ok(EXAMPLE);
    let feature = |name: &str| p.features.iter().find(|b| b.name.name == name).unwrap();
    let output = |name: &str| p.outputs.iter().find(|b| b.name.name == name).unwrap();

    assert_eq!(sexpr(&feature("age_f").value), "(impute age 35)");
    assert_eq!(sexpr(&feature("num").value), r#"(standardize [(log1p income) age_f] stats:"stats.json")"#);
    assert_eq!(sexpr(&feature("trend").value), "(/ (- (index history 3) (index history 0)) 4)");
    assert_eq!(
        sexpr(&feature("region_v").value),
        r#"(one_hot (impute region "north") vocab:["north" "south" "east" "west"])"#
    );
    assert_eq!(sexpr(&feature("chan_v").value), "(hash_bucket channel buckets:8)");
    assert_eq!(sexpr(&feature("young").value), "(float (and (< age_f 25) (not employed)))");
    assert_eq!(sexpr(&feature("risk").value), "(scorer x1)");
    assert_eq!(sexpr(&output("decision").value), "(approver x2)");
    assert_eq!(sexpr(&output("approve").value), "(or (> (index decision 1) 0.5) (>= (+ (* (neg p_risk) 2) 1) 0.9))");

    // Spans of values and bindings.
    let trend = feature("trend");
    assert!(text(EXAMPLE, trend.value.span).starts_with("(history[3] - history[0]) / 4"));
    assert!(text(EXAMPLE, trend.span).starts_with("trend    = (history[3] - history[0]) / 4"));
    let ExprKind::Binary { lhs, .. } = &trend.value.kind else { panic!() };
    // A parenthesised operand covers its parentheses.
    assert_eq!(text(EXAMPLE, lhs.span), "(history[3] - history[0])");
    let ExprKind::Binary { lhs: h3, .. } = &lhs.kind else { panic!() };
    let ExprKind::Index { base, index_span, .. } = &h3.kind else { panic!() };
    assert_eq!(text(EXAMPLE, h3.span), "history[3]");
    assert_eq!(text(EXAMPLE, base.span), "history");
    assert_eq!(text(EXAMPLE, *index_span), "3");

    // Named arguments: the name, the value, and the whole argument.
    let ExprKind::Call { callee, args } = &feature("num").value.kind else { panic!() };
    assert_eq!(text(EXAMPLE, callee.span), "standardize");
    assert_eq!(args.len(), 2);
    assert!(args[0].name.is_none());
    assert_eq!(text(EXAMPLE, args[0].span), "[log1p(income), age_f]");
    let stats = args[1].name.as_ref().unwrap();
    assert_eq!(stats.name, "stats");
    assert_eq!(text(EXAMPLE, stats.span), "stats");
    assert_eq!(text(EXAMPLE, args[1].span), "stats: \"stats.json\"");
    assert_eq!(text(EXAMPLE, args[1].value.span), "\"stats.json\"");

    let approver = &p.models[1];
    assert_eq!(
        text(EXAMPLE, approver.span),
        r#"approver = mlp("approver.safetensors", activation: tanh, output: softmax)"#
    );
    let named: Vec<String> = approver.args.iter().map(arg).collect();
    assert_eq!(named, [r#""approver.safetensors""#, "activation:tanh", "output:softmax"]);

    let approve = output("approve");
    assert_eq!(text(EXAMPLE, approve.value.span), "decision[1] > 0.5 or -p_risk * 2 + 1 >= 0.9");
}

#[test]
fn precedence() {
    assert_eq!(shape("a + b * c"), "(+ a (* b c))");
    assert_eq!(shape("a * b + c"), "(+ (* a b) c)");
    assert_eq!(shape("a - b - c"), "(- (- a b) c)");
    assert_eq!(shape("a / b / c"), "(/ (/ a b) c)");
    assert_eq!(shape("(a + b) * c"), "(* (+ a b) c)");
    assert_eq!(shape("not a and b"), "(and (not a) b)");
    assert_eq!(shape("not not a"), "(not (not a))");
    assert_eq!(shape("a or b and c"), "(or a (and b c))");
    assert_eq!(shape("a and b or c"), "(or (and a b) c)");
    assert_eq!(shape("-x[0]"), "(neg (index x 0))");
    assert_eq!(shape("- -x"), "(neg (neg x))");
    assert_eq!(shape("a - -b"), "(- a (neg b))");
    assert_eq!(shape("x[1][2]"), "(index (index x 1) 2)");
    assert_eq!(shape("f(x)[0]"), "(index (f x) 0)");
    assert_eq!(shape("[a, b][1]"), "(index [a b] 1)");
    // Comparison binds looser than arithmetic and tighter than `not`.
    assert_eq!(shape("a + 1 < b * 2"), "(< (+ a 1) (* b 2))");
    assert_eq!(shape("not a == b"), "(not (== a b))");
    assert_eq!(shape("a < b and c >= d"), "(and (< a b) (>= c d))");
    for op in ["<", "<=", ">", ">=", "==", "!="] {
        assert_eq!(shape(&format!("a {op} b")), format!("({op} a b)"));
    }
}

/// A span covers its node's text and nothing after it. pest leaves the whitespace and comments
/// that follow a rule ending in a repetition or an option (`expr`, `type_expr`, `binding`,
/// `arg`, ...) inside its span; the builder ends every span at its last token.
#[test]
fn spans_exclude_trailing_whitespace_and_comments() {
    let p = parse_ok(EXAMPLE);
    let types: Vec<&str> = p.inputs.iter().map(|d| text(EXAMPLE, d.ty.span)).collect();
    assert_eq!(types, ["f64", "f32?", "f32[4]", "bool", "str?", "str"]);
    let trend = p.features.iter().find(|b| b.name.name == "trend").unwrap();
    assert_eq!(text(EXAMPLE, trend.value.span), "(history[3] - history[0]) / 4");
    assert_eq!(text(EXAMPLE, trend.span), "trend    = (history[3] - history[0]) / 4");
    let source = "pipeline p { output { y = a + b   # c\n } }";
    let p = parse_ok(source);
    assert_eq!(text(source, p.outputs[0].value.span), "a + b");
    let source = "pipeline p { output { y = f([a , b ], k: c ) } }";
    let p = parse_ok(source);
    let ExprKind::Call { args, .. } = &p.outputs[0].value.kind else { panic!() };
    assert_eq!(text(source, args[1].span), "k: c");
    let ExprKind::List(items) = &args[0].value.kind else { panic!() };
    assert_eq!(text(source, items[0].span), "a");
}

#[test]
fn comparisons_do_not_chain() {
    let d = parse_err("pipeline p { output { y = a < b < c } }");
    assert_eq!(d[0].code, "E0001");
}

#[test]
fn unary_and_binary_spans() {
    let (source, e) = expr_of("-x[0] * (b + c)");
    let ExprKind::Binary { op: BinaryOp::Mul, lhs, rhs } = &e.kind else { panic!("{e:?}") };
    assert_eq!(text(&source, lhs.span), "-x[0]");
    assert_eq!(text(&source, rhs.span), "(b + c)");
    let ExprKind::Unary { operand, .. } = &lhs.kind else { panic!() };
    assert_eq!(text(&source, operand.span), "x[0]");

    let (source, e) = expr_of("not  flag");
    assert_eq!(text(&source, e.span), "not  flag");
    let ExprKind::Unary { op: UnaryOp::Not, operand } = &e.kind else { panic!() };
    assert_eq!(text(&source, operand.span), "flag");
}

#[test]
fn literals() {
    assert_eq!(shape("1"), "1");
    assert_eq!(shape("2.5"), "2.5");
    assert_eq!(shape("1."), "1");
    assert_eq!(shape("1e3"), "1000");
    assert_eq!(shape("2.5E-1"), "0.25");
    assert_eq!(shape("true"), "true");
    assert_eq!(shape("false"), "false");
    assert_eq!(shape("truest"), "truest"); // a name that starts with a keyword
    assert_eq!(shape("[]"), "[]");
    assert_eq!(shape("[1, 2,]"), "[1 2]");
    assert_eq!(shape(r#""a\"b\\c\nd\te""#), format!("{:?}", "a\"b\\c\nd\te"));
    assert_eq!(shape("f()"), "(f)");
    assert_eq!(shape("f(a, b,)"), "(f a b)");
    assert_eq!(shape("f(a, k: b)"), "(f a k:b)");
    // A named argument may be called by a keyword.
    assert_eq!(shape("f(a, output: b, input: c)"), "(f a output:b input:c)");
    assert_eq!(shape("not_a + and_b + or_c + input_x"), "(+ (+ (+ not_a and_b) or_c) input_x)");
}

#[test]
fn separators_and_comments_are_optional() {
    let with = "pipeline p { # a comment\n input { a: f32; b: f32, c: f32 } features { f = a; g = b, } \
                models { m = linear(\"m.safetensors\"); } output { y = f, z = g; } }";
    let without = "pipeline p {\n input { a: f32 b: f32 c: f32 }\n features { f = a g = b }\n \
                   models { m = linear(\"m.safetensors\") }\n output { y = f z = g }\n}";
    let a = parse_ok(with);
    let b = parse_ok(without);
    for p in [&a, &b] {
        assert_eq!(p.inputs.len(), 3);
        assert_eq!(p.features.len(), 2);
        assert_eq!(p.models.len(), 1);
        assert_eq!(p.outputs.len(), 2);
        assert_eq!(sexpr(&p.outputs[1].value), "g");
    }
    // Comments may sit anywhere whitespace may, and a `#` inside a string is not a comment.
    let p = parse_ok(
        "# head\npipeline # after the keyword\n p # name\n { # brace\n version # v\n \"1#2\" # after\n input { # x\n x # y\n : # z\n f32 # w\n } output { y = x # tail\n + # op\n 1 } } # end",
    );
    assert_eq!(p.version.unwrap().value, "1#2");
    assert_eq!(sexpr(&p.outputs[0].value), "(+ x 1)");
    // No sections at all, and sections in any order.
    let p = parse_ok("pipeline empty {}");
    assert!(p.inputs.is_empty() && p.sections.is_empty() && p.version.is_none());
    let p = parse_ok("pipeline p { output { y = x } input { x: f32 } version \"1\" }");
    assert_eq!(p.sections[0].0, SectionKind::Output);
    assert_eq!(p.version.unwrap().value, "1");
}

#[test]
fn version_is_a_string() {
    let d = parse_err("pipeline p { version 1.0 }");
    assert_eq!(d[0].code, "E0001");
    let source = "pipeline p { version \"\\tx\" }";
    assert_eq!(parse_ok(source).version.unwrap().value, "\tx");
}

#[test]
fn syntax_errors_point_at_the_offending_token() {
    let source = "pipeline p {\n  input { x f32 }\n}";
    let d = parse_err(source);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "E0001");
    assert_eq!(d[0].line_col(source), Some((2, 13)));
    assert_eq!(text(source, d[0].primary_span().unwrap()), "f32");
    assert_eq!(d[0].message, "syntax error: expected `:`, found `f32`");

    let d = parse_err("");
    assert_eq!(d[0].code, "E0001");
    assert!(d[0].message.contains("end of file"), "{}", d[0].message);

    // Keywords are not names.
    for kw in ["input", "output", "true", "and", "version", "pipeline"] {
        let d = parse_err(&format!("pipeline p {{ input {{ {kw}: f32 }} }}"));
        assert_eq!(d[0].code, "E0001", "{kw}");
    }
    // An index must be a non-negative integer literal.
    for bad in ["x[-1]", "x[1.5]", "x[1.0]", "x[1e0]", "x[i]", "x[1 + 1]", "x[(1)]"] {
        let d = parse_err(&format!("pipeline p {{ output {{ y = {bad} }} }}"));
        assert_eq!(d[0].code, "E0006", "{bad}");
    }
    // ... that fits in u32.
    let d = parse_err("pipeline p { output { y = x[4294967296] } }");
    assert_eq!(d[0].code, "E0007");
    assert_eq!(shape("x[4294967295]"), "(index x 4294967295)");
}

#[test]
fn several_errors_at_once() {
    let source = "pipeline p {\n input { a: f33, b: str[2] }\n params {}\n input { c: f32 }\n}";
    let d = parse_err(source);
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0002", "E0005", "E0004"]);
}

#[test]
fn limits() {
    let deep = format!("pipeline p {{ output {{ y = {}x{} }} }}", "(".repeat(100), ")".repeat(100));
    assert_eq!(parse_err(&deep)[0].code, "E0008");
    // Brackets in strings and comments do not count.
    let source = format!("pipeline p {{ # {}\n version \"{}\" }}", "(".repeat(100), "[".repeat(100));
    parse_ok(&source);
    let long = format!("pipeline p {{ output {{ y = x{} }} }}", " + x".repeat(3000));
    assert_eq!(parse_err(&long)[0].code, "E0008");
    let ok = format!("pipeline p {{ output {{ y = x{} }} }}", " + x".repeat(1000));
    parse_ok(&ok);
}

/// Every ```pipe block of docs/language.md that is a whole pipeline parses, and the
/// complete example there is [`EXAMPLE`].
#[test]
fn docs_examples_parse() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md");
    let Ok(doc) = std::fs::read_to_string(path) else {
        panic!("cannot read {path}");
    };
    let mut blocks = Vec::new();
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```pipe\n") {
        let body = &rest[start + "```pipe\n".len()..];
        let end = body.find("```").expect("closed code block");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    let whole: Vec<&str> = blocks.iter().copied().filter(|b| b.lines().any(|l| l.starts_with("pipeline "))).collect();
    assert!(whole.len() >= 3, "found {} whole pipelines in the docs", whole.len());
    for block in &whole {
        parse_ok(block);
    }
    assert!(whole.contains(&EXAMPLE), "the complete example of the docs differs from EXAMPLE");
}

/// The grammar printed in docs/language.md is the grammar of `src/pipe.pest`.
#[test]
fn docs_grammar_is_the_pest_file() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md")).unwrap();
    let pest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/pipe.pest")).unwrap();
    let start = doc.find("```pest\n").expect("a ```pest block") + "```pest\n".len();
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    // The file's first line points to the docs; the rest is printed as it is.
    let rules: String =
        pest.lines().skip_while(|l| l.starts_with("// The grammar of") || l.is_empty()).collect::<Vec<_>>().join("\n");
    assert_eq!(block.trim_end(), rules.trim_end(), "update the ```pest block of docs/language.md");
}
