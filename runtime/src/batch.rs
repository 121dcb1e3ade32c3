//! A batch of input rows, stored by column, and its conversion into tensors. The column type
//! is the interpreter's too (`pipec-interface`); the tensors built from it stay here.

use crate::error::RuntimeError;
use crate::spec::{InputKind, PipelineSpec};
#[cfg(feature = "gpu")]
use burn::tensor::{Bool, Device, Tensor, TensorData};
use std::sync::Arc;

/// One input column, shared with the compiler's interpreter (`pipec-interface`).
pub use pipec_interface::Column;

/// Rows to score, one [`Column`] per declared input, checked against the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    rows: usize,
    columns: Vec<Column>,
}

impl Batch {
    /// Checks the columns against `spec`: count, kinds, lengths, and no missing value in an
    /// input that is not nullable.
    pub fn new(spec: &PipelineSpec, rows: usize, columns: Vec<Column>) -> Result<Batch, RuntimeError> {
        if columns.len() != spec.inputs.len() {
            return Err(RuntimeError::ColumnCount { expected: spec.inputs.len(), got: columns.len() });
        }
        for (input, column) in spec.inputs.iter().zip(&columns) {
            let n = rows * input.width;
            let bad = |expected: String| RuntimeError::BadColumn { name: input.name.to_string(), expected };
            match (input.kind, column) {
                (InputKind::Str, Column::Str(v)) => {
                    if v.len() != rows {
                        return Err(bad(format!("{rows} strings, found {}", v.len())));
                    }
                    if let Some(row) = v.iter().position(Option::is_none).filter(|_| !input.nullable) {
                        return Err(RuntimeError::Missing { name: input.name.to_string(), row });
                    }
                }
                (InputKind::Bool, Column::Bool(v)) if v.len() != n => {
                    return Err(bad(format!("{n} booleans, found {}", v.len())));
                }
                (InputKind::Bool, Column::Bool(_)) => {}
                (InputKind::F32 | InputKind::F64 | InputKind::I64, Column::F32(v)) => {
                    if v.len() != n {
                        return Err(bad(format!("{n} numbers, found {}", v.len())));
                    }
                    if let Some(i) = v.iter().position(|x| x.is_nan()).filter(|_| !input.nullable) {
                        return Err(RuntimeError::Missing { name: input.name.to_string(), row: i / input.width });
                    }
                }
                (kind, _) => return Err(bad(format!("a column of {kind:?} values"))),
            }
        }
        Ok(Batch { rows, columns })
    }

    /// Joins batches of the same pipeline, rows in order, as the server does when it merges
    /// concurrent requests. Each part was checked by [`Batch::new`], so the result is valid.
    pub fn concat(parts: Vec<Batch>) -> Batch {
        let mut parts = parts.into_iter();
        let Some(mut joined) = parts.next() else {
            return Batch { rows: 0, columns: Vec::new() };
        };
        for part in parts {
            joined.rows += part.rows;
            for (into, from) in joined.columns.iter_mut().zip(part.columns) {
                match (into, from) {
                    (Column::F32(a), Column::F32(b)) => a.extend(b),
                    (Column::Bool(a), Column::Bool(b)) => a.extend(b),
                    (Column::Str(a), Column::Str(b)) => a.extend(b),
                    _ => unreachable!("batches of one pipeline have the same column kinds"),
                }
            }
        }
        joined
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Numeric input `index`, `rows * width` values row-major.
    pub fn f32_column(&self, index: usize) -> Result<&[f32], RuntimeError> {
        match self.columns.get(index) {
            Some(Column::F32(v)) => Ok(v),
            _ => Err(self.kind_error(index, "numbers")),
        }
    }

    /// Boolean input `index`, `rows * width` values row-major.
    pub fn bool_column(&self, index: usize) -> Result<&[bool], RuntimeError> {
        match self.columns.get(index) {
            Some(Column::Bool(v)) => Ok(v),
            _ => Err(self.kind_error(index, "booleans")),
        }
    }

    /// String input `index`, one per row.
    pub fn str_column(&self, index: usize) -> Result<&[Option<Arc<str>>], RuntimeError> {
        match self.columns.get(index) {
            Some(Column::Str(v)) => Ok(v),
            _ => Err(self.kind_error(index, "strings")),
        }
    }

    fn kind_error(&self, index: usize, expected: &str) -> RuntimeError {
        RuntimeError::BadColumn { name: format!("#{index}"), expected: format!("a column of {expected}") }
    }

    /// Numeric input `index` as a `[rows, width]` tensor.
    #[cfg(feature = "gpu")]
    pub fn f32_tensor(&self, index: usize, width: usize, device: &Device) -> Tensor<2> {
        let values = match &self.columns[index] {
            Column::F32(v) => v.clone(),
            _ => vec![0.0; self.rows * width],
        };
        Tensor::from_data(TensorData::new(values, [self.rows, width]), device)
    }

    /// Boolean input `index` as a `[rows, width]` tensor.
    #[cfg(feature = "gpu")]
    pub fn bool_tensor(&self, index: usize, width: usize, device: &Device) -> Tensor<2, Bool> {
        let values = match &self.columns[index] {
            Column::Bool(v) => v.clone(),
            _ => vec![false; self.rows * width],
        };
        Tensor::from_data(TensorData::new(values, [self.rows, width]), device)
    }

    /// String input `index`, one optional string per row.
    pub fn strings(&self, index: usize) -> &[Option<Arc<str>>] {
        match &self.columns[index] {
            Column::Str(v) => v,
            _ => &[],
        }
    }
}
