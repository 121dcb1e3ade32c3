//! One input column of a batch: what the compiler's interpreter evaluates and what the
//! runtime's `Batch` holds, checked against an [`InputSpec`](crate::InputSpec).

use std::sync::Arc;

/// One input column, in the order of the pipeline's inputs. Numeric inputs of every declared
/// kind (f32, f64, i64) arrive as f32. Strings are shared (`Arc<str>`), so that a column of a
/// few categories repeated over many rows holds each once (`pipec score` reads them so) and
/// cloning a row costs no allocation.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// `rows * width` values, row-major; NaN marks a missing value.
    F32(Vec<f32>),
    /// `rows * width` values, row-major.
    Bool(Vec<bool>),
    /// One string per row; `None` is missing.
    Str(Vec<Option<Arc<str>>>),
}
