//! A request's outcome into the protocol's answer: JSON, or JSON followed by binary tensor
//! data for the outputs the client asked to receive that way. The `failed_checks` output is
//! written from the failed checks the worker found when it scored the batch.

use super::decode::{Answer, FAILED_CHECKS, RequestedOutput};
use super::oip::{InferResponse, ResponseOutput};
use super::tensors::output_datatype;
use crate::output::OutputColumn;
use crate::server::scheduling::BatchOutcome;
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
    Bytes(&'a [String]),
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

/// The answer to a request of `rows` rows, whose outcome is `outcome`.
pub fn encode(
    head: InferResponse,
    rows: usize,
    requested: &[RequestedOutput],
    outcome: &BatchOutcome,
) -> Result<Encoded, serde_json::Error> {
    let failed = failed_names(requested, rows, outcome);
    let mut binary: Option<Vec<u8>> = None;
    let mut outputs = Vec::with_capacity(requested.len());
    for wanted in requested {
        let (name, datatype, shape, data) = output(outcome, wanted.what, rows, &failed);
        let mut parameters = Map::new();
        let data = if wanted.binary {
            let bytes = binary.get_or_insert_with(Vec::new);
            let before = bytes.len();
            write_binary(&data, bytes);
            parameters.insert("binary_data_size".into(), Value::from(bytes.len() - before));
            None
        } else {
            Some(data)
        };
        let head = ResponseOutput { name, datatype, shape, parameters };
        outputs.push(Output { head, data });
    }
    let json = serde_json::to_vec(&Response { head, outputs })?;
    Ok(Encoded { json, binary })
}

/// One output of an answer with its data in the layout of the binary tensor data extension
/// (what gRPC's `raw_output_contents` holds).
pub struct RawOutput {
    pub name: &'static str,
    pub datatype: &'static str,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

/// The requested outputs, every one as binary data: the same bytes [`encode`] writes for an
/// output asked for as binary.
pub fn encode_raw(rows: usize, requested: &[RequestedOutput], outcome: &BatchOutcome) -> Vec<RawOutput> {
    let failed = failed_names(requested, rows, outcome);
    requested
        .iter()
        .map(|wanted| {
            let (name, datatype, shape, data) = output(outcome, wanted.what, rows, &failed);
            let mut bytes = Vec::new();
            write_binary(&data, &mut bytes);
            RawOutput { name, datatype, shape, bytes }
        })
        .collect()
}

/// The values of the `failed_checks` output when it is asked for: per row, the names of the
/// checks it failed, comma-separated.
fn failed_names(requested: &[RequestedOutput], rows: usize, outcome: &BatchOutcome) -> Vec<String> {
    let asked = requested.iter().any(|wanted| wanted.what == Answer::FailedChecks);
    if asked { outcome.failed_checks.names_per_row(rows) } else { Vec::new() }
}

/// An output's name, datatype, shape and values.
fn output<'a>(
    outcome: &'a BatchOutcome,
    what: Answer,
    rows: usize,
    failed: &'a [String],
) -> (&'static str, &'static str, Vec<usize>, Data<'a>) {
    let (name, datatype, width, data) = match what {
        Answer::Column(index) => {
            let declared = &outcome.spec.outputs[index];
            let column = &outcome.columns[index];
            let data = match column {
                OutputColumn::F32 { values, .. } => Data::F32(values),
                OutputColumn::Bool { values, .. } => Data::Bool(values),
            };
            (declared.name, output_datatype(declared), column.width(), data)
        }
        Answer::FailedChecks => (FAILED_CHECKS, "BYTES", 1, Data::Bytes(failed)),
    };
    let shape = if width == 1 { vec![rows] } else { vec![rows, width] };
    (name, datatype, shape, data)
}

/// Values as binary tensor data: little-endian f32, one byte per bool, each string behind its
/// length as a little-endian u32.
fn write_binary(data: &Data, bytes: &mut Vec<u8>) {
    match data {
        Data::F32(values) => {
            bytes.reserve(values.len() * 4);
            values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
        }
        Data::Bool(values) => bytes.extend(values.iter().map(|&b| b as u8)),
        Data::Bytes(values) => values.iter().for_each(|v| {
            bytes.extend((v.len() as u32).to_le_bytes());
            bytes.extend(v.as_bytes());
        }),
    }
}
