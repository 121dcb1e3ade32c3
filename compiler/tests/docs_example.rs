//! docs/language.md is right: its complete example checks (with artifacts of the shapes it
//! describes), and the semantics its built-in table states are what the reference
//! interpreter computes.

use pipec_compiler::check_source;
use pipec_compiler::interp::{Column, eval_outputs};
use pipec_compiler::ir::{Graph, Ty};
use pipec_interface::fnv1a64;
use std::path::{Path, PathBuf};

fn docs() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The ```pipe block of the docs that contains `needle`.
fn block(doc: &str, needle: &str) -> String {
    let mut rest = doc;
    while let Some(start) = rest.find("```pipe\n") {
        let body = &rest[start + "```pipe\n".len()..];
        let end = body.find("```").expect("closed block");
        if body[..end].contains(needle) {
            return body[..end].to_string();
        }
        rest = &body[end + 3..];
    }
    panic!("no ```pipe block with {needle:?}");
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pipec-docs-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_safetensors(path: &Path, tensors: &[(&str, Vec<usize>)]) {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, shape)| {
            let n: usize = shape.iter().product();
            (0..n).flat_map(|i| (((i % 7) as f32 - 3.0) * 0.1).to_le_bytes()).collect()
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&data)
        .map(|((name, shape), bytes)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap();
            (name.to_string(), view)
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn check_ok(source: &str, dir: &Path) -> Graph {
    let outcome = check_source(source, dir);
    assert!(outcome.diagnostics.is_empty(), "{}", pipec_dsl::render(&outcome.diagnostics, "docs.pipe", source, false));
    outcome.checked.expect("checked").graph().clone()
}

#[test]
fn complete_example_checks() {
    let source = block(&docs(), "pipeline loans");
    let dir = TempDir::new("loans");
    std::fs::write(dir.0.join("stats.json"), r#"{"mean": [10.5, 40.0], "std": [1.2, 12.0]}"#).unwrap();
    write_safetensors(&dir.0.join("scorer.safetensors"), &[("weight", vec![1, 8]), ("bias", vec![1])]);
    write_safetensors(
        &dir.0.join("approver.safetensors"),
        &[
            ("layers.0.weight", vec![16, 17]),
            ("layers.0.bias", vec![16]),
            ("layers.1.weight", vec![2, 16]),
            ("layers.1.bias", vec![2]),
        ],
    );
    let graph = check_ok(&source, &dir.0);
    assert_eq!(graph.name, "loans");
    assert_eq!(graph.version, "1.2.0");
    let outputs: Vec<(&str, Ty)> = graph.outputs().iter().map(|o| (o.name.as_str(), graph.ty(o.node))).collect();
    assert_eq!(outputs, [("p_risk", Ty::F32(1)), ("decision", Ty::F32(2)), ("approve", Ty::Bool(1))]);

    // With an approver that takes 16 inputs, the docs' E0203 applies.
    write_safetensors(
        &dir.0.join("approver.safetensors"),
        &[
            ("layers.0.weight", vec![16, 16]),
            ("layers.0.bias", vec![16]),
            ("layers.1.weight", vec![2, 16]),
            ("layers.1.bias", vec![2]),
        ],
    );
    let outcome = check_source(&source, &dir.0);
    let codes: Vec<&str> = outcome.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0203"]);
}

#[test]
fn minimal_example_checks() {
    let source = block(&docs(), "pipeline minimal");
    check_ok(&source, Path::new("."));
}

#[test]
fn chain_example_matches_the_repository_example() {
    let source = block(&docs(), "pipeline chain");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chain");
    if dir.join("chain.pipe").exists() {
        check_ok(&source, &dir);
    }
}

/// One output `y` over the inputs `x: f32[n]`, `s: str?` of one row.
fn eval(expr: &str, x: &[f32], s: Option<&str>) -> Vec<f32> {
    let source =
        format!("pipeline p {{ version \"1\" input {{ x: f32[{}], s: str? }} output {{ y = {expr} }} }}", x.len());
    let outcome = check_source(&source, Path::new("."));
    let Some(checked) = outcome.checked else {
        panic!("{}", pipec_dsl::render(&outcome.diagnostics, "t.pipe", &source, false));
    };
    let columns = vec![Column::F32(x.to_vec()), Column::Str(vec![s.map(Into::into)])];
    eval_outputs(checked.graph(), &columns, 1).unwrap().remove(0)
}

#[test]
fn builtin_semantics_are_as_documented() {
    let nan = f32::NAN;
    // impute replaces missing (NaN) values; is_missing finds them.
    assert_eq!(eval("impute(x, -2)", &[1.0, nan], None), [1.0, -2.0]);
    assert_eq!(eval("float(is_missing(x))", &[1.0, nan], None), [0.0, 1.0]);
    // standardize with a std of 0 divides by 1; min_max with max == min too.
    assert_eq!(eval("standardize(x, mean: [1, 2], std: [2, 0])", &[5.0, 5.0], None), [2.0, 3.0]);
    assert_eq!(eval("min_max(x, min: [1, 2], max: [5, 2])", &[3.0, 5.0], None), [0.5, 3.0]);
    // bucketize counts the boundaries <= x; NaN gives 0.
    for (v, want) in [(-5.0, 0.0), (0.0, 2.0), (0.5, 2.0), (1.5, 3.0), (9.0, 3.0), (nan, 0.0)] {
        assert_eq!(eval("bucketize(x[0], boundaries: [-1, 0, 1.5])", &[v], None), [want], "x = {v}");
    }
    // one_hot: the vocabulary position; unknown or missing gives all zeros.
    let vocab = "one_hot(s, vocab: [\"a\", \"b\", \"c\"])";
    assert_eq!(eval(vocab, &[0.0], Some("b")), [0.0, 1.0, 0.0]);
    assert_eq!(eval(vocab, &[0.0], Some("zzz")), [0.0, 0.0, 0.0]);
    assert_eq!(eval(vocab, &[0.0], None), [0.0, 0.0, 0.0]);
    assert_eq!(eval("one_hot(impute(s, \"c\"), vocab: [\"a\", \"b\", \"c\"])", &[0.0], None), [0.0, 0.0, 1.0]);
    // category_code: the vocabulary position; unknown or missing stays missing (nullable, so
    // imputed here to be an output).
    let code = "impute(category_code(s, vocab: [\"a\", \"b\", \"c\"]), -1)";
    assert_eq!(eval(code, &[0.0], Some("a")), [0.0]);
    assert_eq!(eval(code, &[0.0], Some("c")), [2.0]);
    assert_eq!(eval(code, &[0.0], Some("zzz")), [-1.0]);
    assert_eq!(eval(code, &[0.0], None), [-1.0]);
    let imputed = "impute(category_code(impute(s, \"b\"), vocab: [\"a\", \"b\"]), -1)";
    assert_eq!(eval(imputed, &[0.0], None), [1.0]);
    // is_missing on a string: only null is missing; an imputed string never is.
    assert_eq!(eval("float(is_missing(s))", &[0.0], None), [1.0]);
    assert_eq!(eval("float(is_missing(s))", &[0.0], Some("")), [0.0]);
    assert_eq!(eval("float(is_missing(s))", &[0.0], Some("zzz")), [0.0]);
    assert_eq!(eval("float(is_missing(impute(s, \"a\")))", &[0.0], None), [0.0]);
    // hash_bucket: FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) of the UTF-8
    // bytes, modulo N, one-hot; missing gives all zeros.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "Zürich".bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    assert_eq!(h, fnv1a64("Zürich".as_bytes()));
    let got = eval("hash_bucket(s, buckets: 7)", &[0.0], Some("Zürich"));
    let mut want = vec![0.0; 7];
    want[(h % 7) as usize] = 1.0;
    assert_eq!(got, want);
    assert_eq!(eval("hash_bucket(s, buckets: 3)", &[0.0], None), [0.0, 0.0, 0.0]);
    // Broadcasting, clip, where, softmax, lists.
    assert_eq!(eval("x - x[0]", &[1.0, 3.0], None), [0.0, 2.0]);
    assert_eq!(eval("clip(x, 0, 1)", &[-1.0, 0.5, 2.0], None), [0.0, 0.5, 1.0]);
    assert_eq!(eval("where(x > 0, x, 0 - x * 10)", &[-1.0, 2.0], None), [10.0, 2.0]);
    let sm = eval("softmax(x)", &[0.0, 0.0], None);
    assert_eq!(sm, [0.5, 0.5]);
    assert_eq!(eval("[x, x[1]]", &[1.0, 2.0], None), [1.0, 2.0, 2.0]);
    assert_eq!(eval("-x[0] * 2 + 1", &[3.0], None), [-5.0]);
}
