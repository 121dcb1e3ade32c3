//! A `ModelInferRequest` into the REST form (an `InferRequest` and the binary tensor data
//! after it) that `infer.rs` scores, and the answer back into a `ModelInferResponse`.
//!
//! Requests: each `raw_input_contents` entry becomes its input's binary data, as is (little
//! endian, BYTES elements each behind a 4-byte length, as in Triton's raw format); typed
//! `contents` become binary data too where that keeps every bit (`fp32_contents`,
//! `fp64_contents`, `bytes_contents`), and the input's `data` otherwise (integers and
//! booleans). Answers: every output as binary data, written by the code that writes REST's
//! binary outputs (`encode.rs`), into `raw_output_contents`: the bytes a REST client receives,
//! so the two protocols give the same bits by construction.

use super::proto::infer_parameter::ParameterChoice;
use super::proto::model_infer_response::InferOutputTensor;
use super::proto::{InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse};
use crate::server::protocol::encode::RawOutput;
use crate::server::protocol::error::ApiError;
use crate::server::protocol::oip::{InferRequest, InferResponse, RequestInput, RequestOutput};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A request in the REST form.
#[derive(Debug)]
pub struct Rest {
    pub head: InferRequest,
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
        let typed = match (raw.get(index), input.contents) {
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
        let data = match typed {
            Typed::Binary(size) => {
                parameters.insert(BINARY_DATA_SIZE.into(), Value::from(size));
                None
            }
            Typed::Data(data) => Some(data),
        };
        inputs.push(RequestInput { name: input.name, shape: input.shape, datatype: input.datatype, parameters, data });
    }
    // Every output comes back as binary data (`Form::Raw`); this says so to whoever reads
    // the request in the REST form (the payload log).
    let mut parameters = parameters_to_json(message.parameters);
    parameters.insert("binary_data_output".into(), Value::Bool(true));
    let outputs = (!message.outputs.is_empty()).then(|| {
        message
            .outputs
            .into_iter()
            .map(|output| {
                let mut parameters = parameters_to_json(output.parameters);
                parameters.remove("binary_data");
                RequestOutput { name: output.name, parameters }
            })
            .collect()
    });
    let id = (!message.id.is_empty()).then_some(message.id);
    Ok(Rest { head: InferRequest { id, parameters, inputs, outputs }, binary })
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
    if let (Some(got), Some(holds)) = (count, holds)
        && got as u64 != holds
        && holds > 0
    {
        return Err(ApiError::bad_request(format!(
            "input `{name}`: the shape holds {holds} values, but {got} were sent"
        )));
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

pub fn response(head: InferResponse, outputs: Vec<RawOutput>) -> ModelInferResponse {
    let mut tensors = Vec::with_capacity(outputs.len());
    let mut raw_output_contents = Vec::with_capacity(outputs.len());
    for output in outputs {
        tensors.push(InferOutputTensor {
            name: output.name.into(),
            datatype: output.datatype.into(),
            shape: output.shape.iter().map(|&n| n as i64).collect(),
            parameters: HashMap::new(),
            contents: None,
        });
        raw_output_contents.push(output.bytes);
    }
    ModelInferResponse {
        model_name: head.model_name.into(),
        model_version: head.model_version.into(),
        id: head.id,
        parameters: parameters_from_json(head.parameters),
        outputs: tensors,
        raw_output_contents,
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
    use super::*;
    use crate::output::OutputColumn;
    use crate::server::protocol::decode::{self, RequestedOutput};
    use crate::server::protocol::encode::{encode, encode_raw};
    use crate::server::scheduling::{BatchOutcome, Role, Route};
    use crate::spec::{InputKind, InputSpec, OutputKind, OutputRole, OutputSpec, PipelineSpec};
    use serde_json::json;

    fn input(name: &str, datatype: &str, shape: Vec<i64>, contents: Option<InferTensorContents>) -> InferInputTensor {
        InferInputTensor { name: name.into(), datatype: datatype.into(), shape, parameters: HashMap::new(), contents }
    }

    fn head(rest: &Rest) -> Value {
        serde_json::to_value(&rest.head).expect("JSON")
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
        assert_eq!(head["outputs"][0], json!({ "name": "y" }));
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
        let message =
            ModelInferRequest { inputs: vec![input("x", "FP32", vec![1], Some(ints.clone()))], ..Default::default() };
        let error = request(message).expect_err("wrong field");
        assert_eq!(error.message, "input `x`: datatype FP32 takes `fp32_contents`, but `int_contents` was sent");

        let floats = InferTensorContents { fp32_contents: vec![1.0], ..Default::default() };
        let message =
            ModelInferRequest { inputs: vec![input("x", "FP32", vec![2, 1], Some(floats))], ..Default::default() };
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

    static SPEC: PipelineSpec = PipelineSpec {
        name: "t",
        version: "1",
        identity: "0",
        monitor: None,
        inputs: &[InputSpec { name: "x", kind: InputKind::F32, width: 1, is_vector: false, nullable: false }],
        outputs: &[
            OutputSpec { name: "p", kind: OutputKind::F32, width: 2, role: OutputRole::Output },
            OutputSpec { name: "ok", kind: OutputKind::Bool, width: 1, role: OutputRole::Output },
            OutputSpec { name: "big", kind: OutputKind::Bool, width: 1, role: OutputRole::Check },
        ],
    };

    #[test]
    fn raw_outputs_are_the_bytes_of_rest_binary_outputs() {
        let columns = vec![
            OutputColumn::F32 { width: 2, values: vec![0.1, -0.0, f32::MIN_POSITIVE, 3.5] },
            OutputColumn::Bool { width: 1, values: vec![true, false] },
            OutputColumn::Bool { width: 1, values: vec![false, true] },
        ];
        let outcome = BatchOutcome::new(Role::Champion, &SPEC, Route::Native, columns);
        let requested: Vec<RequestedOutput> =
            [decode::Answer::FailedChecks, decode::Answer::Column(0), decode::Answer::Column(1)]
                .into_iter()
                .map(|what| RequestedOutput { what, binary: true })
                .collect();
        let head = || InferResponse { model_name: "t", model_version: "1", id: "r".into(), parameters: Map::new() };
        let rest = encode(head(), 2, &requested, &outcome).expect("encodes");
        let raw = encode_raw(2, &requested, &outcome);
        assert_eq!(rest.binary.expect("binary"), raw.iter().flat_map(|o| o.bytes.clone()).collect::<Vec<u8>>());

        let mut parameters = Map::new();
        parameters.insert("model".into(), Value::from("champion"));
        parameters.insert("failed_check_rows".into(), Value::from(1));
        let response = response(InferResponse { parameters, ..head() }, raw);
        assert_eq!(response.id, "r");
        assert_eq!(response.raw_output_contents[0], b"\x03\0\0\0big\0\0\0\0".to_vec());
        assert_eq!(response.raw_output_contents[2], vec![1, 0]);
        let shapes: Vec<_> =
            response.outputs.iter().map(|o| (o.name.as_str(), o.datatype.as_str(), o.shape.clone())).collect();
        assert_eq!(
            shapes,
            vec![("failed_checks", "BYTES", vec![2]), ("p", "FP32", vec![2, 2]), ("ok", "BOOL", vec![2])]
        );
        assert!(response.outputs.iter().all(|o| o.parameters.is_empty() && o.contents.is_none()));
        let rows = &response.parameters["failed_check_rows"];
        assert_eq!(rows.parameter_choice, Some(ParameterChoice::Int64Param(1)));
        assert_eq!(
            response.parameters["model"].parameter_choice,
            Some(ParameterChoice::StringParam("champion".into()))
        );
    }
}
