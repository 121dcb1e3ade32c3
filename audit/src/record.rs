//! What one audit record holds: one model's scoring of one inference request.
//!
//! These types are the payload of a frame (see the crate doc for the file layout); they are
//! encoded with postcard, so every `f32` keeps its exact bits (NaN payloads, `-0.0`). Changing
//! a field here changes the on-disk format: bump [`crate::FORMAT_VERSION`].

use serde::{Deserialize, Serialize};

/// One model's scoring of one inference request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Assigned by the writer: 1, 2, 3 ... across segments and restarts (it continues from the
    /// last good record). Whatever the caller puts here is overwritten.
    pub seq: u64,
    pub request_id: String,
    /// When the request was scored, nanoseconds since the Unix epoch.
    pub time_unix_nanos: u64,
    /// `"champion"` or `"challenger"`.
    pub model: String,
    /// The build's identity hash (hex).
    pub pipeline: String,
    /// True if this model's outputs were the answer sent to the client (false for a shadow
    /// challenger).
    pub answered: bool,
    /// What ran it: `"native"`, `"cpu"`, `"wgpu"`.
    pub route: String,
    /// Where the request sat in the merged batch it ran in.
    pub batch: BatchPosition,
    pub rows: u32,
    pub inputs: Vec<NamedValues>,
    /// Every computed column (outputs, checks, watched features).
    pub outputs: Vec<NamedValues>,
    /// Empty when every row passed.
    pub failed_checks: Vec<FailedCheck>,
}

/// Where a request sat in the merged batch it ran in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPosition {
    /// Unique per batch within one server process run (the server pairs it with its start).
    pub id: u64,
    /// The request's first row within the batch.
    pub offset: u32,
    /// Rows in the whole batch.
    pub rows: u32,
}

/// One named column: `rows * width` values, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedValues {
    pub name: String,
    pub width: u32,
    pub values: Values,
}

/// A column's values, row-major (`rows * width`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Values {
    /// NaN means missing. Stored bit for bit.
    F32(Vec<f32>),
    Bool(Vec<bool>),
    /// `None` means missing.
    Str(Vec<Option<String>>),
}

/// A check that failed, with the rows (within the request) that failed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedCheck {
    pub check: String,
    pub rows: Vec<u32>,
}

impl Values {
    /// Number of values (`rows * width`).
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
