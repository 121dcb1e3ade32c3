//! A `ModelInferRequest` into the REST form (a JSON head, then binary tensor data) that
//! `infer.rs` scores, and the REST answer back into a `ModelInferResponse`.
//!
//! Requests: each `raw_input_contents` entry becomes its input's binary data, as is (little
//! endian, BYTES elements each behind a 4-byte length, as in Triton's raw format); typed
//! `contents` become binary data too where that keeps every bit (`fp32_contents`,
//! `fp64_contents`, `bytes_contents`), and the input's `data` otherwise (integers and
//! booleans). Every output is asked for as binary data, and the answer's binary section is
//! cut into `raw_output_contents` by each output's `binary_data_size`: the bytes a REST client
//! would have received, so the two protocols give the same bits by construction.

use super::proto::infer_parameter::ParameterChoice;
use super::proto::model_infer_response::InferOutputTensor;
use super::proto::{InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse};
use crate::server::encode::Encoded;
use crate::server::error::ApiError;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A request in the REST form.
#[derive(Debug)]
pub struct Rest {
    pub json: Vec<u8>,
    pub binary: Vec<u8>,
}

const BINARY_DATA_SIZE: &str = "binary_data_size";

pub fn request(message: ModelInferRequest) -> Result<Rest, ApiError> {
    let raw = message.raw_input_contents;
    if !raw.is_empty() && raw.len() != message.inputs.len() {
        return Err(ApiError::bad_request(format!(
            "raw_input_contents has {} entries, but the request has {} inputs; send one entry per input, in the order of `inputs`",
            raw.len(),
            message.inputs.len()
        )));
    }
    let mut binary = Vec::with_capacity(raw.iter().map(Vec::len).sum());
    let mut inputs = Vec::with_capacity(message.inputs.len());
    for (index, input) in message.inputs.into_iter().enumerate() {
        let mut parameters = parameters_to_json(input.parameters);
        parameters.remove(BINARY_DATA_SIZE);
        let mut tensor = json!({ "name": input.name, "shape": input.shape, "datatype": input.datatype });
        let data = match (raw.get(index), input.contents) {
            (Some(_), Some(contents)) if !is_empty(&contents) => {
                return Err(ApiError::bad_request(format!(
                    "input `{}`: has both `contents` and raw_input_contents; send one of them",
                    input.name
                )));
            }
            (Some(bytes), _) => {
                binary.extend_from_slice(bytes);
                Typed::Binary(bytes.len())
            }
            (None, Some(contents)) => typed(&input.name, &input.datatype, &input.shape, contents, &mut binary)?,
            // No values at all: the decoder says how many the shape holds.
            (None, None) => Typed::Data(Value::Array(Vec::new())),
        };
        match data {
            Typed::Binary(size) => {
                parameters.insert(BINARY_DATA_SIZE.into(), Value::from(size));
            }
            Typed::Data(data) => tensor["data"] = data,
        }
        if !parameters.is_empty() {
            tensor["parameters"] = Value::Object(parameters);
        }
        inputs.push(tensor);
    }
    let mut parameters = parameters_to_json(message.parameters);
    parameters.insert("binary_data_output".into(), Value::Bool(true));
    let mut head = json!({ "inputs": inputs, "parameters": parameters });
    if !message.id.is_empty() {
        head["id"] = Value::String(message.id);
    }
    if !message.outputs.is_empty() {
        let outputs: Vec<Value> = message
            .outputs
            .into_iter()
            .map(|output| {
                let mut parameters = parameters_to_json(output.parameters);
                parameters.insert("binary_data".into(), Value::Bool(true));
                json!({ "name": output.name, "parameters": parameters })
            })
            .collect();
        head["outputs"] = Value::Array(outputs);
    }
    let json = serde_json::to_vec(&head).map_err(|e| ApiError::bad_request(format!("the request cannot be read: {e}")))?;
    Ok(Rest { json, binary })
}

enum Typed {
    /// This many bytes were appended to the binary data.
    Binary(usize),
    /// The input's `data`.
    Data(Value),
}

