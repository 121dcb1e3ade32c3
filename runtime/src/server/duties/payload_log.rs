//! Payload events (`--log-url`): each inference request and its response sent as a pair of
//! CloudEvents, in the HTTP binding's binary mode, with the types and attributes of KServe's
//! payload logger (the `agent` sidecar's `pkg/logger`), so that whatever consumes KServe's
//! inference logs consumes pipec's.
//!
//! Logging never delays or fails a request: events go into a bounded queue with `try_send`;
//! a full queue drops the event and counts it. One task takes events from the queue and sends
//! each with its own time limit, a few at once; a failed send (no connection, no answer in
//! time, an answer other than 2xx) drops the event and counts it, so events never pile up
//! behind a dead receiver. At shutdown, what is queued is sent within a bounded time.
//!
//! The shadow challenger's events are its own endpoint (`challenger`): its request event is
//! sent with the champion's pair (the same body), its response event by the worker that
//! scored the shadow (`record_shadow`), encoded as the protocol's JSON answer.

use crate::server::config::{ChallengerMode, PayloadLogMode, ServerConfig};
use crate::server::protocol::decode::{Answer, RequestedOutput};
use crate::server::protocol::encode::{RawOutput, encode};
use crate::server::protocol::oip::{InferRequest, InferResponse, ResponseOutput};
use crate::server::scheduling::{BatchOutcome, Part, Role, Specs};
use crate::spec::PipelineSpec;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// KServe's event types (`pkg/logger/worker.go`).
pub const REQUEST_TYPE: &str = "org.kubeflow.serving.inference.request";
pub const RESPONSE_TYPE: &str = "org.kubeflow.serving.inference.response";

/// Events sent at once; more wait in the queue.
const IN_FLIGHT: usize = 8;

/// One body of a pair: the bytes as they went over the wire, and their content type.
#[derive(Clone, Debug)]
pub struct Payload {
    pub body: Bytes,
    pub content_type: HeaderValue,
    /// With binary tensor data: the length of the JSON head at the start of the body (the
    /// protocol's `Inference-Header-Content-Length`), sent as `ce-jsonlength`.
    pub json_length: Option<usize>,
}

impl Payload {
    pub fn new(body: impl Into<Bytes>, content_type: HeaderValue) -> Payload {
        Payload { body: body.into(), content_type, json_length: None }
    }

    /// A JSON body (`application/json`).
    pub fn json(body: impl Into<Bytes>) -> Payload {
        Payload::new(body, HeaderValue::from_static("application/json"))
    }

    /// A message in the protocol's REST form: the JSON head, then the binary tensor data (if
    /// any), as one body: `application/json`, or `application/octet-stream` with the head's
    /// length when there is binary data. Copies the bytes (only called with a log on).
    pub fn rest(json: &[u8], binary: &[u8]) -> Payload {
        if binary.is_empty() {
            return Payload::json(Bytes::copy_from_slice(json));
        }
        let mut body = Vec::with_capacity(json.len() + binary.len());
        body.extend_from_slice(json);
        body.extend_from_slice(binary);
        Payload {
            body: body.into(),
            content_type: HeaderValue::from_static("application/octet-stream"),
            json_length: Some(json.len()),
        }
    }

    /// A request in the REST form: its JSON as it arrived, or for a request converted from
    /// gRPC (`json` is `None`) its head serialized, then its binary tensor data.
    pub fn request(head: &InferRequest, json: Option<&[u8]>, binary: &[u8]) -> Payload {
        match json {
            Some(json) => Payload::rest(json, binary),
            None => Payload::rest(&serde_json::to_vec(head).unwrap_or_default(), binary),
        }
    }

