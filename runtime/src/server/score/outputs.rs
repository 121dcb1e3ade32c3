//! The output file's columns: the input columns kept (all of them, or the `--key` ones), then
//! one column per output of the pipeline and one per check (true when the row passes), typed
//! as the pipeline computes them: Float32 or Boolean, a fixed-size list of them for vectors.

use super::columns::column_names;
use super::error::ScoreError;
use crate::output::OutputColumn;
use crate::spec::{OutputKind, OutputRole, OutputSpec, PipelineSpec};
use arrow_array::{ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::collections::HashMap;
use std::sync::Arc;

/// The `pipec.*` entries of an output's schema (and Parquet footer) for pipeline `spec` run as
/// `model` (`champion` or `challenger`); `pipec score` adds `pipec.input`.
pub fn metadata(spec: &PipelineSpec, model: &str) -> Vec<(String, String)> {
    vec![
        ("pipec.pipeline".into(), spec.name.into()),
        ("pipec.version".into(), spec.version.into()),
        ("pipec.identity".into(), spec.identity.into()),
        ("pipec.model".into(), model.into()),
        ("pipec.compiler".into(), env!("CARGO_PKG_VERSION").into()),
    ]
}

pub struct OutputLayout {
    /// Input columns copied to the output, by index in the input's schema.
    kept: Vec<usize>,
    /// The pipeline's columns written, by index in `spec.outputs`.
    computed: Vec<usize>,
    schema: SchemaRef,
}

impl OutputLayout {
    /// Keeps every input column, or only those named in `keys`; `metadata` goes into the
    /// schema (and so the file's footer).
    pub fn new(
        spec: &'static PipelineSpec,
        input: &Schema,
        keys: &[String],
        metadata: HashMap<String, String>,
    ) -> Result<OutputLayout, ScoreError> {
        let kept = if keys.is_empty() {
            (0..input.fields().len()).collect()
        } else {
            keys.iter()
                .map(|key| {
                    input
                        .index_of(key)
                        .map_err(|_| ScoreError::UnknownKey { column: key.clone(), columns: column_names(input) })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let computed: Vec<usize> = spec
            .outputs
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o.role, OutputRole::Output | OutputRole::Check))
            .map(|(i, _)| i)
            .collect();
        let mut fields: Vec<Arc<Field>> = kept.iter().map(|&i| input.fields()[i].clone()).collect();
        for &i in &computed {
            let output = &spec.outputs[i];
            if fields.iter().any(|f| f.name() == output.name) {
                return Err(ScoreError::NameClash(output.name.to_string()));
            }
            fields.push(Arc::new(field(output)));
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
        Ok(OutputLayout { kept, computed, schema })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The output rows of `input`'s rows, scored as `columns` (every column the pipeline
    /// computes, in the spec's order).
    pub fn record_batch(&self, input: &RecordBatch, mut columns: Vec<OutputColumn>) -> Result<RecordBatch, String> {
        let mut arrays: Vec<ArrayRef> = self.kept.iter().map(|&i| input.column(i).clone()).collect();
        for &i in &self.computed {
            let column = std::mem::replace(&mut columns[i], OutputColumn::Bool { width: 0, values: Vec::new() });
            arrays.push(array(column)?);
        }
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| e.to_string())
    }
}

fn element_type(kind: OutputKind) -> DataType {
    match kind {
        OutputKind::F32 => DataType::Float32,
        OutputKind::Bool => DataType::Boolean,
    }
}

fn field(output: &OutputSpec) -> Field {
    let element = element_type(output.kind);
    if output.width == 1 {
        Field::new(output.name, element, false)
    } else {
        let item = Arc::new(Field::new("item", element, false));
        Field::new(output.name, DataType::FixedSizeList(item, output.width as i32), false)
    }
}

fn array(column: OutputColumn) -> Result<ArrayRef, String> {
    let (width, values): (usize, ArrayRef) = match column {
        OutputColumn::F32 { width, values } => (width, Arc::new(Float32Array::from(values))),
        OutputColumn::Bool { width, values } => (width, Arc::new(BooleanArray::from(values))),
    };
    if width == 1 {
        return Ok(values);
    }
    let item = Arc::new(Field::new("item", values.data_type().clone(), false));
    let list = FixedSizeListArray::try_new(item, width as i32, values, None).map_err(|e| e.to_string())?;
    Ok(Arc::new(list))
}