/// An input's typed contents, from the field its datatype uses (as KServe and Triton assign
/// them); values in any other field are an error. FP16, BF16 and unknown datatypes take no
/// typed field: the decoder rejects the datatype.
fn typed(
    name: &str,
    datatype: &str,
    shape: &[i64],
    contents: InferTensorContents,
    binary: &mut Vec<u8>,
) -> Result<Typed, ApiError> {
    let expected = match datatype {
        "FP32" => Some("fp32_contents"),
        "FP64" => Some("fp64_contents"),
        "INT8" | "INT16" | "INT32" => Some("int_contents"),
        "INT64" => Some("int64_contents"),
        "UINT8" | "UINT16" | "UINT32" => Some("uint_contents"),
        "UINT64" => Some("uint64_contents"),
        "BOOL" => Some("bool_contents"),
        "BYTES" => Some("bytes_contents"),
        _ => None,
    };
    let filled = [
        ("bool_contents", contents.bool_contents.is_empty()),
        ("int_contents", contents.int_contents.is_empty()),
        ("int64_contents", contents.int64_contents.is_empty()),
        ("uint_contents", contents.uint_contents.is_empty()),
        ("uint64_contents", contents.uint64_contents.is_empty()),
        ("fp32_contents", contents.fp32_contents.is_empty()),
        ("fp64_contents", contents.fp64_contents.is_empty()),
        ("bytes_contents", contents.bytes_contents.is_empty()),
    ];
    if let Some((wrong, _)) = filled.iter().find(|(field, empty)| !empty && Some(*field) != expected) {
        let takes = expected.map_or_else(|| "no typed contents".to_string(), |field| format!("`{field}`"));
        return Err(ApiError::bad_request(format!(
            "input `{name}`: datatype {datatype} takes {takes}, but `{wrong}` was sent"
        )));
    }
    // Values that become binary data: their count is checked here, in the words the decoder
    // uses for `data`, which it checks itself.
    let count = match datatype {
        "FP32" => Some(contents.fp32_contents.len()),
        "FP64" => Some(contents.fp64_contents.len()),
        "BYTES" => Some(contents.bytes_contents.len()),
        _ => None,
    };
    let holds = shape.iter().try_fold(1u64, |n, &d| u64::try_from(d).ok().and_then(|d| n.checked_mul(d)));
    if let (Some(got), Some(holds)) = (count, holds) {
        if got as u64 != holds && holds > 0 {
            return Err(ApiError::bad_request(format!(
                "input `{name}`: the shape holds {holds} values, but {got} were sent"
            )));
        }
    }
    let before = binary.len();
    let data = |values: Vec<Value>| Ok(Typed::Data(Value::Array(values)));
    match datatype {
        "FP32" => contents.fp32_contents.iter().for_each(|v| binary.extend(v.to_le_bytes())),
        "FP64" => contents.fp64_contents.iter().for_each(|v| binary.extend(v.to_le_bytes())),
        "BYTES" => contents.bytes_contents.iter().for_each(|v| {
            binary.extend((v.len() as u32).to_le_bytes());
            binary.extend_from_slice(v);
        }),
        "INT8" | "INT16" | "INT32" => return data(contents.int_contents.into_iter().map(Value::from).collect()),
        "INT64" => return data(contents.int64_contents.into_iter().map(Value::from).collect()),
        "UINT8" | "UINT16" | "UINT32" => return data(contents.uint_contents.into_iter().map(Value::from).collect()),
        "UINT64" => return data(contents.uint64_contents.into_iter().map(Value::from).collect()),
        "BOOL" => return data(contents.bool_contents.into_iter().map(Value::from).collect()),
        _ => return data(Vec::new()),
    }
    Ok(Typed::Binary(binary.len() - before))
}

fn is_empty(contents: &InferTensorContents) -> bool {
    contents.bool_contents.is_empty()
        && contents.int_contents.is_empty()
        && contents.int64_contents.is_empty()
        && contents.uint_contents.is_empty()
        && contents.uint64_contents.is_empty()
        && contents.fp32_contents.is_empty()
        && contents.fp64_contents.is_empty()
        && contents.bytes_contents.is_empty()
}

fn parameters_to_json(parameters: HashMap<String, InferParameter>) -> Map<String, Value> {
    parameters
        .into_iter()
        .map(|(name, parameter)| {
            let value = match parameter.parameter_choice {
                Some(ParameterChoice::BoolParam(b)) => Value::Bool(b),
                Some(ParameterChoice::Int64Param(n)) => Value::from(n),
                Some(ParameterChoice::StringParam(s)) => Value::String(s),
                None => Value::Null,
            };
            (name, value)
        })
        .collect()
}

