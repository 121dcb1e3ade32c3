//! `pipec`: the command line of the pipec compiler.
//!
//! `check` reports diagnostics, `explain` prints the IR before and after optimisation (or
//! Graphviz), `build --emit-crate` writes the generated Rust crate. The work runs on a thread
//! with a large stack, so that even pathological inputs end in a diagnostic.

mod commands;

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
    /// Generate the Rust crate for a pipeline.
    Build {
        file: PathBuf,
        /// Folder to write the generated crate into (created if missing; unchanged files are
        /// not rewritten).
        #[arg(long = "emit-crate", value_name = "DIR")]
        emit_crate: PathBuf,
        /// Path of the pipec-runtime crate the generated crate depends on, written into its
        /// Cargo.toml as given (relative paths are relative to DIR). Default: the absolute
        /// path of the runtime next to this pipec's sources.
        #[arg(long, env = "PIPEC_RUNTIME_PATH")]
        runtime_path: Option<PathBuf>,
        /// The crate is a member of an enclosing workspace (no `[workspace]` table of its own).
        #[arg(long)]
        in_workspace: bool,
        /// Switch a pass off (repeatable).
        #[arg(long = "disable-pass", value_name = "PASS")]
        disable_pass: Vec<String>,
    },
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
        Command::Build { file, emit_crate, runtime_path, in_workspace, disable_pass } => {
            let target = commands::CrateTarget { dir: &emit_crate, runtime: runtime_path.as_deref(), in_workspace };
            commands::build(&file, &target, &disable_pass, cli.color)
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
