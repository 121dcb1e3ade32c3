//! Outputs of a request into the protocol's answer: JSON, or JSON followed by binary tensor
//! data for the outputs the client asked to receive that way.

use super::decode::RequestedOutput;
use super::oip::{InferResponse, ResponseOutput};
use super::tensors::output_datatype;
use crate::output::OutputColumn;
use crate::spec::PipelineSpec;
use serde::Serialize;
use serde_json::{Map, Value};

/// The header that tells where the JSON part ends and binary data begins.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// An encoded answer: the JSON header and, when any output is binary, the bytes after it.
pub struct Encoded {
    pub json: Vec<u8>,
    pub binary: Option<Vec<u8>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    F32(&'a [f32]),
    Bool(&'a [bool]),
}

#[derive(Serialize)]
struct Response<'a> {
    #[serde(flatten)]
    head: InferResponse,
    outputs: Vec<Output<'a>>,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    head: ResponseOutput,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Data<'a>>,
}

pub fn encode(
    spec: &PipelineSpec,
    id: Option<String>,
    rows: usize,
    requested: &[RequestedOutput],
    columns: &[OutputColumn],
) -> Result<Encoded, serde_json::Error> {
    let mut binary: Option<Vec<u8>> = None;
    let mut outputs = Vec::with_capacity(requested.len());
    for wanted in requested {
        let declared = &spec.outputs[wanted.index];
        let column = &columns[wanted.index];
        let width = column.width();
        let shape = if width == 1 { vec![rows] } else { vec![rows, width] };
        let mut parameters = Map::new();
        let data = if wanted.binary {
            let bytes = binary.get_or_insert_with(Vec::new);
            let before = bytes.len();
            match column {
                OutputColumn::F32 { values, .. } => values.iter().for_each(|v| bytes.extend(v.to_le_bytes())),
                OutputColumn::Bool { values, .. } => bytes.extend(values.iter().map(|&b| b as u8)),
            }
            parameters.insert("binary_data_size".into(), Value::from(bytes.len() - before));
            None
        } else {
            Some(match column {
                OutputColumn::F32 { values, .. } => Data::F32(values),
                OutputColumn::Bool { values, .. } => Data::Bool(values),
            })
        };
        let head = ResponseOutput { name: declared.name, datatype: output_datatype(declared), shape, parameters };
        outputs.push(Output { head, data });
    }
    let head = InferResponse { model_name: spec.name, model_version: spec.version, id };
    let json = serde_json::to_vec(&Response { head, outputs })?;
    Ok(Encoded { json, binary })
}
