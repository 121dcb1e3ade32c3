//! The inference server every generated crate's binary runs: the Open Inference Protocol
//! (v2 REST, with the binary tensor data extension) over HTTP/1.1, request batching, CPU and
//! wgpu devices, Prometheus metrics, structured logs, graceful shutdown.
//!
//! A generated `main` is one line: `pipec_runtime::server::main::<Pipeline>()`.

mod batcher;
mod config;
mod decode;
mod encode;
mod engines;
mod error;
mod http;
mod listen;
mod metrics;
mod oip;
mod tensors;

pub use config::{DeviceFlag, LogFormat, ServerConfig};

use crate::CompiledPipeline;
use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Parses flags and environment, then serves `P` until SIGTERM or SIGINT. Exits 0 after a
/// clean shutdown, 1 when the server cannot start, 2 on bad flags.
pub fn main<P: CompiledPipeline + 'static>() -> ExitCode {
    let spec = P::spec();
    let name: &'static str = Box::leak(format!("{}-server", spec.name).into_boxed_str());
    let about: &'static str = Box::leak(
        format!(
            "Serves the `{}` pipeline (version {}), compiled by pipec {}, over the Open Inference Protocol (v2 REST).",
            spec.name,
            spec.version,
            env!("CARGO_PKG_VERSION")
        )
        .into_boxed_str(),
    );
    let command = ServerConfig::command().name(name).bin_name(name).version(spec.version).about(about);
    let config = match ServerConfig::from_arg_matches(&command.get_matches()) {
        Ok(config) => config,
        Err(e) => e.exit(),
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::<P>(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the server stopped");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &ServerConfig) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .map_err(|e| format!("--log {:?}: {e}", config.log_filter))?;
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    let installed = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|e| format!("cannot install the logger: {e}"))
}

async fn run<P: CompiledPipeline + 'static>(config: ServerConfig) -> Result<(), String> {
    let spec = P::spec();
    let metrics = Arc::new(metrics::Metrics::new());
    let loading = {
        let config = config.clone();
        let metrics = metrics.clone();
        tokio::task::spawn_blocking(move || batcher::start::<P>(&config, metrics))
    };
    let (batcher, workers, devices) = loading.await.map_err(|e| format!("loading failed: {e}"))??;
    let address = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let ready = Arc::new(AtomicBool::new(true));
    let state = http::AppState {
        spec,
        batcher: batcher.clone(),
        metrics,
        ready: ready.clone(),
        max_body_bytes: config.max_body_bytes,
        body_timeout: Duration::from_millis(config.body_timeout_ms),
        queue_capacity: config.queue_capacity,
    };
    tracing::info!(
        address = %bound,
        model = spec.name,
        version = spec.version,
        devices = %devices,
        max_batch_rows = config.max_batch_rows,
        max_batch_delay_us = config.max_batch_delay_us,
        queue_capacity = config.queue_capacity,
        workers = config.workers,
        "listening"
    );
    let drain = Duration::from_millis(config.shutdown_timeout_ms);
    let header_timeout = Duration::from_millis(config.header_timeout_ms);
    listen::serve(listener, http::router(state), header_timeout, drain, |signal| {
        tracing::info!(signal, "shutting down: no new connections, finishing open requests");
        ready.store(false, Ordering::Relaxed);
    })
    .await;
    batcher.close();
    let _ = tokio::task::spawn_blocking(move || workers.join()).await;
    tracing::info!("stopped");
    Ok(())
}
