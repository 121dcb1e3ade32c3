//! `<server> score --input FILE --output FILE`: scores a dataset with this binary's pipeline
//! on the native path, on every core, and writes the outputs beside the input columns (or the
//! `--key` ones) as Parquet or Arrow. `pipec score` calls it. The answers are the server's bit
//! for bit: the same conversions (`columns.rs`), the same compiled code.
//!
//! `source.rs` (and `csv_source.rs`) read the input as Arrow record batches, `columns.rs` maps
//! them onto the pipeline's inputs, `run.rs` spreads the batches over worker threads and
//! writes the answers in input order through `sink.rs` (a temporary file renamed into place
//! when complete), `outputs.rs` lays out the output columns, `progress.rs` reports on stderr.
//! `python/` (feature `python`) scores Arrow data handed over by Python with the same
//! conversions, engine and layout.
//!
//! Exit status: 0 when every row was scored and written, 1 when the pipeline failed on a
//! batch, 2 for anything about the files or flags (nothing is left under the output's name).

mod columns;
mod csv_source;
mod error;
mod outputs;
mod progress;
#[cfg(feature = "python")]
pub mod python;
mod run;
mod sink;
mod source;

use super::scheduling::{Opener, Role, Specs};
use clap::{Parser, ValueEnum};
use error::ScoreError;
use sink::{CompressionFlag, OutputFormat};
use source::InputFormat;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RoleFlag {
    Champion,
    Challenger,
}

/// Scores a Parquet, Arrow or CSV file with this binary's pipeline on every core and writes
/// the outputs as Parquet or Arrow.
#[derive(Debug, Parser)]
#[command(name = "score")]
pub struct ScoreArgs {
    /// The rows to score: Parquet (.parquet), Arrow IPC (.arrow, .feather) or CSV with a header
    /// (.csv). Columns are matched to the pipeline's inputs by name.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the answers: Parquet (.parquet) or an Arrow IPC file (.arrow). Written
    /// under a temporary name and renamed when complete.
    #[arg(long)]
    output: PathBuf,
    /// The input's format, when its extension does not say.
    #[arg(long, value_enum)]
    input_format: Option<InputFormat>,
    /// The output's format, when its extension does not say.
    #[arg(long, value_enum)]
    output_format: Option<OutputFormat>,
    /// Copy only this input column (repeatable) to the output, beside the pipeline's outputs.
    /// Default: every input column.
    #[arg(long = "key", value_name = "COLUMN")]
    keys: Vec<String>,
    /// Worker threads, each with its own copy of the weights. Default: one per core.
    #[arg(long)]
    threads: Option<usize>,
    /// Rows a worker reads, scores and encodes at a time; each batch is one row group of a
    /// Parquet output.
    #[arg(long, default_value_t = 262_144)]
    batch_rows: usize,
    /// Parquet compression of the output.
    #[arg(long, value_enum, default_value_t = CompressionFlag::Snappy)]
    compression: CompressionFlag,
    /// Which of this binary's pipelines scores: the champion or the challenger.
    #[arg(long, value_enum, default_value_t = RoleFlag::Champion)]
    model: RoleFlag,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

pub fn main(specs: Specs, open: Opener) -> ExitCode {
    let args = match ScoreArgs::try_parse_from(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    match score(&args, specs, open) {
        Ok(summary) => {
            summary.print(&args);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn score(args: &ScoreArgs, specs: Specs, open: Opener) -> Result<run::Summary, ScoreError> {
    let role = match args.model {
        RoleFlag::Champion => Role::Champion,
        RoleFlag::Challenger => Role::Challenger,
    };
    let spec =
        specs.get(role).ok_or_else(|| ScoreError::Setup("--model challenger: this binary has no challenger".into()))?;
    let input_format = args.input_format.or_else(|| InputFormat::of(&args.input)).ok_or_else(|| {
        ScoreError::Setup(format!(
            "--input {}: the extension does not say the format (.parquet, .arrow, .feather or .csv); give --input-format",
            args.input.display()
        ))
    })?;
    let output_format = args.output_format.or_else(|| OutputFormat::of(&args.output)).ok_or_else(|| {
        ScoreError::Setup(format!(
            "--output {}: the extension does not say the format (.parquet or .arrow); give --output-format",
            args.output.display()
        ))
    })?;
    if args.batch_rows == 0 {
        return Err(ScoreError::Setup("--batch-rows must be at least 1".into()));
    }
    if args.threads == Some(0) {
        return Err(ScoreError::Setup("--threads must be at least 1".into()));
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let plan = run::Plan {
        spec,
        role,
        input: &args.input,
        input_format,
        output: &args.output,
        output_format,
        keys: &args.keys,
        threads,
        batch_rows: args.batch_rows,
        compression: args.compression,
        quiet: args.quiet,
    };
    run::run(&plan, open)
}
