//! The Open Inference Protocol's REST endpoints, `/metrics`, and the request accounting that
//! every endpoint shares.

use super::auth::{ApiGroup, Auth, Refusal};
use super::decode::FAILED_CHECKS;
use super::encode::HEADER_LENGTH;
use super::error::ApiError;
use super::infer;
use super::oip::{InferRequest, ModelMetadata, ServerMetadata, TensorMetadata};
use super::tensors::{input_datatype, input_shape, output_datatype, output_shape};
use crate::server::config::ChallengerMode;
use crate::server::duties::Duties;
use crate::server::duties::feedback::FeedbackError;
use crate::server::metrics::{AuthLabels, Metrics, ModelLabels};
use crate::server::scheduling::{Queue, Specs};
use crate::spec::PipelineSpec;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Ids for requests that do not bring their own: unique within this process run and across
/// runs (the start time, then a counter).
pub struct RequestIds {
    start: u64,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new() -> RequestIds {
        RequestIds { start: crate::server::duties::audit_sink::now_unix_nanos(), next: AtomicU64::new(0) }
    }

    pub(super) fn next(&self) -> String {
        format!("{:x}-{}", self.start, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

#[derive(Clone)]
pub struct AppState {
    /// The champion's spec: the interface every request is checked against.
    pub spec: &'static PipelineSpec,
    /// A second name the model answers to (`--model-name`).
    pub alias: Option<&'static str>,
    pub specs: Specs,
    pub duties: Arc<Duties>,
    pub ids: Arc<RequestIds>,
    pub challenger_mode: ChallengerMode,
    pub challenger_share: f64,
    pub queue: Queue,
    pub metrics: Arc<Metrics>,
    /// False once shutdown begins, so that load balancers stop sending.
    pub ready: Arc<AtomicBool>,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    pub queue_capacity: usize,
    /// Bearer tokens (`--auth-token-file`); `None`: every endpoint is open.
    pub auth: Option<Arc<Auth>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        // The OIP OpenAPI spec writes the server metadata path with a trailing slash.
        .route("/v2/", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/versions/{version}", get(model_metadata_version))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/versions/{version}/ready", get(model_ready_version))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(infer_version))
        .route("/v2/models/{name}/monitor", get(monitor))
        .route("/v2/models/{name}/feedback", post(feedback))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route_layer(middleware::from_fn_with_state(state.clone(), account))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Counts and times every routed request, and logs it: rejected ones at `warn` with the
/// reason, the rest at `debug`.
async fn account(State(state): State<AppState>, path: MatchedPath, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let code = response.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    state.metrics.observe_request(path.as_str(), code, seconds);
    match response.extensions().get::<ErrorMessage>() {
        Some(ErrorMessage(reason)) => {
            tracing::warn!(%method, %uri, code, micros = (seconds * 1e6) as u64, reason = %reason, "rejected");
        }
        None => tracing::debug!(%method, %uri, code, micros = (seconds * 1e6) as u64, "answered"),
    }
    response
}

/// Refuses a request to a restricted API group without a valid bearer token: 401 (with
/// `WWW-Authenticate: Bearer`) when the token is missing or unknown, 403 when it does not grant
/// the group. Refusals are counted by group and reason. Runs inside [`account`], so refused
/// requests are also counted and logged as answers.
async fn authorize(State(state): State<AppState>, path: MatchedPath, request: Request, next: Next) -> Response {
    let Some(auth) = &state.auth else { return next.run(request).await };
    let group = ApiGroup::of_route(path.as_str());
    let header = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    match (auth.check(group, header), group) {
        (Err(refusal), Some(group)) => {
            state
                .metrics
                .auth_refusals
                .get_or_create(&AuthLabels { group: group.name(), reason: refusal.reason() })
                .inc();
            let status = match refusal {
                Refusal::Forbidden => StatusCode::FORBIDDEN,
                Refusal::Missing | Refusal::Unknown => StatusCode::UNAUTHORIZED,
            };
            let mut response = failure(ApiError::new(status, refusal.message(group)));
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
        _ => next.run(request).await,
    }
}

/// The reason an error answer gave, for the request log.
#[derive(Clone)]
struct ErrorMessage(String);

fn failure(error: ApiError) -> Response {
    let message = error.message.clone();
    let mut response = error.into_response();
    response.extensions_mut().insert(ErrorMessage(message));
    response
}

async fn not_found(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    state.metrics.observe_request("unmatched", 404, 0.0);
    failure(ApiError::new(StatusCode::NOT_FOUND, format!("no endpoint {method} {uri}; see GET /v2")))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    failure(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{uri} does not accept {method}")))
}

async fn server_metadata() -> Json<ServerMetadata> {
    Json(server_info())
}

/// What `GET /v2` and gRPC's `ServerMetadata` say about the server.
pub(super) fn server_info() -> ServerMetadata {
    ServerMetadata { name: "pipec", version: env!("CARGO_PKG_VERSION"), extensions: vec!["binary_tensor_data"] }
}

async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "live": true }))
}

async fn ready(State(state): State<AppState>) -> Response {
    readiness(&state)
}

fn readiness(state: &AppState) -> Response {
    let ready = state.ready.load(Ordering::Relaxed);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({ "ready": ready }))).into_response()
}

