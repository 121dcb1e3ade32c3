//! Scoring one inference request, whatever protocol brought it: [`infer`] is the one entry
//! point of both. The request is in the REST form (an [`InferRequest`] and the binary tensor
//! data after it): `http.rs` parses the body as it came; `grpc/` converts a
//! `ModelInferRequest` into that form (raw and typed contents as binary data or `data`). Both
//! then share the checks (`decode`), the routing, the queue and the encoding of the request's
//! [`BatchOutcome`](crate::server::scheduling::BatchOutcome) (`encode`): REST gets the
//! protocol's JSON answer with binary data where asked, gRPC every output as binary data for
//! `raw_output_contents`, written by the same code, so the two protocols answer the same bits
//! and the same error messages.

use super::decode::decode;
use super::encode::{Encoded, RawOutput, encode, encode_raw};
use super::error::ApiError;
use super::http::AppState;
use super::oip::{InferRequest, InferResponse};
use crate::server::config::ChallengerMode;
use crate::server::duties::challenger::routes_to_challenger;
use crate::server::duties::payload_log::{Payload, PayloadPair};
use crate::server::scheduling::{Role, SubmitError};
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// A request in the REST form.
pub struct Request<'a> {
    pub head: InferRequest,
    /// The binary tensor data after the head; empty when there is none.
    pub binary: &'a [u8],
    /// The head's JSON as it arrived (REST). `None` for a converted gRPC request, whose head
    /// serializes (`serde_json::to_vec(&request.head)`) to the same request in JSON.
    pub json: Option<&'a [u8]>,
}

/// How the answer is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The protocol's JSON answer, with binary data for the outputs asked for that way.
    Rest,
    /// The head, and every output as binary data (gRPC).
    Raw,
}

pub enum Answer {
    Rest(Encoded),
    Raw { head: InferResponse, outputs: Vec<RawOutput> },
}

/// Scores `request`, addressed to the model by the name `served` (the pipeline's name or
/// `--model-name`, already checked), and answers in the form asked for.
pub async fn infer(
    state: &AppState,
    served: &'static str,
    request: Request<'_>,
    form: Form,
) -> Result<Answer, ApiError> {
    let received = std::time::SystemTime::now();
    let decoded = decode(state.spec, &request.head, request.binary)?;
    let rows = decoded.batch.rows();
    let request_id = request.head.id.clone().unwrap_or_else(|| state.ids.next());
    let role = choose_model(state, &request.head, &request_id);
    let answer = state.queue.submit(decoded.batch, request_id.clone(), role).map_err(|e| match e {
        SubmitError::Full => {
            state.metrics.rejected_full.inc();
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("the server is at capacity ({} requests queued); retry later", state.queue_capacity),
            )
        }
        SubmitError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down"),
    })?;
    let outcome = answer
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the worker stopped before answering"))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the request failed: {e}")))?;
    let mut parameters = Map::new();
    parameters.insert("pipeline".into(), Value::from(outcome.spec.identity));
    parameters.insert("model".into(), Value::from(outcome.role.as_str()));
    if outcome.spec.checks().next().is_some() {
        parameters.insert("failed_check_rows".into(), Value::from(outcome.failed_checks.failing_rows(rows)));
    }
    let head =
        InferResponse { model_name: served, model_version: state.spec.version, id: request_id.clone(), parameters };
    let answer = match form {
        Form::Rest => Answer::Rest(encode(head, rows, &decoded.outputs, &outcome).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the answer failed: {e}"))
        })?),
        Form::Raw => Answer::Raw { head, outputs: encode_raw(rows, &decoded.outputs, &outcome) },
    };
    // Payload events (`--log-url`), REST and gRPC alike: the request and the answer in their
    // REST form, under the request id, for the role that answered.
    if let Some(log) = &state.duties.payload_log {
        let response = match &answer {
            Answer::Rest(encoded) => Payload::rest(&encoded.json, encoded.binary.as_deref().unwrap_or_default()),
            Answer::Raw { head, outputs } => Payload::raw_answer(head, outputs),
        };
        log.record(PayloadPair {
            id: request_id,
            received,
            request: Payload::request(&request.head, request.json, request.binary),
            response: Some(response),
            role: outcome.role,
            pipeline: outcome.spec.identity,
        });
    }
    Ok(answer)
}

/// Which pipeline answers: the champion, unless a challenger is in split mode and the
/// request's routing key (parameter `routing_key`, else the request id) falls in its share.
fn choose_model(state: &AppState, request: &InferRequest, request_id: &str) -> Role {
    if state.specs.challenger.is_none() || state.challenger_mode != ChallengerMode::Split {
        return Role::Champion;
    }
    let key = match request.parameters.get("routing_key") {
        Some(Value::String(key)) => key.clone(),
        Some(other @ Value::Number(_)) => other.to_string(),
        _ => request_id.to_string(),
    };
    if routes_to_challenger(&key, state.challenger_share) { Role::Challenger } else { Role::Champion }
}
