//! The weight blob: constants appended as little-endian f32, addressed by f32 offset. The
//! burn path and the native path push the same constants; identical runs are stored once.

use std::collections::HashMap;

#[derive(Default)]
pub struct Blob {
    values: Vec<f32>,
    /// Offsets of runs already stored, by their bit patterns.
    stored: HashMap<Vec<u32>, usize>,
}

impl Blob {
    /// Appends `values` (or finds an identical run already stored), returning the f32 offset
    /// of the first.
    pub fn push(&mut self, values: &[f32]) -> usize {
        let key: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        if let Some(&offset) = self.stored.get(&key) {
            return offset;
        }
        let offset = self.values.len();
        self.values.extend_from_slice(values);
        self.stored.insert(key, offset);
        offset
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}
