//! The production duties: what the server does with a scored batch besides answering it.
//! A worker hands each [`BatchOutcome`](crate::server::scheduling::BatchOutcome) to
//! [`Duties::after_batch`] (`after_batch.rs`), which counts failed checks, feeds the drift
//! windows (`drift.rs`), keeps predictions for feedback (`feedback.rs`), compares the shadow
//! challenger (`challenger.rs`) and sends its payload events (`payload_log.rs`), and writes the
//! audit records (`audit_sink.rs`, through `pipec-audit`). Each is off unless configured, so a
//! server without them does no more than a flag test per batch. `open.rs` sets them up from
//! the flags and the `.pipe` file; `report.rs` renders them for `/metrics` and
//! `GET /v2/models/{name}/monitor`.

mod after_batch;
pub mod audit_sink;
pub mod challenger;
pub mod drift;
pub mod feedback;
mod open;
pub mod payload_log;
mod report;

pub use after_batch::ScoredBatch;
pub use open::open;

use crate::server::metrics::Metrics;
use crate::server::scheduling::Specs;
use challenger::Comparison;
use drift::Drift;
use feedback::Feedback;
use payload_log::PayloadLog;
use pipec_audit::AuditLog;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct Duties {
    pub specs: Specs,
    pub metrics: Arc<Metrics>,
    pub audit: Option<AuditLog>,
    /// Answer only after the audit record is on disk.
    pub durable: bool,
    pub drift: Option<Drift>,
    pub feedback: Option<Feedback>,
    /// Score the challenger on every champion batch.
    pub shadow: bool,
    pub comparison: Mutex<Comparison>,
    /// Payload events (`--log-url`): each request and response sent as CloudEvents.
    pub payload_log: Option<PayloadLog>,
    next_batch: AtomicU64,
    /// The high bits of batch ids: the process start, so ids differ across restarts.
    batch_tag: u64,
}

impl Duties {
    pub fn new(specs: Specs, metrics: Arc<Metrics>) -> Duties {
        Duties {
            specs,
            metrics,
            audit: None,
            durable: true,
            drift: None,
            feedback: None,
            shadow: false,
            comparison: Mutex::new(Comparison::default()),
            payload_log: None,
            next_batch: AtomicU64::new(0),
            batch_tag: (audit_sink::now_unix_nanos() / 1_000_000_000) << 32,
        }
    }

    /// The id of the next batch in the audit records: 0 when the audit log is off.
    pub fn batch_id(&self) -> u64 {
        match self.audit {
            Some(_) => self.batch_tag | (self.next_batch.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff),
            None => 0,
        }
    }
}
