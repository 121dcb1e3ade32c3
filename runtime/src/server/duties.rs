//! The production duties a worker performs after scoring a batch: counting failed checks,
//! feeding the drift windows, keeping predictions for feedback, writing audit records, and
//! scoring the shadow challenger. Each is off unless configured, so a server without them
//! does no more than a flag test per batch.

use super::audit_sink::{self, Part, Scoring};
use super::challenger::Comparison;
use super::drift::Drift;
use super::feedback::Feedback;
use super::metrics::{AccuracyLabels, CheckLabels, FeatureLabels, Metrics, ModelLabels, OutputLabels, StatisticLabels};
use super::models::{Role, Specs};
use super::payload_log::PayloadLog;
use crate::batch::Batch;
use crate::output::OutputColumn;
use pipec_audit::{AuditLog, AuditRecord};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct Duties {
    pub specs: Specs,
    pub metrics: Arc<Metrics>,
    pub audit: Option<AuditLog>,
    /// Answer only after the audit record is on disk.
    pub durable: bool,
    pub drift: Option<Drift>,
    pub feedback: Option<Feedback>,
    /// Score the challenger on every champion batch.
    pub shadow: bool,
    pub comparison: Mutex<Comparison>,
    /// Payload events (`--log-url`): each request and response sent as CloudEvents.
    pub payload_log: Option<PayloadLog>,
    next_batch: AtomicU64,
    /// The high bits of batch ids: the process start, so ids differ across restarts.
    batch_tag: u64,
}

impl Duties {
    pub fn new(specs: Specs, metrics: Arc<Metrics>) -> Duties {
        Duties {
            specs,
            metrics,
            audit: None,
            durable: true,
            drift: None,
            feedback: None,
            shadow: false,
            comparison: Mutex::new(Comparison::default()),
            payload_log: None,
            next_batch: AtomicU64::new(0),
            batch_tag: (audit_sink::now_unix_nanos() / 1_000_000_000) << 32,
        }
    }

    pub fn next_batch_id(&self) -> u64 {
        self.batch_tag | (self.next_batch.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff)
    }

    /// Checks, drift and feedback for a batch that `role` scored and answered with.
    pub fn observe_answered(&self, role: Role, merged: &Batch, columns: &[OutputColumn], parts: &[Part]) {
        let Some(spec) = self.specs.get(role) else { return };
        let d = &self.metrics.duties;
        d.answered_rows.get_or_create(&ModelLabels { model: role.as_str() }).inc_by(merged.rows() as u64);
        for (index, check) in spec.checks() {
            if let Some(OutputColumn::Bool { values, .. }) = columns.get(index) {
                let failed = values.iter().filter(|passed| !**passed).count() as u64;
                if failed > 0 {
                    d.check_failures.get_or_create(&CheckLabels { check: check.name.to_string() }).inc_by(failed);
                }
            }
        }
        if let Some(drift) = &self.drift {
            drift.observe(spec, merged, columns);
        }
        if let Some(feedback) = &self.feedback {
            for part in parts {
                feedback.remember(role, spec, columns, part.request_id, part.start, part.rows);
            }
        }
    }

    /// The audit records of a scored batch, if the audit log is on.
    pub fn records(&self, scoring: &Scoring, parts: &[Part]) -> Option<Vec<AuditRecord>> {
        self.audit.as_ref()?;
        let now = audit_sink::now_unix_nanos();
        Some(parts.iter().map(|part| audit_sink::record(scoring, part, now)).collect())
    }

