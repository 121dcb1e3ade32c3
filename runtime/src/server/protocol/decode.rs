//! An inference request, JSON and binary parts, checked against the pipeline's inputs and
//! turned into a [`Batch`]. Every rejection names the input and says what was wrong.

use super::error::ApiError;
use super::oip::{InferRequest, RequestInput};
use super::tensors::{input_datatype, is_integer, numeric_size};
use crate::batch::{Batch, Column};
use crate::spec::{InputKind, InputSpec, PipelineSpec};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What an answer's output carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Column `index` of the pipeline's computed columns (an `output` of the `.pipe` file).
    Column(usize),
    /// `failed_checks`: per row, the names of the checks it failed, comma-separated.
    FailedChecks,
}

/// The name of the output that flags rows failing a `checks` entry.
pub const FAILED_CHECKS: &str = "failed_checks";

/// A checked request: the rows to score and which outputs to send back.
#[derive(Debug)]
pub struct Decoded {
    pub batch: Batch,
    pub outputs: Vec<RequestedOutput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedOutput {
    pub what: Answer,
    /// Sent in the binary section rather than as JSON.
    pub binary: bool,
}

pub fn decode(spec: &PipelineSpec, request: &InferRequest, binary: &[u8]) -> Result<Decoded, ApiError> {
    let mut decoded: Vec<Option<Column>> = vec![None; spec.inputs.len()];
    let mut rows: Option<(usize, &str)> = None;
    let mut cursor = BinaryCursor { bytes: binary, at: 0 };
    // Binary data is laid out in the order the inputs appear in the request.
    for input in &request.inputs {
        let Some(index) = spec.inputs.iter().position(|i| i.name == input.name) else {
            return Err(ApiError::bad_request(format!(
                "unknown input `{}`; the pipeline's inputs are {}",
                input.name,
                names(spec.inputs.iter().map(|i| i.name))
            )));
        };
        if decoded[index].is_some() {
            return Err(ApiError::bad_request(format!("input `{}` is sent twice", input.name)));
        }
        let declared = &spec.inputs[index];
        let n = row_count(declared, input)?;
        match rows {
            Some((expected, first)) if expected != n => {
                return Err(ApiError::bad_request(format!(
                    "inputs disagree on the number of rows: `{first}` has {expected}, `{}` has {n}",
                    input.name
                )));
            }
            Some(_) => {}
            None => rows = Some((n, declared.name)),
        }
        decoded[index] = Some(decode_input(declared, input, n, &mut cursor)?);
    }
    if let Some(missing) = decoded.iter().position(Option::is_none) {
        return Err(ApiError::bad_request(format!(
            "input `{}` is missing; every input of the pipeline must be sent",
            spec.inputs[missing].name
        )));
    }
    if cursor.at != binary.len() {
        return Err(ApiError::bad_request(format!(
            "the binary section has {} bytes, but the inputs' binary_data_size parameters account for {}",
            binary.len(),
            cursor.at
        )));
    }
    let rows = rows.map_or(0, |(n, _)| n);
    let columns = decoded.into_iter().flatten().collect();
    let batch = Batch::new(spec, rows, columns).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Decoded { batch, outputs: requested_outputs(spec, request)? })
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The most values (rows times width) one input of a request may hold: a 64 MiB body of
/// one-byte booleans holds 2^26; this leaves room for a larger `--max-body-bytes` while
/// keeping `count * size` far from overflowing.
const MAX_VALUES: usize = 1 << 40;

/// The most values reserved for before they are read: larger inputs grow as they are read.
const PREALLOCATED: usize = 1 << 16;

/// Rows in an input, from its shape: `[n]` or `[n, 1]` for a scalar input, `[n, width]` for a
/// vector.
fn row_count(declared: &InputSpec, input: &RequestInput) -> Result<usize, ApiError> {
    let shape = &input.shape;
    let expected = if declared.is_vector { format!("[n, {}]", declared.width) } else { "[n] or [n, 1]".to_string() };
    let fits = match shape.as_slice() {
        [n] => !declared.is_vector && *n >= 0,
        [n, w] => *n >= 0 && *w == declared.width as i64,
        _ => false,
    };
    if !fits {
        return Err(ApiError::bad_request(format!(
            "input `{}`: shape {shape:?} does not fit; expected {expected}, n being the number of rows",
            input.name
        )));
    }
    let n = shape[0] as usize;
    if n == 0 {
        return Err(ApiError::bad_request(format!("input `{}`: shape {shape:?} has no rows", input.name)));
    }
    Ok(n)
}

fn decode_input(
    declared: &InputSpec,
    input: &RequestInput,
    rows: usize,
    cursor: &mut BinaryCursor,
) -> Result<Column, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("input `{}`: {why}", input.name));
    let datatype = input.datatype.as_str();
    let accepted = match declared.kind {
        InputKind::F32 | InputKind::F64 | InputKind::I64 => numeric_size(datatype).is_some(),
        InputKind::Bool => datatype == "BOOL",
        InputKind::Str => datatype == "BYTES",
    };
    if !accepted {
        let expected = match declared.kind {
            InputKind::Str => "BYTES".to_string(),
            InputKind::Bool => "BOOL".to_string(),
            _ => format!("{} (or another FP or INT datatype)", input_datatype(declared)),
        };
        return Err(bad(format!("datatype {datatype} does not fit; expected {expected}")));
    }
    // A shape like [2^60, 30] must not wrap around or be allocated for: the values are
    // counted against what the request really holds below.
    let count = rows.checked_mul(declared.width).filter(|&count| count <= MAX_VALUES).ok_or_else(|| {
        bad(format!("shape {:?} holds more values than a request may send ({MAX_VALUES})", input.shape))
    })?;
    let source = match (binary_size(&input.parameters).map_err(&bad)?, &input.data) {
        (Some(_), Some(_)) => return Err(bad("has both `data` and a binary_data_size parameter".into())),
        (Some(size), None) => Source::Binary(cursor.take(size).map_err(&bad)?),
        (None, Some(data)) => {
            let mut elements = Vec::with_capacity(count.min(PREALLOCATED));
            flatten(data, &mut elements);
            if elements.len() != count {
                return Err(bad(count_error(count, elements.len())));
            }
            Source::Json(elements)
        }
        (None, None) => return Err(bad("has neither `data` nor a binary_data_size parameter".into())),
    };
    let column = match declared.kind {
        InputKind::Str => Column::Str(strings(declared, source, count).map_err(&bad)?),
        InputKind::Bool => Column::Bool(booleans(source, count).map_err(&bad)?),
        _ => Column::F32(numbers(declared, datatype, source, count).map_err(&bad)?),
    };
    Ok(column)
}

