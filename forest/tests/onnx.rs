//! ONNX-ML tree ensembles: the attribute tables the compiler fills, against onnxruntime 1.32.
//!
//! `onnx_reference.json` is written by `onnx_reference.py` (run it with the benchmark's venv:
//! `target/bench-venv/bin/python forest/tests/onnx_reference.py`): every case's attributes,
//! rows and onnxruntime's outputs. The inline values below come from the same script
//! (`--print CASE` prints one case's rows and outputs).

use std::collections::BTreeMap;

use pipec_forest::{
    ImportError, NodeKind, OnnxEnsembleKind, OnnxForest, OnnxTreeEnsemble, OnnxUnifiedTreeEnsemble, ScoreRule,
    ScoreTransform, import_onnx_tree_ensemble, import_onnx_unified_tree_ensemble, onnx_probit,
};
use serde_json::value::RawValue;

fn scores(imported: &OnnxForest, x: &[f32]) -> Vec<f32> {
    let f = &imported.forest;
    let mut m = vec![0.0; f.outputs as usize];
    f.predict_margins(x, &mut m);
    let mut out = vec![0.0; imported.scores.outputs(f.outputs) as usize];
    imported.scores.apply(&m, &mut out);
    out
}

/// Within 2e-6 relative (1e-6 absolute near 0), NaN against NaN, infinities exactly.
fn close(got: f32, want: f32) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    if want.is_infinite() {
        return got == want;
    }
    (f64::from(got) - f64::from(want)).abs() <= 2e-6 * f64::from(want.abs()).max(0.5)
}

fn assert_rows(imported: &OnnxForest, rows: &[(Vec<f32>, Vec<f32>)], name: &str) {
    for (x, want) in rows {
        let got = scores(imported, x);
        assert_eq!(got.len(), want.len(), "{name}: row {x:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w), "{name}: row {x:?}: got {got:?}, onnxruntime {want:?}");
        }
    }
}

// ------------------------------------------------------------------ the reference file
//
// Read through `RawValue`s so that every number is parsed from its text with Rust's correctly
// rounded `parse::<f64>` (serde_json's own float parsing may be off by an ulp).

type Raw<'a> = &'a RawValue;
type Object<'a> = BTreeMap<String, Raw<'a>>;

fn object(raw: Raw) -> Object {
    serde_json::from_str(raw.get()).expect("object")
}

fn array(raw: Raw) -> Vec<Raw> {
    serde_json::from_str(raw.get()).expect("array")
}

fn text(raw: Raw) -> String {
    serde_json::from_str(raw.get()).expect("string")
}

fn int(raw: Raw) -> i64 {
    raw.get().parse().expect("int")
}

fn ints(raw: Raw) -> Vec<i64> {
    array(raw).into_iter().map(int).collect()
}

fn float(raw: Raw) -> f64 {
    match raw.get() {
        "null" | "\"nan\"" => f64::NAN,
        "\"inf\"" => f64::INFINITY,
        "\"-inf\"" => f64::NEG_INFINITY,
        t => t.parse().expect("number"),
    }
}

fn floats(raw: Raw) -> Vec<f64> {
    array(raw).into_iter().map(float).collect()
}

fn flag(raw: Raw) -> bool {
    raw.get() == "true"
}

fn rows(raw: Raw) -> Vec<Vec<f32>> {
    array(raw).into_iter().map(|r| floats(r).into_iter().map(|v| v as f32).collect()).collect()
}

fn v3(a: &Object) -> OnnxTreeEnsemble {
    let kind = match text(a["kind"]).as_str() {
        "classifier" => OnnxEnsembleKind::Classifier,
        _ => OnnxEnsembleKind::Regressor,
    };
    OnnxTreeEnsemble {
        kind,
        nodes_treeids: ints(a["nodes_treeids"]),
        nodes_nodeids: ints(a["nodes_nodeids"]),
        nodes_featureids: ints(a["nodes_featureids"]),
        nodes_modes: array(a["nodes_modes"]).into_iter().map(text).collect(),
        nodes_values: floats(a["nodes_values"]),
        nodes_values_are_double: flag(a["nodes_values_are_double"]),
        nodes_truenodeids: ints(a["nodes_truenodeids"]),
        nodes_falsenodeids: ints(a["nodes_falsenodeids"]),
        nodes_missing_value_tracks_true: ints(a["nodes_missing_value_tracks_true"]),
        weight_treeids: ints(a["weight_treeids"]),
        weight_nodeids: ints(a["weight_nodeids"]),
        weight_ids: ints(a["weight_ids"]),
        weights: floats(a["weights"]),
        base_values: floats(a["base_values"]),
        n_targets_or_classes: int(a["n_targets_or_classes"]),
        aggregate_function: text(a["aggregate_function"]),
        post_transform: text(a["post_transform"]),
    }
}

fn v5(a: &Object) -> OnnxUnifiedTreeEnsemble {
    OnnxUnifiedTreeEnsemble {
        nodes_featureids: ints(a["nodes_featureids"]),
        nodes_splits: floats(a["nodes_splits"]),
        nodes_splits_are_double: flag(a["nodes_splits_are_double"]),
        nodes_modes: ints(a["nodes_modes"]).iter().map(|&m| m as u8).collect(),
        nodes_truenodeids: ints(a["nodes_truenodeids"]),
        nodes_trueleafs: ints(a["nodes_trueleafs"]),
        nodes_falsenodeids: ints(a["nodes_falsenodeids"]),
        nodes_falseleafs: ints(a["nodes_falseleafs"]),
        nodes_missing_value_tracks_true: ints(a["nodes_missing_value_tracks_true"]),
        membership_values: floats(a["membership_values"]),
        leaf_targetids: ints(a["leaf_targetids"]),
        leaf_weights: floats(a["leaf_weights"]),
        tree_roots: ints(a["tree_roots"]),
        n_targets: int(a["n_targets"]),
        aggregate_function: int(a["aggregate_function"]),
        post_transform: int(a["post_transform"]),
    }
}

