//! A 1,000-tree model of 64 leaves each is data, not code: importing, encoding, decoding
//! and evaluating it takes well under a second.

use std::time::Instant;

use pipec_forest::{Forest, Objective, import_xgboost};

/// Full depth-6 trees (63 splits, 64 leaves) over 20 features, as XGBoost JSON.
fn large_model(trees: usize) -> String {
    let mut out =
        String::from(r#"{"learner":{"feature_names":[],"gradient_booster":{"name":"gbtree","model":{"tree_info":["#);
    out.push_str(&vec!["0"; trees].join(","));
    out.push_str(r#"],"trees":["#);
    for t in 0..trees {
        let (mut l, mut r, mut idx, mut cond, mut dflt) = (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..127usize {
            if i < 63 {
                l.push(format!("{}", 2 * i + 1));
                r.push(format!("{}", 2 * i + 2));
                idx.push(format!("{}", (i * 7 + t) % 20));
                cond.push(format!("{:E}", ((i * 31 + t * 17) % 100) as f32 / 50.0 - 1.0));
                dflt.push(format!("{}", (i + t) % 2));
            } else {
                l.push("-1".into());
                r.push("-1".into());
                idx.push("0".into());
                cond.push(format!("{:E}", ((i * 13 + t) % 21) as f32 / 1000.0 - 0.01));
                dflt.push("0".into());
            }
        }
        if t > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"left_children":[{}],"right_children":[{}],"split_indices":[{}],"split_conditions":[{}],"default_left":[{}],"base_weights":[],"id":{t}}}"#,
            l.join(","),
            r.join(","),
            idx.join(","),
            cond.join(","),
            dflt.join(",")
        ));
    }
    out.push_str(r#"]}},"learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"20"},"objective":{"name":"binary:logistic"}},"version":[2,1,0]}"#);
    out
}

#[test]
fn thousand_trees_import_encode_and_evaluate() {
    let json = large_model(1000);
    let start = Instant::now();
    let imported = import_xgboost(&json).unwrap();
    let import_time = start.elapsed();
    let f = &imported.forest;
    assert_eq!(f.roots.len(), 1000);
    assert_eq!(f.kind.len(), 127_000);
    assert_eq!(f.max_depth, 6);

    let start = Instant::now();
    let blob = f.encode();
    let back = Forest::decode(&blob).unwrap();
    let blob_time = start.elapsed();
    assert_eq!(
        back.encode().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        blob.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );

    let start = Instant::now();
    let mut sum = 0.0f64;
    for row in 0..1000u32 {
        let x: Vec<f32> = (0..20u32)
            .map(|j| if (row + j) % 11 == 0 { f32::NAN } else { ((row * 37 + j * 101) % 200) as f32 / 100.0 - 1.0 })
            .collect();
        let (mut a, mut b) = ([0.0f32], [0.0f32]);
        f.predict(Objective::Sigmoid, &x, &mut a);
        back.predict(Objective::Sigmoid, &x, &mut b);
        assert_eq!(a[0].to_bits(), b[0].to_bits());
        assert!(a[0] > 0.0 && a[0] < 1.0);
        sum += f64::from(a[0]);
    }
    let eval_time = start.elapsed();
    assert!(sum > 0.0);
    eprintln!(
        "1,000 trees x 64 leaves: import {import_time:?}, encode+decode {blob_time:?}, 1,000 rows x 2 {eval_time:?}"
    );
}