fn count_error(count: usize, got: usize) -> String {
    format!("the shape holds {count} values, but {got} were sent")
}

enum Source<'a> {
    /// Exactly the count of values the shape holds.
    Json(Vec<&'a Value>),
    Binary(&'a [u8]),
}

/// Nested arrays are the row-major elements they contain.
fn flatten<'a>(value: &'a Value, into: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, into)),
        other => into.push(other),
    }
}

fn binary_size(parameters: &Map<String, Value>) -> Result<Option<usize>, String> {
    match parameters.get("binary_data_size") {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| format!("binary_data_size must be a non-negative integer, not {v}")),
    }
}

struct BinaryCursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> BinaryCursor<'a> {
    fn take(&mut self, size: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(size).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            format!(
                "binary_data_size is {size}, but only {} bytes of the binary section are left",
                self.bytes.len() - self.at
            )
        })?;
        let part = &self.bytes[self.at..end];
        self.at = end;
        Ok(part)
    }
}

fn numbers(declared: &InputSpec, datatype: &str, source: Source, count: usize) -> Result<Vec<f32>, String> {
    let width = declared.width;
    let values: Vec<f64> = match source {
        Source::Json(elements) => {
            let integer = is_integer(datatype);
            elements
                .iter()
                .enumerate()
                .map(|(i, element)| match element {
                    Value::Null if declared.nullable => Ok(f64::NAN),
                    Value::Null => Err(format!("row {}: null, but the input is not nullable", i / width)),
                    Value::Number(n) if integer && !(n.is_i64() || n.is_u64()) => {
                        Err(format!("row {}: {n} is not an integer, as datatype {datatype} requires", i / width))
                    }
                    Value::Number(n) => n.as_f64().ok_or_else(|| format!("row {}: {n} is not a number", i / width)),
                    other => Err(format!("row {}: {other} is not a number", i / width)),
                })
                .collect::<Result<_, _>>()?
        }
        Source::Binary(bytes) => {
            let size = numeric_size(datatype).unwrap_or(4);
            if Some(bytes.len()) != count.checked_mul(size) {
                return Err(format!(
                    "binary_data_size is {} bytes; {count} values of {datatype} take {}",
                    bytes.len(),
                    count as u128 * size as u128
                ));
            }
            bytes.chunks_exact(size).map(|b| read_number(datatype, b)).collect()
        }
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let x = v as f32;
            if v.is_nan() {
                if declared.nullable {
                    Ok(f32::NAN)
                } else {
                    Err(format!("row {}: NaN (a missing value), but the input is not nullable", i / width))
                }
            } else if !x.is_finite() {
                Err(format!("row {}: {v} is not a finite 32-bit float", i / width))
            } else {
                Ok(x)
            }
        })
        .collect()
}