/// Checks that a request addresses the pipeline this server serves, by its own name or by
/// `--model-name`; returns the name it was addressed by, which the answer repeats.
pub(super) fn check_model(state: &AppState, name: &str, version: Option<&str>) -> Result<&'static str, ApiError> {
    let spec = state.spec;
    let served = if name == spec.name {
        spec.name
    } else if let Some(alias) = state.alias.filter(|alias| *alias == name) {
        alias
    } else {
        let also = state.alias.map_or_else(String::new, |alias| format!(" (also as `{alias}`)"));
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("model `{name}` is not served here; this server serves `{}`{also}", spec.name),
        ));
    };
    match version {
        Some(version) if version != spec.version => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("model `{name}` has no version `{version}`; this server serves version {}", spec.version),
        )),
        _ => Ok(served),
    }
}

pub(super) fn metadata(specs: Specs, served: &'static str) -> ModelMetadata {
    let spec = specs.champion;
    let mut parameters = Map::new();
    parameters.insert("pipeline".into(), Value::from(spec.identity));
    if let Some(challenger) = specs.challenger {
        parameters.insert("challenger_pipeline".into(), Value::from(challenger.identity));
    }
    let check_names: Vec<Value> = spec.checks().map(|(_, check)| Value::from(check.name)).collect();
    let checks = (!check_names.is_empty()).then(|| TensorMetadata {
        name: FAILED_CHECKS,
        datatype: "BYTES",
        shape: vec![-1],
        parameters: Map::from_iter([("checks".to_string(), Value::Array(check_names))]),
    });
    ModelMetadata {
        name: served,
        parameters,
        versions: vec![spec.version],
        platform: "pipec",
        inputs: spec
            .inputs
            .iter()
            .map(|i| TensorMetadata {
                name: i.name,
                datatype: input_datatype(i),
                shape: input_shape(i),
                parameters: Map::from_iter([("nullable".to_string(), Value::Bool(i.nullable))]),
            })
            .collect(),
        outputs: spec
            .public_outputs()
            .map(|(_, o)| TensorMetadata {
                name: o.name,
                datatype: output_datatype(o),
                shape: output_shape(o),
                parameters: Map::new(),
            })
            .chain(checks)
            .collect(),
    }
}

async fn model_metadata(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match check_model(&state, &name, None) {
        Ok(served) => Json(metadata(state.specs, served)).into_response(),
        Err(e) => failure(e),
    }
}

async fn model_metadata_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    match check_model(&state, &name, Some(&version)) {
        Ok(served) => Json(metadata(state.specs, served)).into_response(),
        Err(e) => failure(e),
    }
}

async fn model_ready(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match check_model(&state, &name, None) {
        Ok(_) => readiness(&state),
        Err(e) => failure(e),
    }
}

async fn model_ready_version(State(state): State<AppState>, Path((name, version)): Path<(String, String)>) -> Response {
    match check_model(&state, &name, Some(&version)) {
        Ok(_) => readiness(&state),
        Err(e) => failure(e),
    }
}

async fn monitor(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match check_model(&state, &name, None) {
        Ok(_) => Json(state.duties.report()).into_response(),
        Err(e) => failure(e),
    }
}

