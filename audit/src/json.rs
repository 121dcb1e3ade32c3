//! The display form of a record, as printed by `pipec log` (one JSON object per line).

use crate::record::{AuditRecord, NamedValues, Values};
use serde_json::{Map, Value, json};
use std::time::{Duration, UNIX_EPOCH};

/// A record as a JSON object with the fields of [`AuditRecord`], plus `time` (RFC 3339 with
/// nanoseconds, UTC). `inputs` and `outputs` are objects from column name to values: a flat
/// array of one value per row when the column's width is 1, else an array of rows, each an
/// array of `width` values. `f32` values are JSON numbers in their shortest form that reads
/// back to the same `f32`; NaN (missing) is `null`, infinities are the strings `"inf"` and
/// `"-inf"`. Missing strings are `null`. Keys are in alphabetical order.
pub fn record_to_json(record: &AuditRecord) -> Value {
    let time = humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(record.time_unix_nanos));
    let failed: Vec<Value> = record.failed_checks.iter().map(|f| json!({ "check": f.check, "rows": f.rows })).collect();
    json!({
        "seq": record.seq,
        "request_id": record.request_id,
        "time": time.to_string(),
        "time_unix_nanos": record.time_unix_nanos,
        "model": record.model,
        "pipeline": record.pipeline,
        "answered": record.answered,
        "route": record.route,
        "batch": { "id": record.batch.id, "offset": record.batch.offset, "rows": record.batch.rows },
        "rows": record.rows,
        "inputs": columns(&record.inputs),
        "outputs": columns(&record.outputs),
        "failed_checks": failed,
    })
}

fn columns(columns: &[NamedValues]) -> Value {
    let mut object = Map::new();
    for column in columns {
        let values: Vec<Value> = match &column.values {
            Values::F32(v) => v.iter().map(|&x| f32_value(x)).collect(),
            Values::Bool(v) => v.iter().map(|&b| Value::Bool(b)).collect(),
            Values::Str(v) => v.iter().map(|s| s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))).collect(),
        };
        let width = column.width as usize;
        let shaped = if width <= 1 {
            Value::Array(values)
        } else {
            Value::Array(values.chunks(width).map(|row| Value::Array(row.to_vec())).collect())
        };
        object.insert(column.name.clone(), shaped);
    }
    Value::Object(object)
}

fn f32_value(x: f32) -> Value {
    if x.is_nan() {
        return Value::Null;
    }
    if x.is_infinite() {
        return Value::String(if x > 0.0 { "inf" } else { "-inf" }.into());
    }
    // The f64 nearest to the f32's shortest decimal prints as that decimal (0.1, not
    // 0.10000000149011612) and parses back to the same f32.
    let shortest: f64 = x.to_string().parse().unwrap_or(f64::from(x));
    serde_json::Number::from_f64(shortest).map_or(Value::Null, Value::Number)
}
