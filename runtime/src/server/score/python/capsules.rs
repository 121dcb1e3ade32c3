//! Arrow data across the Arrow PyCapsule interface, without copying: `__arrow_c_array__`
//! capsules (a schema and an array of struct type) to a [`RecordBatch`], an
//! `__arrow_c_stream__` capsule to a reader of record batches, and back: [`ExportedBatch`] and
//! [`ExportedStream`] expose the answers under the same protocol, for `pyarrow.record_batch`
//! and `pyarrow.table` to take over.

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, RecordBatch, RecordBatchIterator, RecordBatchOptions, StructArray};
use arrow_schema::{DataType, Schema, SchemaRef};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};
use std::ffi::CStr;
use std::sync::Arc;

const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";
const STREAM: &CStr = c"arrow_array_stream";

fn arrow_error(e: arrow_schema::ArrowError) -> PyErr {
    PyValueError::new_err(format!("the Arrow data cannot be read: {e}"))
}

/// The record batch behind `obj.__arrow_c_array__()`, which must be of struct type (a
/// record batch, not a single column).
pub fn import_batch(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    let pair = obj.call_method0("__arrow_c_array__")?;
    let pair = pair.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("__arrow_c_array__ did not return a tuple"))?;
    let schema_capsule = pair.get_item(0)?;
    let schema_capsule = schema_capsule.cast::<PyCapsule>()?;
    let array_capsule = pair.get_item(1)?;
    let array_capsule = array_capsule.cast::<PyCapsule>()?;
    let schema = schema_capsule.pointer_checked(Some(SCHEMA))?.cast::<FFI_ArrowSchema>();
    let array = array_capsule.pointer_checked(Some(ARRAY))?.cast::<FFI_ArrowArray>();
    // SAFETY: the capsules are named as the interface prescribes, so they hold an
    // `ArrowSchema` and an `ArrowArray`; the array is moved out (its capsule is left with a
    // released one, as the interface asks of a consumer), the schema only borrowed while the
    // capsule is alive.
    let (schema, array) = unsafe { (schema.as_ref(), FFI_ArrowArray::from_raw(array.as_ptr())) };
    // SAFETY: the schema describes the array (both come from one `__arrow_c_array__` call).
    let data = unsafe { arrow_array::ffi::from_ffi(array, schema) }.map_err(arrow_error)?;
    if !matches!(data.data_type(), DataType::Struct(_)) {
        return Err(PyTypeError::new_err(format!(
            "score() takes a record batch or a table; this object's __arrow_c_array__ gives one column of {}",
            data.data_type()
        )));
    }
    let metadata = Schema::try_from(schema).map(|s| s.metadata).unwrap_or_default();
    let rows = data.len();
    let (fields, columns, _) = StructArray::from(data).into_parts();
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    RecordBatch::try_new_with_options(schema, columns, &RecordBatchOptions::new().with_row_count(Some(rows)))
        .map_err(arrow_error)
}

/// The reader of the record batches behind `obj.__arrow_c_stream__()`.
pub fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatchStreamReader> {
    let capsule = obj.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let stream = capsule.pointer_checked(Some(STREAM))?.cast::<FFI_ArrowArrayStream>();
    // SAFETY: a capsule of this name holds an `ArrowArrayStream`; it is moved out, leaving a
    // released stream for the capsule's destructor.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(stream.as_ptr()) };
    RecordBatchStreamReader::try_new(stream).map_err(arrow_error)
}

/// One scored record batch, exported on demand through `__arrow_c_array__` (and as a stream
/// of one batch).
#[pyclass(frozen, module = "pipec", name = "ArrowBatch")]
pub struct ExportedBatch {
    batch: RecordBatch,
}

impl ExportedBatch {
    pub fn new(batch: RecordBatch) -> ExportedBatch {
        ExportedBatch { batch }
    }
}

#[pymethods]
impl ExportedBatch {
    /// The batch as a pair of capsules (schema, array). A requested schema is not applied.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema;
        let schema = FFI_ArrowSchema::try_from(self.batch.schema().as_ref()).map_err(arrow_error)?;
        let array = FFI_ArrowArray::new(&StructArray::from(self.batch.clone()).into_data());
        let schema = PyCapsule::new_with_value(py, schema, SCHEMA)?;
        let array = PyCapsule::new_with_value(py, array, ARRAY)?;
        PyTuple::new(py, [schema, array])
    }

    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        stream_capsule(py, self.batch.schema(), vec![self.batch.clone()])
    }
}

/// Scored record batches with their schema, exported on demand through `__arrow_c_stream__`.
#[pyclass(frozen, module = "pipec", name = "ArrowStream")]
pub struct ExportedStream {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl ExportedStream {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> ExportedStream {
        ExportedStream { schema, batches }
    }
}

#[pymethods]
impl ExportedStream {
    /// The batches as a stream capsule. A requested schema is not applied.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        stream_capsule(py, self.schema.clone(), self.batches.clone())
    }
}

fn stream_capsule(py: Python<'_>, schema: SchemaRef, batches: Vec<RecordBatch>) -> PyResult<Bound<'_, PyCapsule>> {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(Box::new(reader)), STREAM)
}