fn read_number(datatype: &str, b: &[u8]) -> f64 {
    let mut buf = [0u8; 8];
    buf[..b.len()].copy_from_slice(b);
    match datatype {
        "FP32" => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "FP64" => f64::from_le_bytes(buf),
        "INT8" => b[0] as i8 as f64,
        "UINT8" => b[0] as f64,
        "INT16" => i16::from_le_bytes([b[0], b[1]]) as f64,
        "UINT16" => u16::from_le_bytes([b[0], b[1]]) as f64,
        "INT32" => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "UINT32" => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "INT64" => i64::from_le_bytes(buf) as f64,
        _ => u64::from_le_bytes(buf) as f64,
    }
}

fn booleans(source: Source, count: usize) -> Result<Vec<bool>, String> {
    match source {
        Source::Json(elements) => elements
            .iter()
            .enumerate()
            .map(|(i, e)| e.as_bool().ok_or_else(|| format!("element {i}: {e} is not true or false")))
            .collect(),
        Source::Binary(bytes) => {
            if bytes.len() != count {
                return Err(format!("binary_data_size is {} bytes; {count} BOOL values take {count}", bytes.len()));
            }
            Ok(bytes.iter().map(|&b| b != 0).collect())
        }
    }
}

fn strings(declared: &InputSpec, source: Source, count: usize) -> Result<Vec<Option<Arc<str>>>, String> {
    match source {
        Source::Json(elements) => elements
            .iter()
            .enumerate()
            .map(|(row, e)| match e {
                Value::String(s) => Ok(Some(Arc::from(s.as_str()))),
                Value::Null if declared.nullable => Ok(None),
                Value::Null => Err(format!("row {row}: null, but the input is not nullable")),
                other => Err(format!("row {row}: {other} is not a string")),
            })
            .collect(),
        Source::Binary(mut bytes) => {
            // Each element: its length as a little-endian u32, then its bytes.
            // Each element takes at least its 4-byte length.
            let mut out = Vec::with_capacity(count.min(bytes.len() / 4));
            while !bytes.is_empty() {
                let row = out.len();
                let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
                    return Err(format!("row {row}: the binary data ends inside a length prefix"));
                };
                let len = u32::from_le_bytes(*len) as usize;
                if rest.len() < len {
                    return Err(format!("row {row}: a {len}-byte string, but only {} bytes are left", rest.len()));
                }
                let text = std::str::from_utf8(&rest[..len]).map_err(|e| format!("row {row}: not UTF-8 ({e})"))?;
                out.push(Some(Arc::from(text)));
                bytes = &rest[len..];
            }
            if out.len() != count {
                return Err(count_error(count, out.len()));
            }
            Ok(out)
        }
    }
}

