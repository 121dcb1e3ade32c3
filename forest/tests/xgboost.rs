//! Hand-written XGBoost JSON models (the layout `save_model("m.json")` writes), margins by hand.

use pipec_forest::{ImportError, Objective, import_xgboost};

/// One tree's JSON. `base_weights` hold deliberately wrong values: leaf values are read from
/// `split_conditions`, as XGBoost stores them.
fn tree(id: usize, left: &str, right: &str, idx: &str, cond: &str, dflt: &str) -> String {
    let n = left.split(',').count();
    let zeros = vec!["0"; n].join(",");
    let weights = vec!["9.5E0"; n].join(",");
    format!(
        r#"{{"base_weights":[{weights}],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],
        "default_left":[{dflt}],"id":{id},"left_children":[{left}],"loss_changes":[{zeros}],"parents":[{zeros}],
        "right_children":[{right}],"split_conditions":[{cond}],"split_indices":[{idx}],"split_type":[{zeros}],
        "sum_hessian":[{zeros}],"tree_param":{{"num_deleted":"0","num_feature":"2","num_nodes":"{n}","size_leaf_vector":"1"}}}}"#
    )
}

fn model(objective: &str, base_score: &str, num_class: u32, trees: &[String], tree_info: &str) -> String {
    format!(
        r#"{{"learner":{{"attributes":{{}},"feature_names":["a","b"],"feature_types":["float","float"],
        "gradient_booster":{{"model":{{"gbtree_model_param":{{"num_parallel_tree":"1","num_trees":"{}"}},
        "iteration_indptr":[0],"tree_info":[{tree_info}],"trees":[{}]}},"name":"gbtree"}},
        "learner_model_param":{{"base_score":"{base_score}","boost_from_average":"1","num_class":"{num_class}","num_feature":"2","num_target":"1"}},
        "objective":{{"name":"{objective}","reg_loss_param":{{"scale_pos_weight":"1"}}}}}},"version":[3,0,0]}}"#,
        trees.len(),
        trees.join(",")
    )
}

/// Tree 0: f0 < 0.5 (missing left) ? 0.1 : (f1 < 0 (missing right) ? -0.2 : 0.3).
/// Tree 1: a single leaf, 0.05.
fn two_trees() -> Vec<String> {
    vec![
        tree(0, "1,-1,3,-1,-1", "2,-1,4,-1,-1", "0,0,1,0,0", "5E-1,1E-1,0E0,-2E-1,3E-1", "1,0,0,0,0"),
        tree(1, "-1", "-1", "0", "5E-2", "0"),
    ]
}

fn margin(objective: Objective, json: &str, x: [f32; 2]) -> f32 {
    let imported = import_xgboost(json).expect("imports");
    assert_eq!(imported.objective, objective);
    let mut out = [0.0f32];
    imported.forest.predict_margins(&x, &mut out);
    out[0]
}

#[test]
fn binary_logistic_rows_by_hand() {
    let json = model("binary:logistic", "5E-1", 0, &two_trees(), "0,0");
    let m = |x| margin(Objective::Sigmoid, &json, x);
    let close = |a: f32, b: f64| assert!((f64::from(a) - b).abs() < 1e-7, "{a} vs {b}");
    close(m([0.4, 5.0]), 0.1 + 0.05);
    close(m([0.5, 5.0]), 0.3 + 0.05); // x == threshold: not below, right
    close(m([f32::NAN, -1.0]), 0.1 + 0.05); // missing, default left
    close(m([1.0, f32::NAN]), 0.3 + 0.05); // missing, default right
    close(m([1.0, -0.0]), 0.3 + 0.05); // -0.0 < 0.0 is false
    close(m([1.0, -f32::from_bits(1)]), -0.2 + 0.05);
    close(m([1.0, -1.0]), -0.2 + 0.05);
    close(m([0.49999997, 5.0]), 0.1 + 0.05); // the f32 just below 0.5

    let imported = import_xgboost(&json).unwrap();
    assert_eq!(imported.feature_names, Some(vec!["a".to_string(), "b".to_string()]));
    let mut p = [0.0f32];
    imported.forest.predict(Objective::Sigmoid, &[0.4, 5.0], &mut p);
    let expected = 1.0 / (1.0 + (-(0.15f32 as f64)).exp());
    assert!((f64::from(p[0]) - expected).abs() < 1e-7);
    assert_eq!(imported.forest.max_depth, 2);
}

#[test]
fn base_score_is_a_probability_for_logistic_and_a_margin_for_regression() {
    let json = model("binary:logistic", "[2E-1]", 0, &two_trees(), "0,0");
    let logit = (0.2f64 / 0.8).ln();
    assert!((f64::from(margin(Objective::Sigmoid, &json, [0.4, 5.0])) - (0.15 + logit)).abs() < 1e-6);

    let json = model("reg:squarederror", "1.5E0", 0, &two_trees(), "0,0");
    assert!((margin(Objective::Identity, &json, [0.4, 5.0]) - 1.65).abs() < 1e-6);
    let json = model("reg:squarederror", "[1.5E0]", 0, &two_trees(), "0,0");
    assert!((margin(Objective::Identity, &json, [0.4, 5.0]) - 1.65).abs() < 1e-6);
}

