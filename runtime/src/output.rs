//! Reading outputs back from the device.

#[cfg(feature = "gpu")]
use crate::error::RuntimeError;
#[cfg(feature = "gpu")]
use burn::tensor::{Bool, Tensor};

/// One output, `rows * width` values row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputColumn {
    F32 { width: usize, values: Vec<f32> },
    Bool { width: usize, values: Vec<bool> },
}

impl OutputColumn {
    pub fn width(&self) -> usize {
        match self {
            OutputColumn::F32 { width, .. } | OutputColumn::Bool { width, .. } => *width,
        }
    }

    /// Rows `start..end` of this output, as the server splits a merged batch's results.
    pub fn rows(&self, start: usize, end: usize) -> OutputColumn {
        match self {
            OutputColumn::F32 { width, values } => {
                OutputColumn::F32 { width: *width, values: values[start * width..end * width].to_vec() }
            }
            OutputColumn::Bool { width, values } => {
                OutputColumn::Bool { width: *width, values: values[start * width..end * width].to_vec() }
            }
        }
    }
}

#[cfg(feature = "gpu")]
/// Reads a `[rows or 1, width]` tensor back as `rows` rows (a constant row is repeated).
pub fn f32_output(name: &str, tensor: Tensor<2>, rows: usize) -> Result<OutputColumn, RuntimeError> {
    let [n, width] = tensor.dims();
    let tensor = if n == rows { tensor } else { tensor.expand([rows, width]) };
    let values = tensor
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| RuntimeError::Readback { name: name.to_string(), reason: format!("{e:?}") })?;
    Ok(OutputColumn::F32 { width, values })
}

#[cfg(feature = "gpu")]
pub fn bool_output(name: &str, tensor: Tensor<2, Bool>, rows: usize) -> Result<OutputColumn, RuntimeError> {
    let [n, width] = tensor.dims();
    let tensor = if n == rows { tensor } else { tensor.expand([rows, width]) };
    // Backends store booleans differently (wgpu as u32), so read them back as integers.
    let data = tensor.int().into_data();
    let values: Vec<bool> = data.iter::<i64>().map(|v| v != 0).collect();
    if values.len() != rows * width {
        return Err(RuntimeError::Readback { name: name.to_string(), reason: format!("{} values", values.len()) });
    }
    Ok(OutputColumn::Bool { width, values })
}
