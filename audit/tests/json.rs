mod common;

use common::*;
use pipec_audit::{NamedValues, Values, record_to_json};
use serde_json::json;

#[test]
fn records_display_as_json_with_rfc3339_time_and_named_columns() {
    let mut r = record(2);
    r.seq = 7;
    let v = record_to_json(&r);
    assert_eq!(v["seq"], 7);
    assert_eq!(v["time"], "2023-11-14T22:13:20.000002000Z");
    assert_eq!(v["time_unix_nanos"], T0 + 2000);
    assert_eq!(v["model"], "champion");
    assert_eq!(v["batch"], json!({"id": 0, "offset": 4, "rows": 8}));
    assert_eq!(v["inputs"]["amount"], json!([2.1, null]));
    assert_eq!(v["inputs"]["country"], json!(["FR2", null]));
    // width 2: one array per row; NaN is null.
    assert_eq!(v["outputs"]["score"], json!([[-0.0, 0.0], [null, 1e-45]]));
    assert_eq!(v["outputs"]["amount_ok"], json!([true, false]));
    assert_eq!(v["failed_checks"], json!([{"check": "amount_ok", "rows": [1]}]));
    let line = serde_json::to_string(&v).unwrap();
    assert!(line.contains("[2.1,null]"), "{line}");
}

#[test]
fn f32_values_print_short_and_read_back_exactly() {
    let values = vec![0.1f32, 1.0 / 3.0, -0.0, 16777217.0, f32::MAX, f32::MIN_POSITIVE, 1e-45, 123.456, f32::INFINITY];
    let mut r = record(0);
    r.outputs = vec![NamedValues { name: "x".into(), width: 1, values: Values::F32(values.clone()) }];
    let text = serde_json::to_string(&record_to_json(&r)["outputs"]["x"]).unwrap();
    assert!(text.starts_with("[0.1,0.33333334,-0.0,"), "{text}");
    assert!(text.ends_with(",\"inf\"]"), "{text}");
    let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    for (value, original) in parsed.iter().zip(&values).filter(|(_, o)| o.is_finite()) {
        assert_eq!((value.as_f64().unwrap() as f32).to_bits(), original.to_bits(), "{value}");
    }
}
