//! The Open Inference Protocol over gRPC: KServe's `inference.GRPCInferenceService`
//! (`runtime/proto/grpc_predict_v2.proto`), on a port of its own (`--grpc-port`), HTTP/2, over
//! TLS when the server has a certificate (`--tls-cert`).
//!
//! `proto.rs` is the generated code (messages and the service's server side). `service.rs`
//! answers the RPCs, with the REST endpoints' checks, accounting and messages; `convert.rs`
//! turns a `ModelInferRequest` into the REST form that `infer.rs` scores and the answer back,
//! so that gRPC and REST share decoding, batching and encoding, and answer the same bits.
//! The listener here is served by hyper's HTTP/2 connections directly (no tonic transport)
//! and shuts down gracefully with the HTTP listener: no new connections, open calls finish.
//! `limits.rs` wraps the service: body timeout, and counting the calls tonic rejects before
//! an RPC runs (oversized messages).

mod convert;
mod limits;
#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod proto;
mod service;

use super::http::AppState;
use super::listen::handshake;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use proto::grpc_inference_service_server::GrpcInferenceServiceServer;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How often an idle connection is pinged, and how long the answer may take before the
/// connection is closed.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(60);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The gRPC listener, bound but not yet serving.
pub struct Listener {
    listener: TcpListener,
    address: SocketAddr,
}

impl Listener {
    /// Binds `host:port` when `port` is set (0 picks a free port); `None` when it is not,
    /// and the server has no gRPC listener.
    pub async fn bind(host: &str, port: Option<u16>) -> Result<Option<Listener>, String> {
        let Some(port) = port else { return Ok(None) };
        let address = format!("{host}:{port}");
        let listener =
            TcpListener::bind(&address).await.map_err(|e| format!("cannot listen for gRPC on {address}: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        Ok(Some(Listener { listener, address }))
    }

    /// The address bound, with the port picked when `--grpc-port 0`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Starts serving in a task of its own, until [`Running::stop`]; then open calls get up
    /// to `drain` to finish.
    pub fn serve(
        self,
        state: AppState,
        drain: Duration,
        tls: Option<TlsAcceptor>,
        handshake_limit: Duration,
    ) -> Running {
        let (stop, stopped) = watch::channel(false);
        let service = GrpcInferenceServiceServer::new(service::Service::new(state.clone()))
            .max_decoding_message_size(state.max_body_bytes);
        let service = limits::Limits::new(service, state.body_timeout, state.metrics.clone(), state.auth.clone());
        let task = tokio::spawn(serve(self.listener, service, drain, stopped, tls, handshake_limit));
        Running { stop, task }
    }
}

/// The gRPC listener at work.
pub struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections and tells open ones to finish their calls (HTTP/2
    /// GOAWAY).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the open connections have closed, or the drain time has passed.
    pub async fn finished(self) {
        self.stop();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the gRPC listener failed");
        }
    }
}

async fn serve(
    listener: TcpListener,
    service: limits::Limits,
    drain: Duration,
    mut stopped: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
    handshake_limit: Duration,
) {
    let mut http = http2::Builder::new(TokioExecutor::new());
    // Pings find connections whose peer went away without closing them.
    http.timer(TokioTimer::new()).keep_alive_interval(Some(KEEP_ALIVE_INTERVAL)).keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off rather than spin.
                        tracing::warn!(error = %e, "accepting a gRPC connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(service.clone());
                let Some(acceptor) = &tls else {
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!(error = %e, "gRPC connection ended with an error");
                        }
                    });
                    continue;
                };
                let (acceptor, watcher, http) = (acceptor.clone(), graceful.watcher(), http.clone());
                tokio::spawn(async move {
                    let Some(stream) = handshake(&acceptor, stream, handshake_limit).await else { return };
                    if let Err(e) = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await {
                        tracing::debug!(error = %e, "gRPC connection ended with an error");
                    }
                });
            }
            () = stop_requested(&mut stopped) => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all gRPC connections closed"),
        () = tokio::time::sleep(drain) => tracing::warn!(
            millis = drain.as_millis() as u64,
            "gRPC connections still open after the drain time; stopping anyway"
        ),
    }
}

/// Returns once a stop is asked for, or once nothing can ask for it any more.
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
