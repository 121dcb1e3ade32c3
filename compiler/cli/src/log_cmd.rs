//! `pipec log`: prints an audit log's records as JSON lines.

use anyhow::{Context, Result, bail};
use pipec_audit::{Filter, read_records, record_to_json};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::UNIX_EPOCH;

/// Parses an RFC 3339 time (UTC; `T` or a space between date and time, `Z` and fractions
/// optional) into nanoseconds since the Unix epoch. Used as clap's value parser.
pub fn parse_time(text: &str) -> Result<u64, String> {
    let time = humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("{e}; expected an RFC 3339 time such as 2025-01-31T12:00:00Z"))?;
    let since_epoch = time.duration_since(UNIX_EPOCH).map_err(|_| "times before 1970 are not supported".to_string())?;
    u64::try_from(since_epoch.as_nanos()).map_err(|_| "time is too far in the future".to_string())
}

/// Prints the records of the log in `dir` that pass `filter`, one JSON object per line.
pub fn log(dir: &Path, filter: Filter) -> Result<ExitCode> {
    if !dir.is_dir() {
        bail!("`{}` is not a folder (expected the server's audit log folder)", dir.display());
    }
    let mut records = read_records(dir, filter).with_context(|| format!("cannot read the audit log in `{}`", dir.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut any_record = false;
    for record in records.by_ref() {
        let record = record.context("cannot read the audit log")?;
        any_record = true;
        let line = serde_json::to_string(&record_to_json(&record)).context("formatting a record")?;
        if let Err(e) = writeln!(out, "{line}") {
            return stop_on_closed_pipe(e);
        }
    }
    if let Err(e) = out.flush() {
        return stop_on_closed_pipe(e);
    }
    if let Some(tail) = records.torn_tail() {
        eprintln!(
            "note: `{}` ends in an incomplete or damaged record at byte {} ({} bytes: {}); the server may be \
             writing it, or stopped while writing it (the server cuts it off when it next opens the log)",
            tail.segment.display(),
            tail.offset,
            tail.bytes_removed,
            tail.reason
        );
    }
    if !any_record && records.torn_tail().is_none() && !has_segments(dir)? {
        eprintln!("note: `{}` holds no audit log segments (audit-*.log)", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn has_segments(dir: &Path) -> Result<bool> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot list `{}`", dir.display()))?;
    Ok(entries.filter_map(|e| e.ok()).any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with("audit-") && name.ends_with(".log")
    }))
}

/// `pipec log ... | head` closes stdout early; that is not an error.
fn stop_on_closed_pipe(e: std::io::Error) -> Result<ExitCode> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return Ok(ExitCode::SUCCESS);
    }
    Err(e).context("writing to stdout")
}
