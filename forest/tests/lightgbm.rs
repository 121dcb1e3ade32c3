//! Hand-written LightGBM text models (the layout `save_model("m.txt")` writes), margins by hand.

use pipec_forest::{ImportError, Objective, import_lightgbm};

fn header(num_class: u32, objective: &str, max_feature_idx: u32) -> String {
    let names: Vec<String> = (0..=max_feature_idx).map(|i| format!("Column_{i}")).collect();
    format!(
        "tree\nversion=v4\nnum_class={num_class}\nnum_tree_per_iteration={num_class}\nlabel_index=0\n\
         max_feature_idx={max_feature_idx}\nobjective={objective}\nfeature_names={}\nfeature_infos=none\ntree_sizes=1 1\n\n",
        names.join(" ")
    )
}

fn tree(index: usize, body: &str) -> String {
    format!("Tree={index}\n{body}\nis_linear=0\nshrinkage=0.1\n\n\n")
}

fn single_leaf(index: usize, value: &str) -> String {
    tree(
        index,
        &format!(
            "num_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\nleft_child=\n\
             right_child=\nleaf_value={value}\nleaf_weight=\nleaf_count=10\ninternal_value=\ninternal_weight=\ninternal_count="
        ),
    )
}

const FOOTER: &str = "end of trees\n\nfeature_importances:\nColumn_0=2\n\nparameters:\n[boosting: gbdt]\nend of parameters\n\npandas_categorical:null\n";

/// Tree 0: node 0 `f0 <= 0.5` (missing None: NaN compared as 0, default_left set but unused)
///   left: node 1 `f1 <= 0.30000000000000004` (missing NaN, default right)
///     left leaf 0 = 0.1, right leaf 2 = 0.3;  right: leaf 1 = 0.2.
/// Tree 1: single leaf 0.05.
/// Tree 2: `f0` with missing Zero, default left, threshold -1: left leaf 0 = 1, right leaf 1 = 2.
/// Tree 3: categorical on f2, categories {0, 1, 3, 32} left (leaf 0 = 10), else right (20).
fn binary_model(objective: &str) -> String {
    let t0 = tree(
        0,
        "num_leaves=3\nnum_cat=0\nsplit_feature=0 1\nsplit_gain=1 1\nthreshold=0.5 0.30000000000000004\n\
         decision_type=2 8\nleft_child=1 -1\nright_child=-2 -3\nleaf_value=0.10000000000000001 0.20000000000000001 0.29999999999999999\n\
         leaf_weight=1 1 1\nleaf_count=1 1 1\ninternal_value=0 0\ninternal_weight=0 0\ninternal_count=3 2",
    );
    let t2 = tree(
        2,
        "num_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=-1\ndecision_type=6\nleft_child=-1\n\
         right_child=-2\nleaf_value=1 2\nleaf_weight=1 1\nleaf_count=1 1\ninternal_value=0\ninternal_weight=0\ninternal_count=2",
    );
    let t3 = tree(
        3,
        "num_leaves=2\nnum_cat=1\nsplit_feature=2\nsplit_gain=1\nthreshold=0\ndecision_type=1\nleft_child=-1\n\
         right_child=-2\nleaf_value=10 20\nleaf_weight=1 1\nleaf_count=1 1\ninternal_value=0\ninternal_weight=0\ninternal_count=2\n\
         cat_boundaries=0 2\ncat_threshold=11 1",
    );
    format!("{}{t0}{}{t2}{t3}{FOOTER}", header(1, objective, 2), single_leaf(1, "0.050000000000000003"))
}

/// Margins of the four trees of `binary_model` for one row, computed by hand.
fn by_hand(x: [f32; 3]) -> f64 {
    let [a, b, c] = x.map(f64::from);
    let a0 = if a.is_nan() { 0.0 } else { a };
    let t0 = if a0 <= 0.5 {
        if b.is_nan() {
            0.3
        } else if b <= 0.30000000000000004 {
            0.1
        } else {
            0.3
        }
    } else {
        0.2
    };
    let t2 = if a0.abs() <= f64::from(1e-35f32) || a0 <= -1.0 { 1.0 } else { 2.0 };
    let cat_left = !c.is_nan() && c > -1.0 && c < 2147483648.0 && [0.0, 1.0, 3.0, 32.0].contains(&c.trunc());
    let t3 = if cat_left { 10.0 } else { 20.0 };
    t0 + 0.05 + t2 + t3
}

#[test]
fn binary_rows_by_hand() {
    let imported = import_lightgbm(&binary_model("binary sigmoid:1")).expect("imports");
    assert_eq!(imported.objective, Objective::Sigmoid);
    assert_eq!(imported.forest.roots.len(), 4);
    assert_eq!(imported.feature_names.as_ref().map(|n| n.len()), Some(3));
    let just_below = f32::from_bits(0.3f32.to_bits() - 1);
    let rows: Vec<[f32; 3]> = vec![
        [0.4, 0.1, 1.0],
        [0.5, 0.1, 3.7],           // f0 == threshold: left; category 3
        [f32::NAN, f32::NAN, 2.0], // None: NaN as 0 (left); NaN: default right; category 2 right
        [0.6, 0.0, 32.0],          // category 32 (second word)
        [0.0, 0.3, 64.0],          // zero: default left; 0.3f32 > 0.30000000000000004; beyond the bitset
        [-0.0, just_below, -0.5],  // -0.0 is zero; just below: left; -0.5 is category 0
        [1e-36, 0.2, -1.0],        // |x| <= 1e-35: zero; category -1: right
        [2e-35, 0.2, f32::NAN],    // not zero; NaN category: right
        [-1.0, 0.2, 1e10],         // -1 <= -1: left; huge category: right
        [-2.0, 0.2, 0.0],
        [3.0, 0.2, -0.0],
        [0.5, 0.2, 2147483648.0],
        [0.5, 0.2, f32::INFINITY],
    ];
    for x in rows {
        let mut m = [0.0f32];
        imported.forest.predict_margins(&x, &mut m);
        let expected = by_hand(x);
        assert!((f64::from(m[0]) - expected).abs() < 1e-6, "row {x:?}: {} vs {expected}", m[0]);
        let mut p = [0.0f32];
        imported.forest.predict(Objective::Sigmoid, &x, &mut p);
        assert!((f64::from(p[0]) - 1.0 / (1.0 + (-expected).exp())).abs() < 1e-7);
    }
    // The threshold between two f32s became the largest f32 below it.
    assert!(imported.forest.threshold.contains(&just_below));
}

