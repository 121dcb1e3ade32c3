//! An export's record batch back to audit records: consecutive rows with the same `seq` are
//! one record, whose rows must all be there, in order (the exporter never splits a record
//! between row groups).

use crate::error::ExportError;
use crate::shape::{ColumnShape, INPUT_PREFIX, Kind, OUTPUT_PREFIX, field};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};
use pipec_audit::{AuditRecord, BatchPosition, FailedCheck, NamedValues, Values};
use std::path::{Path, PathBuf};

/// Where each field of a record is among an export file's columns, checked once per file.
pub(crate) struct Layout {
    path: PathBuf,
    model: String,
    seq: usize,
    row: usize,
    request_id: usize,
    time: usize,
    pipeline: usize,
    answered: usize,
    route: usize,
    batch_id: usize,
    batch_offset: usize,
    batch_rows: usize,
    rows: usize,
    inputs: Vec<(usize, ColumnShape)>,
    outputs: Vec<(usize, ColumnShape)>,
    failed_checks: usize,
}

impl Layout {
    /// Checks the file's schema; `model` is the role its records were scored by.
    pub fn of(schema: &Schema, model: String, path: &Path) -> Result<Layout, ExportError> {
        let find = |name: &str, ok: &dyn Fn(&DataType) -> bool, expected: &str| -> Result<usize, ExportError> {
            let (index, found) = schema
                .column_with_name(name)
                .ok_or_else(|| ExportError::not_an_export(path, format!("it has no column `{name}`")))?;
            if !ok(found.data_type()) {
                let reason = format!("column `{name}` is {}, expected {expected}", found.data_type());
                return Err(ExportError::not_an_export(path, reason));
            }
            Ok(index)
        };
        let int = |name| find(name, &|t| *t == DataType::Int64, "Int64");
        let text = |name| find(name, &|t| *t == DataType::Utf8, "Utf8");
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for (index, f) in schema.fields().iter().enumerate() {
            let (prefix, list) = if let Some(name) = f.name().strip_prefix(INPUT_PREFIX) {
                (name, &mut inputs)
            } else if let Some(name) = f.name().strip_prefix(OUTPUT_PREFIX) {
                (name, &mut outputs)
            } else {
                continue;
            };
            let shape = ColumnShape::from_field(f, prefix).ok_or_else(|| {
                let reason = format!(
                    "column `{}` is {}, expected Float32, Boolean, Utf8 or a fixed-size list of them",
                    f.name(),
                    f.data_type()
                );
                ExportError::not_an_export(path, reason)
            })?;
            list.push((index, shape));
        }
        use field::*;
        Ok(Layout {
            path: path.to_path_buf(),
            model,
            seq: int(SEQ)?,
            row: int(ROW)?,
            request_id: text(REQUEST_ID)?,
            time: find(TIME, &|t| matches!(t, DataType::Timestamp(TimeUnit::Nanosecond, _)), "Timestamp(ns)")?,
            pipeline: text(PIPELINE)?,
            answered: find(ANSWERED, &|t| *t == DataType::Boolean, "Boolean")?,
            route: text(ROUTE)?,
            batch_id: int(BATCH_ID)?,
            batch_offset: int(BATCH_OFFSET)?,
            batch_rows: int(BATCH_ROWS)?,
            rows: int(ROWS)?,
            inputs,
            outputs,
            failed_checks: find(
                FAILED_CHECKS,
                &|t| matches!(t, DataType::List(item) if *item.data_type() == DataType::Utf8),
                "List<Utf8>",
            )?,
        })
    }

