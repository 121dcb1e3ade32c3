//! The inference server every generated crate's binary runs: the Open Inference Protocol
//! (v2 REST, with the binary tensor data extension) over HTTP/1.1, request batching, CPU and
//! wgpu devices, Prometheus metrics, structured logs, graceful shutdown.
//!
//! A generated `main` is one line: `pipec_runtime::server::main::<Pipeline>()`, or
//! `main_with_challenger::<Champion, Challenger>()` for a binary built with a challenger;
//! built for the CPU only (without the feature `gpu`), `main_native::<NativePipeline>()` or
//! `main_native_with_challenger`, which hold no burn or wgpu code.
//!
//! Three groups, each documented in its `mod.rs`:
//! - `protocol/`: REST and gRPC, decoding requests and encoding answers; both protocols call
//!   one entry point, `protocol::infer::infer`.
//! - `scheduling/`: the bounded queue that merges requests into batches and splits them back,
//!   and the workers that score each batch once into a `BatchOutcome` (route, columns, failed
//!   checks), hand it to the duties, then answer.
//! - `duties/`: what happens after each batch (`Duties::after_batch`): checks, drift, live
//!   accuracy, the shadow challenger, payload events and the audit log.
//!
//! Beside them: `config.rs` (flags), `metrics.rs` (the Prometheus registry every group
//! counts in), `replay.rs` (re-runs a logged request stream through this binary's
//! pipelines) and `score/` (scores a dataset file with them: `<binary> score`, `pipec score`).

mod config;
mod duties;
mod metrics;
pub(crate) mod protocol;
mod replay;
mod scheduling;
#[cfg(feature = "batch")]
mod score;

/// The pipeline as a Python extension module (feature `python`; `pipec build --python`).
#[cfg(feature = "python")]
pub use score::python;

pub use config::{AuditDurability, ChallengerMode, DeviceFlag, LogFormat, PayloadLogMode, ServerConfig};

#[cfg(feature = "gpu")]
use crate::CompiledPipeline;
use crate::RowPipeline;
use clap::{CommandFactory, FromArgMatches};
use protocol::{auth, grpc, http, listen, tls};
use scheduling::{Opener, Specs};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Parses flags and environment, then serves `P` until SIGTERM or SIGINT. Exits 0 after a
/// clean shutdown, 1 when the server cannot start, 2 on bad flags. `<binary> replay ...`
/// re-runs an audit log instead (see `replay`).
#[cfg(feature = "gpu")]
pub fn main<P: CompiledPipeline + 'static>() -> ExitCode {
    let (specs, open) = scheduling::models::single::<P>();
    main_with(specs, open)
}

/// As [`main`], with a challenger `C` beside the champion `P` (`--challenger-mode`).
#[cfg(feature = "gpu")]
pub fn main_with_challenger<P: CompiledPipeline + 'static, C: CompiledPipeline + 'static>() -> ExitCode {
    paired(scheduling::models::with_challenger::<P, C>())
}

/// As [`main`] for a server built for the CPU only: every batch runs on `R`, the native
/// one-row path.
pub fn main_native<R: RowPipeline + 'static>() -> ExitCode {
    let (specs, open) = scheduling::models::single_native::<R>();
    main_with(specs, open)
}

/// As [`main_native`], with a challenger `C` beside the champion `R`.
pub fn main_native_with_challenger<R: RowPipeline + 'static, C: RowPipeline + 'static>() -> ExitCode {
    paired(scheduling::models::with_challenger_native::<R, C>())
}

