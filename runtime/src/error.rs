//! Errors of the runtime.

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuntimeError {
    #[error("the batch has {got} columns; the pipeline has {expected} inputs")]
    ColumnCount { expected: usize, got: usize },
    #[error("input `{name}`: expected {expected}")]
    BadColumn { name: String, expected: String },
    #[error("input `{name}` row {row}: a missing value, but the input is not nullable")]
    Missing { name: String, row: usize },
    #[error("the embedded weights are {len} bytes; the pipeline reads up to byte {needed}")]
    WeightsTooShort { len: usize, needed: usize },
    #[error("reading back `{name}` from the device failed: {reason}")]
    Readback { name: String, reason: String },
    #[error("device `{0}` is not known; expected cpu or wgpu")]
    UnknownDevice(String),
    #[error("the wgpu device could not be opened: {0}")]
    DeviceInit(String),
    #[error("the embedded tree ensemble is invalid: {0}")]
    Forest(String),
    #[error("the fused GPU kernel failed: {0}")]
    Fused(String),
}