    /// A gRPC answer in the REST form: the JSON head with every output as binary data, then
    /// the outputs' bytes: what `encode` writes when every output is asked for as binary.
    pub fn raw_answer(head: &InferResponse, outputs: &[RawOutput]) -> Payload {
        #[derive(Serialize)]
        struct Head<'a> {
            #[serde(flatten)]
            head: &'a InferResponse,
            outputs: Vec<ResponseOutput>,
        }
        let described = outputs
            .iter()
            .map(|output| {
                let mut parameters = Map::new();
                parameters.insert("binary_data_size".into(), Value::from(output.bytes.len()));
                ResponseOutput { name: output.name, datatype: output.datatype, shape: output.shape.clone(), parameters }
            })
            .collect();
        let json = serde_json::to_vec(&Head { head, outputs: described }).unwrap_or_default();
        let binary: Vec<u8> = outputs.iter().flat_map(|output| output.bytes.iter().copied()).collect();
        Payload::rest(&json, &binary)
    }
}

/// A request and its answer, as the infer path hands them over.
#[derive(Clone, Debug)]
pub struct PayloadPair {
    /// The request id (the request's `id`, or the one the server gave it): `ce-id` of both
    /// events.
    pub id: String,
    /// When the request arrived: the request event's `ce-time`. The response event's is the
    /// time of `record`.
    pub received: SystemTime,
    pub request: Payload,
    /// The answer; `None` for a request that was not answered 200 (KServe then logs only the
    /// request).
    pub response: Option<Payload>,
    /// Which model answered: the events' endpoint.
    pub role: Role,
    /// The identity of the build that answered (`ce-pipeline`).
    pub pipeline: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Response => "response",
        }
    }

    fn ce_type(self) -> &'static str {
        match self {
            Kind::Request => REQUEST_TYPE,
            Kind::Response => RESPONSE_TYPE,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

struct Event {
    kind: Kind,
    id: Arc<str>,
    time: SystemTime,
    role: Role,
    pipeline: &'static str,
    body: Bytes,
    content_type: HeaderValue,
    json_length: Option<usize>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// `request` or `response`.
    pub r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub r#type: &'static str,
    /// `queue_full`, `send_failed` or `shutdown`.
    pub reason: &'static str,
}

/// The payload events' metrics, registered with the server's others.
#[derive(Clone, Default)]
pub struct PayloadMetrics {
    pub sent: Family<EventLabels, Counter>,
    pub dropped: Family<DropLabels, Counter>,
    pub queued: Gauge,
}

impl PayloadMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "payload_events_sent",
            "Payload events the --log-url receiver accepted, by type",
            self.sent.clone(),
        );
        registry.register(
            "payload_events_dropped",
            "Payload events not delivered, by type and reason (queue_full, send_failed, shutdown)",
            self.dropped.clone(),
        );
        registry.register("payload_events_queued", "Payload events waiting to be sent", self.queued.clone());
    }

    fn drop_event(&self, kind: Kind, reason: &'static str, count: u64) {
        self.dropped.get_or_create(&DropLabels { r#type: kind.as_str(), reason }).inc_by(count);
    }
}

/// What every event of this server carries.
struct Attributes {
    url: Uri,
    /// `ce-source`: `--log-source-uri`, else `http://localhost:<port>/` once the port is known.
    source: OnceLock<HeaderValue>,
    /// `ce-inferenceservicename`: `--model-name`, else the pipeline's name.
    service: HeaderValue,
    /// `ce-namespace`: `--log-namespace` (`$POD_NAMESPACE`), when set.
    namespace: Option<HeaderValue>,
}

struct Shared {
    attributes: Attributes,
    mode: PayloadLogMode,
    /// The challenger, when it scores every champion batch in shadow.
    shadow: Option<&'static PipelineSpec>,
    /// The model name and version the shadow's answers carry.
    model_name: &'static str,
    model_version: &'static str,
    metrics: PayloadMetrics,
    /// Events queued or being sent, by kind: what shutdown drops when time runs out.
    pending: [AtomicI64; 2],
    /// Whether the latest send failed; failures are logged when they begin and end, not each.
    failing: AtomicBool,
    timeout: Duration,
}

/// The payload event sender: cheap to call from any thread.
pub struct PayloadLog {
    queue: mpsc::Sender<Event>,
    shared: Arc<Shared>,
    task: Mutex<Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>>,
}

fn modes(mode: PayloadLogMode) -> (bool, bool) {
    match mode {
        PayloadLogMode::All => (true, true),
        PayloadLogMode::Request => (true, false),
        PayloadLogMode::Response => (false, true),
    }
}

/// `--log-url`: an absolute `http://` URL.
pub fn parse_url(text: &str) -> Result<Uri, String> {
    let url: Uri = text.parse().map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match url.scheme_str() {
        Some("http") if url.authority().is_some() => Ok(url),
        Some("https") => Err(format!(
            "{text:?}: payload events are sent over plain HTTP only; use an http:// URL (an in-cluster broker or receiver)"
        )),
        _ => Err(format!("{text:?}: expected an absolute http:// URL, such as http://broker-ingress/ns/default")),
    }
}

impl PayloadLog {
    /// Starts the sender task when `--log-url` is set; must run inside the tokio runtime.
    pub fn start(config: &ServerConfig, specs: Specs, metrics: &PayloadMetrics) -> Result<Option<PayloadLog>, String> {
        let Some(url) = &config.log_url else { return Ok(None) };
        let url = parse_url(url).map_err(|e| format!("--log-url {e}"))?;
        let service_name = config.model_name.as_deref().unwrap_or(specs.champion.name);
        let model_name: &'static str = if service_name == specs.champion.name {
            specs.champion.name
        } else {
            Box::leak(service_name.to_string().into_boxed_str())
        };
        let source = OnceLock::new();
        if let Some(uri) = &config.log_source_uri {
            source.set(header_value(uri)).ok();
        }
        let namespace = config.log_namespace.as_deref().filter(|n| !n.is_empty()).map(header_value);
        let shadow = specs.challenger.filter(|_| config.challenger_mode == ChallengerMode::Shadow);
        let shared = Arc::new(Shared {
            attributes: Attributes { url, source, service: header_value(service_name), namespace },
            mode: config.log_mode,
            shadow,
            model_name,
            model_version: specs.champion.version,
            metrics: metrics.clone(),
            pending: [AtomicI64::new(0), AtomicI64::new(0)],
            failing: AtomicBool::new(false),
            timeout: Duration::from_millis(config.log_timeout_ms.max(1)),
        });
        let (queue, events) = mpsc::channel(config.log_queue_capacity.max(1));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(deliver(events, stopped, shared.clone()));
        tracing::info!(
            url = %shared.attributes.url,
            mode = ?config.log_mode,
            queue_capacity = config.log_queue_capacity,
            shadow = shadow.is_some(),
            "payload events on"
        );
        Ok(Some(PayloadLog { queue, shared, task: Mutex::new(Some((stop, task))) }))
    }

    /// The port the server listens on, for the default `ce-source`.
    pub fn listening(&self, port: u16) {
        let _ = self.shared.attributes.source.set(header_value(&format!("http://localhost:{port}/")));
    }

    /// Queues the events of an answered (or refused) request: its request and response events
    /// as `--log-mode` asks, and, with a shadow challenger, the challenger's request event.
    /// Never waits; a full queue drops events and counts them.
    pub fn record(&self, pair: PayloadPair) {
        let (requests, responses) = modes(self.shared.mode);
        let id: Arc<str> = pair.id.into();
        if requests {
            if let (Role::Champion, Some(challenger)) = (pair.role, self.shared.shadow) {
                self.enqueue(Event {
                    kind: Kind::Request,
                    id: id.clone(),
                    time: pair.received,
                    role: Role::Challenger,
                    pipeline: challenger.identity,
                    body: pair.request.body.clone(),
                    content_type: pair.request.content_type.clone(),
                    json_length: pair.request.json_length,
                });
            }
            self.enqueue(Event {
                kind: Kind::Request,
                id: id.clone(),
                time: pair.received,
                role: pair.role,
                pipeline: pair.pipeline,
                body: pair.request.body,
                content_type: pair.request.content_type,
                json_length: pair.request.json_length,
            });
        }
        if let (true, Some(response)) = (responses, pair.response) {
            self.enqueue(Event {
                kind: Kind::Response,
                id,
                time: SystemTime::now(),
                role: pair.role,
                pipeline: pair.pipeline,
                body: response.body,
                content_type: response.content_type,
                json_length: response.json_length,
            });
        }
    }

    /// Whether the shadow challenger's answers are wanted: the worker encodes them only then.
    pub fn wants_shadow_responses(&self) -> bool {
        self.shared.shadow.is_some() && modes(self.shared.mode).1
    }

    /// The shadow challenger's response events for a batch it scored: per request, its rows
    /// as the protocol's JSON answer with every output (and `failed_checks` when the pipeline
    /// has checks), whatever outputs the request asked for. Runs on the worker thread.
    pub fn record_shadow(&self, outcome: &BatchOutcome, parts: &[Part]) {
        if !self.wants_shadow_responses() {
            return;
        }
        let time = SystemTime::now();
        for part in parts {
            let sliced;
            let own = if parts.len() == 1 {
                outcome
            } else {
                sliced = outcome.rows(part.start, part.rows);
                &sliced
            };
            match self.shadow_answer(own, &part.request_id, part.rows) {
                Ok(json) => self.enqueue(Event {
                    kind: Kind::Response,
                    id: part.request_id.as_str().into(),
                    time,
                    role: Role::Challenger,
                    pipeline: outcome.spec.identity,
                    body: json.into(),
                    content_type: HeaderValue::from_static("application/json"),
                    json_length: None,
                }),
                Err(e) => {
                    tracing::warn!(error = %e, id = part.request_id, "encoding the shadow challenger's answer failed")
                }
            }
        }
    }

    fn shadow_answer(&self, outcome: &BatchOutcome, id: &str, rows: usize) -> Result<Vec<u8>, serde_json::Error> {
        let spec = outcome.spec;
        let has_checks = spec.checks().next().is_some();
        let requested: Vec<RequestedOutput> = spec
            .public_outputs()
            .map(|(index, _)| Answer::Column(index))
            .chain(has_checks.then_some(Answer::FailedChecks))
            .map(|what| RequestedOutput { what, binary: false })
            .collect();
        let mut parameters = Map::new();
        parameters.insert("pipeline".into(), Value::from(spec.identity));
        parameters.insert("model".into(), Value::from(Role::Challenger.as_str()));
        if has_checks {
            parameters.insert("failed_check_rows".into(), Value::from(outcome.failed_checks.failing_rows(rows)));
        }
        let head = InferResponse {
            model_name: self.shared.model_name,
            model_version: self.shared.model_version,
            id: id.to_string(),
            parameters,
        };
        Ok(encode(head, rows, &requested, outcome)?.json)
    }

    fn enqueue(&self, event: Event) {
        let kind = event.kind;
        let shared = &self.shared;
        // Counted before the event can be taken, so that the sender never counts it first.
        shared.pending[kind.index()].fetch_add(1, Ordering::Relaxed);
        shared.metrics.queued.inc();
        let reason = match self.queue.try_send(event) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => "queue_full",
            Err(mpsc::error::TrySendError::Closed(_)) => "shutdown",
        };
        shared.pending[kind.index()].fetch_sub(1, Ordering::Relaxed);
        shared.metrics.queued.dec();
        shared.metrics.drop_event(kind, reason, 1);
    }

    /// Stops taking events and sends what is queued, for up to `within`; what is still
    /// unsent then is dropped (counted as `shutdown`).
    pub async fn close(&self, within: Duration) {
        let Some((stop, mut task)) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        let _ = stop.send(());
        let queued = self.shared.metrics.queued.get();
        if tokio::time::timeout(within, &mut task).await.is_err() {
            task.abort();
            let mut left = 0;
            for kind in [Kind::Request, Kind::Response] {
                let pending = self.shared.pending[kind.index()].swap(0, Ordering::Relaxed).max(0) as u64;
                if pending > 0 {
                    self.shared.metrics.drop_event(kind, "shutdown", pending);
                }
                left += pending;
            }
            tracing::warn!(
                events = left,
                millis = within.as_millis() as u64,
                "payload events still unsent after the shutdown timeout were dropped"
            );
        } else if queued > 0 {
            tracing::info!(events = queued, "payload events flushed");
        }
    }
}

