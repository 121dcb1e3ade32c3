//! Scoring one inference request, whatever protocol brought it: the request in the REST form
//! (the JSON head and the binary tensor data after it), checked, batched, scored and encoded
//! back into the REST form. `http.rs` hands it the body as it came; `grpc/` converts a
//! `ModelInferRequest` into that form first (raw contents as binary data) and the answer back
//! (every output as binary data, cut into `raw_output_contents`), so that both protocols run
//! the same checks and give the same bits and the same error messages.

use super::batcher::SubmitError;
use super::challenger::routes_to_challenger;
use super::config::ChallengerMode;
use super::decode::decode;
use super::encode::{encode, failed_checks, Encoded};
use super::error::ApiError;
use super::http::AppState;
use super::models::Role;
use super::oip::{InferRequest, InferResponse};
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// Scores the request whose JSON head is `json` and whose binary tensor data is `binary`
/// (empty when it has none), addressed to the model by the name `served` (the pipeline's name
/// or `--model-name`, already checked), and returns the answer's JSON head and binary data.
pub async fn infer(state: &AppState, served: &'static str, json: &[u8], binary: &[u8]) -> Result<Encoded, ApiError> {
    let request: InferRequest = serde_json::from_slice(json)
        .map_err(|e| ApiError::bad_request(format!("the body is not a valid inference request: {e}")))?;
    let decoded = decode(state.spec, &request, binary)?;
    let rows = decoded.batch.rows();
    let request_id = request.id.clone().unwrap_or_else(|| state.ids.next());
    let role = choose_model(state, &request, &request_id);
    let answer = state.batcher.submit(decoded.batch, request_id.clone(), role).map_err(|e| match e {
        SubmitError::Full => {
            state.metrics.rejected_full.inc();
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("the server is at capacity ({} requests queued); retry later", state.queue_capacity),
            )
        }
        SubmitError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down"),
    })?;
    let scored = answer
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the worker stopped before answering"))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the request failed: {e}")))?;
    let spec = state.specs.get(scored.role).unwrap_or(state.spec);
    let mut parameters = Map::new();
    parameters.insert("pipeline".into(), Value::from(scored.identity));
    parameters.insert("model".into(), Value::from(scored.role.as_str()));
    let has_checks = spec.checks().next().is_some();
    let failed = if has_checks { failed_checks(spec, rows, &scored.columns) } else { Vec::new() };
    if has_checks {
        parameters.insert("failed_check_rows".into(), Value::from(failed.iter().filter(|f| !f.is_empty()).count()));
    }
    let head = InferResponse { model_name: served, model_version: state.spec.version, id: request_id.clone(), parameters };
    let encoded = encode(spec, head, rows, &decoded.outputs, &scored.columns, &failed)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the answer failed: {e}")))?;
    // payload events: the one place for the payload logger's hook, for REST and gRPC alike.
    // At hand here: the request (`json` + `binary`, the REST form, which is also what a gRPC
    // request was converted into), the answer (`encoded.json` + `encoded.binary`), the
    // request id (`request_id`: the request's own or the one given above) and the role that
    // answered (`scored.role`).
    Ok(encoded)
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