fn requested_outputs(spec: &PipelineSpec, request: &InferRequest) -> Result<Vec<RequestedOutput>, ApiError> {
    let all_binary = flag(&request.parameters, "binary_data_output")?.unwrap_or(false);
    let has_checks = spec.checks().next().is_some();
    let Some(asked) = &request.outputs else {
        let columns = spec.public_outputs().map(|(index, _)| Answer::Column(index));
        let checks = has_checks.then_some(Answer::FailedChecks);
        return Ok(columns.chain(checks).map(|what| RequestedOutput { what, binary: all_binary }).collect());
    };
    asked
        .iter()
        .map(|output| {
            let what = match spec.public_outputs().find(|(_, o)| o.name == output.name) {
                Some((index, _)) => Answer::Column(index),
                None if has_checks && output.name == FAILED_CHECKS => Answer::FailedChecks,
                None => {
                    let checks = has_checks.then_some(FAILED_CHECKS);
                    return Err(ApiError::bad_request(format!(
                        "unknown output `{}`; the pipeline's outputs are {}",
                        output.name,
                        names(spec.public_outputs().map(|(_, o)| o.name).chain(checks))
                    )));
                }
            };
            let binary = flag(&output.parameters, "binary_data")?.unwrap_or(all_binary);
            Ok(RequestedOutput { what, binary })
        })
        .collect()
}

