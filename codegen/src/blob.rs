//! The weight blob: constants appended as little-endian f32, addressed by f32 offset.

#[derive(Default)]
pub struct Blob {
    values: Vec<f32>,
}

impl Blob {
    /// Appends `values`, returning the f32 offset of the first.
    pub fn push(&mut self, values: &[f32]) -> usize {
        let offset = self.values.len();
        self.values.extend_from_slice(values);
        offset
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}
