//! Audit records of scored requests: what the worker hands to the audit log
//! (`pipec-audit`), and back from a record to a batch for `replay`.

use super::ScoredBatch;
use crate::batch::{Batch, Column};
use crate::output::OutputColumn;
use crate::server::scheduling::Part;
use crate::spec::PipelineSpec;
use pipec_audit::{AuditRecord, BatchPosition, FailedCheck, NamedValues, Values};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The record of one request; `seq` is assigned by the log.
pub fn record(scored: &ScoredBatch, part: &Part, time_unix_nanos: u64) -> AuditRecord {
    let outcome = scored.outcome;
    let (start, end) = (part.start, part.start + part.rows);
    let inputs = outcome
        .spec
        .inputs
        .iter()
        .zip(scored.batch.columns())
        .map(|(input, column)| {
            let width = input.width;
            let values = match column {
                Column::F32(v) => Values::F32(v[start * width..end * width].to_vec()),
                Column::Bool(v) => Values::Bool(v[start * width..end * width].to_vec()),
                Column::Str(v) => Values::Str(v[start..end].iter().map(|s| s.as_deref().map(str::to_string)).collect()),
            };
            NamedValues { name: input.name.to_string(), width: width as u32, values }
        })
        .collect();
    let outputs = outcome
        .spec
        .outputs
        .iter()
        .zip(&outcome.columns)
        .map(|(output, column)| {
            let values = match column.rows(start, end) {
                OutputColumn::F32 { values, .. } => Values::F32(values),
                OutputColumn::Bool { values, .. } => Values::Bool(values),
            };
            NamedValues { name: output.name.to_string(), width: column.width() as u32, values }
        })
        .collect();
    let failed_checks = outcome
        .failed_checks
        .rows(start, part.rows)
        .iter()
        .map(|(check, rows)| FailedCheck {
            check: check.to_string(),
            rows: rows.iter().map(|&row| row as u32).collect(),
        })
        .collect();
    AuditRecord {
        seq: 0,
        request_id: part.request_id.clone(),
        time_unix_nanos,
        model: outcome.role.as_str().to_string(),
        pipeline: outcome.spec.identity.to_string(),
        answered: scored.shadow_of.is_none(),
        route: outcome.route.label().to_string(),
        batch: BatchPosition { id: scored.batch_id, offset: start as u32, rows: scored.batch.rows() as u32 },
        rows: part.rows as u32,
        inputs,
        outputs,
        failed_checks,
    }
}

/// Logged strings as a batch's shared strings.
fn shared(strings: &[Option<String>]) -> Vec<Option<std::sync::Arc<str>>> {
    strings.iter().map(|s| s.as_deref().map(std::sync::Arc::from)).collect()
}

/// The inputs of logged records as one batch of `spec`'s pipeline, rows in record order.
pub fn batch_of(spec: &PipelineSpec, records: &[&AuditRecord]) -> Result<Batch, String> {
    let mut columns = Vec::with_capacity(spec.inputs.len());
    for input in spec.inputs {
        let mut column: Option<Column> = None;
        for record in records {
            let logged = record
                .inputs
                .iter()
                .find(|v| v.name == input.name)
                .ok_or_else(|| format!("record {} has no input `{}`", record.seq, input.name))?;
            match (&mut column, &logged.values) {
                (None, Values::F32(v)) => column = Some(Column::F32(v.clone())),
                (None, Values::Bool(v)) => column = Some(Column::Bool(v.clone())),
                (None, Values::Str(v)) => column = Some(Column::Str(shared(v))),
                (Some(Column::F32(a)), Values::F32(v)) => a.extend_from_slice(v),
                (Some(Column::Bool(a)), Values::Bool(v)) => a.extend_from_slice(v),
                (Some(Column::Str(a)), Values::Str(v)) => a.extend(shared(v)),
                _ => return Err(format!("record {}: input `{}` changes kind", record.seq, input.name)),
            }
        }
        columns.push(column.unwrap_or(Column::F32(Vec::new())));
    }
    let rows = records.iter().map(|r| r.rows as usize).sum();
    Batch::new(spec, rows, columns).map_err(|e| e.to_string())
}