struct Case {
    name: String,
    expect: String,
    result: Result<OnnxForest, ImportError>,
    rows: Vec<(Vec<f32>, Vec<f32>)>,
}

fn reference() -> (String, Vec<Case>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/onnx_reference.json");
    let text_ = std::fs::read_to_string(path).expect("onnx_reference.json");
    let doc = object(serde_json::from_str(&text_).expect("JSON"));
    let cases = array(doc["cases"])
        .into_iter()
        .map(|raw| {
            let c = object(raw);
            let features = int(c["features"]) as u32;
            let attrs = object(c["attrs"]);
            let result = match text(c["op"]).as_str() {
                "TreeEnsemble" => import_onnx_unified_tree_ensemble(&v5(&attrs), features),
                _ => import_onnx_tree_ensemble(&v3(&attrs), features),
            };
            let x = rows(c["x"]);
            let y = if c["y"].get() == "null" { Vec::new() } else { rows(c["y"]) };
            Case { name: text(c["name"]), expect: text(c["expect"]), result, rows: x.into_iter().zip(y).collect() }
        })
        .collect();
    (text(doc["onnxruntime"]), cases)
}

#[test]
fn every_reference_case_matches_onnxruntime_or_is_refused() {
    let (version, cases) = reference();
    assert_eq!(version, "1.32.0");
    let mut compared = 0;
    let mut real_models = 0;
    for case in &cases {
        let name = &case.name;
        match case.expect.as_str() {
            "ok" => {
                let imported = case.result.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
                imported.forest.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_rows(imported, &case.rows, name);
                compared += case.rows.len();
                real_models += usize::from(name.starts_with("sk_"));
            }
            "unsupported" => match &case.result {
                Err(ImportError::Unsupported(_)) => {}
                other => panic!("{name}: expected Unsupported, got {other:?}"),
            },
            other => panic!("{name}: expect {other}"),
        }
    }
    assert!(compared > 1500, "{compared} rows compared");
    assert!(real_models >= 9, "{real_models} scikit-learn models");
}

#[test]
fn reference_cases_produce_every_score_rule() {
    let (_, cases) = reference();
    let mut seen = Vec::new();
    for case in &cases {
        if let Ok(imported) = &case.result
            && !seen.contains(&imported.scores)
        {
            seen.push(imported.scores);
        }
    }
    for rule in [
        ScoreRule::Margins(ScoreTransform::None),
        ScoreRule::Margins(ScoreTransform::Logistic),
        ScoreRule::Margins(ScoreTransform::Softmax),
        ScoreRule::Margins(ScoreTransform::Probit),
        ScoreRule::NegatedPair(ScoreTransform::None),
        ScoreRule::NegatedPair(ScoreTransform::Logistic),
        ScoreRule::NegatedPair(ScoreTransform::Softmax),
        ScoreRule::NegatedPair(ScoreTransform::Probit),
        ScoreRule::ComplementPair { logistic: false },
        ScoreRule::ComplementPair { logistic: true },
    ] {
        assert!(seen.contains(&rule), "{rule:?} never produced");
    }
}

// ------------------------------------------------------------------ hand-built tables

type Weights<'a> = &'a [(i64, f64)];

/// Stumps `x[feature] MODE t ? on_true : on_false`, three nodes per tree (the same helper as
/// `stumps` in `onnx_reference.py`): `(tree, feature, mode, t, on_true, on_false)`.
fn stumps(kind: OnnxEnsembleKind, n: i64, trees: &[(i64, i64, &str, f64, Weights, Weights)]) -> OnnxTreeEnsemble {
    let mut e = OnnxTreeEnsemble::new(kind);
    e.n_targets_or_classes = n;
    for &(t, f, mode, thr, on_true, on_false) in trees {
        e.nodes_treeids.extend([t, t, t]);
        e.nodes_nodeids.extend([0, 1, 2]);
        e.nodes_featureids.extend([f, 0, 0]);
        e.nodes_modes.extend([mode.to_string(), "LEAF".into(), "LEAF".into()]);
        e.nodes_values.extend([thr, 0.0, 0.0]);
        e.nodes_truenodeids.extend([1, 0, 0]);
        e.nodes_falsenodeids.extend([2, 0, 0]);
        for (node, weights) in [(1, on_true), (2, on_false)] {
            for &(k, w) in weights {
                e.weight_treeids.push(t);
                e.weight_nodeids.push(node);
                e.weight_ids.push(k);
                e.weights.push(w);
            }
        }
    }
    e
}

fn regressor(n: i64, trees: &[(i64, i64, &str, f64, Weights, Weights)]) -> OnnxTreeEnsemble {
    stumps(OnnxEnsembleKind::Regressor, n, trees)
}

fn classifier(n: i64, trees: &[(i64, i64, &str, f64, Weights, Weights)]) -> OnnxTreeEnsemble {
    stumps(OnnxEnsembleKind::Classifier, n, trees)
}

fn import(e: &OnnxTreeEnsemble, features: u32) -> OnnxForest {
    import_onnx_tree_ensemble(e, features).unwrap_or_else(|err| panic!("{err}"))
}