/// Takes events from the queue and sends them, `IN_FLIGHT` at once, until told to stop; then
/// sends what is left in the queue and waits for the sends under way.
async fn deliver(mut events: mpsc::Receiver<Event>, mut stop: oneshot::Receiver<()>, shared: Arc<Shared>) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(shared.timeout));
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(IN_FLIGHT)
        .build(connector);
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut stopping = false;
    loop {
        // A sender first, so that an event waits in the queue (and counts against its
        // capacity) until it can be sent.
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let event = if stopping {
            events.recv().await
        } else {
            tokio::select! {
                event = events.recv() => event,
                _ = &mut stop => {
                    // No more events are taken; the queued ones are still received.
                    events.close();
                    stopping = true;
                    continue;
                }
            }
        };
        let Some(event) = event else { break };
        shared.metrics.queued.dec();
        let client = client.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let kind = event.kind;
            let result = send(&client, &shared, event).await;
            shared.pending[kind.index()].fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            match result {
                Ok(()) => {
                    shared.metrics.sent.get_or_create(&EventLabels { r#type: kind.as_str() }).inc();
                    if shared.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(url = %shared.attributes.url, "payload events are delivered again");
                    }
                }
                Err(e) => {
                    shared.metrics.drop_event(kind, "send_failed", 1);
                    if !shared.failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            url = %shared.attributes.url,
                            error = %e,
                            "sending a payload event failed; events are dropped until the receiver accepts them (see pipec_payload_events_dropped_total)"
                        );
                    }
                }
            }
        });
    }
    // Every send under way has finished once all permits are back.
    let _ = permits.acquire_many(IN_FLIGHT as u32).await;
}

