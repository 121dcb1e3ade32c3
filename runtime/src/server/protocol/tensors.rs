//! How a pipeline's inputs and outputs appear in the protocol: datatypes and shapes.

use crate::spec::{InputKind, InputSpec, OutputKind, OutputSpec};

/// The datatype the model metadata announces for an input.
pub fn input_datatype(input: &InputSpec) -> &'static str {
    match input.kind {
        InputKind::F32 => "FP32",
        InputKind::F64 => "FP64",
        InputKind::I64 => "INT64",
        InputKind::Bool => "BOOL",
        InputKind::Str => "BYTES",
    }
}

pub fn output_datatype(output: &OutputSpec) -> &'static str {
    match output.kind {
        OutputKind::F32 => "FP32",
        OutputKind::Bool => "BOOL",
    }
}

/// `[-1]` for a scalar per row, `[-1, width]` for a vector; -1 is the number of rows.
pub fn input_shape(input: &InputSpec) -> Vec<i64> {
    if input.is_vector { vec![-1, input.width as i64] } else { vec![-1] }
}

pub fn output_shape(output: &OutputSpec) -> Vec<i64> {
    if output.width == 1 { vec![-1] } else { vec![-1, output.width as i64] }
}

/// A numeric datatype the server accepts for a numeric input, and its size in binary data.
pub fn numeric_size(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "FP32" | "INT32" | "UINT32" => 4,
        "FP64" | "INT64" | "UINT64" => 8,
        "INT16" | "UINT16" => 2,
        "INT8" | "UINT8" => 1,
        _ => return None,
    })
}

pub fn is_integer(datatype: &str) -> bool {
    datatype.starts_with("INT") || datatype.starts_with("UINT")
}
