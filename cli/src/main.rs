//! `pipec`: the command line of the pipec compiler.
//!
//! `check` reports diagnostics, `explain` prints the IR before and after optimisation (or
//! Graphviz), `build --emit-crate` writes the generated Rust crate, `build -o` compiles it into
//! a server binary with cargo (`--challenger` adds a second build of the pipeline), `serve`
//! builds and runs that server, `log` prints a server's audit log and `replay` re-runs it
//! through a build. The work runs on a thread with a large stack, so that even pathological
//! inputs end in a diagnostic.

mod commands;
mod deploy;
mod image;
mod log_cmd;
mod server_build;
mod wheel;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "pipec", version, about = "Compile .pipe ML pipelines into native inference code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour diagnostics: auto (when stderr is a terminal), always or never.
    #[arg(long, global = true, default_value = "auto", env = "PIPEC_COLOR")]
    color: commands::ColorChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Check a .pipe file: syntax, names, types, vector lengths and artifact files.
    Check {
        /// The .pipe file; artifact paths in it resolve relative to its folder.
        file: PathBuf,
    },
    /// Print the pipeline's IR before and after the optimisation passes.
    Explain {
        file: PathBuf,
        /// Write the optimised IR as a Graphviz digraph to this file (`-` for stdout).
        #[arg(long)]
        dot: Option<PathBuf>,
        /// Switch a pass off (repeatable): const-fold, cse, affine-fold, onehot-gather, dce.
        #[arg(long = "disable-pass", value_name = "PASS")]
        disable_pass: Vec<String>,
    },
    /// Build a pipeline's server binary (`-o`), or only write its generated crate
    /// (`--emit-crate` without `-o`).
    Build {
        file: PathBuf,
        /// Where to put the server binary. Default: `<pipeline>-server` in the current folder,
        /// unless only --emit-crate is given. With --python, the wheel's folder or file name.
        #[arg(short = 'o', long = "output", value_name = "BIN")]
        output: Option<PathBuf>,
        /// Folder to write the generated crate into (created if missing; unchanged files are
        /// not rewritten). With -o, the binary is built from this crate; without it, the crate
        /// goes under the target directory.
        #[arg(long = "emit-crate", value_name = "DIR")]
        emit_crate: Option<PathBuf>,
        /// Also write an OCI image archive holding the CPU server (`docker load -i FILE.tar`;
        /// no Docker daemon is used): an empty image with the static binary as `/server`,
        /// run as user 65532, listening on 0.0.0.0:8080 (`PORT`) and gRPC on 8081. Tagged
        /// `pipec/<pipeline>:<version>`. See docs/deploy.md.
        #[arg(long, value_name = "FILE.tar")]
        image: Option<PathBuf>,
        #[command(flatten)]
        cargo: CargoArgs,
        /// The crate is a member of an enclosing workspace (no `[workspace]` table of its own).
        #[arg(long)]
        in_workspace: bool,
        /// A second `.pipe` file of the same pipeline (same name, inputs and outputs), compiled
        /// into the same server as the challenger (`--challenger-mode` of the server).
        #[arg(long, value_name = "FILE")]
        challenger: Option<PathBuf>,
        /// Switch a pass off (repeatable).
        #[arg(long = "disable-pass", value_name = "PASS")]
        disable_pass: Vec<String>,
        /// Also compile batch scoring into the binary (`<server> score`, as `pipec score`
        /// runs it): Parquet, Arrow and CSV files scored on every core. It adds about 11 MiB and,
        /// once, about 2 minutes of build on 2 cores (arrow-rs and parquet).
        #[arg(long)]
        batch: bool,
        /// Build the pipeline as a Python wheel instead of a server (`docs/batch.md`): a module
        /// `pipec_<pipeline>` whose `score(data)` scores Arrow data (a pyarrow RecordBatch or
        /// Table, a Polars DataFrame) on the native path, as `pipec score` does. One abi3 wheel
        /// for CPython >= 3.9, built by maturin; -o names a folder or a `.whl` file.
        #[arg(long, conflicts_with_all = ["image", "challenger"])]
        python: bool,
        /// The maturin that builds the wheel (`pip install maturin`). Default: `maturin` on
        /// the PATH.
        #[arg(long, env = "PIPEC_MATURIN", value_name = "PATH")]
        maturin: Option<PathBuf>,
    },
    /// Build a pipeline's server (as `build -o` does, into the target directory) and run it.
    /// Arguments after the file go to the server; `pipec serve FILE -- --help` lists them.
    Serve {
        file: PathBuf,
        #[command(flatten)]
        cargo: CargoArgs,
        /// Switch a pass off (repeatable).
        #[arg(long = "disable-pass", value_name = "PASS")]
        disable_pass: Vec<String>,
        /// Flags for the server, for example `--port 8000 --device wgpu`.
        #[arg(last = true, value_name = "SERVER_ARGS")]
        server_args: Vec<String>,
    },
    /// Re-run an audit log's requests through a build and prove the outputs identical bit for
    /// bit, or name the first record that differs. Exit status 0 identical, 1 different.
    Replay {
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
    },
    /// Score a dataset: a Parquet, Arrow or CSV file through a pipeline's native path on every
    /// core, the outputs written beside the input columns as Parquet or Arrow, bit for bit the
    /// server's answers (`docs/batch.md`). Exit status 0 done, 1 the pipeline failed, 2 a bad
    /// file or flag (no output is left behind).
    ///
    /// pipec's own flags (`--device`, `--target-dir`) go before BUILD; everything after it is
    /// the binary's `score` flags: `--input FILE --output FILE [--key COLUMN]... [--threads N]
    /// [--batch-rows N] [--compression snappy|zstd|lz4|none] [--model challenger] [--quiet]
    /// [--json]`.
    Score {
        #[command(flatten)]
        cargo: CargoArgs,
        /// The server binary to score with, or a `.pipe` file to build it from (for the CPU).
        #[arg(value_name = "BINARY|FILE")]
        build: PathBuf,
        /// The binary's `score` flags (`<BINARY> score --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "SCORE_ARGS")]
        score_args: Vec<String>,
    },
    /// Write Kubernetes (`k8s`) or KServe (`kserve`) manifests for the image `build --image`
    /// makes (`docs/deploy.md`).
    Deploy(deploy::DeployArgs),
    /// Print a server's audit log as JSON lines, oldest record first, optionally filtered; or
    /// export it as Parquet files partitioned by day and model (`--format parquet -o DIR`).
    Log {
        /// The audit log folder (holding `audit-*.log` segments), or a Parquet export of one.
        dir: PathBuf,
        /// `json`: JSON lines on stdout. `parquet`: a new folder of Parquet files, one row per
        /// scored row, `day=YYYY-MM-DD/model=ROLE/part-N.parquet` (`docs/batch.md`).
        #[arg(long, value_enum, default_value_t = log_cmd::LogFormat::Json)]
        format: log_cmd::LogFormat,
        /// The export folder for `--format parquet` (it must not exist yet).
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Only records scored at or after this time (RFC 3339 in UTC, e.g. 2025-01-31T12:00:00Z).
        #[arg(long, value_name = "TIME", value_parser = log_cmd::parse_time)]
        since: Option<u64>,
        /// Only records scored before this time (RFC 3339 in UTC).
        #[arg(long, value_name = "TIME", value_parser = log_cmd::parse_time)]
        until: Option<u64>,
        /// Only the records of this request id.
        #[arg(long = "id", value_name = "REQUEST_ID")]
        id: Option<String>,
        /// Only this model's records.
        #[arg(long, value_parser = ["champion", "challenger"])]
        model: Option<String>,
    },
}