async fn send(client: &Client<HttpConnector, Full<Bytes>>, shared: &Shared, event: Event) -> Result<(), String> {
    let request = build_request(&shared.attributes, &event, SystemTime::now())?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            message
        })?;
        let status = response.status();
        // Read the answer to its end, so that the connection can be used again.
        let _ = response.into_body().collect().await;
        if status.is_success() { Ok(()) } else { Err(format!("the receiver answered {status}")) }
    };
    match tokio::time::timeout(shared.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms (--log-timeout-ms)", shared.timeout.as_millis())),
    }
}

/// The event as an HTTP request in the binary content mode: attributes in `ce-` headers, the
/// payload as the body with its own content type.
fn build_request(attributes: &Attributes, event: &Event, now: SystemTime) -> Result<Request<Full<Bytes>>, String> {
    let mut request = Request::builder().method(Method::POST).uri(attributes.url.clone());
    for (name, value) in ce_headers(attributes, event, now) {
        request = request.header(name, value);
    }
    request
        .header(CONTENT_TYPE, event.content_type.clone())
        .body(Full::new(event.body.clone()))
        .map_err(|e| format!("building the event request failed: {e}"))
}

fn ce_headers(attributes: &Attributes, event: &Event, now: SystemTime) -> Vec<(HeaderName, HeaderValue)> {
    let h = HeaderName::from_static;
    let mut headers = vec![
        (h("ce-specversion"), HeaderValue::from_static("1.0")),
        (h("ce-id"), header_value(&event.id)),
        (h("ce-type"), HeaderValue::from_static(event.kind.ce_type())),
        (
            h("ce-source"),
            attributes.source.get().cloned().unwrap_or_else(|| HeaderValue::from_static("http://localhost/")),
        ),
        (h("ce-time"), header_value(&rfc3339(event.time))),
        (h("ce-recordedtime"), header_value(&rfc3339(now))),
        (h("ce-inferenceservicename"), attributes.service.clone()),
        (h("ce-component"), HeaderValue::from_static("predictor")),
        (h("ce-endpoint"), HeaderValue::from_static(event.role.as_str())),
        (h("ce-pipeline"), header_value(event.pipeline)),
    ];
    if let Some(namespace) = &attributes.namespace {
        headers.push((h("ce-namespace"), namespace.clone()));
    }
    if let Some(length) = event.json_length {
        headers.push((h("ce-jsonlength"), HeaderValue::from(length)));
    }
    headers
}

