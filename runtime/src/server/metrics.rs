//! The server's Prometheus metrics (`GET /metrics`, OpenMetrics text format).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
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

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub errors: Family<RequestLabels, Counter>,
    pub latency: Family<RequestLabels, Histogram>,
    pub batch_rows: Family<DeviceLabels, Histogram>,
    pub rows: Counter,
    pub rejected_full: Counter,
    pub queue_depth: Gauge,
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
        let queue_depth = Gauge::default();
        registry.register("http_requests", "HTTP requests answered, by endpoint and status", requests.clone());
        registry.register("http_errors", "HTTP requests answered with a 4xx or 5xx status", errors.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer",
            latency.clone(),
        );
        registry.register("batch_rows", "Rows in each batch the pipeline ran, by device", batch_rows.clone());
        registry.register("scored_rows", "Rows scored", rows.clone());
        registry.register("queue_full_rejections", "Requests answered 429 because the queue was full", rejected_full.clone());
        registry.register("queue_depth", "Requests waiting for a batch", queue_depth.clone());
        Metrics { registry, requests, errors, latency, batch_rows, rows, rejected_full, queue_depth }
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
