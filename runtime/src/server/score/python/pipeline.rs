//! The `Pipeline` class of a pipeline's extension module: the native engine `<server> score`
//! opens, loaded once per process, and `score`, which converts, scores and lays out the rows
//! as a scoring run does, with the GIL released.

use super::capsules::{ExportedBatch, ExportedStream, import_batch, import_stream};
use crate::RowPipeline;
use crate::server::config::ServerConfig;
use crate::server::scheduling::engines::{NATIVE_STACK_BYTES, NativeEngine, Scorer};
use crate::server::score::columns::InputColumns;
use crate::server::score::error::ScoreError;
use crate::server::score::outputs::{self, OutputLayout};
use crate::server::score::run::score_record;
use crate::spec::{InputKind, OutputKind, OutputRole, PipelineSpec};
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use clap::Parser;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::Path;

/// Named in conversion errors where `pipec score` names the input file.
const PLACE: &str = "the data";

/// A compiled pipeline, loaded once: `score(data)` scores Arrow data on its native path.
#[pyclass(frozen, module = "pipec", name = "Pipeline")]
pub struct Pipeline {
    spec: &'static PipelineSpec,
    scorer: Box<dyn Scorer + Send + Sync>,
}

impl Pipeline {
    /// Loads pipeline `R`'s native engine, as each `<server> score` worker does.
    pub fn open<R: RowPipeline + Send + Sync + 'static>() -> PyResult<Pipeline> {
        let config = ServerConfig::try_parse_from(["score", "--device", "cpu"])
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let engine = NativeEngine::<R>::open(&config)
            .map_err(|e| PyRuntimeError::new_err(format!("loading the pipeline: {e}")))?;
        Ok(Pipeline { spec: R::spec(), scorer: Box::new(engine) })
    }

    /// The columns and layout for input of `schema`; fails as `pipec score` does on a missing
    /// column, a column of the wrong type or an output name taken by an input column.
    fn plan(&self, schema: &Schema) -> Result<(InputColumns, OutputLayout), ScoreError> {
        let inputs = InputColumns::new(self.spec, schema, Path::new(PLACE))?;
        // What a scoring run writes into the output's schema, less the input file's name.
        let metadata = outputs::metadata(self.spec, "champion").into_iter().collect();
        let layout = OutputLayout::new(self.spec, schema, &[], metadata)?;
        Ok((inputs, layout))
    }

    /// Converts and scores `record`, whose first row is row `first_row` of the data.
    fn score_batch(
        &self,
        inputs: &InputColumns,
        layout: &OutputLayout,
        record: &RecordBatch,
        first_row: u64,
    ) -> Result<RecordBatch, ScoreError> {
        score_record(inputs, layout, self.scorer.as_ref(), record, first_row).map(|(out, _)| out)
    }
}

