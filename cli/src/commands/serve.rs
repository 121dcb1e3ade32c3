//! `pipec serve FILE [-- SERVER_ARGS]`: builds the server into the target directory, then
//! becomes it.

use crate::load::ColorChoice;
use crate::server_build::{CargoArgs, Options, Place, build_binary};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[derive(clap::Args)]
pub struct ServeArgs {
    file: PathBuf,
    #[command(flatten)]
    cargo: CargoArgs,
    /// Switch a pass off (repeatable).
    #[arg(long = "disable-pass", value_name = "PASS")]
    disable_pass: Vec<String>,
    /// Flags for the server, for example `--port 8000 --device wgpu`.
    #[arg(last = true, value_name = "SERVER_ARGS")]
    server_args: Vec<String>,
}

pub fn run(args: ServeArgs, color: ColorChoice) -> Result<ExitCode> {
    let options = Options { disabled: args.disable_pass, ..args.cargo.options(color) };
    serve(&args.file, &options, &args.server_args)
}

/// `pipec serve FILE [-- SERVER_ARGS]`: build into the target directory, then become the
/// server, so that signals reach it directly.
fn serve(file: &Path, options: &Options, server_args: &[String]) -> Result<ExitCode> {
    let Some((binary, _)) = build_binary(file, Place::TargetDir, None, options)? else { return Ok(ExitCode::FAILURE) };
    eprintln!("starting {} {}", binary.display(), server_args.join(" "));
    let error = std::os::unix::process::CommandExt::exec(Command::new(&binary).args(server_args));
    Err(error).with_context(|| format!("cannot start `{}`", binary.display()))
}
