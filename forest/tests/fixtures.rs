//! Real models trained by XGBoost 3 and LightGBM 4 (`tests/fixtures/trees/`, written by its
//! `train.py`): every reference row's `predict` must match the library's within 1e-5
//! relative, and the margins likewise.

use std::path::PathBuf;

use pipec_forest::{Imported, Objective, import_lightgbm, import_xgboost};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/trees")
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| r.as_array().expect("row").iter().map(|c| c.as_f64().unwrap_or(f64::NAN)).collect())
        .collect()
}

fn check(name: &str, model: &Value) -> (f64, f64) {
    let file = model["file"].as_str().expect("file");
    let text = std::fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let imported: Imported = match model["library"].as_str() {
        Some("xgboost") => import_xgboost(&text),
        Some("lightgbm") => import_lightgbm(&text),
        other => panic!("{name}: library {other:?}"),
    }
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let forest = &imported.forest;
    let outputs = model["outputs"].as_u64().expect("outputs") as usize;
    assert_eq!(forest.outputs as usize, outputs, "{name}");
    assert_eq!(forest.features as u64, model["features"].as_u64().expect("features"), "{name}");
    let expected_objective = match outputs {
        1 if model["objective"].as_str().is_some_and(|o| o.contains("reg")) => Objective::Identity,
        1 => Objective::Sigmoid,
        _ => Objective::Softmax,
    };
    assert_eq!(imported.objective, expected_objective, "{name}");
    if let Some(names) = model.get("feature_names").and_then(Value::as_array) {
        let names: Vec<String> = names.iter().map(|n| n.as_str().unwrap_or_default().to_string()).collect();
        assert_eq!(imported.feature_names.as_ref(), Some(&names), "{name}");
    }
    let inputs = rows(&model["inputs"]);
    let predict = rows(&model["predict"]);
    let margin = rows(&model["margin"]);
    assert_eq!(inputs.len(), 100, "{name}");
    let (mut worst_p, mut worst_m) = (0.0f64, 0.0f64);
    for (r, x) in inputs.iter().enumerate() {
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        // (serde_json's default float parsing may miss the f64 by an ulp; the values are
        // f32s, so rounding to f32 recovers them exactly.)
        assert!(
            x.iter().zip(&inputs[r]).all(|(a, b)| (f64::from(*a) - b).abs() <= b.abs() * 1e-15 || b.is_nan()),
            "{name}: inputs are f32"
        );
        let mut m = vec![0.0f32; outputs];
        forest.predict_margins(&x, &mut m);
        let mut p = vec![0.0f32; outputs];
        forest.predict(imported.objective, &x, &mut p);
        for k in 0..outputs {
            let (want, got) = (predict[r][k], f64::from(p[k]));
            let err = (got - want).abs() / want.abs().max(1e-2);
            worst_p = worst_p.max(err);
            assert!(
                (got - want).abs() <= 1e-5 * want.abs() + 1e-7,
                "{name} row {r} output {k}: predict {got} vs {want}"
            );
            let (want, got) = (margin[r][k], f64::from(m[k]));
            let err = (got - want).abs() / want.abs().max(1.0);
            worst_m = worst_m.max(err);
            assert!(err <= 1e-5, "{name} row {r} output {k}: margin {got} vs {want}");
        }
    }
    // The blob carries the model exactly.
    let back = pipec_forest::Forest::decode(&forest.encode()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(back.roots, forest.roots);
    (worst_p, worst_m)
}

#[test]
fn real_models_match_their_libraries() {
    let path = dir().join("reference.json");
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reference.json")).expect("JSON");
    let models = reference["models"].as_object().expect("models");
    assert!(models.len() >= 8, "expected the 8 fixture models, found {}", models.len());
    for (name, model) in models {
        let (p, m) = check(name, model);
        eprintln!("{name}: worst predict error {p:.2e}, worst margin error {m:.2e}");
    }
}