fn parameters_from_json(parameters: Map<String, Value>) -> HashMap<String, InferParameter> {
    parameters
        .into_iter()
        .filter_map(|(name, value)| {
            let choice = match value {
                Value::Bool(b) => ParameterChoice::BoolParam(b),
                Value::Number(n) => match n.as_i64() {
                    Some(n) => ParameterChoice::Int64Param(n),
                    None => ParameterChoice::StringParam(n.to_string()),
                },
                Value::String(s) => ParameterChoice::StringParam(s),
                Value::Null => return None,
                other => ParameterChoice::StringParam(other.to_string()),
            };
            Some((name, InferParameter { parameter_choice: Some(choice) }))
        })
        .collect()
}

/// The head of a REST answer whose outputs are all binary.
#[derive(Deserialize)]
struct Head {
    model_name: String,
    model_version: String,
    id: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    outputs: Vec<OutputHead>,
}

#[derive(Deserialize)]
struct OutputHead {
    name: String,
    datatype: String,
    shape: Vec<i64>,
    #[serde(default)]
    parameters: Map<String, Value>,
}

pub fn response(answer: Encoded) -> Result<ModelInferResponse, ApiError> {
    let internal = |why: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the answer failed: {why}"));
    let head: Head = serde_json::from_slice(&answer.json).map_err(|e| internal(e.to_string()))?;
    let binary = answer.binary.unwrap_or_default();
    let mut at = 0;
    let mut outputs = Vec::with_capacity(head.outputs.len());
    let mut raw_output_contents = Vec::with_capacity(head.outputs.len());
    for output in head.outputs {
        let mut parameters = output.parameters;
        let size = parameters
            .remove(BINARY_DATA_SIZE)
            .and_then(|size| size.as_u64())
            .ok_or_else(|| internal(format!("output `{}` is not binary", output.name)))? as usize;
        let end = at + size;
        let bytes = binary.get(at..end).ok_or_else(|| internal(format!("output `{}` is cut short", output.name)))?;
        raw_output_contents.push(bytes.to_vec());
        at = end;
        outputs.push(InferOutputTensor {
            name: output.name,
            datatype: output.datatype,
            shape: output.shape,
            parameters: parameters_from_json(parameters),
            contents: None,
        });
    }
    Ok(ModelInferResponse {
        model_name: head.model_name,
        model_version: head.model_version,
        id: head.id,
        parameters: parameters_from_json(head.parameters),
        outputs,
        raw_output_contents,
    })
}

#[cfg(test)]
mod tests {
    use super::super::proto::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
    use super::*;

    fn input(name: &str, datatype: &str, shape: Vec<i64>, contents: Option<InferTensorContents>) -> InferInputTensor {
        InferInputTensor { name: name.into(), datatype: datatype.into(), shape, parameters: HashMap::new(), contents }
    }

    fn head(rest: &Rest) -> Value {
        serde_json::from_slice(&rest.json).expect("JSON")
    }

    #[test]
    fn raw_contents_become_binary_data_in_input_order() {
        let message = ModelInferRequest {
            id: "r1".into(),
            inputs: vec![input("x", "FP32", vec![2], None), input("s", "BYTES", vec![1], None)],
            outputs: vec![InferRequestedOutputTensor { name: "y".into(), parameters: HashMap::new() }],
            raw_input_contents: vec![[1f32.to_le_bytes(), f32::NAN.to_le_bytes()].concat(), b"\x01\0\0\0a".to_vec()],
            ..Default::default()
        };
        let rest = request(message).expect("valid");
        let head = head(&rest);
        assert_eq!(head["id"], "r1");
        assert_eq!(head["parameters"]["binary_data_output"], true);
        assert_eq!(head["inputs"][0]["parameters"]["binary_data_size"], 8);
        assert_eq!(head["inputs"][1]["parameters"]["binary_data_size"], 5);
        assert_eq!(head["outputs"][0], json!({ "name": "y", "parameters": { "binary_data": true } }));
        assert_eq!(rest.binary.len(), 13);
        assert_eq!(&rest.binary[4..8], &f32::NAN.to_le_bytes());
    }

