//! The server's Prometheus metrics (`GET /metrics`, OpenMetrics text format).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template, for example `/v2/models/{name}/infer`.
    pub endpoint: String,
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceLabels {
    /// `cpu` or `wgpu`.
    pub device: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// `champion` or `challenger`.
    pub model: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeatureLabels {
    pub feature: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatisticLabels {
    pub feature: String,
    /// `ks` or `chi_square`.
    pub statistic: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccuracyLabels {
    pub model: &'static str,
    /// `accuracy`, `precision`, `recall`, `f1`, `log_loss`, `mae` or `rmse`.
    pub metric: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutputLabels {
    pub output: &'static str,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The production duties' metrics: checks, drift, live accuracy, the challenger, the audit log.
/// Labels of `pipec_auth_refusals`: the API group and why (`missing`, `unknown_token`,
/// `forbidden`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabels {
    pub group: &'static str,
    pub reason: &'static str,
}

pub struct DutyMetrics {
    pub answered_rows: Family<ModelLabels, Counter>,
    pub check_failures: Family<CheckLabels, Counter>,
    pub drift_psi: Family<FeatureLabels, FloatGauge>,
    pub drift_statistic: Family<StatisticLabels, FloatGauge>,
    pub drift_flag: Family<FeatureLabels, Gauge>,
    pub drift_window_rows: Family<FeatureLabels, Gauge>,
    pub feedback_rows: Family<ModelLabels, Counter>,
    pub accuracy: Family<AccuracyLabels, FloatGauge>,
    pub shadow_rows: Counter,
    pub shadow_disagreeing_rows: Counter,
    pub shadow_mean_abs_difference: Family<OutputLabels, FloatGauge>,
    pub audit_records: Counter,
    pub audit_failures: Counter,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub errors: Family<RequestLabels, Counter>,
    pub latency: Family<RequestLabels, Histogram>,
    pub batch_rows: Family<DeviceLabels, Histogram>,
    pub rows: Counter,
    pub rejected_full: Counter,
    /// Requests refused for want of a valid token (`--auth-token-file`).
    pub auth_refusals: Family<AuthLabels, Counter>,
    pub queue_depth: Gauge,
    /// Mean time the requests of the latest batch waited in the queue: what an autoscaler
    /// watches (`pipec deploy` writes a KEDA example on it).
    pub queue_wait: FloatGauge,
    pub duties: DutyMetrics,
    /// Payload events (`--log-url`, `payload_log.rs`).
    pub payload: super::duties::payload_log::PayloadMetrics,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pipec");
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Family::<RequestLabels, Counter>::default();
        // 25 us to about 26 s.
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(25e-6, 2.0, 21))
        });
        // 1 row to 1 Mi rows.
        let batch_rows = Family::<DeviceLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1.0, 2.0, 21))
        });
        let rows = Counter::default();
        let rejected_full = Counter::default();
        let auth_refusals = Family::<AuthLabels, Counter>::default();
        let queue_depth = Gauge::default();
        let queue_wait = FloatGauge::default();
        registry.register("http_requests", "HTTP requests answered, by endpoint and status", requests.clone());
        registry.register("http_errors", "HTTP requests answered with a 4xx or 5xx status", errors.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer",
            latency.clone(),
        );
        registry.register("batch_rows", "Rows in each batch the pipeline ran, by device", batch_rows.clone());
        registry.register("scored_rows", "Rows scored", rows.clone());
        registry.register(
            "queue_full_rejections",
            "Requests answered 429 because the queue was full",
            rejected_full.clone(),
        );
        registry.register(
            "auth_refusals",
            "Requests refused 401 or 403 by --auth-token-file, by API group and reason",
            auth_refusals.clone(),
        );
        registry.register("queue_depth", "Requests waiting for a batch", queue_depth.clone());
        registry.register(
            "queue_wait_seconds",
            "Mean time the requests of the latest batch waited in the queue, in seconds",
            queue_wait.clone(),
        );
        let duties = DutyMetrics {
            answered_rows: Family::default(),
            check_failures: Family::default(),
            drift_psi: Family::default(),
            drift_statistic: Family::default(),
            drift_flag: Family::default(),
            drift_window_rows: Family::default(),
            feedback_rows: Family::default(),
            accuracy: Family::default(),
            shadow_rows: Counter::default(),
            shadow_disagreeing_rows: Counter::default(),
            shadow_mean_abs_difference: Family::default(),
            audit_records: Counter::default(),
            audit_failures: Counter::default(),
        };
        let d = &duties;
        registry.register("answered_rows", "Rows answered, by the model that answered them", d.answered_rows.clone());
        registry.register("check_failures", "Rows that failed a `checks` entry, by check", d.check_failures.clone());
        registry.register(
            "drift_psi",
            "Population stability index of a watched feature's window against its baseline",
            d.drift_psi.clone(),
        );
        registry.register(
            "drift_statistic",
            "Kolmogorov-Smirnov distance (numeric) or chi-square (categorical) of a watched feature's window",
            d.drift_statistic.clone(),
        );
        registry.register(
            "drift_flag",
            "1 when a watched feature's PSI is past the drift threshold",
            d.drift_flag.clone(),
        );
        registry.register(
            "drift_window_rows",
            "Observations in a watched feature's window",
            d.drift_window_rows.clone(),
        );
        registry.register("feedback_rows", "Rows whose ground truth was posted, by model", d.feedback_rows.clone());
        registry.register(
            "live_accuracy",
            "Live accuracy over the feedback window, by model and metric",
            d.accuracy.clone(),
        );
        registry.register("shadow_rows", "Rows the shadow challenger scored", d.shadow_rows.clone());
        registry.register(
            "shadow_disagreeing_rows",
            "Shadow rows where the challenger's outputs differ from the champion's",
            d.shadow_disagreeing_rows.clone(),
        );
        registry.register(
            "shadow_mean_abs_difference",
            "Mean absolute difference of a numeric output, challenger minus champion, over shadow rows",
            d.shadow_mean_abs_difference.clone(),
        );
        registry.register("audit_records", "Records written to the audit log", d.audit_records.clone());
        registry.register("audit_failures", "Audit log writes that failed", d.audit_failures.clone());
        let payload = super::duties::payload_log::PayloadMetrics::default();
        payload.register(&mut registry);
        Metrics {
            registry,
            requests,
            errors,
            latency,
            batch_rows,
            rows,
            rejected_full,
            auth_refusals,
            queue_depth,
            queue_wait,
            duties,
            payload,
        }
    }

    pub fn observe_request(&self, endpoint: &str, code: u16, seconds: f64) {
        let labels = RequestLabels { endpoint: endpoint.to_string(), code };
        self.requests.get_or_create(&labels).inc();
        if code >= 400 {
            self.errors.get_or_create(&labels).inc();
        }
        self.latency.get_or_create(&labels).observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
