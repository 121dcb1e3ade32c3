//! What the gRPC listener enforces around the generated service, before a call reaches its
//! RPC: a request body that stalls for longer than `--body-timeout-ms` between two frames
//! fails the call, and a call that tonic rejects before the RPC runs (a message over
//! `--max-body-bytes`, a stalled or broken body, an unknown method) is still counted in
//! `/metrics` and logged, as the RPCs count their own answers. A message over the limit is
//! answered RESOURCE_EXHAUSTED (gRPC's code for it, and what the REST endpoints' 413 maps to),
//! where tonic says OUT_OF_RANGE.

use super::proto::grpc_inference_service_server::GrpcInferenceServiceServer;
use super::service;
use crate::server::metrics::{AuthLabels, Metrics};
use crate::server::protocol::auth::{ApiGroup, Auth, Refusal};
use axum::http::{Request, Response};
use hyper::body::Body;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tonic::Code;
use tower::Service;
use tower_http::timeout::TimeoutBody;

/// The RPCs of `inference.GRPCInferenceService`, by method name: what `/metrics` labels a
/// call with (anything else is `grpc:unknown`, so that random paths add no series).
const METHODS: [&str; 8] = [
    "ServerLive",
    "ServerReady",
    "ModelReady",
    "ServerMetadata",
    "ModelMetadata",
    "ModelInfer",
    "RepositoryModelLoad",
    "RepositoryModelUnload",
];

/// Set by an RPC when it runs (it then counts its own answer); put in each call's
/// extensions by [`Limits`].
#[derive(Clone, Default)]
pub struct Reached(Arc<AtomicBool>);

impl Reached {
    /// Marks the call `request` belongs to as answered by its RPC.
    pub fn mark<T>(request: &tonic::Request<T>) {
        if let Some(reached) = request.extensions().get::<Reached>() {
            reached.0.store(true, Ordering::Relaxed);
        }
    }
}

/// The generated service with the limits around it.
#[derive(Clone)]
pub struct Limits {
    inner: GrpcInferenceServiceServer<service::Service>,
    body_timeout: Duration,
    metrics: Arc<Metrics>,
    auth: Option<Arc<Auth>>,
}

impl Limits {
    pub fn new(
        inner: GrpcInferenceServiceServer<service::Service>,
        body_timeout: Duration,
        metrics: Arc<Metrics>,
        auth: Option<Arc<Auth>>,
    ) -> Limits {
        Limits { inner, body_timeout, metrics, auth }
    }
}

impl<B> Service<Request<B>> for Limits
where
    B: Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<TimeoutBody<B>>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let start = Instant::now();
        let endpoint = endpoint(request.uri().path());
        if let Some(refused) =
            self.auth.as_ref().and_then(|auth| authorize(auth, &self.metrics, &endpoint, &request, start))
        {
            return Box::pin(async move { Ok(refused) });
        }
        let reached = Reached::default();
        request.extensions_mut().insert(reached.clone());
        let timeout = self.body_timeout;
        let answer = self.inner.call(request.map(|body| TimeoutBody::new(timeout, body)));
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let response = answer.await?;
            if reached.0.load(Ordering::Relaxed) {
                return Ok(response);
            }
            Ok(count_rejection(&metrics, &endpoint, response, start))
        })
    }
}

/// The answer to a call to a restricted method without a valid token in its `authorization`
/// metadata (`Bearer <token>`): UNAUTHENTICATED (a missing or unknown token) or
/// PERMISSION_DENIED, counted and logged as the REST endpoints' 401 and 403 are.
fn authorize<B>(
    auth: &Auth,
    metrics: &Metrics,
    endpoint: &str,
    request: &Request<B>,
    start: Instant,
) -> Option<Response<tonic::body::Body>> {
    let method = endpoint.strip_prefix("grpc:").unwrap_or(endpoint);
    let group = ApiGroup::of_rpc(method)?;
    let header = request.headers().get(axum::http::header::AUTHORIZATION).map(|v| v.as_bytes());
    let refusal = auth.check(Some(group), header).err()?;
    metrics.auth_refusals.get_or_create(&AuthLabels { group: group.name(), reason: refusal.reason() }).inc();
    let (status, code) = match refusal {
        Refusal::Forbidden => (tonic::Status::permission_denied(refusal.message(group)), 403),
        Refusal::Missing | Refusal::Unknown => (tonic::Status::unauthenticated(refusal.message(group)), 401),
    };
    let seconds = start.elapsed().as_secs_f64();
    metrics.observe_request(endpoint, code, seconds);
    tracing::warn!(endpoint, code, micros = (seconds * 1e6) as u64, reason = status.message(), "rejected");
    Some(status.into_http())
}

/// `grpc:<Method>` for the service's methods, `grpc:unknown` for any other path.
fn endpoint(path: &str) -> String {
    let method = path.strip_prefix("/inference.GRPCInferenceService/").filter(|m| METHODS.contains(m));
    format!("grpc:{}", method.unwrap_or("unknown"))
}

/// Counts and logs a call that ended before its RPC ran (its status is in the response's
/// headers: a trailers-only answer), and gives an oversized message its gRPC code.
fn count_rejection(
    metrics: &Metrics,
    endpoint: &str,
    response: Response<tonic::body::Body>,
    start: Instant,
) -> Response<tonic::body::Body> {
    let Some(mut status) = tonic::Status::from_header_map(response.headers()) else { return response };
    if status.code() == Code::Ok {
        return response;
    }
    let oversized = status.code() == Code::OutOfRange && status.message().contains(TONIC_TOO_LARGE);
    if oversized {
        status = tonic::Status::resource_exhausted(format!("{} (--max-body-bytes)", status.message()));
    }
    // The HTTP status the REST endpoints answer for the same failure.
    let code = match status.code() {
        Code::ResourceExhausted => 413,
        Code::Unimplemented => 404,
        Code::DeadlineExceeded | Code::Cancelled => 408,
        _ => 400,
    };
    let seconds = start.elapsed().as_secs_f64();
    metrics.observe_request(endpoint, code, seconds);
    tracing::warn!(
        endpoint,
        code,
        grpc_code = ?status.code(),
        micros = (seconds * 1e6) as u64,
        reason = status.message(),
        "rejected before the call was read"
    );
    if oversized { status.into_http() } else { response }
}

/// What tonic's decoder says of a message over `max_decoding_message_size`.
const TONIC_TOO_LARGE: &str = "decoded message length too large";

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn only_the_services_methods_name_a_series() {
        assert_eq!(endpoint("/inference.GRPCInferenceService/ModelInfer"), "grpc:ModelInfer");
        assert_eq!(endpoint("/inference.GRPCInferenceService/Nope"), "grpc:unknown");
        assert_eq!(endpoint("/other.Service/ModelInfer"), "grpc:unknown");
    }
}
