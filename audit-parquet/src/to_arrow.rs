//! Records to one Arrow record batch of the export's schema: one row per scored row.

use crate::error::ExportError;
use crate::shape::{ColumnShape, Kind, Shape};
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{Field, SchemaRef};
use pipec_audit::{AuditRecord, NamedValues, Values};
use std::sync::Arc;

/// The rows of `records`, which all have `shape`, as a batch of `schema` (made from `shape`).
pub(crate) fn record_batch(
    shape: &Shape,
    schema: &SchemaRef,
    records: &[AuditRecord],
) -> Result<RecordBatch, ExportError> {
    let rows: usize = records.iter().map(|r| r.rows as usize).sum();
    let per_row = |value: &dyn Fn(&AuditRecord, u32) -> i64| -> ArrayRef {
        let mut values = Vec::with_capacity(rows);
        for record in records {
            values.extend((0..record.rows).map(|row| value(record, row)));
        }
        Arc::new(Int64Array::from(values))
    };
    let text = |value: &dyn Fn(&AuditRecord) -> &str| -> ArrayRef {
        let mut values = Vec::with_capacity(rows);
        for record in records {
            values.extend((0..record.rows).map(|_| value(record)));
        }
        Arc::new(StringArray::from(values))
    };
    let mut times = Vec::with_capacity(rows);
    let mut answered = Vec::with_capacity(rows);
    for record in records {
        check_fits(record)?;
        let time = i64::try_from(record.time_unix_nanos).map_err(|_| out_of_range(record, "its time is after 2262"))?;
        times.extend((0..record.rows).map(|_| time));
        answered.extend((0..record.rows).map(|_| record.answered));
    }
    let mut arrays: Vec<ArrayRef> = vec![
        per_row(&|r, _| r.seq as i64),
        per_row(&|_, row| i64::from(row)),
        text(&|r| &r.request_id),
        Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
        text(&|r| &r.pipeline),
        Arc::new(BooleanArray::from(answered)),
        text(&|r| &r.route),
        per_row(&|r, _| r.batch.id as i64),
        per_row(&|r, _| i64::from(r.batch.offset)),
        per_row(&|r, _| i64::from(r.batch.rows)),
        per_row(&|r, _| i64::from(r.rows)),
    ];
    for (index, column) in shape.inputs.iter().enumerate() {
        arrays.push(logged(column, records.iter().map(|r| &r.inputs[index]))?);
    }
    for (index, column) in shape.outputs.iter().enumerate() {
        arrays.push(logged(column, records.iter().map(|r| &r.outputs[index]))?);
    }
    arrays.push(failed_checks(records));
    RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| ExportError::Record { seq: records.first().map_or(0, |r| r.seq), reason: e.to_string() })
}

fn out_of_range(record: &AuditRecord, reason: &str) -> ExportError {
    ExportError::Record { seq: record.seq, reason: reason.to_string() }
}

/// Seq and batch ids are written as Int64 (what Spark and pandas read without surprise).
fn check_fits(record: &AuditRecord) -> Result<(), ExportError> {
    if i64::try_from(record.seq).is_err() || i64::try_from(record.batch.id).is_err() {
        return Err(out_of_range(record, "its seq or batch id is over 2^63"));
    }
    for column in record.inputs.iter().chain(&record.outputs) {
        let expected = record.rows as usize * column.width as usize;
        if column.values.len() != expected {
            let reason = format!(
                "column `{}` holds {} values, not rows x width = {} x {}",
                column.name,
                column.values.len(),
                record.rows,
                column.width
            );
            return Err(out_of_range(record, &reason));
        }
    }
    Ok(())
}

/// One logged column over every record, values in row order.
fn logged<'a>(shape: &ColumnShape, columns: impl Iterator<Item = &'a NamedValues>) -> Result<ArrayRef, ExportError> {
    let elements: ArrayRef = match shape.kind {
        Kind::F32 => {
            let mut values = Vec::new();
            for column in columns {
                if let Values::F32(v) = &column.values {
                    values.extend_from_slice(v);
                }
            }
            Arc::new(Float32Array::from(values))
        }
        Kind::Bool => {
            let mut values = Vec::new();
            for column in columns {
                if let Values::Bool(v) = &column.values {
                    values.extend_from_slice(v);
                }
            }
            Arc::new(BooleanArray::from(values))
        }
        Kind::Str => {
            let mut values: Vec<Option<&str>> = Vec::new();
            for column in columns {
                if let Values::Str(v) = &column.values {
                    values.extend(v.iter().map(|s| s.as_deref()));
                }
            }
            Arc::new(StringArray::from(values))
        }
    };
    if shape.width == 1 {
        return Ok(elements);
    }
    let item = Arc::new(Field::new("item", elements.data_type().clone(), shape.kind == Kind::Str));
    FixedSizeListArray::try_new(item, shape.width as i32, elements, None)
        .map(|a| Arc::new(a) as ArrayRef)
        .map_err(|e| ExportError::Record { seq: 0, reason: format!("column `{}`: {e}", shape.name) })
}

/// Per row, the names of the checks it failed, in the record's order of checks.
fn failed_checks(records: &[AuditRecord]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        "item",
        arrow_schema::DataType::Utf8,
        false,
    )));
    for record in records {
        let mut per_row: Vec<Vec<&str>> = vec![Vec::new(); record.rows as usize];
        for failed in &record.failed_checks {
            for &row in &failed.rows {
                if let Some(names) = per_row.get_mut(row as usize) {
                    names.push(&failed.check);
                }
            }
        }
        for names in per_row {
            for name in names {
                builder.values().append_value(name);
            }
            builder.append(true);
        }
    }
    Arc::new(builder.finish())
}
