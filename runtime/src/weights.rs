//! The weight blob a generated crate embeds: little-endian f32 values at offsets that the
//! generated code names.

use crate::error::RuntimeError;
#[cfg(feature = "gpu")]
use burn::tensor::{Device, Tensor, TensorData};

pub struct Weights<'a> {
    bytes: &'a [u8],
}

impl<'a> Weights<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Weights { bytes }
    }

    fn values(&self, offset: usize, count: usize) -> Result<Vec<f32>, RuntimeError> {
        let start = offset * 4;
        let end = start + count * 4;
        let bytes =
            self.bytes.get(start..end).ok_or(RuntimeError::WeightsTooShort { len: self.bytes.len(), needed: end })?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// `N` values from f32 index `offset`, as a boxed array (the native path's constants).
    pub fn array<const N: usize>(&self, offset: usize) -> Result<Box<[f32; N]>, RuntimeError> {
        let values = self.values(offset, N)?.into_boxed_slice();
        values.try_into().map_err(|_| RuntimeError::WeightsTooShort { len: self.bytes.len(), needed: (offset + N) * 4 })
    }

    /// A row-major `R x C` matrix from f32 index `offset`, as boxed rows.
    pub fn matrix<const R: usize, const C: usize>(&self, offset: usize) -> Result<Box<[[f32; C]; R]>, RuntimeError> {
        let values = self.values(offset, R * C)?;
        let rows: Vec<[f32; C]> = values
            .chunks_exact(C.max(1))
            .map(|row| std::array::from_fn(|i| row.get(i).copied().unwrap_or(0.0)))
            .collect();
        let needed = (offset + R * C) * 4;
        rows.into_boxed_slice().try_into().map_err(|_| RuntimeError::WeightsTooShort { len: self.bytes.len(), needed })
    }

    /// A tree ensemble's node tables, `count` values from f32 index `offset` (the layout of
    /// `pipec_forest::Forest::encode`), as the type the caller asks for: the tables
    /// (`pipec_forest::Forest`, what `TensorForest::new` reads) or the tables with their compact
    /// walk built once here (`pipec_runtime::Forest`, i.e. `pipec_forest::CompiledForest`, what
    /// the native path holds).
    pub fn forest<F: From<pipec_forest::Forest>>(&self, offset: usize, count: usize) -> Result<F, RuntimeError> {
        let values = self.values(offset, count)?;
        let forest = pipec_forest::Forest::decode(&values).map_err(|e| RuntimeError::Forest(e.to_string()))?;
        forest.validate().map_err(RuntimeError::Forest)?;
        Ok(F::from(forest))
    }

    /// A `[rows, cols]` tensor from `rows * cols` values starting at f32 index `offset`.
    #[cfg(feature = "gpu")]
    pub fn tensor(&self, offset: usize, rows: usize, cols: usize, device: &Device) -> Result<Tensor<2>, RuntimeError> {
        let values = self.values(offset, rows * cols)?;
        Ok(Tensor::from_data(TensorData::new(values, [rows, cols]), device))
    }
}
