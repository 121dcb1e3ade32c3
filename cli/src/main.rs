//! `pipec`: the command line of the pipec compiler.
//!
//! `check` reports diagnostics, `explain` prints the IR before and after optimisation (or
//! Graphviz), `build --emit-crate` writes the generated Rust crate, `build -o` compiles it into
//! a server binary with cargo (`--challenger` adds a second build of the pipeline), `serve`
//! builds and runs that server, `log` prints a server's audit log and `replay` re-runs it
//! through a build; each subcommand is a module of `commands/`. The work runs on a thread with a large stack, so that even pathological
//! inputs end in a diagnostic.

mod commands;
mod deploy;
mod image;
mod load;
mod server_build;
mod wheel;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "pipec", version, about = "Compile .pipe ML pipelines into native inference code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour diagnostics: auto (when stderr is a terminal), always or never.
    #[arg(long, global = true, default_value = "auto", env = "PIPEC_COLOR")]
    color: load::ColorChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Check a .pipe file: syntax, names, types, vector lengths and artifact files.
    Check(commands::check::CheckArgs),
    /// Print the pipeline's IR before and after the optimisation passes.
    Explain(commands::explain::ExplainArgs),
    /// Build a pipeline's server binary (`-o`), or only write its generated crate
    /// (`--emit-crate` without `-o`).
    Build(commands::build::BuildArgs),
    /// Build a pipeline's server (as `build -o` does, into the target directory) and run it.
    /// Arguments after the file go to the server; `pipec serve FILE -- --help` lists them.
    Serve(commands::serve::ServeArgs),
    /// Re-run an audit log's requests through a build and prove the outputs identical bit for
    /// bit, or name the first record that differs. Exit status 0 identical, 1 different.
    Replay(commands::replay::ReplayArgs),
    /// Score a dataset: a Parquet, Arrow or CSV file through a pipeline's native path on every
    /// core, the outputs written beside the input columns as Parquet or Arrow, bit for bit the
    /// server's answers (`docs/batch.md`). Exit status 0 done, 1 the pipeline failed, 2 a bad
    /// file or flag (no output is left behind).
    ///
    /// pipec's own flags (`--device`, `--target-dir`) go before BUILD; everything after it is
    /// the binary's `score` flags: `--input FILE --output FILE [--key COLUMN]... [--threads N]
    /// [--batch-rows N] [--compression snappy|zstd|lz4|none] [--model challenger] [--quiet]
    /// [--json]`.
    Score(commands::score::ScoreArgs),
    /// Write Kubernetes (`k8s`) or KServe (`kserve`) manifests for the image `build --image`
    /// makes (`docs/deploy.md`).
    Deploy(deploy::DeployArgs),
    /// Print a server's audit log as JSON lines, oldest record first, optionally filtered; or
    /// export it as Parquet files partitioned by day and model (`--format parquet -o DIR`).
    Log(commands::log::LogArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(move || run(cli));
    match worker.map(|handle| handle.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("error: pipec stopped unexpectedly; please report this with the input file");
            ExitCode::from(101)
        }
    }
}

fn run(cli: Cli) -> ExitCode {
    let color = cli.color;
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args, color),
        Command::Explain(args) => commands::explain::run(args, color),
        Command::Build(args) => commands::build::run(args, color),
        Command::Serve(args) => commands::serve::run(args, color),
        Command::Replay(args) => commands::replay::run(args, color),
        Command::Score(args) => commands::score::run(args, color),
        Command::Deploy(args) => commands::deploy::run(&args, color),
        Command::Log(args) => commands::log::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
