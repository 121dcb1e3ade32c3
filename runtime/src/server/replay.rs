//! `<server> replay --log DIR`: re-runs the requests an audit log (or, in a binary built with
//! the feature `batch`, a Parquet export of one) recorded through this binary's pipeline, batch by batch as they originally ran and on the route each ran on, and
//! compares every output bit for bit with the logged one. `pipec replay` calls this.
//!
//! Exit status: 0 when every record is reproduced exactly, 1 when one differs (the first is
//! named, with the output, row and both values), 2 when the log cannot be read or the batch
//! cannot be run.

use super::config::{DeviceFlag, ServerConfig};
use super::duties::audit_sink::batch_of;
use super::scheduling::{NATIVE_STACK_BYTES, Opener, Role, Route, Specs};
use crate::output::OutputColumn;
use crate::spec::PipelineSpec;
use clap::{Parser, ValueEnum};
use pipec_audit::{AuditRecord, Filter, Values};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RoleFlag {
    Champion,
    Challenger,
}

/// Re-runs an audit log's requests through this binary and proves the outputs identical bit
/// for bit, or names the first record that differs.
#[derive(Debug, Parser)]
#[command(name = "replay")]
struct ReplayArgs {
    /// The audit log folder (the server's --audit-dir), or a Parquet export of it (`pipec log
    /// --format parquet`; a binary built with `--batch`).
    #[arg(long)]
    log: PathBuf,
    /// Which of this binary's pipelines to run, and so which records to replay: those the
    /// champion (or the challenger) scored.
    #[arg(long, value_enum, default_value_t = RoleFlag::Champion)]
    model: RoleFlag,
    /// Only the record of this request id.
    #[arg(long)]
    id: Option<String>,
    /// Also open wgpu, for records that ran there.
    #[arg(long, value_enum, default_value_t = DeviceFlag::Cpu)]
    device: DeviceFlag,
    /// Print the result as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn main(specs: Specs, open: Opener) -> ExitCode {
    let args = match ReplayArgs::try_parse_from(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    let role = match args.model {
        RoleFlag::Champion => Role::Champion,
        RoleFlag::Challenger => Role::Challenger,
    };
    let work =
        std::thread::Builder::new().stack_size(NATIVE_STACK_BYTES).spawn(move || replay(&args, role, specs, open));
    let outcome = match work.map(|handle| handle.join()) {
        Ok(Ok(outcome)) => outcome,
        _ => Err("the replay thread failed".to_string()),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// One difference between a logged output and its replay.
struct Difference {
    seq: u64,
    request_id: String,
    output: String,
    detail: String,
}

/// Returns whether every record was reproduced.
fn replay(args: &ReplayArgs, role: Role, specs: Specs, open: Opener) -> Result<bool, String> {
    let spec = specs.get(role).ok_or("this binary has no challenger")?;
    let device = match args.device {
        DeviceFlag::Cpu => "cpu",
        DeviceFlag::Wgpu => "wgpu",
        DeviceFlag::Auto => "auto",
    };
    let config = ServerConfig::try_parse_from(["replay", "--device", device]).map_err(|e| e.to_string())?;
    let models = open(&config)?;
    let scorer = models.get(role).ok_or("this binary has no challenger")?;
    let filter = Filter {
        since_unix_nanos: None,
        until_unix_nanos: None,
        request_id: args.id.clone(),
        model: Some(role.as_str().to_string()),
    };
    let mut records = LoggedRecords::open(&args.log, filter)?;
    let (mut replayed, mut rows, mut other_builds, mut differing) = (0u64, 0u64, 0u64, 0u64);
    let mut first: Option<Difference> = None;
    let mut group: Vec<AuditRecord> = Vec::new();
    let mut run_group = |group: &mut Vec<AuditRecord>| -> Result<(), String> {
        if group.is_empty() {
            return Ok(());
        }
        let refs: Vec<&AuditRecord> = group.iter().collect();
        let batch = batch_of(spec, &refs)?;
        let columns = Route::from_label(&group[0].route)
            .map_err(|e| e.to_string())
            .and_then(|route| scorer.score_on(route, &batch))
            .map_err(|e| format!("record {}: {e}", group[0].seq))?;
        let mut start = 0;
        for record in group.iter() {
            replayed += 1;
            rows += u64::from(record.rows);
            other_builds += u64::from(record.pipeline != spec.identity);
            if let Some(difference) = compare(spec, record, &columns, start) {
                differing += 1;
                first.get_or_insert(difference);
            }
            start += record.rows as usize;
        }
        group.clear();
        Ok(())
    };
    while let Some(record) = records.next_record() {
        let record = record?;
        let joins = group.last().is_some_and(|last| {
            last.batch.id == record.batch.id
                && last.route == record.route
                && last.batch.offset + last.rows == record.batch.offset
        });
        if !joins {
            run_group(&mut group)?;
        }
        group.push(record);
    }
    run_group(&mut group)?;
    let torn = records.torn_tail();
    report(args, spec, replayed, rows, other_builds, differing, first.as_ref(), torn.as_deref());
    Ok(differing == 0)
}

/// The records to replay: from a log folder, or from a Parquet export.
enum LoggedRecords {
    Log(pipec_audit::Records),
    #[cfg(feature = "batch")]
    Export(pipec_audit_parquet::ExportRecords),
}

impl LoggedRecords {
    fn open(path: &std::path::Path, filter: Filter) -> Result<LoggedRecords, String> {
        let place = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        #[cfg(feature = "batch")]
        if pipec_audit_parquet::is_export(path) {
            return pipec_audit_parquet::read_export(path, filter)
                .map(LoggedRecords::Export)
                .map_err(|e| e.to_string());
        }
        #[cfg(not(feature = "batch"))]
        if looks_like_export(path) {
            return Err(place(
                &"a Parquet export is replayed by a binary built with `--batch` (`pipec replay` given the `.pipe` file builds one)",
            ));
        }
        pipec_audit::read_records(path, filter).map(LoggedRecords::Log).map_err(|e| place(&e))
    }

    fn next_record(&mut self) -> Option<Result<AuditRecord, String>> {
        match self {
            LoggedRecords::Log(records) => records.next().map(|r| r.map_err(|e| e.to_string())),
            #[cfg(feature = "batch")]
            LoggedRecords::Export(records) => records.next().map(|r| r.map_err(|e| e.to_string())),
        }
    }

    /// Where a log ends in a torn record (an export has none).
    fn torn_tail(&self) -> Option<String> {
        match self {
            LoggedRecords::Log(records) => {
                records.torn_tail().map(|t| format!("{} at byte {}", t.segment.display(), t.offset))
            }
            #[cfg(feature = "batch")]
            LoggedRecords::Export(_) => None,
        }
    }
}

/// A `.parquet` file, or a folder with `day=` partitions: an export, which a binary without
/// the feature `batch` cannot read.
#[cfg(not(feature = "batch"))]
fn looks_like_export(path: &std::path::Path) -> bool {
    let partitioned = || {
        std::fs::read_dir(path).is_ok_and(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().starts_with("day="))
        })
    };
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")) || path.is_dir() && partitioned()
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &ReplayArgs,
    spec: &PipelineSpec,
    replayed: u64,
    rows: u64,
    other_builds: u64,
    differing: u64,
    first: Option<&Difference>,
    torn: Option<&str>,
) {
    if args.json {
        let first = first.map(
            |d| serde_json::json!({ "seq": d.seq, "request_id": d.request_id, "output": d.output, "detail": d.detail }),
        );
        let summary = serde_json::json!({
            "pipeline": spec.identity,
            "records": replayed,
            "rows": rows,
            "records_from_other_builds": other_builds,
            "differing_records": differing,
            "identical": differing == 0,
            "first_difference": first,
            "torn_tail": torn,
        });
        println!("{summary}");
        return;
    }
    if let Some(torn) = torn {
        eprintln!("note: the log ends in a torn record ({torn}); it was not replayed");
    }
    let builds = match other_builds {
        0 => "all logged by this build".to_string(),
        n => format!("{n} logged by another build"),
    };
    match first {
        None => println!(
            "identical: {replayed} records ({rows} rows; {builds}) reproduced bit for bit by build {}",
            spec.identity
        ),
        Some(d) => {
            println!("different: {differing} of {replayed} records ({builds}) differ from build {}", spec.identity);
            println!("first: record {} (request `{}`): output `{}` {}", d.seq, d.request_id, d.output, d.detail);
        }
    }
}

/// The first output of `record` that the replayed `columns` (from row `start`) do not
/// reproduce bit for bit.
fn compare(spec: &PipelineSpec, record: &AuditRecord, columns: &[OutputColumn], start: usize) -> Option<Difference> {
    let difference = |output: &str, detail: String| Difference {
        seq: record.seq,
        request_id: record.request_id.clone(),
        output: output.to_string(),
        detail,
    };
    let end = start + record.rows as usize;
    for logged in &record.outputs {
        let Some(index) = spec.outputs.iter().position(|o| o.name == logged.name) else {
            return Some(difference(&logged.name, "is not computed by this build".into()));
        };
        let width = logged.width.max(1) as usize;
        let replayed = columns[index].rows(start, end);
        if logged.width as usize != replayed.width() {
            let detail = format!("has width {} in the log, {} in this build", logged.width, replayed.width());
            return Some(difference(&logged.name, detail));
        }
        let mismatch = match (&logged.values, replayed) {
            (Values::F32(old), OutputColumn::F32 { values: new, .. }) => {
                first_mismatch(old, &new, |a, b| a.to_bits() == b.to_bits()).map(|i| {
                    (
                        i,
                        format!("{:?} (bits {:#010x})", old[i], old[i].to_bits()),
                        format!("{:?} (bits {:#010x})", new[i], new[i].to_bits()),
                    )
                })
            }
            (Values::Bool(old), OutputColumn::Bool { values: new, .. }) => {
                first_mismatch(old, &new, |a, b| a == b).map(|i| (i, old[i].to_string(), new[i].to_string()))
            }
            _ => return Some(difference(&logged.name, "has another type in this build".into())),
        };
        if let Some((i, old, new)) = mismatch {
            let place =
                if width == 1 { format!("row {}", i) } else { format!("row {} element {}", i / width, i % width) };
            return Some(difference(&logged.name, format!("{place}: logged {old}, replayed {new}")));
        }
    }
    None
}

/// Where two equally long runs of values first differ (the widths were checked, and a record
/// holds exactly its rows).
fn first_mismatch<T>(old: &[T], new: &[T], same: impl Fn(&T, &T) -> bool) -> Option<usize> {
    old.iter().zip(new).position(|(a, b)| !same(a, b))
}
