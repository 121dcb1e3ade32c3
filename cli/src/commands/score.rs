//! `pipec score BIN|FILE.pipe SCORE_ARGS`: scores a dataset file with a server binary's `score`
//! command (built with batch scoring from a `.pipe` file) and exits as it does.

use crate::load::ColorChoice;
use crate::server_build::{CargoArgs, Options, run_subcommand};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    cargo: CargoArgs,
    /// The server binary to score with, or a `.pipe` file to build it from (for the CPU).
    #[arg(value_name = "BINARY|FILE")]
    build: PathBuf,
    /// The binary's `score` flags (`<BINARY> score --help` lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "SCORE_ARGS")]
    score_args: Vec<String>,
}

pub fn run(args: ScoreArgs, color: ColorChoice) -> Result<ExitCode> {
    let options = Options { batch: true, ..args.cargo.options(color) };
    score(&args.build, &args.score_args, &options)
}

/// `pipec score BIN|FILE.pipe SCORE_ARGS`: scores a dataset with a server binary's `score`
/// command (building the binary first when given a `.pipe` file).
fn score(build: &Path, score_args: &[String], options: &Options) -> Result<ExitCode> {
    run_subcommand(build, "score", score_args, options)
}