    /// The records of `batch`; `first_row` is the batch's first row in the file, for errors.
    pub fn records(&self, batch: &RecordBatch, first_row: u64) -> Result<Vec<AuditRecord>, ExportError> {
        let bad = |row: usize, reason: String| {
            ExportError::not_an_export(&self.path, format!("row {}: {reason}", first_row + row as u64))
        };
        for index in [self.seq, self.row, self.request_id, self.time, self.pipeline, self.answered, self.route]
            .into_iter()
            .chain([self.batch_id, self.batch_offset, self.batch_rows, self.rows, self.failed_checks])
        {
            if let Some(row) = first_null(batch.column(index)) {
                return Err(bad(row, format!("`{}` is null", batch.schema().field(index).name())));
            }
        }
        let int = |index: usize| batch.column(index).as_primitive::<Int64Type>();
        let (seq, row, rows) = (int(self.seq), int(self.row), int(self.rows));
        let (batch_id, batch_offset, batch_rows) = (int(self.batch_id), int(self.batch_offset), int(self.batch_rows));
        let time = batch.column(self.time).as_primitive::<TimestampNanosecondType>();
        let text = |index: usize| batch.column(index).as_string::<i32>();
        let (request_id, pipeline, route) = (text(self.request_id), text(self.pipeline), text(self.route));
        let answered = batch.column(self.answered).as_boolean();
        let failed = batch.column(self.failed_checks).as_list::<i32>();

        let mut records = Vec::new();
        let mut start = 0;
        while start < batch.num_rows() {
            let count = rows.value(start);
            let count = usize::try_from(count)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad(start, format!("`rows` is {count}")))?;
            let end = start + count;
            if end > batch.num_rows() {
                return Err(bad(
                    start,
                    format!(
                        "record {} has {count} rows, but the row group ends after {}",
                        seq.value(start),
                        batch.num_rows() - start
                    ),
                ));
            }
            for r in start..end {
                if seq.value(r) != seq.value(start) || row.value(r) != (r - start) as i64 {
                    return Err(bad(r, format!("expected row {} of record {}", r - start, seq.value(start))));
                }
            }
            let unsigned =
                |value: i64, name: &str| u64::try_from(value).map_err(|_| bad(start, format!("`{name}` is negative")));
            let narrow = |value: i64, name: &str| {
                u32::try_from(value).map_err(|_| bad(start, format!("`{name}` is out of range")))
            };
            let columns = |columns: &[(usize, ColumnShape)]| -> Vec<NamedValues> {
                columns.iter().map(|(index, shape)| logged(batch.column(*index), shape, start, end)).collect()
            };
            let outputs = columns(&self.outputs);
            records.push(AuditRecord {
                seq: unsigned(seq.value(start), field::SEQ)?,
                request_id: request_id.value(start).to_string(),
                time_unix_nanos: unsigned(time.value(start), field::TIME)?,
                model: self.model.clone(),
                pipeline: pipeline.value(start).to_string(),
                answered: answered.value(start),
                route: route.value(start).to_string(),
                batch: BatchPosition {
                    id: unsigned(batch_id.value(start), field::BATCH_ID)?,
                    offset: narrow(batch_offset.value(start), field::BATCH_OFFSET)?,
                    rows: narrow(batch_rows.value(start), field::BATCH_ROWS)?,
                },
                rows: count as u32,
                inputs: columns(&self.inputs),
                failed_checks: failed_checks(failed, start, end, &outputs),
                outputs,
            });
            start = end;
        }
        Ok(records)
    }
}

fn first_null(array: &ArrayRef) -> Option<usize> {
    if array.null_count() == 0 {
        return None;
    }
    (0..array.len()).find(|&i| array.is_null(i))
}

/// Rows `start..end` of one logged column.
fn logged(array: &ArrayRef, shape: &ColumnShape, start: usize, end: usize) -> NamedValues {
    let width = shape.width as usize;
    let (elements, from, to) = if width == 1 {
        (array.clone(), start, end)
    } else {
        let list = array.as_fixed_size_list();
        let from = list.value_offset_at(start);
        (list.values().clone(), from, from + (end - start) * width)
    };
    let values = match shape.kind {
        Kind::F32 => Values::F32(elements.as_primitive::<Float32Type>().values()[from..to].to_vec()),
        Kind::Bool => {
            let bools = elements.as_boolean();
            Values::Bool((from..to).map(|i| bools.value(i)).collect())
        }
        Kind::Str => {
            let strings = elements.as_string::<i32>();
            Values::Str((from..to).map(|i| strings.is_valid(i).then(|| strings.value(i).to_string())).collect())
        }
    };
    NamedValues { name: shape.name.clone(), width: shape.width, values }
}

/// The record's failed checks, in the order its outputs list them (the server's order of
/// checks), each with its rows ascending.
fn failed_checks(
    failed: &arrow_array::ListArray,
    start: usize,
    end: usize,
    outputs: &[NamedValues],
) -> Vec<FailedCheck> {
    let mut checks: Vec<FailedCheck> = Vec::new();
    for r in start..end {
        let names = failed.value(r);
        let names = names.as_string::<i32>();
        for name in names.iter().flatten() {
            let row = (r - start) as u32;
            match checks.iter_mut().find(|c| c.check == name) {
                Some(check) => check.rows.push(row),
                None => checks.push(FailedCheck { check: name.to_string(), rows: vec![row] }),
            }
        }
    }
    let position = |name: &str| outputs.iter().position(|o| o.name == name).unwrap_or(usize::MAX);
    checks.sort_by_key(|c| position(&c.check));
    checks
}
