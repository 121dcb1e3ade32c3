//! What the fuzzers drive: the request decoder as the HTTP handler runs it, on a small
//! pipeline interface that has every input kind (a vector, a nullable integer, a bool and a
//! nullable string), with the invariants a fuzzer checks after every input.
//!
//! Used by the cargo-fuzz target `decode_request` (`fuzz/`) and by the bounded mutation fuzz
//! test of the decoder (`server/protocol/decode_fuzz.rs`). Not part of the runtime's API.

use crate::batch::Column;
use crate::server::protocol::decode::decode;
use crate::server::protocol::oip::InferRequest;
use crate::spec::{InputKind, InputSpec, OutputKind, OutputRole, OutputSpec, PipelineSpec};

/// The interface every fuzzed request is decoded against.
pub static SPEC: PipelineSpec = PipelineSpec {
    name: "t",
    version: "1",
    identity: "0",
    monitor: None,
    inputs: &[
        InputSpec { name: "x", kind: InputKind::F32, width: 3, is_vector: true, nullable: false },
        InputSpec { name: "n", kind: InputKind::I64, width: 1, is_vector: false, nullable: true },
        InputSpec { name: "b", kind: InputKind::Bool, width: 1, is_vector: false, nullable: false },
        InputSpec { name: "s", kind: InputKind::Str, width: 1, is_vector: false, nullable: true },
    ],
    outputs: &[
        OutputSpec { name: "a", kind: OutputKind::F32, width: 1, role: OutputRole::Output },
        OutputSpec { name: "ok", kind: OutputKind::Bool, width: 1, role: OutputRole::Check },
    ],
};

/// Decodes one request (JSON head, binary section) as the HTTP handler does, and panics only
/// on a finding: a decoded batch must have rows, and exactly rows x width values per input;
/// a refusal must be a 400.
pub fn decode_request(head: &[u8], binary: &[u8]) {
    let Ok(request) = InferRequest::from_json(head) else { return };
    match decode(&SPEC, &request, binary) {
        Ok(decoded) => {
            let rows = decoded.batch.rows();
            assert!(rows > 0, "a batch without rows");
            for (column, spec) in decoded.batch.columns().iter().zip(SPEC.inputs) {
                let len = match column {
                    Column::F32(v) => v.len(),
                    Column::Bool(v) => v.len(),
                    Column::Str(v) => v.len(),
                };
                assert_eq!(len, rows * spec.width, "input `{}` holds {len} values for {rows} rows", spec.name);
            }
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "{}", e.message),
    }
}

/// One fuzzer input as a whole request body: the first two bytes (little-endian) give the
/// length of the JSON head, as `Inference-Header-Content-Length` does, the rest follows;
/// a length of 0 or past the end takes everything as JSON, as a body without the header does.
/// `fuzz/seeds/make_decode_seeds.py` writes the seeds in this layout.
pub fn decode_body(data: &[u8]) {
    let (head, binary) = match data {
        [lo, hi, rest @ ..] => {
            let length = usize::from(u16::from_le_bytes([*lo, *hi]));
            if length == 0 || length > rest.len() { (rest, &[][..]) } else { rest.split_at(length) }
        }
        _ => (data, &[][..]),
    };
    decode_request(head, binary);
}