/// Rows given as (x, onnxruntime's output).
fn check(e: &OnnxTreeEnsemble, rows: &[(&[f32], &[f32])]) {
    let features = rows[0].0.len() as u32;
    let imported = import(e, features);
    let rows: Vec<(Vec<f32>, Vec<f32>)> = rows.iter().map(|(x, y)| (x.to_vec(), y.to_vec())).collect();
    assert_rows(&imported, &rows, "inline");
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

#[test]
fn each_split_mode_and_nan_direction_matches_onnxruntime() {
    // `mode_*` in onnx_reference.py: x[0] MODE 0.25 ? 1 : 2.
    let xs = [-1.0, 0.0, 0.25, 0.5, 1.0, NAN, INF, -INF];
    let cases: [(&str, i64, [f32; 8]); 4] = [
        ("BRANCH_LEQ", 0, [1., 1., 1., 2., 2., 2., 2., 1.]),
        ("BRANCH_LT", 1, [1., 1., 2., 2., 2., 1., 2., 1.]),
        ("BRANCH_GTE", 0, [2., 2., 1., 1., 1., 2., 1., 2.]),
        ("BRANCH_GT", 1, [2., 2., 2., 1., 1., 1., 1., 2.]),
    ];
    for (mode, tracks, want) in cases {
        let mut e = regressor(1, &[(0, 0, mode, 0.25, &[(0, 1.0)], &[(0, 2.0)])]);
        e.nodes_missing_value_tracks_true = vec![tracks, 0, 0];
        let imported = import(&e, 1);
        for (x, w) in xs.iter().zip(want) {
            assert_eq!(scores(&imported, &[*x]), [w], "{mode} tracks {tracks}, x = {x}");
        }
        // x <= u with the true branch left (LEQ, LT) or right (GTE, GT).
        let f = &imported.forest;
        let (u, true_left) = match mode {
            "BRANCH_LEQ" => (0.25, true),
            "BRANCH_LT" => (pipec_forest::next_down(0.25), true),
            "BRANCH_GTE" => (pipec_forest::next_down(0.25), false),
            _ => (0.25, false),
        };
        assert_eq!(f.kind[0], NodeKind::Numeric);
        assert_eq!(f.threshold[0], u, "{mode}");
        let left_leaf = f.leaf_value[f.left[0] as usize];
        assert_eq!(left_leaf, if true_left { 1.0 } else { 2.0 }, "{mode}");
        assert_eq!(f.default_left[0], (tracks == 1) == true_left, "{mode}");
    }
}

#[test]
fn double_thresholds_compare_the_f32_input_as_f64() {
    // `double_BRANCH_LEQ_0.1` / `double_BRANCH_GT_0.1`: 0.1 (f64) lies between two f32s;
    // 0.1f32 is above it.
    let below = pipec_forest::next_down(0.1f32);
    let above = -pipec_forest::next_down(-0.1f32);
    let rows = [below, 0.1f32, above, NAN];
    for (mode, want) in [("BRANCH_LEQ", [1.0, 2.0, 2.0, 2.0]), ("BRANCH_GT", [2.0, 1.0, 1.0, 2.0])] {
        let mut e = regressor(1, &[(0, 0, mode, 0.1, &[(0, 1.0)], &[(0, 2.0)])]);
        e.nodes_values_are_double = true;
        let imported = import(&e, 1);
        for (x, w) in rows.iter().zip(want) {
            assert_eq!(scores(&imported, &[*x]), [w], "{mode} x = {x}");
        }
    }
    // Read as floats, 0.1 is not a threshold onnxruntime could have.
    let e = regressor(1, &[(0, 0, "BRANCH_LEQ", 0.1, &[(0, 1.0)], &[(0, 2.0)])]);
    assert!(matches!(
        import_onnx_tree_ensemble(&e, 1),
        Err(ImportError::Onnx(m)) if m.contains("not an f32")
    ));
}

/// `two` in onnx_reference.py: two trees whose leaves carry both targets.
fn two_targets() -> OnnxTreeEnsemble {
    regressor(
        2,
        &[
            (0, 0, "BRANCH_LEQ", 0.5, &[(0, 1.0), (1, 10.0)], &[(0, 2.0), (1, 20.0)]),
            (1, 1, "BRANCH_LT", -0.5, &[(0, 0.25), (1, -4.0)], &[(1, 3.0), (0, 0.5)]),
        ],
    )
}

#[test]
fn multi_target_leaves_become_one_tree_per_target_and_average_divides_first() {
    let mut e = two_targets();
    e.aggregate_function = "AVERAGE".into();
    e.base_values = vec![100.0, -100.0];
    let imported = import(&e, 2);
    let f = &imported.forest;
    assert_eq!(f.outputs, 2);
    assert_eq!(f.roots.len(), 4);
    assert_eq!(f.tree_output, [0, 1, 0, 1]);
    assert_eq!(f.base, [100.0, -100.0]);
    // Leaves divided by the 2 trees; the base is added after.
    assert_eq!(f.leaf_value[f.left[0] as usize], 0.5);
    assert_eq!(f.leaf_value[f.right[f.roots[1] as usize] as usize], 10.0);
    assert_eq!(imported.scores, ScoreRule::Margins(ScoreTransform::None));
    // `multi_target_average_base`.
    check(
        &e,
        &[
            (&[0.0, 0.0], &[100.75, -93.5]),
            (&[1.0, -1.0], &[101.125, -92.0]),
            (&[NAN, -0.5], &[101.25, -88.5]),
            (&[0.5, NAN], &[100.75, -93.5]),
        ],
    );
}

#[test]
fn a_target_no_leaf_reaches_is_zero_whatever_its_base() {
    // `target_never_base`: target 2 has a base value but no weight.
    let mut e = two_targets();
    e.n_targets_or_classes = 3;
    e.base_values = vec![1.0, 2.0, 3.0];
    check(&e, &[(&[0.0, 0.0], &[2.5, 15.0, 0.0]), (&[1.0, -1.0], &[3.25, 18.0, 0.0])]);
    // `target_sometimes_no_base`: target 1 only on the false leaf, no base: fine.
    let e = regressor(2, &[(0, 0, "BRANCH_LEQ", 0.5, &[(0, 1.0)], &[(1, 2.0)])]);
    check(&e, &[(&[0.0, 0.0], &[1.0, 0.0]), (&[1.0, -1.0], &[0.0, 2.0])]);
    // With a base value, whether it is added depends on the row: refused.
    let mut e = e;
    e.base_values = vec![5.0, 7.0];
    assert!(matches!(import_onnx_tree_ensemble(&e, 2), Err(ImportError::Unsupported(_))));
}

/// `one` in onnx_reference.py; tree 1's false leaf has two weights, onnxruntime reads the
/// first only.
fn one_target(post: &str) -> OnnxTreeEnsemble {
    let mut e = regressor(
        1,
        &[
            (0, 0, "BRANCH_LEQ", 0.5, &[(0, 0.2)], &[(0, 0.7)]),
            (1, 1, "BRANCH_GT", 0.0, &[(0, 0.1)], &[(0, 0.05), (0, 9.0)]),
            (2, 0, "BRANCH_GTE", 1.0, &[(0, 0.0)], &[(0, -0.4)]),
        ],
    );
    e.post_transform = post.into();
    e.base_values = vec![0.125];
    e
}

#[test]
fn one_target_applies_probit_only_and_reads_the_first_weight() {
    // `one_target_LOGISTIC` (the same for NONE, SOFTMAX, SOFTMAX_ZERO).
    let rows: [(&[f32], &[f32]); 3] =
        [(&[0.0, 0.0], &[-0.025000006]), (&[1.0, -1.0], &[0.875]), (&[NAN, -0.5], &[0.475])];
    for post in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"] {
        assert_eq!(import(&one_target(post), 2).scores, ScoreRule::Margins(ScoreTransform::None));
        check(&one_target(post), &rows);
    }
    // `one_target_PROBIT`.
    let e = one_target("PROBIT");
    assert_eq!(import(&e, 2).scores, ScoreRule::Margins(ScoreTransform::Probit));
    check(&e, &[(&[0.0, 0.0], &[NAN]), (&[1.0, -1.0], &[1.1505355]), (&[NAN, -0.5], &[-0.06270565])]);
}

