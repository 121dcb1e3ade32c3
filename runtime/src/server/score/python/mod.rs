//! The pipeline as a Python extension module (the runtime's feature `python`; `pipec build
//! --python` writes the wheel's crate, whose `#[pymodule]` calls [`add_pipeline`]).
//!
//! `score(data)` takes any Arrow data through the Arrow PyCapsule interface: an object with
//! `__arrow_c_array__` (a pyarrow `RecordBatch`, ...) gives a pyarrow `RecordBatch`, one with
//! only `__arrow_c_stream__` (a pyarrow `Table`, a Polars `DataFrame`, ...) a pyarrow `Table`.
//! The rows go through batch scoring's own conversions (`columns.rs`), the same native engine
//! as `<server> score` and its output layout (`outputs.rs`: every input column, then one
//! column per output and check), so that the answers are `pipec score`'s bit for bit. The GIL
//! is released while converting and scoring. `capsules.rs` moves data across the interface,
//! `pipeline.rs` is the `Pipeline` class.

mod capsules;
mod pipeline;

use crate::RowPipeline;
use pyo3::prelude::*;
use pyo3::types::PyModule;

pub use pipeline::Pipeline;

/// Fills the extension module of pipeline `R`: `pipeline` (a [`Pipeline`], loaded once),
/// `score` (its method), `name`, `version`, `identity`, `inputs`, `outputs` and
/// `__version__`.
pub fn add_pipeline<R: RowPipeline + Send + Sync + 'static>(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let pipeline = Bound::new(py, Pipeline::open::<R>()?)?;
    module.add("score", pipeline.getattr("score")?)?;
    for attribute in ["name", "version", "identity", "inputs", "outputs"] {
        module.add(attribute, pipeline.getattr(attribute)?)?;
    }
    module.add("__version__", R::spec().version)?;
    module.add_class::<Pipeline>()?;
    module.add("pipeline", pipeline)?;
    Ok(())
}
