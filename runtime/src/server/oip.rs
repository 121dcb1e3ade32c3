//! The Open Inference Protocol (v2 REST) messages, as JSON.
//!
//! Unknown fields are ignored, as the protocol allows extensions to add them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /v2/models/{name}/infer`. Also what a gRPC `ModelInferRequest` is converted into;
/// serialized, it is that request's JSON head in the REST form (for the payload log).
#[derive(Debug, Deserialize, Serialize)]
pub struct InferRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
    pub inputs: Vec<RequestInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RequestOutput>>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct RequestOutput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
}

/// The head of an answer; `outputs` with their data are added by `encode`.
#[derive(Debug, Serialize)]
pub struct InferResponse {
    pub model_name: &'static str,
    pub model_version: &'static str,
    /// The request's `id`, or the one the server gave it (for feedback and the audit log).
    pub id: String,
    /// `pipeline` (the answering build's identity), `model` (`champion` or `challenger`) and,
    /// with checks, `failed_check_rows`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
}

/// One output's description; its data is added by `encode`.
#[derive(Debug, Serialize)]
pub struct ResponseOutput {
    pub name: &'static str,
    pub datatype: &'static str,
    pub shape: Vec<usize>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
}

/// `GET /v2`.
#[derive(Debug, Serialize)]
pub struct ServerMetadata {
    pub name: &'static str,
    pub version: &'static str,
    pub extensions: Vec<&'static str>,
}

/// `GET /v2/models/{name}`.
#[derive(Debug, Serialize)]
pub struct ModelMetadata {
    pub name: &'static str,
    /// `pipeline`: the build's identity; `challenger`: the challenger's, when there is one.
    pub parameters: Map<String, Value>,
    pub versions: Vec<&'static str>,
    pub platform: &'static str,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

#[derive(Debug, Serialize)]
pub struct TensorMetadata {
    pub name: &'static str,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
}
