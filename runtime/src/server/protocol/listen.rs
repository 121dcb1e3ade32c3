//! Accepting connections (HTTP/1.1 with keep-alive, a time limit on request headers) and the
//! graceful shutdown on SIGTERM or SIGINT: stop accepting, let in-flight requests finish;
//! TLS when the server has a certificate (`tls.rs`).

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Serves `router` on `listener` until a shutdown signal, then waits up to `drain` for open
/// requests. Returns the signal's name.
/// With `tls`, each connection's handshake runs in the connection's own task and must finish
/// within `header_timeout`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    drain: Duration,
    tls: Option<TlsAcceptor>,
    on_signal: impl FnOnce(&str),
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                let Some(acceptor) = &tls else {
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                    continue;
                };
                let (acceptor, watcher, http) = (acceptor.clone(), graceful.watcher(), http.clone());
                tokio::spawn(async move {
                    let Some(stream) = handshake(&acceptor, stream, header_timeout).await else { return };
                    if let Err(e) = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            name = &mut signal => {
                on_signal(name);
                break;
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(drain) => tracing::warn!(millis = drain.as_millis() as u64, "connections still open after the drain time; stopping anyway"),
    }
}

/// The TLS handshake of an accepted connection, or `None` (logged) when it fails or takes
/// longer than `limit`: a client without an acceptable certificate under mutual TLS, a
/// plain-HTTP client, a scanner.
pub async fn handshake(acceptor: &TlsAcceptor, stream: TcpStream, limit: Duration) -> Option<TlsStream<TcpStream>> {
    let peer = stream.peer_addr().ok();
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::info!(peer = ?peer, error = %e, "TLS handshake refused");
            None
        }
        Err(_) => {
            tracing::info!(peer = ?peer, millis = limit.as_millis() as u64, "TLS handshake timed out");
            None
        }
    }
}

async fn shutdown_signal() -> &'static str {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
