//! The RPCs of `inference.GRPCInferenceService`: what the REST endpoints answer, with the same
//! checks and messages, errors as gRPC status codes, each call counted in `/metrics` under the
//! endpoint `grpc:<Method>` (with the HTTP status the REST endpoint would have answered) and
//! logged as REST requests are.

use super::convert;
use super::limits::Reached;
use super::proto::grpc_inference_service_server::GrpcInferenceService;
use super::proto::model_metadata_response::TensorMetadata;
use super::proto::{
    ModelInferRequest, ModelInferResponse, ModelMetadataRequest, ModelMetadataResponse, ModelReadyRequest,
    ModelReadyResponse, RepositoryModelLoadRequest, RepositoryModelLoadResponse, RepositoryModelUnloadRequest,
    RepositoryModelUnloadResponse, ServerLiveRequest, ServerLiveResponse, ServerMetadataRequest,
    ServerMetadataResponse, ServerReadyRequest, ServerReadyResponse,
};
use crate::server::protocol::error::ApiError;
use crate::server::protocol::http::{AppState, check_model, metadata, server_info};
use crate::server::protocol::infer;
use crate::server::protocol::oip;
use axum::http::StatusCode;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tonic::{Code, Request, Response, Status};

pub struct Service {
    state: AppState,
}

impl Service {
    pub fn new(state: AppState) -> Service {
        Service { state }
    }

    /// Counts, times and logs a call, and turns its error into a gRPC status.
    fn answer<T>(
        &self,
        endpoint: &str,
        start: Instant,
        result: Result<(T, StatusCode), ApiError>,
    ) -> Result<Response<T>, Status> {
        let seconds = start.elapsed().as_secs_f64();
        let micros = (seconds * 1e6) as u64;
        match result {
            Ok((message, code)) => {
                self.state.metrics.observe_request(endpoint, code.as_u16(), seconds);
                tracing::debug!(endpoint, code = code.as_u16(), micros, "answered");
                Ok(Response::new(message))
            }
            Err(error) => {
                let code = error.status.as_u16();
                self.state.metrics.observe_request(endpoint, code, seconds);
                tracing::warn!(endpoint, code, micros, reason = %error.message, "rejected");
                Err(status(error))
            }
        }
    }

    fn ready(&self) -> (bool, StatusCode) {
        let ready = self.state.ready.load(Ordering::Relaxed);
        (ready, if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE })
    }

    async fn model_infer_checked(&self, message: ModelInferRequest) -> Result<ModelInferResponse, ApiError> {
        let served = check_model(&self.state, &message.model_name, version(&message.model_version))?;
        let rest = convert::request(message)?;
        let request = infer::Request { head: rest.head, binary: &rest.binary, json: None };
        match infer::infer(&self.state, served, request, infer::Form::Raw).await? {
            infer::Answer::Raw { head, outputs } => Ok(convert::response(head, outputs)),
            infer::Answer::Rest(_) => unreachable!("raw outputs were asked for"),
        }
    }
}

/// An empty `model_version` means whatever version is served, as the protocol says.
fn version(version: &str) -> Option<&str> {
    (!version.is_empty()).then_some(version)
}

/// The gRPC status for an error the REST endpoints answer with `error.status`; the message is
/// the same.
pub fn status(error: ApiError) -> Status {
    let code = match error.status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::InvalidArgument,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        StatusCode::REQUEST_TIMEOUT => Code::DeadlineExceeded,
        StatusCode::NOT_IMPLEMENTED | StatusCode::METHOD_NOT_ALLOWED => Code::Unimplemented,
        StatusCode::INTERNAL_SERVER_ERROR => Code::Internal,
        _ => Code::Unknown,
    };
    Status::new(code, error.message)
}

fn tensors(tensors: Vec<oip::TensorMetadata>) -> Vec<TensorMetadata> {
    tensors
        .into_iter()
        .map(|t| TensorMetadata { name: t.name.into(), datatype: t.datatype.into(), shape: t.shape })
        .collect()
}

fn no_repository() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "this server serves the one pipeline built into its binary; it has no model repository to load from or unload",
    )
}

#[tonic::async_trait]
impl GrpcInferenceService for Service {
    async fn server_live(&self, request: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        Reached::mark(&request);
        self.answer("grpc:ServerLive", Instant::now(), Ok((ServerLiveResponse { live: true }, StatusCode::OK)))
    }

    async fn server_ready(
        &self,
        request: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Reached::mark(&request);
        let (ready, code) = self.ready();
        self.answer("grpc:ServerReady", Instant::now(), Ok((ServerReadyResponse { ready }, code)))
    }

    async fn model_ready(&self, request: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        Reached::mark(&request);
        let start = Instant::now();
        let message = request.into_inner();
        let result = check_model(&self.state, &message.name, version(&message.version)).map(|_| {
            let (ready, code) = self.ready();
            (ModelReadyResponse { ready }, code)
        });
        self.answer("grpc:ModelReady", start, result)
    }

    async fn server_metadata(
        &self,
        request: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Reached::mark(&request);
        let info = server_info();
        let message = ServerMetadataResponse {
            name: info.name.into(),
            version: info.version.into(),
            extensions: info.extensions.into_iter().map(String::from).collect(),
        };
        self.answer("grpc:ServerMetadata", Instant::now(), Ok((message, StatusCode::OK)))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        Reached::mark(&request);
        let start = Instant::now();
        let message = request.into_inner();
        let result = check_model(&self.state, &message.name, version(&message.version)).map(|served| {
            let metadata = metadata(self.state.specs, served);
            let message = ModelMetadataResponse {
                name: metadata.name.into(),
                versions: metadata.versions.into_iter().map(String::from).collect(),
                platform: metadata.platform.into(),
                inputs: tensors(metadata.inputs),
                outputs: tensors(metadata.outputs),
            };
            (message, StatusCode::OK)
        });
        self.answer("grpc:ModelMetadata", start, result)
    }

    async fn model_infer(&self, request: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        Reached::mark(&request);
        let start = Instant::now();
        let result = self.model_infer_checked(request.into_inner()).await.map(|answer| (answer, StatusCode::OK));
        self.answer("grpc:ModelInfer", start, result)
    }

    async fn repository_model_load(
        &self,
        request: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        Reached::mark(&request);
        self.answer("grpc:RepositoryModelLoad", Instant::now(), Err(no_repository()))
    }

    async fn repository_model_unload(
        &self,
        request: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        Reached::mark(&request);
        self.answer("grpc:RepositoryModelUnload", Instant::now(), Err(no_repository()))
    }
}