    #[test]
    fn typed_contents_keep_floats_and_strings_binary_and_integers_as_data() {
        let floats = InferTensorContents { fp32_contents: vec![0.1, -0.0], ..Default::default() };
        let strings = InferTensorContents { bytes_contents: vec![b"ab".to_vec()], ..Default::default() };
        let ints = InferTensorContents { int64_contents: vec![-3, 4], ..Default::default() };
        let bools = InferTensorContents { bool_contents: vec![true], ..Default::default() };
        let message = ModelInferRequest {
            inputs: vec![
                input("x", "FP32", vec![2], Some(floats)),
                input("s", "BYTES", vec![1], Some(strings)),
                input("n", "INT64", vec![2], Some(ints)),
                input("b", "BOOL", vec![1], Some(bools)),
            ],
            ..Default::default()
        };
        let rest = request(message).expect("valid");
        let head = head(&rest);
        assert!(head.get("id").is_none() && head.get("outputs").is_none());
        assert_eq!(head["inputs"][0]["parameters"]["binary_data_size"], 8);
        assert_eq!(head["inputs"][1]["parameters"]["binary_data_size"], 6);
        assert_eq!(head["inputs"][2]["data"], json!([-3, 4]));
        assert_eq!(head["inputs"][3]["data"], json!([true]));
        let mut expected = [0.1f32.to_le_bytes(), (-0.0f32).to_le_bytes()].concat();
        expected.extend(b"\x02\0\0\0ab");
        assert_eq!(rest.binary, expected);
    }

    #[test]
    fn contents_in_the_wrong_field_or_beside_raw_contents_are_rejected() {
        let ints = InferTensorContents { int_contents: vec![1], ..Default::default() };
        let message = ModelInferRequest { inputs: vec![input("x", "FP32", vec![1], Some(ints.clone()))], ..Default::default() };
        let error = request(message).expect_err("wrong field");
        assert_eq!(error.message, "input `x`: datatype FP32 takes `fp32_contents`, but `int_contents` was sent");

        let floats = InferTensorContents { fp32_contents: vec![1.0], ..Default::default() };
        let message = ModelInferRequest { inputs: vec![input("x", "FP32", vec![2, 1], Some(floats))], ..Default::default() };
        let error = request(message).expect_err("too few");
        assert_eq!(error.message, "input `x`: the shape holds 2 values, but 1 were sent");

        let message = ModelInferRequest {
            inputs: vec![input("x", "INT32", vec![1], Some(ints))],
            raw_input_contents: vec![vec![0; 4]],
            ..Default::default()
        };
        assert!(request(message).expect_err("both").message.contains("has both `contents` and raw_input_contents"));

        let message = ModelInferRequest {
            inputs: vec![input("x", "FP32", vec![1], None), input("y", "FP32", vec![1], None)],
            raw_input_contents: vec![vec![0; 4]],
            ..Default::default()
        };
        assert!(request(message).expect_err("count").message.starts_with("raw_input_contents has 1 entries"));
    }

    #[test]
    fn the_binary_answer_is_cut_into_raw_output_contents() {
        let json = br#"{"model_name":"m","model_version":"1","id":"r","parameters":{"pipeline":"abc","model":"champion","failed_check_rows":2},
            "outputs":[{"name":"p","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},
                       {"name":"ok","datatype":"BOOL","shape":[2],"parameters":{"binary_data_size":2}}]}"#;
        let binary = [0.25f32.to_le_bytes(), 0.5f32.to_le_bytes()].concat().into_iter().chain([1, 0]).collect();
        let response = response(Encoded { json: json.to_vec(), binary: Some(binary) }).expect("valid");
        assert_eq!(response.id, "r");
        assert_eq!(response.raw_output_contents, vec![[0.25f32.to_le_bytes(), 0.5f32.to_le_bytes()].concat(), vec![1, 0]]);
        assert_eq!(response.outputs[1].shape, vec![2]);
        assert!(response.outputs.iter().all(|o| o.parameters.is_empty() && o.contents.is_none()));
        let rows = &response.parameters["failed_check_rows"];
        assert_eq!(rows.parameter_choice, Some(ParameterChoice::Int64Param(2)));
        assert_eq!(response.parameters["model"].parameter_choice, Some(ParameterChoice::StringParam("champion".into())));
    }
}