/// `POST /v2/models/{name}/feedback` with `{"id": "<request id>", "truth": [...]}`.
async fn feedback(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap, body: Body) -> Response {
    feedback_checked(&state, &name, &headers, body).await.unwrap_or_else(failure)
}

async fn feedback_checked(state: &AppState, name: &str, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    check_model(state, name, None)?;
    let Some(feedback) = &state.duties.feedback else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "this pipeline takes no feedback: its monitor section names no `label` or `prediction`",
        ));
    };
    let bytes = read_body(state, headers, body).await?;
    let message: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let id = message.get("id").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("expected {\"id\": \"<request id>\", \"truth\": [...]}: `id` is missing or not a string")
    })?;
    let truth = message.get("truth").ok_or_else(|| ApiError::bad_request("`truth` is missing"))?;
    match feedback.post(id, truth) {
        Ok((rows, roles)) => {
            for role in roles {
                let labels = ModelLabels { model: role.as_str() };
                state.duties.metrics.duties.feedback_rows.get_or_create(&labels).inc_by(rows as u64);
            }
            Ok(Json(serde_json::json!({ "id": id, "labelled_rows": rows })).into_response())
        }
        Err(FeedbackError::Unknown { capacity }) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no predictions are kept for request `{id}`: unknown, already labelled, or older than the last {capacity} requests (--feedback-capacity)"
            ),
        )),
        Err(FeedbackError::Invalid(message)) => Err(ApiError::bad_request(message)),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.duties.refresh_gauges();
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], state.metrics.render()).into_response()
}

async fn infer(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap, body: Body) -> Response {
    infer_checked(&state, &name, None, &headers, body).await.unwrap_or_else(failure)
}

async fn infer_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_checked(&state, &name, Some(&version), &headers, body).await.unwrap_or_else(failure)
}

async fn infer_checked(
    state: &AppState,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let served = check_model(state, name, version)?;
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING).filter(|e| e.as_bytes() != b"identity") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {encoding:?} is not supported; send the body uncompressed"),
        ));
    }
    let bytes = read_body(state, headers, body).await?;
    let (json, binary) = split_binary(headers, &bytes)?;
    let head = InferRequest::from_json(json).map_err(ApiError::bad_request)?;
    let request = infer::Request { head, binary, json: Some(json) };
    let infer::Answer::Rest(encoded) = infer::infer(state, served, request, infer::Form::Rest).await? else {
        unreachable!("a REST answer was asked for")
    };
    Ok(match encoded.binary {
        None => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], encoded.json).into_response(),
        Some(binary) => {
            let json_length = HeaderValue::from(encoded.json.len());
            let mut body = encoded.json;
            body.extend_from_slice(&binary);
            let content_type = HeaderValue::from_static("application/octet-stream");
            (
                [(header::CONTENT_TYPE, content_type), (header::HeaderName::from_static(HEADER_LENGTH), json_length)],
                body,
            )
                .into_response()
        }
    })
}

/// Reads the body within the size limit and the time limit.
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this server's limit of {limit} bytes (--max-body-bytes)"),
        )
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(state.body_timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} ms (--body-timeout-ms)", state.body_timeout.as_millis()),
        )),
        Ok(Err(e)) => {
            let inner = e.into_inner();
            if inner.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                Err(too_large())
            } else {
                Err(ApiError::bad_request(format!("reading the body failed: {inner}")))
            }
        }
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// With the binary tensor data extension, `Inference-Header-Content-Length` says how many
/// leading bytes are JSON; the rest is binary data.
fn split_binary<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), ApiError> {
    let Some(value) = headers.get(HEADER_LENGTH) else { return Ok((body, &[])) };
    let length = value.to_str().ok().and_then(|v| v.trim().parse::<usize>().ok()).ok_or_else(|| {
        ApiError::bad_request(format!("Inference-Header-Content-Length must be a number of bytes, not {value:?}"))
    })?;
    if length > body.len() {
        return Err(ApiError::bad_request(format!(
            "Inference-Header-Content-Length is {length}, but the body has only {} bytes",
            body.len()
        )));
    }
    Ok(body.split_at(length))
}