fn flag(parameters: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match parameters.get(name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::bad_request(format!("parameter `{name}` must be true or false, not {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OutputKind, OutputRole, OutputSpec};

    static SPEC: PipelineSpec = PipelineSpec {
        name: "t",
        version: "1",
        identity: "0",
        monitor: None,
        inputs: &[
            InputSpec { name: "x", kind: InputKind::F32, width: 2, is_vector: true, nullable: false },
            InputSpec { name: "n", kind: InputKind::I64, width: 1, is_vector: false, nullable: true },
            InputSpec { name: "s", kind: InputKind::Str, width: 1, is_vector: false, nullable: true },
        ],
        outputs: &[
            OutputSpec { name: "a", kind: OutputKind::F32, width: 1, role: OutputRole::Output },
            OutputSpec { name: "b", kind: OutputKind::Bool, width: 1, role: OutputRole::Output },
            OutputSpec { name: "ok", kind: OutputKind::Bool, width: 1, role: OutputRole::Check },
            OutputSpec { name: "w", kind: OutputKind::F32, width: 1, role: OutputRole::Watch },
        ],
    };

    fn request(json: Value) -> InferRequest {
        serde_json::from_value(json).expect("a request")
    }

    #[test]
    fn nested_json_vectors_nulls_and_selected_outputs() {
        let r = request(serde_json::json!({
            "inputs": [
                { "name": "s", "shape": [2], "datatype": "BYTES", "data": ["é", null] },
                { "name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2.5], [3, 4]] },
                { "name": "n", "shape": [2, 1], "datatype": "INT64", "data": [[7], [null]] },
            ],
            "outputs": [{ "name": "b", "parameters": { "binary_data": true } }, { "name": "a" }],
        }));
        let decoded = decode(&SPEC, &r, &[]).expect("valid");
        assert_eq!(decoded.batch.rows(), 2);
        let columns = decoded.batch.columns();
        assert_eq!(columns[0], Column::F32(vec![1.0, 2.5, 3.0, 4.0]));
        match &columns[1] {
            Column::F32(v) => assert!(v[0] == 7.0 && v[1].is_nan()),
            other => panic!("{other:?}"),
        }
        assert_eq!(columns[2], Column::Str(vec![Some(Arc::from("é")), None]));
        assert_eq!(
            decoded.outputs,
            vec![
                RequestedOutput { what: Answer::Column(1), binary: true },
                RequestedOutput { what: Answer::Column(0), binary: false }
            ]
        );
    }

    #[test]
    fn checks_and_watched_columns_are_not_outputs_but_failed_checks_is() {
        let inputs = serde_json::json!([
            { "name": "s", "shape": [1], "datatype": "BYTES", "data": ["a"] },
            { "name": "n", "shape": [1], "datatype": "INT64", "data": [1] },
            { "name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2] },
        ]);
        let all = decode(&SPEC, &request(serde_json::json!({ "inputs": inputs })), &[]).expect("valid");
        let what: Vec<Answer> = all.outputs.iter().map(|o| o.what).collect();
        assert_eq!(what, vec![Answer::Column(0), Answer::Column(1), Answer::FailedChecks]);
        for hidden in ["ok", "w"] {
            let r = request(serde_json::json!({ "inputs": inputs, "outputs": [{ "name": hidden }] }));
            let error = decode(&SPEC, &r, &[]).expect_err("not an output");
            assert!(error.message.contains("are `a`, `b`, `failed_checks`"), "{}", error.message);
        }
        let r = request(serde_json::json!({ "inputs": inputs, "outputs": [{ "name": "failed_checks" }] }));
        let picked = decode(&SPEC, &r, &[]).expect("valid");
        assert_eq!(picked.outputs, vec![RequestedOutput { what: Answer::FailedChecks, binary: false }]);
    }

    #[test]
    fn binary_sections_are_read_in_request_order() {
        let mut binary = Vec::new();
        for s in ["ab", "ü"] {
            binary.extend((s.len() as u32).to_le_bytes());
            binary.extend(s.as_bytes());
        }
        let strings = binary.len();
        for v in [1i64, -2] {
            binary.extend(v.to_le_bytes());
        }
        for v in [0.5f32, 1.0, 1.5, 2.0] {
            binary.extend(v.to_le_bytes());
        }
        let r = request(serde_json::json!({
            "inputs": [
                { "name": "s", "shape": [2], "datatype": "BYTES", "parameters": { "binary_data_size": strings } },
                { "name": "n", "shape": [2], "datatype": "INT64", "parameters": { "binary_data_size": 16 } },
                { "name": "x", "shape": [2, 2], "datatype": "FP32", "parameters": { "binary_data_size": 16 } },
            ],
            "parameters": { "binary_data_output": true },
        }));
        let decoded = decode(&SPEC, &r, &binary).expect("valid");
        let columns = decoded.batch.columns();
        assert_eq!(columns[0], Column::F32(vec![0.5, 1.0, 1.5, 2.0]));
        assert_eq!(columns[1], Column::F32(vec![1.0, -2.0]));
        assert_eq!(columns[2], Column::Str(vec![Some(Arc::from("ab")), Some(Arc::from("ü"))]));
        assert!(decoded.outputs.iter().all(|o| o.binary));
    }

    #[test]
    fn bad_binary_strings_and_infinities_are_named() {
        let mut binary = 2u32.to_le_bytes().to_vec();
        binary.extend([0xff, 0xfe]);
        let r = request(serde_json::json!({
            "inputs": [
                { "name": "s", "shape": [1], "datatype": "BYTES", "parameters": { "binary_data_size": 6 } },
                { "name": "n", "shape": [1], "datatype": "INT64", "data": [1] },
                { "name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2] },
            ],
        }));
        let error = decode(&SPEC, &r, &binary).expect_err("invalid UTF-8");
        assert!(error.message.contains("input `s`: row 0: not UTF-8"), "{}", error.message);

        let mut binary = f32::INFINITY.to_le_bytes().to_vec();
        binary.extend(1f32.to_le_bytes());
        let r = request(serde_json::json!({
            "inputs": [
                { "name": "s", "shape": [1], "datatype": "BYTES", "data": ["a"] },
                { "name": "n", "shape": [1], "datatype": "INT64", "data": [1] },
                { "name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": { "binary_data_size": 8 } },
            ],
        }));
        let error = decode(&SPEC, &r, &binary).expect_err("infinity");
        assert!(error.message.contains("input `x`: row 0: inf is not a finite 32-bit float"), "{}", error.message);
    }
}