#[test]
fn multiclass_trees_follow_tree_info_and_the_base_vector() {
    let leaf = |id, v: &str| tree(id, "-1", "-1", "0", v, "0");
    let trees = vec![leaf(0, "1E0"), leaf(1, "2E0"), leaf(2, "3E0"), leaf(3, "4E0")];
    let json = model("multi:softprob", "[1E-1,2E-1,3E-1]", 3, &trees, "0,1,2,0");
    let imported = import_xgboost(&json).unwrap();
    assert_eq!(imported.objective, Objective::Softmax);
    let mut out = [0.0f32; 3];
    imported.forest.predict_margins(&[0.0, 0.0], &mut out);
    assert_eq!(out, [5.1, 2.2, 3.3]);
    imported.forest.predict(Objective::Softmax, &[0.0, 0.0], &mut out);
    let e = [5.1f32, 2.2, 3.3].map(|m| (f64::from(m) - f64::from(5.1f32)).exp());
    let s: f64 = e.iter().sum();
    for k in 0..3 {
        assert!((f64::from(out[k]) - e[k] / s).abs() < 1e-7);
    }
    // A scalar base score (XGBoost 2.x) is added to every class.
    let json = model("multi:softprob", "5E-1", 3, &trees, "0,1,2,0");
    import_xgboost(&json).unwrap().forest.predict_margins(&[0.0, 0.0], &mut out);
    assert_eq!(out, [5.5, 2.5, 3.5]);
}

fn message(e: ImportError) -> String {
    e.to_string()
}

#[test]
fn errors_name_the_json_path() {
    let bad = vec![tree(0, "1,-1,-1", "2,-1", "0,0,0", "5E-1,1E0,2E0", "0,0,0")];
    let e = message(import_xgboost(&model("binary:logistic", "5E-1", 0, &bad, "0")).unwrap_err());
    assert!(e.contains("learner.gradient_booster.model.trees[0]"), "{e}");
    assert!(e.contains("`left_children` has 3 entries, `right_children` 2"), "{e}");

    let bad = vec![tree(0, "1,-1,-1", "5,-1,-1", "0,0,0", "5E-1,1E0,2E0", "0,0,0")];
    let e = message(import_xgboost(&model("binary:logistic", "5E-1", 0, &bad, "0")).unwrap_err());
    assert!(e.contains("trees[0].right_children[0]") && e.contains("child 5"), "{e}");

    let bad = vec![tree(0, "1,-1,-1", "2,-1,-1", "7,0,0", "5E-1,1E0,2E0", "0,0,0")];
    let e = message(import_xgboost(&model("binary:logistic", "5E-1", 0, &bad, "0")).unwrap_err());
    assert!(e.contains("split_indices[0]") && e.contains("feature 7"), "{e}");

    let cat = tree(0, "1,-1,-1", "2,-1,-1", "0,0,0", "5E-1,1E0,2E0", "0,0,0")
        .replace(r#""split_type":[0,0,0]"#, r#""split_type":[1,0,0]"#);
    let e = import_xgboost(&model("binary:logistic", "5E-1", 0, &[cat], "0")).unwrap_err();
    assert!(matches!(e, ImportError::Unsupported(_)) && e.to_string().contains("categorical"), "{e}");

    let e = message(import_xgboost(&model("multi:softmax", "5E-1", 3, &two_trees(), "0,0")).unwrap_err());
    assert!(e.contains("multi:softprob") && e.contains("binary:logistic"), "{e}");
    let e = message(import_xgboost(&model("count:poisson", "5E-1", 0, &two_trees(), "0,0")).unwrap_err());
    assert!(e.contains("count:poisson") && e.contains("reg:squarederror"), "{e}");

    let e = message(import_xgboost(&model("binary:logistic", "1E0", 0, &two_trees(), "0,0")).unwrap_err());
    assert!(e.contains("learner.learner_model_param.base_score"), "{e}");
    let e = message(import_xgboost(&model("binary:logistic", "5E-1", 0, &two_trees(), "0")).unwrap_err());
    assert!(e.contains("tree_info"), "{e}");
    let e = message(import_xgboost(&model("binary:logistic", "5E-1", 0, &two_trees(), "0,1")).unwrap_err());
    assert!(e.contains("tree_info[1]"), "{e}");
    let e = message(import_xgboost(r#"{"learner":{}}"#).unwrap_err());
    assert!(e.contains("learner") && e.contains("missing field `objective`"), "{e}");
    assert!(import_xgboost("[1,2").is_err());
    let bad_number = model("binary:logistic", "5E-1", 0, &two_trees(), "0,0").replace("5E-2", "\"x\"");
    let e = message(import_xgboost(&bad_number).unwrap_err());
    assert!(e.contains("trees[1].split_conditions[0]"), "{e}");
}

#[test]
fn unreachable_deleted_nodes_are_dropped() {
    // Node 3 and 4 are left over from pruning: nothing points at them.
    let t = vec![tree(0, "1,-1,-1,-1,-1", "2,-1,-1,-1,-1", "0,0,0,0,0", "5E-1,1E0,2E0,7E0,8E0", "0,0,0,0,0")];
    let imported = import_xgboost(&model("reg:squarederror", "0E0", 0, &t, "0")).unwrap();
    assert_eq!(imported.forest.kind.len(), 3);
}
