//! [`Duties::after_batch`]: everything the duties do with one scored batch, read from its
//! [`BatchOutcome`], and [`Duties::write`], which writes the batch's audit records and answers
//! its requests once they are on disk (durable) or at once.

use super::Duties;
use super::audit_sink;
use crate::batch::Batch;
use crate::server::metrics::{CheckLabels, ModelLabels};
use crate::server::scheduling::{BatchOutcome, Part};
use pipec_audit::AuditRecord;

/// A batch a worker scored, as the duties see it.
pub struct ScoredBatch<'a> {
    /// The merged batch of every request's rows.
    pub batch: &'a Batch,
    pub parts: &'a [Part],
    pub outcome: &'a BatchOutcome,
    /// The batch's id in the audit records ([`Duties::batch_id`]).
    pub batch_id: u64,
    /// `None`: the outcome answered the requests. `Some`: it is the shadow challenger's, not
    /// answered, and compared with this, the champion's.
    pub shadow_of: Option<&'a BatchOutcome>,
}

/// The audit records of a scored batch, still to be written ([`Duties::write`]).
#[must_use = "the records are written, and the requests answered, by Duties::write"]
pub struct PendingAudit(Option<Vec<AuditRecord>>);

/// Runs once a batch's records are written: the answers, after a durable write.
pub type OnWritten = Box<dyn FnOnce(Result<(), String>) + Send>;

impl Duties {
    /// The duties of a scored batch: for an answered batch, the rows answered and the failed
    /// checks counted, drift fed and predictions kept for feedback; for the shadow
    /// challenger's, the comparison with the champion, its payload events and predictions.
    /// Returns its audit records (when the audit log is on), to be written by [`Duties::write`].
    pub fn after_batch(&self, scored: &ScoredBatch) -> PendingAudit {
        let outcome = scored.outcome;
        match scored.shadow_of {
            None => self.observe_answered(scored),
            Some(champion) => {
                self.compare(&champion.columns, &outcome.columns, scored.batch.rows());
                if let Some(log) = &self.payload_log {
                    log.record_shadow(outcome, scored.parts);
                }
            }
        }
        if let Some(feedback) = &self.feedback {
            for part in scored.parts {
                feedback.remember(
                    outcome.role,
                    outcome.spec,
                    &outcome.columns,
                    &part.request_id,
                    part.start,
                    part.rows,
                );
            }
        }
        if self.audit.is_none() {
            return PendingAudit(None);
        }
        let now = audit_sink::now_unix_nanos();
        PendingAudit(Some(scored.parts.iter().map(|part| audit_sink::record(scored, part, now)).collect()))
    }

    /// Writes a batch's audit records and runs `on_written`: once they are written when the
    /// log is durable (with the write's result), at once otherwise.
    pub fn write(&self, pending: PendingAudit, on_written: Option<OnWritten>) {
        match pending.0 {
            Some(records) if self.durable => self.log(records, on_written),
            records => {
                if let Some(on_written) = on_written {
                    on_written(Ok(()));
                }
                if let Some(records) = records {
                    self.log(records, None);
                }
            }
        }
    }

    /// Rows answered, failed checks counted and drift fed, for a batch that answered.
    fn observe_answered(&self, scored: &ScoredBatch) {
        let outcome = scored.outcome;
        let d = &self.metrics.duties;
        d.answered_rows.get_or_create(&ModelLabels { model: outcome.role.as_str() }).inc_by(scored.batch.rows() as u64);
        for (check, failed) in outcome.failed_checks.iter() {
            d.check_failures.get_or_create(&CheckLabels { check: check.to_string() }).inc_by(failed.len() as u64);
        }
        if let Some(drift) = &self.drift {
            drift.observe(outcome.spec, scored.batch, &outcome.columns);
        }
    }

    /// Appends records; `on_done` runs once they are written (after the sync when durable).
    fn log(&self, records: Vec<AuditRecord>, on_done: Option<OnWritten>) {
        let Some(audit) = &self.audit else { return };
        let metrics = self.metrics.clone();
        let count = records.len() as u64;
        let counted: OnWritten = Box::new(move |result| {
            match &result {
                Ok(()) => {
                    metrics.duties.audit_records.inc_by(count);
                }
                Err(e) => {
                    metrics.duties.audit_failures.inc();
                    tracing::error!(error = %e, records = count, "the audit log could not write records");
                }
            }
            if let Some(on_done) = on_done {
                on_done(result);
            }
        });
        audit.submit(records, Some(counted));
    }

    /// Compares the shadow challenger's columns with the champion's.
    fn compare(
        &self,
        champion: &[crate::output::OutputColumn],
        challenger: &[crate::output::OutputColumn],
        rows: usize,
    ) {
        let mut comparison = self.comparison.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let disagreeing = comparison.add(self.specs.champion, champion, challenger, rows);
        let d = &self.metrics.duties;
        d.shadow_rows.inc_by(rows as u64);
        d.shadow_disagreeing_rows.inc_by(disagreeing);
    }
}
