//! Setting the duties up from the flags and the `.pipe` file: the audit log (recovering a
//! torn tail), checks and monitor section, the challenger and payload events.

use super::Duties;
use super::drift::{Drift, monitor_spec};
use super::feedback::Feedback;
use super::payload_log::PayloadLog;
use crate::server::config::{AuditDurability, ChallengerMode, ServerConfig};
use crate::server::metrics::Metrics;
use crate::server::scheduling::Specs;
use std::sync::Arc;

/// Opens the audit log (recovering a torn tail), and sets up what the `.pipe` file's checks
/// and monitor section and the challenger flags ask for.
pub fn open(config: &ServerConfig, specs: Specs, metrics: Arc<Metrics>) -> Result<Duties, String> {
    let mut duties = Duties::new(specs, metrics);
    if let Some(dir) = &config.audit_dir {
        let durability = match config.audit_durability {
            AuditDurability::Durable => pipec_audit::Durability::Durable,
            AuditDurability::Buffered => pipec_audit::Durability::Buffered,
        };
        let options =
            pipec_audit::LogOptions { dir: dir.clone(), max_segment_bytes: config.audit_segment_bytes, durability };
        let (log, recovery) = pipec_audit::AuditLog::open(options)
            .map_err(|e| format!("cannot open the audit log in {}: {e}", dir.display()))?;
        if let Some(cut) = &recovery.truncated {
            tracing::warn!(
                segment = %cut.segment.display(),
                offset = cut.offset,
                bytes_removed = cut.bytes_removed,
                reason = %cut.reason,
                "the audit log ended in a torn record, which was cut off"
            );
        }
        tracing::info!(dir = %dir.display(), records = recovery.records, next_seq = recovery.next_seq, "audit log open");
        duties.audit = Some(log);
        duties.durable = config.audit_durability == AuditDurability::Durable;
    }
    if let Some(monitor) = monitor_spec(specs.champion)? {
        if let Some(accuracy) = monitor.accuracy.clone() {
            duties.feedback = Some(Feedback::new(accuracy, monitor.window, config.feedback_capacity));
        }
        if !monitor.features.is_empty() {
            duties.drift = Some(Drift::new(monitor));
        }
    }
    duties.shadow = specs.challenger.is_some() && config.challenger_mode == ChallengerMode::Shadow;
    duties.payload_log = PayloadLog::start(config, specs, &duties.metrics.payload)?;
    Ok(duties)
}
