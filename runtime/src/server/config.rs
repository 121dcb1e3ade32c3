//! The server's configuration: every setting is a flag and an environment variable.

use clap::{Parser, ValueEnum};
use std::time::Duration;

/// Where the pipeline runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceFlag {
    /// The CPU: the native one-row path, and burn's `flex` backend above --native-max-rows.
    Cpu,
    /// wgpu (Vulkan, Metal, DX12); batches under --gpu-min-rows rows still run on the CPU.
    Wgpu,
    /// wgpu when a hardware GPU adapter is present, else the CPU.
    Auto,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable lines.
    Text,
}

/// When the audit log acknowledges a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditDurability {
    /// Answer only after the request's record is on disk (fdatasync; records that arrive
    /// together share one sync).
    Durable,
    /// Answer at once; records are written in the background and reach the disk when the
    /// operating system flushes them.
    Buffered,
}

/// What the challenger, when the binary holds one, does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ChallengerMode {
    /// Every request is answered by the champion and also scored by the challenger; both are
    /// logged, and disagreement is reported.
    Shadow,
    /// `--challenger-share` of requests, chosen by a hash of their routing key, are answered
    /// by the challenger instead.
    Split,
    /// The challenger is not used.
    Off,
}

/// Which payload events `--log-url` receives (KServe's logger modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PayloadLogMode {
    /// Each request and its response.
    All,
    /// Requests only.
    Request,
    /// Responses only.
    Response,
}

