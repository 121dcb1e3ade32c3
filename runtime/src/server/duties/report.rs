//! The duties as they are read: the gauges `/metrics` shows (drift, live accuracy, the
//! shadow's differences), refreshed before each scrape, and the JSON of
//! `GET /v2/models/{name}/monitor`.

use super::Duties;
use crate::server::metrics::{AccuracyLabels, CheckLabels, FeatureLabels, ModelLabels, OutputLabels, StatisticLabels};

impl Duties {
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