#[pymethods]
impl Pipeline {
    /// score(data) -> pyarrow.RecordBatch | pyarrow.Table
    ///
    /// Scores Arrow data: a record batch (any object with `__arrow_c_array__`) gives a
    /// pyarrow RecordBatch; a table or stream (`__arrow_c_stream__`: a pyarrow Table, a Polars
    /// DataFrame) a pyarrow Table. The output holds every input column, then one column per
    /// output and per check, as `pipec score` writes them, with the same values bit for bit.
    /// The GIL is released while scoring. Raises ValueError for a missing column, a column of
    /// the wrong type or a missing value in an input that is not nullable.
    #[pyo3(signature = (data, /))]
    fn score<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let pyarrow = py.import("pyarrow").map_err(|e| {
            PyRuntimeError::new_err(format!("score() returns pyarrow data; install pyarrow (pip install pyarrow): {e}"))
        })?;
        if data.hasattr("__arrow_c_array__")? {
            let record = import_batch(data)?;
            let scored = py.detach(|| {
                on_big_stack(|| {
                    let (inputs, layout) = self.plan(&record.schema())?;
                    self.score_batch(&inputs, &layout, &record, 0)
                })
            });
            let exported = Bound::new(py, ExportedBatch::new(scored.map_err(to_python)?))?;
            pyarrow.call_method1("record_batch", (exported,))
        } else if data.hasattr("__arrow_c_stream__")? {
            let reader = import_stream(data)?;
            let scored = py.detach(|| {
                on_big_stack(move || {
                    let schema = arrow_array::RecordBatchReader::schema(&reader);
                    let (inputs, layout) = self.plan(&schema)?;
                    let mut batches = Vec::new();
                    let mut first_row = 0u64;
                    for record in reader {
                        let record = record.map_err(|e| ScoreError::Malformed {
                            path: Path::new(PLACE).to_path_buf(),
                            format: "Arrow stream",
                            reason: e.to_string(),
                        })?;
                        batches.push(self.score_batch(&inputs, &layout, &record, first_row)?);
                        first_row += record.num_rows() as u64;
                    }
                    Ok((layout.schema(), batches))
                })
            });
            let (schema, batches) = scored.map_err(to_python)?;
            let exported = Bound::new(py, ExportedStream::new(schema, batches))?;
            pyarrow.call_method1("table", (exported,))
        } else {
            Err(PyTypeError::new_err(format!(
                "score() takes Arrow data: an object with __arrow_c_array__ (a pyarrow RecordBatch) or __arrow_c_stream__ \
                 (a pyarrow Table, a Polars DataFrame), not {}",
                data.get_type().name()?
            )))
        }
    }

    /// The pipeline's name.
    #[getter]
    fn name(&self) -> &'static str {
        self.spec.name
    }

    /// The pipeline's version, from its `.pipe` file.
    #[getter]
    fn version(&self) -> &'static str {
        self.spec.version
    }

    /// The build identity (SHA-256 over pipec's version, the source and its artifacts), as
    /// `pipec score` writes it into `pipec.identity`.
    #[getter]
    fn identity(&self) -> &'static str {
        self.spec.identity
    }

    /// The inputs: one dict per input (`name`, `type`, `width`, `nullable`), in order.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.spec
            .inputs
            .iter()
            .map(|input| {
                let kind = match input.kind {
                    InputKind::F32 => "f32",
                    InputKind::F64 => "f64",
                    InputKind::I64 => "i64",
                    InputKind::Bool => "bool",
                    InputKind::Str => "str",
                };
                let dict = PyDict::new(py);
                dict.set_item("name", input.name)?;
                dict.set_item("type", kind)?;
                dict.set_item("width", input.width)?;
                dict.set_item("nullable", input.nullable)?;
                Ok(dict)
            })
            .collect()
    }

    /// The columns `score` adds: one dict per output and check (`name`, `type`, `width`,
    /// `role`), in order.
    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.spec
            .outputs
            .iter()
            .filter(|o| matches!(o.role, OutputRole::Output | OutputRole::Check))
            .map(|output| {
                let dict = PyDict::new(py);
                dict.set_item("name", output.name)?;
                dict.set_item("type", if output.kind == OutputKind::F32 { "f32" } else { "bool" })?;
                dict.set_item("width", output.width)?;
                dict.set_item("role", if output.role == OutputRole::Check { "check" } else { "output" })?;
                Ok(dict)
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<pipec pipeline `{}` version {} ({})>", self.spec.name, self.spec.version, self.spec.identity)
    }
}

/// Runs `work` on a thread with the native path's stack ([`NATIVE_STACK_BYTES`]).
fn on_big_stack<T: Send>(work: impl FnOnce() -> Result<T, ScoreError> + Send) -> Result<T, ScoreError> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new().stack_size(NATIVE_STACK_BYTES).spawn_scoped(scope, work);
        match spawned {
            Ok(handle) => {
                handle.join().unwrap_or_else(|_| Err(ScoreError::Setup("the scoring thread panicked".into())))
            }
            Err(e) => Err(ScoreError::Setup(format!("cannot start the scoring thread: {e}"))),
        }
    })
}

/// `pipec score`'s message as a Python exception: ValueError for anything about the data,
/// RuntimeError when the pipeline itself failed.
fn to_python(error: ScoreError) -> PyErr {
    match error {
        ScoreError::Pipeline { .. } | ScoreError::Setup(_) => PyRuntimeError::new_err(error.to_string()),
        _ => PyValueError::new_err(error.to_string()),
    }
}
