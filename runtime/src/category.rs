//! Categorical inputs: strings to category indices on the host, then one-hot or index tensors.
//! The lookup rule and its hash are the interpreter's too (`pipec-interface`); the tensors
//! built from the indices stay here.

#[cfg(feature = "gpu")]
use burn::tensor::{Device, Int, Tensor, TensorData};
use pipec_interface::{CategoryLookup, WordIndex};
use std::sync::Arc;

/// FNV-1a, 64 bits: the hash of hashed categories and of the challenger's routing
/// (`pipec-interface`).
pub use pipec_interface::fnv1a64;

/// How strings map to category indices, as generated code builds it once per categorical
/// value; an unknown or missing string maps to `categories()`, which one-hot encodes as all
/// zeros.
#[derive(Clone, Debug)]
pub struct CategoryTable {
    lookup: CategoryLookup<WordIndex<'static>>,
}

impl CategoryTable {
    /// Position in `words` (hashed once, here); an unknown string is `words.len()`.
    pub fn vocab(words: &[&'static str]) -> Self {
        CategoryTable { lookup: CategoryLookup::Vocab(WordIndex::new(words)) }
    }

    /// FNV-1a 64 of the string's bytes, modulo `buckets`.
    pub fn hash(buckets: u32) -> Self {
        CategoryTable { lookup: CategoryLookup::Hash { buckets } }
    }

    /// Every present string is category 0; a missing one is unknown (1).
    pub fn presence() -> Self {
        CategoryTable { lookup: CategoryLookup::Presence }
    }

    pub fn categories(&self) -> u32 {
        self.lookup.categories()
    }

    pub fn index(&self, value: Option<&str>) -> u32 {
        self.lookup.index(value)
    }

    /// The index of every row; a missing string is replaced by `missing` first, if given.
    pub fn indices(&self, strings: &[Option<Arc<str>>], missing: Option<&str>) -> Vec<u32> {
        self.lookup.indices(strings, missing)
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
