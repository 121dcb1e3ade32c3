//! `pipec log`: prints an audit log's records as JSON lines, or exports them as Parquet files
//! partitioned by day and model. Either reads a server's log folder or a Parquet export.

use anyhow::{Context, Result, bail};
use pipec_audit::{AuditRecord, Filter, Records, read_records, record_to_json};
use pipec_audit_parquet::{ExportRecords, Exporter, is_export, read_export};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, UNIX_EPOCH};

/// What `pipec log` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Parquet,
}

/// Parses an RFC 3339 time (UTC; `T` or a space between date and time, `Z` and fractions
/// optional) into nanoseconds since the Unix epoch. Used as clap's value parser.
pub fn parse_time(text: &str) -> Result<u64, String> {
    let time = humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("{e}; expected an RFC 3339 time such as 2025-01-31T12:00:00Z"))?;
    let since_epoch = time.duration_since(UNIX_EPOCH).map_err(|_| "times before 1970 are not supported".to_string())?;
    u64::try_from(since_epoch.as_nanos()).map_err(|_| "time is too far in the future".to_string())
}

/// The records of a log folder or of an export.
enum Source {
    Log(Records),
    Export(ExportRecords),
}

impl Source {
    fn open(dir: &Path, filter: Filter) -> Result<Source> {
        if !dir.exists() {
            bail!("`{}` does not exist (expected the server's audit log folder or a Parquet export)", dir.display());
        }
        if is_export(dir) {
            let records =
                read_export(dir, filter).with_context(|| format!("cannot read the export `{}`", dir.display()))?;
            return Ok(Source::Export(records));
        }
        if !dir.is_dir() {
            bail!("`{}` is not a folder (expected the server's audit log folder or a Parquet export)", dir.display());
        }
        let records =
            read_records(dir, filter).with_context(|| format!("cannot read the audit log in `{}`", dir.display()))?;
        Ok(Source::Log(records))
    }

    fn next_record(&mut self) -> Option<Result<AuditRecord>> {
        match self {
            Source::Log(records) => records.next().map(|r| r.context("cannot read the audit log")),
            Source::Export(records) => records.next().map(|r| r.context("cannot read the export")),
        }
    }

    /// After the last record: says so if the log ends in a torn record, or holds none.
    fn report_end(&self, dir: &Path, any_record: bool) -> Result<()> {
        let Source::Log(records) = self else { return Ok(()) };
        if let Some(tail) = records.torn_tail() {
            eprintln!(
                "note: `{}` ends in an incomplete or damaged record at byte {} ({} bytes: {}); the server may be \
                 writing it, or stopped while writing it (the server cuts it off when it next opens the log)",
                tail.segment.display(),
                tail.offset,
                tail.bytes_removed,
                tail.reason
            );
        } else if !any_record
            && !pipec_audit::has_segments(dir).with_context(|| format!("cannot list `{}`", dir.display()))?
        {
            eprintln!("note: `{}` holds no audit log segments (audit-*.log)", dir.display());
        }
        Ok(())
    }
}

/// `pipec log DIR [--format json|parquet] [-o OUT] [filters]`.
#[derive(clap::Args)]
pub struct LogArgs {
    /// The audit log folder (holding `audit-*.log` segments), or a Parquet export of one.
    dir: PathBuf,
    /// `json`: JSON lines on stdout. `parquet`: a new folder of Parquet files, one row per
    /// scored row, `day=YYYY-MM-DD/model=ROLE/part-N.parquet` (`docs/batch.md`).
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    format: LogFormat,
    /// The export folder for `--format parquet` (it must not exist yet).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Only records scored at or after this time (RFC 3339 in UTC, e.g. 2025-01-31T12:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<u64>,
    /// Only records scored before this time (RFC 3339 in UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<u64>,
    /// Only the records of this request id.
    #[arg(long = "id", value_name = "REQUEST_ID")]
    id: Option<String>,
    /// Only this model's records.
    #[arg(long, value_parser = ["champion", "challenger"])]
    model: Option<String>,
}

pub fn run(args: LogArgs) -> Result<ExitCode> {
    let LogArgs { dir, format, output, since, until, id, model } = args;
    let filter = Filter { since_unix_nanos: since, until_unix_nanos: until, request_id: id, model };
    log(&dir, format, output.as_deref(), filter)
}

fn log(dir: &Path, format: LogFormat, output: Option<&Path>, filter: Filter) -> Result<ExitCode> {
    match (format, output) {
        (LogFormat::Json, None) => print_json(dir, filter),
        (LogFormat::Json, Some(_)) => bail!("--output is for --format parquet; JSON lines go to stdout"),
        (LogFormat::Parquet, Some(output)) => export_parquet(dir, output, filter),
        (LogFormat::Parquet, None) => bail!("--format parquet needs --output DIR, a new folder for the export"),
    }
}

/// Prints the records that pass `filter`, one JSON object per line.
fn print_json(dir: &Path, filter: Filter) -> Result<ExitCode> {
    let mut source = Source::open(dir, filter)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut any_record = false;
    while let Some(record) = source.next_record() {
        let record = record?;
        any_record = true;
        let line = serde_json::to_string(&record_to_json(&record)).context("formatting a record")?;
        if let Err(e) = writeln!(out, "{line}") {
            return stop_on_closed_pipe(e);
        }
    }
    if let Err(e) = out.flush() {
        return stop_on_closed_pipe(e);
    }
    source.report_end(dir, any_record)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the records that pass `filter` as a new Parquet export in `output`, with a progress
/// line every few seconds and a summary on stderr. A failure leaves no export behind.
fn export_parquet(dir: &Path, output: &Path, filter: Filter) -> Result<ExitCode> {
    let mut source = Source::open(dir, filter)?;
    let mut exporter = Exporter::create(output).context("cannot start the export")?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let (mut records, mut any_record) = (0u64, false);
    while let Some(record) = source.next_record() {
        exporter.push(record?).context("cannot export")?;
        any_record = true;
        records += 1;
        if last_report.elapsed().as_secs() >= 5 {
            eprintln!(
                "exported {records} records so far ({:.0} records/s)",
                records as f64 / started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let summary = exporter.finish().context("cannot finish the export")?;
    source.report_end(dir, any_record)?;
    eprintln!(
        "wrote {} records ({} rows) in {} files under `{}` in {:.1} s",
        summary.records,
        summary.rows,
        summary.files.len(),
        output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `pipec log ... | head` closes stdout early; that is not an error.
fn stop_on_closed_pipe(e: std::io::Error) -> Result<ExitCode> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return Ok(ExitCode::SUCCESS);
    }
    Err(e).context("writing to stdout")
}