/// How generated crates are compiled.
#[derive(clap::Args, Clone, Debug)]
pub struct CargoArgs {
    /// Cargo target directory shared by every generated crate, so that burn is compiled once.
    /// Default: `$CARGO_TARGET_DIR`, else the `target` folder of pipec's own sources.
    #[arg(long, env = "PIPEC_TARGET_DIR", value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Path of the pipec-runtime crate the generated crate depends on, written into its
    /// Cargo.toml as given (relative paths are relative to the crate's folder). Default: the
    /// absolute path of the runtime next to this pipec's sources.
    #[arg(long, env = "PIPEC_RUNTIME_PATH", value_name = "PATH")]
    runtime_path: Option<PathBuf>,
    /// What the server is built to run on. `cpu`: the native path only, statically linked on
    /// Linux, no burn, wgpu or cubecl code (a few MiB, about 2 minutes for a first build).
    /// `gpu`: also burn's CPU backend, wgpu and the fused GPU kernel (`--device wgpu|auto` of
    /// the server; the first build compiles burn, about 15-18 minutes on 2 cores).
    #[arg(long = "device", env = "PIPEC_BUILD_DEVICE", value_enum, default_value_t = server_build::BuildDevice::Cpu)]
    device: server_build::BuildDevice,
}

impl CargoArgs {
    /// How to build a server with these flags: no challenger, a crate of its own, every pass,
    /// no batch scoring; commands set what they add.
    fn options(self, color: commands::ColorChoice) -> server_build::Options {
        server_build::Options {
            challenger: None,
            target_dir: self.target_dir,
            runtime: self.runtime_path,
            device: self.device,
            in_workspace: false,
            disabled: Vec::new(),
            color,
            batch: false,
        }
    }
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
    let result = match cli.command {
        Command::Check { file } => commands::check(&file, cli.color),
        Command::Explain { file, dot, disable_pass } => commands::explain(&file, dot.as_deref(), &disable_pass, cli.color),
        Command::Build { file, output, emit_crate, image, cargo, in_workspace, challenger, disable_pass, batch, python, maturin } => {
            let options =
                server_build::Options { challenger, in_workspace, disabled: disable_pass, batch, ..cargo.options(cli.color) };
            match (output, emit_crate, image) {
                (output, dir, None) if python => wheel::build(&file, output, dir, maturin, &options),
                (None, Some(dir), None) => server_build::emit_crate(&file, &dir, &options),
                (output, dir, image) => server_build::build(&file, output, dir, image.as_deref(), &options),
            }
        }
        Command::Serve { file, cargo, disable_pass, server_args } => {
            let options = server_build::Options { disabled: disable_pass, ..cargo.options(cli.color) };
            server_build::serve(&file, &options, &server_args)
        }
        Command::Replay { log, build, cargo, replay_args } => {
            // A Parquet export is read by a binary built with batch scoring.
            let batch = pipec_audit_parquet::is_export(&log);
            let options = server_build::Options { batch, ..cargo.options(cli.color) };
            server_build::replay(&log, &build, &replay_args, &options)
        }
        Command::Score { cargo, build, score_args } => {
            let options = server_build::Options { batch: true, ..cargo.options(cli.color) };
            server_build::score(&build, &score_args, &options)
        }
        Command::Deploy(args) => deploy_manifests(&args, cli.color),
        Command::Log { dir, format, output, since, until, id, model } => {
            let filter = pipec_audit::Filter { since_unix_nanos: since, until_unix_nanos: until, request_id: id, model };
            log_cmd::log(&dir, format, output.as_deref(), filter)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `pipec deploy`: checks the pipeline, then writes the manifests for its image.
fn deploy_manifests(args: &deploy::DeployArgs, color: commands::ColorChoice) -> anyhow::Result<ExitCode> {
    let Some(checked) = commands::load(&args.file, color)? else { return Ok(ExitCode::FAILURE) };
    let graph = checked.graph();
    for path in deploy::deploy(args, &graph.name, &graph.version, checked.identity())? {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
