//! `pipec replay LOG --build BIN|FILE.pipe`: re-runs an audit log (or a Parquet export of one)
//! through a server binary's `replay` command and exits as it does.

use crate::load::ColorChoice;
use crate::server_build::{CargoArgs, Options, run_subcommand};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The audit log folder (the server's --audit-dir), or a Parquet export of it (`pipec log
    /// --format parquet`; a binary given as BINARY must then be built with `--batch`).
    log: PathBuf,
    /// The server binary to replay with, or a `.pipe` file to build it from.
    #[arg(long, value_name = "BINARY|FILE")]
    build: PathBuf,
    #[command(flatten)]
    cargo: CargoArgs,
    /// Flags for the binary's `replay` command: `--model challenger`, `--id ID`,
    /// `--device wgpu`, `--json`.
    #[arg(last = true, value_name = "REPLAY_ARGS")]
    replay_args: Vec<String>,
}

pub fn run(args: ReplayArgs, color: ColorChoice) -> Result<ExitCode> {
    // A Parquet export is read by a binary built with batch scoring.
    let batch = pipec_audit_parquet::is_export(&args.log);
    let options = Options { batch, ..args.cargo.options(color) };
    replay(&args.log, &args.build, &args.replay_args, &options)
}

/// `pipec replay LOG --build BIN|FILE.pipe`: re-runs an audit log through a server binary
/// (building it first when given a `.pipe` file) and reports whether every output is
/// reproduced bit for bit.
fn replay(log: &Path, build: &Path, replay_args: &[String], options: &Options) -> Result<ExitCode> {
    let mut args = vec!["--log".into(), log.display().to_string()];
    args.extend_from_slice(replay_args);
    run_subcommand(build, "replay", &args, options)
}
