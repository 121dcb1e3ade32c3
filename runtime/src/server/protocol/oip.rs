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
    /// REST only (the gRPC message has no such field): `nullable` on every input (whether it
    /// accepts missing values), `checks` on the `failed_checks` output (the checks it names).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
}

impl InferRequest {
    /// Parses a REST request's JSON head. The error says what is wrong and where; for `NaN`
    /// or an infinity, which JSON has no number for, it also names the remedies.
    pub fn from_json(json: &[u8]) -> Result<InferRequest, String> {
        serde_json::from_slice(json).map_err(|e| {
            let mut message = format!("the body is not a valid inference request: {e}");
            if let Some(word) = non_json_number(json, &e) {
                message.push_str(&format!(
                    "; `{word}` is not a JSON number: send a missing value as null (in an input declared \
                     nullable, `T?`), or send the tensor as binary data (`binary_data_size`), which carries \
                     NaN and infinities"
                ));
            }
            message
        })
    }
}

/// The NaN or infinity literal (as Python's json module writes them) at the place of a JSON
/// syntax error, if that is what stopped the parser.
fn non_json_number(json: &[u8], error: &serde_json::Error) -> Option<&'static str> {
    if !error.is_syntax() || error.line() == 0 {
        return None;
    }
    let line_start: usize = json.split(|&b| b == b'\n').take(error.line() - 1).map(|l| l.len() + 1).sum();
    let at = line_start + error.column().saturating_sub(1);
    let window = json.get(at.saturating_sub(1)..)?;
    ["-Infinity", "Infinity", "NaN", "-inf", "inf", "-nan", "nan"].into_iter().find(|word| {
        window.starts_with(word.as_bytes()) || window.get(1..).is_some_and(|w| w.starts_with(word.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::InferRequest;

    #[test]
    fn nan_and_infinity_in_json_name_null_and_binary_data_as_remedies() {
        for (body, word) in [
            (r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1.0, NaN]}]}"#, "NaN"),
            ("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\n\"datatype\":\"FP64\",\"data\":[-Infinity]}]}", "-Infinity"),
            (r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[Infinity]}]}"#, "Infinity"),
        ] {
            let error = InferRequest::from_json(body.as_bytes()).expect_err(body);
            assert!(error.contains(&format!("`{word}` is not a JSON number")), "{error}");
            assert!(error.contains("null") && error.contains("binary data"), "{error}");
        }
        let error = InferRequest::from_json(br#"{"inputs": [}"#).expect_err("bad JSON");
        assert!(!error.contains("not a JSON number"), "{error}");
        assert!(error.contains("line 1 column"), "{error}");
    }
}