#[test]
fn average_counts_the_runs_of_tree_ids() {
    // `interleaved_tree_ids`: tree 0's nodes 0-1, tree 1, then tree 0's node 2 (a leaf, the
    // root of a third run): three trees.
    let mut e = OnnxTreeEnsemble::new(OnnxEnsembleKind::Regressor);
    e.n_targets_or_classes = 1;
    e.aggregate_function = "AVERAGE".into();
    e.nodes_treeids = vec![0, 0, 1, 1, 1, 0];
    e.nodes_nodeids = vec![0, 1, 0, 1, 2, 2];
    e.nodes_featureids = vec![0; 6];
    e.nodes_modes = ["BRANCH_LEQ", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF", "LEAF"].map(String::from).to_vec();
    e.nodes_values = vec![0.5; 6];
    e.nodes_truenodeids = vec![1, 0, 1, 0, 0, 0];
    e.nodes_falsenodeids = vec![2, 0, 2, 0, 0, 0];
    e.weight_treeids = vec![0, 0, 1, 1];
    e.weight_nodeids = vec![1, 2, 1, 2];
    e.weight_ids = vec![0; 4];
    e.weights = vec![1.0, 2.0, 10.0, 20.0];
    assert_eq!(import(&e, 1).forest.roots.len(), 3);
    check(&e, &[(&[0.0], &[4.3333335]), (&[1.0], &[8.0])]);
}

#[test]
fn binary_classifier_rules() {
    use ScoreRule::*;
    let class0_positive: [(i64, i64, &str, f64, Weights, Weights); 2] =
        [(0, 0, "BRANCH_LEQ", 0.5, &[(0, 0.2)], &[(0, 0.7)]), (1, 1, "BRANCH_LEQ", 0.0, &[(0, 0.1)], &[(0, 0.05)])];
    let class0_mixed: [(i64, i64, &str, f64, Weights, Weights); 2] =
        [(0, 0, "BRANCH_LEQ", 0.5, &[(0, -0.2)], &[(0, 0.7)]), (1, 1, "BRANCH_LEQ", 0.0, &[(0, 0.1)], &[(0, 0.05)])];
    let class1: [(i64, i64, &str, f64, Weights, Weights); 2] =
        [(0, 0, "BRANCH_LEQ", 0.5, &[(1, 0.2)], &[(1, 0.7)]), (1, 1, "BRANCH_LEQ", 0.0, &[(1, 0.1)], &[(1, 0.05)])];
    let both: [(i64, i64, &str, f64, Weights, Weights); 2] = [
        (0, 0, "BRANCH_LEQ", 0.5, &[(0, 0.8), (1, 0.2)], &[(0, 0.3), (1, 0.7)]),
        (1, 1, "BRANCH_LEQ", 0.0, &[(0, -0.1), (1, 0.1)], &[(1, 0.05), (0, 0.4)]),
    ];
    let some: [(i64, i64, &str, f64, Weights, Weights); 1] = [(0, 0, "BRANCH_LEQ", 0.5, &[(0, -0.2)], &[(1, 0.7)])];
    let rule = |trees: &[(i64, i64, &str, f64, Weights, Weights)], base: &[f64], post: &str| {
        let mut e = classifier(2, trees);
        e.base_values = base.to_vec();
        e.post_transform = post.into();
        import_onnx_tree_ensemble(&e, 2).map(|i| i.scores)
    };
    let unsupported = |r: Result<ScoreRule, ImportError>| matches!(r, Err(ImportError::Unsupported(_)));
    // One score (class 0 only), all positive: [1 - s, s], logistic first for LOGISTIC.
    assert_eq!(rule(&class0_positive, &[], "NONE"), Ok(ComplementPair { logistic: false }));
    assert_eq!(rule(&class0_positive, &[0.3], "LOGISTIC"), Ok(ComplementPair { logistic: true }));
    assert_eq!(rule(&class0_positive, &[], "SOFTMAX"), Ok(ComplementPair { logistic: false }));
    assert!(unsupported(rule(&class0_positive, &[], "PROBIT")));
    // Mixed signs: [-s, s] or [logistic(-s), logistic(s)].
    assert_eq!(rule(&class0_mixed, &[0.3], "NONE"), Ok(NegatedPair(ScoreTransform::None)));
    assert_eq!(rule(&class0_mixed, &[], "LOGISTIC"), Ok(NegatedPair(ScoreTransform::Logistic)));
    assert_eq!(rule(&class0_mixed, &[], "SOFTMAX_ZERO"), Ok(NegatedPair(ScoreTransform::None)));
    // Two base values, class 1 never scored: [s + B0, 0], then the transform.
    assert_eq!(rule(&class0_mixed, &[0.3, 0.4], "LOGISTIC"), Ok(Margins(ScoreTransform::Logistic)));
    // Class 1 scored on every row: two scores.
    assert_eq!(rule(&class1, &[], "NONE"), Ok(Margins(ScoreTransform::None)));
    assert_eq!(rule(&both, &[0.3], "SOFTMAX"), Ok(Margins(ScoreTransform::Softmax)));
    // ... with two base values: [-(S0 + B1), S0 + B1], the class-1 weights ignored.
    assert_eq!(rule(&both, &[0.3, 0.4], "SOFTMAX"), Ok(NegatedPair(ScoreTransform::Softmax)));
    assert!(unsupported(rule(&class1, &[0.3, 0.4], "NONE")));
    assert!(unsupported(rule(&both, &[], "SOFTMAX_ZERO")));
    assert!(unsupported(rule(&some, &[], "NONE")));

    // onnxruntime's outputs (`binary_*` in onnx_reference.py).
    let x: [&[f32]; 4] = [&[0.0, 0.0], &[1.0, -1.0], &[NAN, -0.5], &[0.5, NAN]];
    let with = |trees: &[(i64, i64, &str, f64, Weights, Weights)], base: &[f64], post: &str| {
        let mut e = classifier(2, trees);
        e.base_values = base.to_vec();
        e.post_transform = post.into();
        e
    };
    let expect = |e: OnnxTreeEnsemble, y: [[f32; 2]; 4]| {
        let rows: Vec<(&[f32], &[f32])> = x.iter().zip(&y).map(|(x, y)| (*x, &y[..])).collect();
        check(&e, &rows);
    };
    expect(
        with(&class0_positive, &[], "LOGISTIC"),
        [[0.4255575, 0.5744425], [0.3100255, 0.6899745], [0.3100255, 0.6899745], [0.43782347, 0.5621765]],
    );
    expect(with(&class0_positive, &[], "SOFTMAX"), [[0.7, 0.3], [0.19999999, 0.8], [0.19999999, 0.8], [0.75, 0.25]]);
    expect(
        with(&class0_mixed, &[0.3], "LOGISTIC"),
        [[0.450166, 0.549834], [0.24973989, 0.7502601], [0.24973989, 0.7502601], [0.4625702, 0.5374298]],
    );
    expect(
        with(&class0_mixed, &[0.3, 0.4], "LOGISTIC"),
        [[0.549834, 0.5], [0.7502601, 0.5], [0.7502601, 0.5], [0.5374298, 0.5]],
    );
    expect(with(&class1, &[], "NONE"), [[0.0, 0.3], [0.0, 0.8], [0.0, 0.8], [0.0, 0.25]]);
    expect(
        with(&both, &[0.3, 0.4], "SOFTMAX"),
        [[0.09975048, 0.90024954], [0.2314752, 0.7685248], [0.2314752, 0.7685248], [0.03916572, 0.96083426]],
    );
}

fn unified(n_targets: i64, post: i64, aggregate: i64) -> OnnxUnifiedTreeEnsemble {
    // `v5(...)` in onnx_reference.py: tree 0 `x0 <= 0.5`, tree 1 `x1 > -0.5` (NaN to true),
    // every branch a leaf.
    OnnxUnifiedTreeEnsemble {
        nodes_featureids: vec![0, 1],
        nodes_splits: vec![0.5, -0.5],
        nodes_modes: vec![0, 3],
        nodes_truenodeids: vec![0, 2],
        nodes_trueleafs: vec![1, 1],
        nodes_falsenodeids: vec![1, 3],
        nodes_falseleafs: vec![1, 1],
        nodes_missing_value_tracks_true: vec![0, 1],
        tree_roots: vec![0, 1],
        leaf_targetids: vec![0, n_targets - 1, n_targets - 1, 0],
        leaf_weights: vec![0.25, 0.5, 0.1, -0.3].into_iter().map(|w: f64| f64::from(w as f32)).collect(),
        n_targets,
        aggregate_function: aggregate,
        post_transform: post,
        ..OnnxUnifiedTreeEnsemble::default()
    }
}

fn check_unified(e: &OnnxUnifiedTreeEnsemble, rows: &[(&[f32], &[f32])]) {
    let imported = import_onnx_unified_tree_ensemble(e, 2).unwrap_or_else(|err| panic!("{err}"));
    let rows: Vec<(Vec<f32>, Vec<f32>)> = rows.iter().map(|(x, y)| (x.to_vec(), y.to_vec())).collect();
    assert_rows(&imported, &rows, "unified");
}

#[test]
fn unified_opset_5_reads_post_transform_as_onnxruntime_does() {
    // `v5_two_targets_post1`: onnxruntime 1.32 reads 1 as LOGISTIC (the specification: SOFTMAX).
    let e = unified(2, 1, 1);
    let imported = import_onnx_unified_tree_ensemble(&e, 2).unwrap();
    assert_eq!(imported.scores, ScoreRule::Margins(ScoreTransform::Logistic));
    check_unified(
        &e,
        &[
            (&[0.0, 0.0], &[0.5621765, 0.5249792]),
            (&[1.0, -1.0], &[0.4255575, 0.62245935]),
            (&[NAN, NAN], &[0.5, 0.6456563]),
        ],
    );
    // `v5_two_targets_post2`: 2 is SOFTMAX.
    check_unified(
        &unified(2, 2, 1),
        &[(&[0.0, 0.0], &[0.5374298, 0.46257016]), (&[NAN, NAN], &[0.35434368, 0.6456563])],
    );
    // One target: the transform is ignored, as for the regressor.
    let e = unified(1, 1, 1);
    assert_eq!(import_onnx_unified_tree_ensemble(&e, 2).unwrap().scores, ScoreRule::Margins(ScoreTransform::None));
}

#[test]
fn unified_one_leaf_tree_and_average() {
    // `v5_average_leaf_tree`: a third root whose branches are both leaf 4 (weight 100);
    // AVERAGE divides by the three roots.
    let mut e = unified(1, 0, 0);
    e.nodes_featureids.push(0);
    e.nodes_splits.push(0.0);
    e.nodes_modes.push(0);
    e.nodes_truenodeids.push(4);
    e.nodes_trueleafs.push(1);
    e.nodes_falsenodeids.push(4);
    e.nodes_falseleafs.push(1);
    e.nodes_missing_value_tracks_true.push(0);
    e.tree_roots.push(2);
    e.leaf_targetids.push(0);
    e.leaf_weights.push(100.0);
    let imported = import_onnx_unified_tree_ensemble(&e, 2).unwrap();
    assert_eq!(imported.forest.roots.len(), 3);
    check_unified(
        &e,
        &[
            (&[0.0, 0.0], &[33.45]),
            (&[1.0, -1.0], &[33.399998]),
            (&[NAN, NAN], &[33.533333]),
            (&[0.5, -0.5], &[33.316666]),
        ],
    );
}

#[test]
fn probit_is_onnxruntimes_approximation() {
    // PROBIT on one regressor target with leaf weights 0.3 and 0.9 (onnxruntime 1.32).
    assert_eq!(onnx_probit(0.3), -0.5244459);
    assert_eq!(onnx_probit(0.9), 1.2817129);
    assert_eq!(onnx_probit(0.5), 0.0);
    assert_eq!(onnx_probit(0.0), f32::NEG_INFINITY);
    assert!(onnx_probit(-0.5).is_nan());
    let mut out = [0.0; 2];
    ScoreRule::NegatedPair(ScoreTransform::Probit).apply(&[0.25], &mut out);
    assert!(out[0].is_nan());
    assert_eq!(out[1], onnx_probit(0.25));
}

#[test]
fn shared_subtrees_are_copied_and_cycles_refused() {
    // `shared_subtree`: node 2 is the true child of nodes 0 and 1.
    let mut e = OnnxTreeEnsemble::new(OnnxEnsembleKind::Regressor);
    e.n_targets_or_classes = 1;
    e.nodes_treeids = vec![0; 4];
    e.nodes_nodeids = vec![0, 1, 2, 3];
    e.nodes_featureids = vec![0; 4];
    e.nodes_modes = ["BRANCH_LEQ", "BRANCH_LEQ", "LEAF", "LEAF"].map(String::from).to_vec();
    e.nodes_values = vec![0.5, -0.5, 0.0, 0.0];
    e.nodes_truenodeids = vec![1, 2, 0, 0];
    e.nodes_falsenodeids = vec![2, 3, 0, 0];
    e.weight_treeids = vec![0, 0];
    e.weight_nodeids = vec![2, 3];
    e.weight_ids = vec![0, 0];
    e.weights = vec![1.0, 2.0];
    assert_eq!(import(&e, 1).forest.kind.len(), 5);
    check(&e, &[(&[-1.0], &[1.0]), (&[0.0], &[2.0]), (&[1.0], &[1.0])]);
    // Node 1's false child is node 0.
    e.nodes_falsenodeids[1] = 0;
    match import_onnx_tree_ensemble(&e, 1) {
        Err(ImportError::Onnx(m)) => assert!(m.contains("cycle"), "{m}"),
        other => panic!("{other:?}"),
    }
}

fn onnx_error(e: &OnnxTreeEnsemble, features: u32) -> String {
    match import_onnx_tree_ensemble(e, features) {
        Err(ImportError::Onnx(m)) => m,
        other => panic!("expected an attribute error, got {other:?}"),
    }
}

fn unsupported_error(e: &OnnxTreeEnsemble) -> String {
    match import_onnx_tree_ensemble(e, 2) {
        Err(ImportError::Unsupported(m)) => m,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn inconsistent_tables_are_typed_errors() {
    let good = two_targets();
    assert!(import_onnx_tree_ensemble(&good, 2).is_ok());
    let bad = |f: &dyn Fn(&mut OnnxTreeEnsemble)| {
        let mut e = good.clone();
        f(&mut e);
        e
    };
    let cases: Vec<(OnnxTreeEnsemble, u32, &str)> = vec![
        (
            bad(&|e| {
                e.nodes_values.pop();
            }),
            2,
            "`nodes_values` has 5 entries",
        ),
        (
            bad(&|e| {
                e.weight_ids.pop();
            }),
            2,
            "`target_treeids` has 8 entries, `target_ids` 7",
        ),
        (bad(&|e| e.nodes_missing_value_tracks_true = vec![0; 2]), 2, "nodes_missing_value_tracks_true"),
        (
            bad(&|e| e.nodes_missing_value_tracks_true = vec![2, 0, 0, 0, 0, 0]),
            2,
            "`nodes_missing_value_tracks_true[0]` is 2, not 0 or 1",
        ),
        (bad(&|e| e.nodes_featureids[3] = 2), 2, "feature 2 (the input has 2 features)"),
        (good.clone(), 1, "feature 1 (the input has 1 features)"),
        (bad(&|e| e.nodes_featureids[0] = -1), 2, "feature -1"),
        (bad(&|e| e.nodes_modes[0] = "BRANCH_LE".into()), 2, "unknown mode `BRANCH_LE`"),
        (bad(&|e| e.nodes_truenodeids[0] = 7), 2, "`nodes_truenodeids[0]`: node 7 of tree 0 does not exist"),
        (bad(&|e| e.nodes_nodeids[2] = 1), 2, "node 1 of tree 0 appears twice"),
        (bad(&|e| e.weight_nodeids[0] = 9), 2, "`target_nodeids[0]`: node 9 of tree 0 does not exist"),
        (bad(&|e| e.weight_ids[0] = 2), 2, "`target_ids[0]` is 2 (the ensemble has 2 targets)"),
        (bad(&|e| e.weight_ids[0] = -1), 2, "`target_ids[0]` is -1"),
        (bad(&|e| e.weights[0] = f64::INFINITY), 2, "`target_weights[0]` is inf"),
        (bad(&|e| e.base_values = vec![1.0]), 2, "base_values has 1 entries for 2 targets"),
        (bad(&|e| e.base_values = vec![1.0, f64::NAN]), 2, "base_values holds NaN"),
        (bad(&|e| e.base_values = vec![1.0, 1e300]), 2, "not a finite f32"),
        (bad(&|e| e.weights[0] = 1e300), 2, "not a finite f32"),
        (bad(&|e| e.n_targets_or_classes = 0), 2, "n_targets is 0"),
        (bad(&|e| e.aggregate_function = "MEAN".into()), 2, "aggregate_function is `MEAN`"),
        (bad(&|e| e.post_transform = "SIGMOID".into()), 2, "post_transform is `SIGMOID`"),
        (
            bad(&|e| {
                e.weight_treeids.clear();
                e.weight_nodeids.clear();
                e.weight_ids.clear();
                e.weights.clear();
            }),
            2,
            "no leaf carries a weight",
        ),
        (
            OnnxTreeEnsemble { n_targets_or_classes: 1, ..OnnxTreeEnsemble::new(OnnxEnsembleKind::Regressor) },
            2,
            "no nodes",
        ),
        (
            bad(&|e| {
                e.kind = OnnxEnsembleKind::Classifier;
                e.aggregate_function = "AVERAGE".into();
            }),
            2,
            "has no aggregate_function",
        ),
        (
            bad(&|e| {
                e.kind = OnnxEnsembleKind::Classifier;
                e.base_values = vec![1.0, 2.0, 3.0];
            }),
            2,
            "base_values has 3 entries for 2 classes",
        ),
    ];
    for (e, features, want) in cases {
        let m = onnx_error(&e, features);
        assert!(m.contains(want), "{m:?} does not say {want:?}");
        assert!(!format!("{}", ImportError::Onnx(m.clone())).is_empty());
    }
}

#[test]
fn unsupported_features_say_what_they_are() {
    let good = two_targets();
    let with = |f: &dyn Fn(&mut OnnxTreeEnsemble)| {
        let mut e = good.clone();
        f(&mut e);
        e
    };
    for (e, want) in [
        (with(&|e| e.nodes_modes[3] = "BRANCH_EQ".into()), "BRANCH_EQ"),
        (with(&|e| e.nodes_modes[0] = "BRANCH_NEQ".into()), "BRANCH_NEQ"),
        (with(&|e| e.aggregate_function = "MIN".into()), "aggregate_function MIN"),
        (with(&|e| e.aggregate_function = "MAX".into()), "aggregate_function MAX"),
        (with(&|e| e.post_transform = "SOFTMAX_ZERO".into()), "SOFTMAX_ZERO"),
        (
            with(&|e| {
                e.kind = OnnxEnsembleKind::Classifier;
                e.n_targets_or_classes = 1;
                e.weight_ids = vec![0; 8];
            }),
            "1 class label",
        ),
    ] {
        let m = unsupported_error(&e);
        assert!(m.contains(want), "{m:?} does not say {want:?}");
    }
}

#[test]
fn inconsistent_unified_tables_are_typed_errors() {
    let good = unified(2, 0, 1);
    assert!(import_onnx_unified_tree_ensemble(&good, 2).is_ok());
    let err = |f: &dyn Fn(&mut OnnxUnifiedTreeEnsemble)| {
        let mut e = good.clone();
        f(&mut e);
        import_onnx_unified_tree_ensemble(&e, 2)
    };
    let onnx = |r: Result<OnnxForest, ImportError>, want: &str| match r {
        Err(ImportError::Onnx(m)) => assert!(m.contains(want), "{m:?} does not say {want:?}"),
        other => panic!("expected {want:?}, got {other:?}"),
    };
    let unsupported = |r: Result<OnnxForest, ImportError>, want: &str| match r {
        Err(ImportError::Unsupported(m)) => {
            assert!(m.contains(want), "{m:?} does not say {want:?}")
        }
        other => panic!("expected {want:?}, got {other:?}"),
    };
    onnx(
        err(&|e| {
            e.nodes_splits.pop();
        }),
        "`nodes_splits` has 1 entries",
    );
    onnx(
        err(&|e| {
            e.leaf_weights.pop();
        }),
        "`leaf_weights` has 3 entries",
    );
    onnx(err(&|e| e.tree_roots = vec![]), "`tree_roots` is empty");
    onnx(err(&|e| e.tree_roots = vec![0, 2]), "`tree_roots[1]` is 2");
    onnx(err(&|e| e.nodes_truenodeids[0] = 4), "`nodes_truenodeids[0]` is 4, not a leaf");
    onnx(err(&|e| e.nodes_trueleafs[0] = 0), "node 0 is its own descendant (the tree has a cycle)");
    onnx(err(&|e| e.nodes_trueleafs[1] = 0), "`nodes_truenodeids[1]` is 2, not a node (there are 2)");
    onnx(err(&|e| e.nodes_falseleafs[0] = 2), "`nodes_falseleafs[0]` is 2");
    onnx(err(&|e| e.leaf_targetids[1] = 2), "`leaf_targetids[1]` is 2 (n_targets is 2)");
    onnx(err(&|e| e.nodes_featureids[1] = 5), "feature 5");
    onnx(err(&|e| e.nodes_modes[0] = 7), "`nodes_modes[0]` is 7");
    onnx(err(&|e| e.nodes_splits[0] = 0.1), "not an f32");
    onnx(err(&|e| e.aggregate_function = 4), "aggregate_function is 4");
    onnx(err(&|e| e.post_transform = 5), "post_transform is 5");
    onnx(err(&|e| e.n_targets = 0), "n_targets is 0");
    unsupported(err(&|e| e.nodes_modes[0] = 4), "BRANCH_EQ");
    unsupported(err(&|e| e.nodes_modes[0] = 5), "BRANCH_NEQ");
    unsupported(err(&|e| e.nodes_modes[1] = 6), "BRANCH_MEMBER");
    unsupported(err(&|e| e.aggregate_function = 2), "MIN");
    unsupported(err(&|e| e.post_transform = 3), "SOFTMAX_ZERO");
    assert!(
        err(&|e| {
            e.nodes_splits[0] = 0.1;
            e.nodes_splits_are_double = true;
        })
        .is_ok()
    );
}

#[test]
fn a_wide_classifier_becomes_one_tree_per_class() {
    // 40 classes, 150 complete trees of depth 4, every leaf weighted for every class.
    let (classes, trees, depth) = (40i64, 150i64, 4u32);
    let mut e = OnnxTreeEnsemble::new(OnnxEnsembleKind::Classifier);
    e.n_targets_or_classes = classes;
    e.post_transform = "SOFTMAX".into();
    let nodes = (1i64 << (depth + 1)) - 1;
    for t in 0..trees {
        for i in 0..nodes {
            e.nodes_treeids.push(t);
            e.nodes_nodeids.push(i);
            e.nodes_featureids.push((i + t) % 3);
            e.nodes_values.push(f64::from((i % 7) as f32 * 0.25 - 0.75));
            if 2 * i + 2 < nodes {
                e.nodes_modes.push("BRANCH_LEQ".into());
                e.nodes_truenodeids.push(2 * i + 1);
                e.nodes_falsenodeids.push(2 * i + 2);
            } else {
                e.nodes_modes.push("LEAF".into());
                e.nodes_truenodeids.push(0);
                e.nodes_falsenodeids.push(0);
                for k in 0..classes {
                    e.weight_treeids.push(t);
                    e.weight_nodeids.push(i);
                    e.weight_ids.push(k);
                    e.weights.push(f64::from(((i * k + t) % 11) as f32 * 0.125 - 0.5));
                }
            }
        }
    }
    let imported = import(&e, 3);
    assert_eq!(imported.forest.roots.len(), (trees * classes) as usize);
    assert_eq!(imported.forest.outputs, classes as u32);
    assert_eq!(imported.scores, ScoreRule::Margins(ScoreTransform::Softmax));
    let row = scores(&imported, &[0.1, -0.3, 0.7]);
    assert!((row.iter().map(|&p| f64::from(p)).sum::<f64>() - 1.0).abs() < 1e-5);
}