    /// Appends records; `on_done` runs once they are written (after the sync when durable).
    pub fn log(&self, records: Vec<AuditRecord>, on_done: Option<Box<dyn FnOnce(Result<(), String>) + Send>>) {
        let Some(audit) = &self.audit else { return };
        let metrics = self.metrics.clone();
        let count = records.len() as u64;
        let counted: Box<dyn FnOnce(Result<(), String>) + Send> = Box::new(move |result| {
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
    pub fn compare(&self, champion: &[OutputColumn], challenger: &[OutputColumn], rows: usize) {
        let mut comparison = self.comparison.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let disagreeing = comparison.add(self.specs.champion, champion, challenger, rows);
        let d = &self.metrics.duties;
        d.shadow_rows.inc_by(rows as u64);
        d.shadow_disagreeing_rows.inc_by(disagreeing);
    }

    /// Sets the gauges that are computed rather than counted, before `/metrics` renders.
    pub fn refresh_gauges(&self) {
        let d = &self.metrics.duties;
        if let Some(drift) = &self.drift {
            for feature in drift.report() {
                let labels = FeatureLabels { feature: feature.name.clone() };
                d.drift_psi.get_or_create(&labels).set(feature.psi);
                d.drift_flag.get_or_create(&labels).set(i64::from(feature.drifted));
                d.drift_window_rows.get_or_create(&labels).set(feature.observed as i64);
                let (statistic, value) = match feature.statistic {
                    pipec_monitor::Statistic::KolmogorovSmirnov { d } => ("ks", d),
                    pipec_monitor::Statistic::ChiSquare { value, .. } => ("chi_square", value),
                };
                d.drift_statistic.get_or_create(&StatisticLabels { feature: feature.name, statistic }).set(value);
            }
        }
        if let Some(feedback) = &self.feedback {
            for (role, report) in feedback.report() {
                let metrics = [
                    ("accuracy", report.accuracy),
                    ("precision", report.precision),
                    ("recall", report.recall),
                    ("f1", report.f1),
                    ("log_loss", report.log_loss),
                    ("mae", report.mae),
                    ("rmse", report.rmse),
                ];
                for (metric, value) in metrics {
                    if let Some(value) = value {
                        d.accuracy.get_or_create(&AccuracyLabels { model: role.as_str(), metric }).set(value);
                    }
                }
            }
        }
        let comparison = self.comparison.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (output, mean) in comparison.mean_abs_differences(self.specs.champion) {
            d.shadow_mean_abs_difference.get_or_create(&OutputLabels { output }).set(mean);
        }
    }

    /// `GET /v2/models/{name}/monitor`: drift, live accuracy, checks and the challenger.
    pub fn report(&self) -> serde_json::Value {
        let d = &self.metrics.duties;
        let spec = self.specs.champion;
        let checks: serde_json::Map<String, serde_json::Value> = spec
            .checks()
            .map(|(_, c)| {
                let failed = d.check_failures.get_or_create(&CheckLabels { check: c.name.to_string() }).get();
                (c.name.to_string(), serde_json::json!({ "failed_rows": failed }))
            })
            .collect();
        let drift = self.drift.as_ref().map(|drift| {
            let features = drift.report();
            serde_json::json!({
                "window": drift.spec().window,
                "threshold": drift.spec().drift_threshold,
                "drifted": features.iter().any(|f| f.drifted),
                "features": features,
            })
        });
        let accuracy = self.feedback.as_ref().map(|feedback| {
            let models: serde_json::Map<String, serde_json::Value> = feedback
                .report()
                .into_iter()
                .map(|(role, report)| (role.as_str().to_string(), serde_json::json!(report)))
                .collect();
            serde_json::json!({ "pending_requests": feedback.pending(), "models": models })
        });
        let challenger = self.specs.challenger.map(|challenger| {
            let comparison = self.comparison.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            serde_json::json!({
                "pipeline": challenger.identity,
                "shadow": comparison.report(spec),
                "answered_rows": d.answered_rows.get_or_create(&ModelLabels { model: "challenger" }).get(),
            })
        });
        serde_json::json!({
            "model": spec.name,
            "pipeline": spec.identity,
            "answered_rows": d.answered_rows.get_or_create(&ModelLabels { model: "champion" }).get(),
            "checks": checks,
            "drift": drift,
            "accuracy": accuracy,
            "challenger": challenger,
        })
    }
}