/// A CloudEvents attribute as an HTTP header value: space, `"`, `%` and everything outside
/// printable ASCII percent-encoded (the HTTP binding, 3.1.3.2).
fn header_value(text: &str) -> HeaderValue {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b'"' && byte != b'%' {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `2026-01-02T03:04:05.123456Z` (RFC 3339, UTC, microseconds).
fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's days-to-civil.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes() -> Attributes {
        let source = OnceLock::new();
        source.set(HeaderValue::from_static("http://localhost:8000/")).unwrap();
        Attributes {
            url: parse_url("http://127.0.0.1:9/events").unwrap(),
            source,
            service: header_value("titanic"),
            namespace: Some(header_value("models")),
        }
    }

    fn event(kind: Kind, id: &str) -> Event {
        Event {
            kind,
            id: id.into(),
            time: UNIX_EPOCH + Duration::new(1_767_323_045, 123_456_789),
            role: Role::Challenger,
            pipeline: "abc123",
            body: Bytes::from_static(b"{\"id\":\"1\"}"),
            content_type: HeaderValue::from_static("application/json"),
            json_length: None,
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::new(951_782_400, 0)), "2000-02-29T00:00:00.000000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::new(1_767_323_045, 123_456_789)), "2026-01-02T03:04:05.123456Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::new(4_107_542_399, 0)), "2100-02-28T23:59:59.000000Z");
    }

    #[test]
    fn header_values_are_percent_encoded_as_the_http_binding_says() {
        assert_eq!(header_value("rows-0-10"), "rows-0-10");
        assert_eq!(header_value("a b\"c%d"), "a%20b%22c%25d");
        assert_eq!(header_value("é\n"), "%C3%A9%0A");
    }

    #[test]
    fn events_carry_kserve_attributes_in_binary_mode() {
        let attributes = attributes();
        let request = build_request(&attributes, &event(Kind::Response, "id 1"), UNIX_EPOCH).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "http://127.0.0.1:9/events");
        let headers = request.headers();
        let get = |name: &str| headers.get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap();
        assert_eq!(get("ce-specversion"), "1.0");
        assert_eq!(get("ce-id"), "id%201");
        assert_eq!(get("ce-type"), "org.kubeflow.serving.inference.response");
        assert_eq!(get("ce-source"), "http://localhost:8000/");
        assert_eq!(get("ce-time"), "2026-01-02T03:04:05.123456Z");
        assert_eq!(get("ce-recordedtime"), "1970-01-01T00:00:00.000000Z");
        assert_eq!(get("ce-inferenceservicename"), "titanic");
        assert_eq!(get("ce-namespace"), "models");
        assert_eq!(get("ce-component"), "predictor");
        assert_eq!(get("ce-endpoint"), "challenger");
        assert_eq!(get("ce-pipeline"), "abc123");
        assert_eq!(get("content-type"), "application/json");
        let request_event = build_request(&attributes, &event(Kind::Request, "1"), UNIX_EPOCH).unwrap();
        assert_eq!(request_event.headers()["ce-type"], "org.kubeflow.serving.inference.request");
    }

    #[test]
    fn rest_messages_with_binary_data_say_where_the_json_ends() {
        let plain = Payload::rest(b"{}", b"");
        assert_eq!(
            (&plain.body[..], plain.content_type.to_str().unwrap(), plain.json_length),
            (&b"{}"[..], "application/json", None)
        );
        let binary = Payload::rest(b"{}", &[1, 2, 3]);
        assert_eq!(&binary.body[..], &[b'{', b'}', 1, 2, 3]);
        assert_eq!(binary.content_type, "application/octet-stream");
        let mut event = event(Kind::Request, "1");
        event.json_length = binary.json_length;
        let request = build_request(&attributes(), &event, UNIX_EPOCH).unwrap();
        assert_eq!(request.headers()["ce-jsonlength"], "2");
    }

    #[test]
    fn a_grpc_answer_is_logged_as_the_rest_answer_with_every_output_binary() {
        use crate::output::OutputColumn;
        use crate::server::scheduling::Route;
        use crate::spec::{OutputKind, OutputRole, OutputSpec};
        static SPEC: PipelineSpec = PipelineSpec {
            name: "t",
            version: "1",
            identity: "0",
            monitor: None,
            inputs: &[],
            outputs: &[
                OutputSpec { name: "p", kind: OutputKind::F32, width: 2, role: OutputRole::Output },
                OutputSpec { name: "ok", kind: OutputKind::Bool, width: 1, role: OutputRole::Check },
            ],
        };
        let columns = vec![
            OutputColumn::F32 { width: 2, values: vec![0.5, 1.0, -2.0, 3.25] },
            OutputColumn::Bool { values: vec![true, false], width: 1 },
        ];
        let outcome = BatchOutcome::new(Role::Champion, &SPEC, Route::Native, columns);
        let requested: Vec<RequestedOutput> = [Answer::Column(0), Answer::FailedChecks]
            .into_iter()
            .map(|what| RequestedOutput { what, binary: true })
            .collect();
        let head = || {
            let mut parameters = Map::new();
            parameters.insert("model".into(), Value::from("champion"));
            InferResponse { model_name: "t", model_version: "1", id: "r1".into(), parameters }
        };
        let rest = encode(head(), 2, &requested, &outcome).unwrap();
        let raw = crate::server::protocol::encode::encode_raw(2, &requested, &outcome);
        let logged = Payload::raw_answer(&head(), &raw);
        assert_eq!(logged.json_length, Some(rest.json.len()));
        assert_eq!(&logged.body[..rest.json.len()], &rest.json[..], "{}", String::from_utf8_lossy(&logged.body));
        assert_eq!(&logged.body[rest.json.len()..], &rest.binary.unwrap()[..]);
    }

    #[test]
    fn a_grpc_request_is_logged_as_its_rest_form() {
        let json = br#"{"id":"r1","inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1.5]}]}"#;
        let head: InferRequest = serde_json::from_slice(json).unwrap();
        assert_eq!(&Payload::request(&head, Some(json), b"").body[..], &json[..]);
        let converted = Payload::request(&head, None, b"");
        let reread: Value = serde_json::from_slice(&converted.body).unwrap();
        assert_eq!(reread["id"], "r1");
        assert_eq!(reread["inputs"][0]["data"][0], 1.5);
    }

    #[test]
    fn only_plain_http_urls_are_taken() {
        assert!(parse_url("http://broker-ingress.knative-eventing/ns/default").is_ok());
        assert!(parse_url("https://example.com/").unwrap_err().contains("plain HTTP"));
        assert!(parse_url("/relative").is_err());
        assert!(parse_url("not a url").is_err());
    }
}