fn paired(models: Result<(Specs, Opener), String>) -> ExitCode {
    match models {
        Ok((specs, open)) => main_with(specs, open),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main_with(specs: Specs, open: Opener) -> ExitCode {
    match std::env::args_os().nth(1) {
        Some(command) if command == "replay" => return replay::main(specs, open),
        #[cfg(feature = "batch")]
        Some(command) if command == "score" => return score::main(specs, open),
        #[cfg(not(feature = "batch"))]
        Some(command) if command == "score" => {
            eprintln!(
                "error: this server was built without batch scoring; build one with it with `pipec build --batch`, \
                 or let `pipec score FILE.pipe` build it"
            );
            return ExitCode::from(2);
        }
        _ => {}
    }
    let spec = specs.champion;
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
    let command =
        ServerConfig::command().name(name).bin_name(name).version(spec.version).about(about).after_help(format!(
            "`{name} replay --help`: re-run an audit log through this binary's pipelines.\n\
             `{name} score --help`: score a Parquet, Arrow or CSV file on every core (a server built with \
             `pipec build --batch`)."
        ));
    let config = match ServerConfig::from_arg_matches(&command.get_matches()) {
        Ok(config) => config,
        Err(e) => e.exit(),
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = config.http_port() {
        tracing::error!(error = %e, "bad settings");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, specs, open)) {
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

async fn run(config: ServerConfig, specs: Specs, open: Opener) -> Result<(), String> {
    // Read before the pipeline loads, so that a bad certificate or token file stops the
    // server at once.
    let tls = tls::TlsFiles {
        cert: config.tls_cert.as_deref(),
        key: config.tls_key.as_deref(),
        client_ca: config.tls_client_ca.as_deref(),
    }
    .acceptors()
    .map_err(|e| e.to_string())?;
    let auth = match &config.auth_token_file {
        Some(path) => {
            let auth = Arc::new(auth::Auth::open(path, config.auth_groups.clone()).map_err(|e| e.to_string())?);
            auth.watch();
            Some(auth)
        }
        None => None,
    };
    let spec = specs.champion;
    let metrics = Arc::new(metrics::Metrics::new());
    let duties = Arc::new(duties::open(&config, specs, metrics.clone())?);
    let loading = {
        let config = config.clone();
        let duties = duties.clone();
        tokio::task::spawn_blocking(move || scheduling::start(&config, open, duties))
    };
    let (queue, workers, devices) = loading.await.map_err(|e| format!("loading failed: {e}"))??;
    let address = format!("{}:{}", config.host, config.http_port()?);
    let listener =
        tokio::net::TcpListener::bind(&address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let grpc = grpc::Listener::bind(&config.host, config.grpc_port).await?;
    if let Some(log) = &duties.payload_log {
        log.listening(bound.port());
    }
    let tls_mode = match &tls {
        Some(t) if t.mutual => "mutual",
        Some(_) => "server",
        None => "off",
    };
    let ready = Arc::new(AtomicBool::new(true));
    let state = http::AppState {
        auth: auth.clone(),
        spec,
        alias: config
            .model_name
            .clone()
            .filter(|alias| alias != spec.name)
            .map(|alias| &*Box::leak(alias.into_boxed_str())),
        specs,
        duties: duties.clone(),
        ids: Arc::new(http::RequestIds::new()),
        challenger_mode: config.challenger_mode,
        challenger_share: config.challenger_share,
        queue: queue.clone(),
        metrics,
        ready: ready.clone(),
        max_body_bytes: config.max_body_bytes,
        body_timeout: Duration::from_millis(config.body_timeout_ms),
        queue_capacity: config.queue_capacity,
    };
    tracing::info!(
        address = %bound,
        grpc_address = grpc.as_ref().map(|g| tracing::field::display(g.address())),
        model = spec.name,
        model_name = config.model_name.as_deref(),
        version = spec.version,
        pipeline = spec.identity,
        challenger = specs.challenger.map(|c| c.identity),
        challenger_mode = ?config.challenger_mode,
        audit = ?config.audit_dir,
        devices = %devices,
        max_batch_rows = config.max_batch_rows,
        max_batch_delay_us = config.max_batch_delay_us,
        queue_capacity = config.queue_capacity,
        workers = config.workers,
        tls = tls_mode,
        auth = auth.as_ref().map(|a| tracing::field::display(a.restricted().map(|g| g.name()).collect::<Vec<_>>().join(","))),
        "listening"
    );
    let drain = Duration::from_millis(config.shutdown_timeout_ms);
    let header_timeout = Duration::from_millis(config.header_timeout_ms);
    let (http_tls, grpc_tls) = tls.map(|t| (t.http, t.grpc)).unzip();
    let grpc = grpc.map(|listener| listener.serve(state.clone(), drain, grpc_tls, header_timeout));
    listen::serve(listener, http::router(state), header_timeout, drain, http_tls, |signal| {
        tracing::info!(signal, "shutting down: no new connections, finishing open requests");
        ready.store(false, Ordering::Relaxed);
        if let Some(grpc) = &grpc {
            grpc.stop();
        }
    })
    .await;
    if let Some(grpc) = grpc {
        grpc.finished().await;
    }
    queue.close();
    let _ = tokio::task::spawn_blocking(move || workers.join()).await;
    if let Some(log) = &duties.payload_log {
        log.close(drain).await;
    }
    if let Some(audit) = &duties.audit {
        let audit = audit.clone();
        match tokio::task::spawn_blocking(move || audit.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "closing the audit log failed"),
            Err(e) => tracing::error!(error = %e, "closing the audit log failed"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}