#[test]
fn sigmoid_scale_is_folded_into_the_leaves() {
    let imported = import_lightgbm(&binary_model("binary sigmoid:2")).unwrap();
    let x = [0.4f32, 0.1, 1.0];
    let mut m = [0.0f32];
    imported.forest.predict_margins(&x, &mut m);
    assert!((f64::from(m[0]) - 2.0 * by_hand(x)).abs() < 1e-5);
}

#[test]
fn multiclass_trees_cycle_over_classes() {
    let trees: String = (0..5).map(|i| single_leaf(i, &format!("{}", i + 1))).collect();
    let text = format!("{}{trees}{FOOTER}", header(3, "multiclass num_class:3", 1));
    let imported = import_lightgbm(&text).unwrap();
    assert_eq!(imported.objective, Objective::Softmax);
    assert_eq!(imported.forest.tree_output, vec![0, 1, 2, 0, 1]);
    let mut out = [0.0f32; 3];
    imported.forest.predict_margins(&[0.0, 0.0], &mut out);
    assert_eq!(out, [5.0, 7.0, 3.0]);
    imported.forest.predict(Objective::Softmax, &[0.0, 0.0], &mut out);
    let s = (-2.0f64).exp() + 1.0 + (-4.0f64).exp();
    assert!((f64::from(out[1]) - 1.0 / s).abs() < 1e-7);
    assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn regression_is_identity() {
    let text = format!("{}{}{FOOTER}", header(1, "regression", 0), single_leaf(0, "152.5"));
    let imported = import_lightgbm(&text).unwrap();
    assert_eq!(imported.objective, Objective::Identity);
    let mut out = [0.0f32];
    imported.forest.predict(Objective::Identity, &[1.0], &mut out);
    assert_eq!(out, [152.5]);
}

#[test]
fn errors_name_the_line() {
    let text = binary_model("binary sigmoid:1").replace("right_child=-2 -3", "right_child=-2");
    let e = import_lightgbm(&text).unwrap_err();
    let line = binary_model("binary sigmoid:1").lines().position(|l| l.starts_with("right_child=-2 -3")).unwrap() + 1;
    assert_eq!(
        e,
        ImportError::Lightgbm {
            line,
            message: "tree 0: `right_child` has 1 entries, `num_leaves` is 3 (expected 2)".into()
        }
    );

    let text = binary_model("binary sigmoid:1").replace("left_child=1 -1", "left_child=1 -7");
    let e = import_lightgbm(&text).unwrap_err().to_string();
    assert!(e.contains("child -7"), "{e}");
    let text = binary_model("binary sigmoid:1").replace("left_child=1 -1", "left_child=1 0");
    let e = import_lightgbm(&text).unwrap_err().to_string();
    assert!(e.contains("reached twice"), "{e}");
    let text = binary_model("binary sigmoid:1").replace("split_feature=0 1", "split_feature=0 3");
    let e = import_lightgbm(&text).unwrap_err().to_string();
    assert!(e.contains("feature 3"), "{e}");
    let text = binary_model("binary sigmoid:1").replace("cat_boundaries=0 2", "cat_boundaries=0 3");
    let e = import_lightgbm(&text).unwrap_err().to_string();
    assert!(e.contains("cat_boundaries"), "{e}");
    let text = binary_model("binary sigmoid:1").replace("Tree=2", "Tree=5");
    let e = import_lightgbm(&text).unwrap_err().to_string();
    assert!(e.contains("`Tree=2` was expected"), "{e}");
    let text = binary_model("poisson");
    let e = import_lightgbm(&text).unwrap_err();
    assert!(matches!(e, ImportError::Unsupported(_)) && e.to_string().contains("multiclass"), "{e}");
    let text = binary_model("binary sigmoid:1").replacen("is_linear=0", "is_linear=1", 1);
    assert!(import_lightgbm(&text).unwrap_err().to_string().contains("linear"));
    let text = binary_model("binary sigmoid:1").replace("leaf_value=1 2", "leaf_value=1 x");
    assert!(import_lightgbm(&text).unwrap_err().to_string().contains("`leaf_value` entry 1 is `x`"));
    let text = binary_model("binary sigmoid:1").replace("decision_type=2 8", "decision_type=2 12");
    assert!(import_lightgbm(&text).unwrap_err().to_string().contains("missing type 3"));
    assert!(import_lightgbm("").is_err());
    assert!(import_lightgbm("tree\nmax_feature_idx=x\n").is_err());
}
