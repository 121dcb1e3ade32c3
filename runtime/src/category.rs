//! Categorical inputs: strings to category indices on the host, then one-hot or index tensors.

#[cfg(feature = "gpu")]
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::collections::HashMap;

/// How strings map to category indices; an unknown or missing string maps to
/// `categories()`, which one-hot encodes as all zeros.
#[derive(Clone, Debug)]
pub enum CategoryTable {
    Vocab(HashMap<&'static str, u32>, u32),
    Hash(u32),
    /// Every present string is category 0; a missing one is unknown (1).
    Presence,
}

impl CategoryTable {
    pub fn vocab(words: &[&'static str]) -> Self {
        let map = words.iter().enumerate().map(|(i, w)| (*w, i as u32)).collect();
        CategoryTable::Vocab(map, words.len() as u32)
    }

    pub fn hash(buckets: u32) -> Self {
        CategoryTable::Hash(buckets)
    }

    pub fn presence() -> Self {
        CategoryTable::Presence
    }

    pub fn categories(&self) -> u32 {
        match self {
            CategoryTable::Vocab(_, n) | CategoryTable::Hash(n) => *n,
            CategoryTable::Presence => 1,
        }
    }

    pub fn index(&self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return self.categories() };
        match self {
            CategoryTable::Vocab(map, n) => map.get(value).copied().unwrap_or(*n),
            CategoryTable::Hash(n) => (fnv1a64(value.as_bytes()) % u64::from(*n)) as u32,
            CategoryTable::Presence => 0,
        }
    }

    /// The index of every row; a missing string is replaced by `missing` first, if given.
    pub fn indices(&self, strings: &[Option<std::sync::Arc<str>>], missing: Option<&str>) -> Vec<u32> {
        strings.iter().map(|s| self.index(s.as_deref().or(missing))).collect()
    }

    /// Indices as a one-hot `[rows, categories]` tensor (unknown: an all-zero row).
    #[cfg(feature = "gpu")]
    pub fn one_hot(&self, indices: &[u32], device: &Device) -> Tensor<2> {
        let width = self.categories() as usize;
        let mut values = vec![0.0f32; indices.len() * width];
        for (row, index) in indices.iter().enumerate() {
            if (*index as usize) < width {
                values[row * width + *index as usize] = 1.0;
            }
        }
        Tensor::from_data(TensorData::new(values, [indices.len(), width]), device)
    }

    /// Indices as a `[rows]` integer tensor, for gathering rows of a table with one extra
    /// all-zero row at `categories()` for unknown values.
    #[cfg(feature = "gpu")]
    pub fn index_tensor(&self, indices: &[u32], device: &Device) -> Tensor<1, Int> {
        let values: Vec<i64> = indices.iter().map(|i| i64::from(*i)).collect();
        Tensor::from_data(TensorData::new(values, [indices.len()]), device)
    }
}

/// FNV-1a, 64 bits, of `bytes` (the compiler's interpreter uses the same function).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(bytes);
    hasher.finish()
}