/// Serves one compiled pipeline over the Open Inference Protocol (v2 REST).
#[derive(Clone, Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default, so that a server started on a workstation
    /// is not reachable from the network until asked; the container image `pipec build
    /// --image` writes sets `PIPEC_HOST=0.0.0.0`.
    #[arg(long, env = "PIPEC_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on for HTTP (0 picks a free one; the log line `listening` gives
    /// it). Default: `$PORT` when set (the Knative and Cloud Run container contract), else
    /// 8000.
    #[arg(long, env = "PIPEC_PORT")]
    pub port: Option<u16>,

    /// TCP port to serve the Open Inference Protocol over gRPC on (KServe's
    /// `inference.GRPCInferenceService`, HTTP/2 without TLS), on the same --host. Unset: no
    /// gRPC listener; 0 picks a free port (the log line `listening` gives it as
    /// `grpc_address`). The container image sets `PIPEC_GRPC_PORT=8081`.
    #[arg(long, env = "PIPEC_GRPC_PORT")]
    pub grpc_port: Option<u16>,

    /// Serve HTTP and gRPC over TLS with this certificate chain (PEM, the server's certificate
    /// first), with --tls-key.
    #[arg(long, env = "PIPEC_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "PIPEC_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Mutual TLS: clients must present a certificate signed by one of these CAs (PEM); a
    /// client without one is refused during the handshake.
    #[arg(long, env = "PIPEC_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<std::path::PathBuf>,

    /// Require a bearer token: the file holds one token per line, `TOKEN` (every group) or
    /// `TOKEN group,group` (those only); `#` starts a comment. Re-read within a second of a
    /// change (a mounted Kubernetes Secret updates in place). Health probes stay open. See
    /// docs/security.md.
    #[arg(long, env = "PIPEC_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<std::path::PathBuf>,

    /// The API groups that need a token when --auth-token-file is set, comma-separated, from
    /// inference, feedback, monitor, metrics, metadata.
    #[arg(long, env = "PIPEC_AUTH_GROUPS", default_value = "inference,feedback,monitor,metrics,metadata", value_parser = super::auth::parse_groups)]
    pub auth_groups: std::collections::BTreeSet<super::auth::ApiGroup>,

    /// Also serve the model under this name (`/v2/models/NAME/...`), as KServe addresses a
    /// runtime by the InferenceService's name. The pipeline's own name keeps working.
    #[arg(long, env = "PIPEC_MODEL_NAME", value_parser = model_name)]
    pub model_name: Option<String>,

    /// Device to run the pipeline on.
    #[arg(long, env = "PIPEC_DEVICE", value_enum, default_value_t = DeviceFlag::Cpu)]
    pub device: DeviceFlag,

    /// On wgpu, batches with fewer rows than this run on the CPU instead: a GPU round trip
    /// costs about a millisecond, which small batches should not pay. 0 sends every batch to
    /// the GPU. Default: measured at start-up for this pipeline on this machine (the native
    /// path's cost per row against the GPU's cost per batch and per row).
    #[arg(long, env = "PIPEC_GPU_MIN_ROWS")]
    pub gpu_min_rows: Option<usize>,

    /// Batches of up to this many rows run on the native one-row path (straight-line Rust,
    /// no allocation per row), larger ones on burn's CPU backend; 0 sends every batch to
    /// burn. Default: no limit, as the native path was faster than burn's CPU backend at every
    /// batch size measured (docs/performance.md).
    #[arg(long, env = "PIPEC_NATIVE_MAX_ROWS")]
    pub native_max_rows: Option<usize>,

    /// Most rows merged into one batch. A single request with more rows runs alone, whole.
    #[arg(long, env = "PIPEC_MAX_BATCH_ROWS", default_value_t = 1024)]
    pub max_batch_rows: usize,

    /// How long a batch waits for more requests after its first one arrives, in microseconds.
    /// 0 merges only the requests that queued while the previous batch ran.
    #[arg(long, env = "PIPEC_MAX_BATCH_DELAY_US", default_value_t = 0)]
    pub max_batch_delay_us: u64,

    /// Requests that may wait for a batch; beyond this the server answers 429 at once.
    #[arg(long, env = "PIPEC_QUEUE_CAPACITY", default_value_t = 1024)]
    pub queue_capacity: usize,

    /// Threads that run batches, each with its own copy of the weights.
    #[arg(long, env = "PIPEC_WORKERS", default_value_t = 1)]
    pub workers: usize,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "PIPEC_MAX_BODY_BYTES", default_value_t = 64 << 20)]
    pub max_body_bytes: usize,

    /// Time a client has to send its request headers, in milliseconds.
    #[arg(long, env = "PIPEC_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,

    /// Time a client has to send its request body, in milliseconds; slower ones get 408.
    #[arg(long, env = "PIPEC_BODY_TIMEOUT_MS", default_value_t = 30_000)]
    pub body_timeout_ms: u64,

    /// After SIGTERM or SIGINT, how long in-flight requests may take to finish, in
    /// milliseconds.
    #[arg(long, env = "PIPEC_SHUTDOWN_TIMEOUT_MS", default_value_t = 30_000)]
    pub shutdown_timeout_ms: u64,

    /// Folder of the audit log: one record per request (inputs, outputs, pipeline identity,
    /// time) in checksummed segment files; read it with `pipec log`, re-run it with
    /// `pipec replay`. No audit log when unset.
    #[arg(long, env = "PIPEC_AUDIT_DIR")]
    pub audit_dir: Option<std::path::PathBuf>,

    /// When a request is answered relative to its audit record reaching the disk.
    #[arg(long, env = "PIPEC_AUDIT_DURABILITY", value_enum, default_value_t = AuditDurability::Durable)]
    pub audit_durability: AuditDurability,

    /// Size at which an audit segment file is closed and the next one started, in bytes.
    #[arg(long, env = "PIPEC_AUDIT_SEGMENT_BYTES", default_value_t = 64 << 20)]
    pub audit_segment_bytes: u64,

    /// Requests whose predictions are kept for ground truth posted later to
    /// `/v2/models/{name}/feedback`; the oldest are forgotten first.
    #[arg(long, env = "PIPEC_FEEDBACK_CAPACITY", default_value_t = 100_000)]
    pub feedback_capacity: usize,

    /// What the challenger does, when this binary was built with one (`pipec build
    /// --challenger`).
    #[arg(long, env = "PIPEC_CHALLENGER_MODE", value_enum, default_value_t = ChallengerMode::Shadow)]
    pub challenger_mode: ChallengerMode,

    /// In split mode, the share of requests the challenger answers, from 0 to 1. A request
    /// goes to the challenger when a hash of its routing key (the request parameter
    /// `routing_key`, else its `id`) falls in that share, so the same key always goes to the
    /// same model.
    #[arg(long, env = "PIPEC_CHALLENGER_SHARE", default_value_t = 0.1, value_parser = share)]
    pub challenger_share: f64,

    /// Payload events: send each inference request and its response to this URL as
    /// CloudEvents (binary mode, KServe's `org.kubeflow.serving.inference.*` types), as
    /// KServe's payload logger does. `http://` only. Off when unset.
    #[arg(long, env = "PIPEC_LOG_URL")]
    pub log_url: Option<String>,

    /// Which payload events are sent.
    #[arg(long, env = "PIPEC_LOG_MODE", value_enum, default_value_t = PayloadLogMode::All)]
    pub log_mode: PayloadLogMode,

    /// Payload events that may wait to be sent; beyond this, events are dropped (and counted
    /// in `pipec_payload_events_dropped_total`), never the request.
    #[arg(long, env = "PIPEC_LOG_QUEUE_CAPACITY", default_value_t = 10_000)]
    pub log_queue_capacity: usize,

    /// Time one payload event may take to be delivered, in milliseconds; a slower or failed
    /// send drops the event.
    #[arg(long, env = "PIPEC_LOG_TIMEOUT_MS", default_value_t = 2_000)]
    pub log_timeout_ms: u64,

    /// The payload events' `ce-source`. Default: `http://localhost:<port>/`, as KServe's agent
    /// sends when given none.
    #[arg(long, env = "PIPEC_LOG_SOURCE_URI")]
    pub log_source_uri: Option<String>,

    /// The payload events' `ce-namespace` (the Kubernetes namespace, which the downward API
    /// gives as `POD_NAMESPACE`). Not sent when unset.
    #[arg(long, env = "POD_NAMESPACE")]
    pub log_namespace: Option<String>,

    /// Log format.
    #[arg(long, env = "PIPEC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Log filter, in `tracing` EnvFilter syntax (`info`, `debug`, `pipec_runtime=debug`).
    /// Each request is logged at `debug`; rejected requests at `warn`.
    #[arg(long = "log", env = "PIPEC_LOG", default_value = "info")]
    pub log_filter: String,
}

impl ServerConfig {
    pub fn max_batch_delay(&self) -> Duration {
        Duration::from_micros(self.max_batch_delay_us)
    }

    /// The HTTP port: `--port`/`PIPEC_PORT`, else `$PORT`, else 8000.
    pub fn http_port(&self) -> Result<u16, String> {
        if let Some(port) = self.port {
            return Ok(port);
        }
        match std::env::var("PORT") {
            Ok(text) => text
                .trim()
                .parse::<u16>()
                .map_err(|_| format!("the environment variable PORT must be a TCP port number, not {text:?}")),
            Err(std::env::VarError::NotPresent) => Ok(DEFAULT_PORT),
            Err(std::env::VarError::NotUnicode(text)) => {
                Err(format!("the environment variable PORT must be a TCP port number, not {text:?}"))
            }
        }
    }
}

/// The HTTP port when neither `--port` nor `$PORT` gives one.
pub const DEFAULT_PORT: u16 = 8000;

/// A model name as it appears in a URL path segment.
fn model_name(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 253
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("expected a model name of letters, digits, `-`, `_` and `.`, not {text:?}"))
    }
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a share from 0 to 1, not {text:?}")),
    }
}
