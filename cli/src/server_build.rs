//! What the commands that build share (`build`, `serve`, `replay`, `score`): the cargo flags,
//! checking a pipeline, writing its generated crate, compiling it with cargo into a server
//! binary, and running one of that binary's commands.
//!
//! Every generated crate is built in one shared cargo target directory, so burn and the
//! runtime are compiled once and a rebuild after editing a `.pipe` file compiles only the
//! generated crate. Crates built standalone start from the Cargo.lock pipec itself was
//! tested with, so they get the same dependency versions.

use crate::load::{ColorChoice, load, passes};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The lock file of pipec's workspace, written into standalone generated crates.
pub(crate) const WORKSPACE_LOCK: &str = include_str!("../../Cargo.lock");

/// What a server binary is built to run on (`--device` of `pipec build`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BuildDevice {
    /// The native path only: the generated crate without its feature `gpu`.
    Cpu,
    /// Everything: burn on the CPU and on wgpu, and the fused GPU kernel.
    Gpu,
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
    #[arg(long = "device", env = "PIPEC_BUILD_DEVICE", value_enum, default_value_t = BuildDevice::Cpu)]
    device: BuildDevice,
}

impl CargoArgs {
    /// How to build a server with these flags: no challenger, a crate of its own, every pass,
    /// no batch scoring; commands set what they add.
    pub(crate) fn options(self, color: ColorChoice) -> Options {
        Options {
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

pub struct Options {
    /// A second `.pipe` file compiled into the same binary as the challenger.
    pub challenger: Option<PathBuf>,
    pub target_dir: Option<PathBuf>,
    pub runtime: Option<PathBuf>,
    pub device: BuildDevice,
    pub in_workspace: bool,
    pub disabled: Vec<String>,
    pub color: ColorChoice,
    /// Also compile `<server> score` (the crate's feature `batch`).
    pub batch: bool,
}

/// pipec's own source tree, where the runtime crate and the default target directory are.
fn sources_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

pub(crate) fn target_dir(options: &Options) -> PathBuf {
    options
        .target_dir
        .clone()
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| sources_root().join("target"))
}

pub(crate) fn runtime_path(options: &Options) -> Result<PathBuf> {
    match &options.runtime {
        Some(path) => Ok(path.clone()),
        None => {
            let default = sources_root().join("runtime");
            std::fs::canonicalize(&default)
                .with_context(|| format!("the runtime crate is not at `{}`; pass --runtime-path", default.display()))
        }
    }
}

/// Where a built server binary goes.
pub(crate) enum Place {
    Given(PathBuf),
    /// `<pipeline>-server` in the current folder.
    CurrentFolder,
    /// `pipec/bin/<pipeline>-server` under the target directory.
    TargetDir,
}

/// Checks `file` and writes its crate into `dir` (by default `pipec/crates/<package>` under
/// the target directory). With a challenger, its crate is written beside it and the
/// champion's server holds both. Returns the crate's folder and the pipeline's name, or
/// `None` when a file has errors (they have been printed).
pub(crate) fn write_crate(file: &Path, dir: Option<&Path>, options: &Options) -> Result<Option<(PathBuf, Pipeline)>> {
    let started = Instant::now();
    let disabled = passes(&options.disabled)?;
    let Some(checked) = load(file, options.color)? else { return Ok(None) };
    let graph = checked.graph();
    let pipeline =
        Pipeline { name: graph.name.clone(), version: graph.version.clone(), identity: checked.identity().to_string() };
    let package = pipec_codegen::package_name(&pipeline.name);
    let dir = dir.map_or_else(|| target_dir(options).join("pipec").join("crates").join(&package), Path::to_path_buf);
    let challenger = match &options.challenger {
        None => None,
        Some(challenger_file) => {
            let Some(crate_dir) = write_challenger(challenger_file, &checked, &dir, options)? else { return Ok(None) };
            Some(pipec_codegen::ChallengerCrate {
                package: pipec_codegen::challenger_package_name(&pipeline.name),
                path: crate_dir.display().to_string(),
            })
        }
    };
    let runtime = runtime_path(options)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    if !dir.join(&runtime).join("Cargo.toml").is_file() {
        bail!(
            "`{}` is not the pipec-runtime crate (no Cargo.toml there, seen from `{}`)",
            runtime.display(),
            dir.display()
        );
    }
    let crate_options = pipec_codegen::CrateOptions {
        runtime_path: runtime.display().to_string(),
        standalone: !options.in_workspace,
        source_name: file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        role: pipec_codegen::CrateRole::Server { challenger },
    };
    let generated = pipec_codegen::generate(&checked.optimised(&disabled), &crate_options);
    let written = pipec_codegen::write_crate(&dir, &generated)
        .with_context(|| format!("cannot write into `{}`", dir.display()))?;
    let lock = dir.join("Cargo.lock");
    if crate_options.standalone && !lock.exists() {
        std::fs::write(&lock, WORKSPACE_LOCK).with_context(|| format!("cannot write `{}`", lock.display()))?;
    }
    eprintln!(
        "checked `{}` and generated crate `{package}` in {} ({} file(s) changed, {} ms)",
        file.display(),
        dir.display(),
        written.len(),
        started.elapsed().as_millis()
    );
    Ok(Some((dir, pipeline)))
}

/// What a built server serves.
pub struct Pipeline {
    pub name: String,
    pub version: String,
    /// The build identity (`pipec_compiler::Checked::identity`).
    pub identity: String,
}

/// Checks the challenger's `.pipe` file against the champion (same name, inputs and
/// outputs) and writes its crate, a library, beside the champion's.
fn write_challenger(
    file: &Path,
    champion: &pipec_compiler::Checked,
    champion_dir: &Path,
    options: &Options,
) -> Result<Option<PathBuf>> {
    let disabled = passes(&options.disabled)?;
    let Some(checked) = load(file, options.color)? else { return Ok(None) };
    let (a, b) = (champion.graph(), checked.graph());
    let public = |g: &pipec_compiler::ir::Graph| -> Vec<(String, String)> {
        g.outputs()
            .iter()
            .filter(|o| o.role == pipec_compiler::ir::OutputRole::Output)
            .map(|o| (o.name.clone(), g.ty(o.node).to_string()))
            .collect()
    };
    if a.name != b.name || a.inputs != b.inputs || public(a) != public(b) {
        bail!(
            "the challenger `{}` must be the same pipeline as the champion: same name, inputs and outputs \
             (champion `{}` with inputs [{}] and outputs [{}]; challenger `{}` with inputs [{}] and outputs [{}])",
            file.display(),
            a.name,
            describe_inputs(a),
            describe_outputs(&public(a)),
            b.name,
            describe_inputs(b),
            describe_outputs(&public(b)),
        );
    }
    let package = pipec_codegen::challenger_package_name(&b.name);
    let parent = champion_dir.parent().unwrap_or(Path::new("."));
    let dir = parent.join(&package);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let runtime = runtime_path(options)?;
    let crate_options = pipec_codegen::CrateOptions {
        runtime_path: runtime.display().to_string(),
        standalone: true,
        source_name: file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        role: pipec_codegen::CrateRole::Challenger,
    };
    let generated = pipec_codegen::generate(&checked.optimised(&disabled), &crate_options);
    pipec_codegen::write_crate(&dir, &generated).with_context(|| format!("cannot write into `{}`", dir.display()))?;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    eprintln!("checked challenger `{}` and generated crate `{package}` in {}", file.display(), dir.display());
    Ok(Some(dir))
}

fn describe_inputs(graph: &pipec_compiler::ir::Graph) -> String {
    graph.inputs.iter().map(|i| format!("{}: {:?}", i.name, i.kind)).collect::<Vec<_>>().join(", ")
}

fn describe_outputs(outputs: &[(String, String)]) -> String {
    outputs.iter().map(|(name, ty)| format!("{name}: {ty}")).collect::<Vec<_>>().join(", ")
}

/// Runs `<binary> <command> ARGS` and exits as it does; `build` is the binary, or a `.pipe`
/// file to build it from into the target directory.
pub(crate) fn run_subcommand(build: &Path, command: &str, args: &[String], options: &Options) -> Result<ExitCode> {
    let binary = if build.extension().is_some_and(|e| e == "pipe") {
        match build_binary(build, Place::TargetDir, None, options)? {
            Some((binary, _)) => binary,
            None => return Ok(ExitCode::FAILURE),
        }
    } else {
        build.to_path_buf()
    };
    let status = Command::new(&binary)
        .arg(command)
        .args(args)
        .status()
        .with_context(|| format!("cannot run `{}`", binary.display()))?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(2)),
        None => ExitCode::from(2),
    })
}

pub(crate) fn build_binary(
    file: &Path,
    place: Place,
    dir: Option<&Path>,
    options: &Options,
) -> Result<Option<(PathBuf, Pipeline)>> {
    let started = Instant::now();
    let target = target_dir(options);
    let Some((dir, pipeline)) = write_crate(file, dir, options)? else { return Ok(None) };
    let bin = pipec_codegen::server_bin_name(&pipeline.name);
    let output = match place {
        Place::Given(path) => path,
        Place::CurrentFolder => PathBuf::from(&bin),
        Place::TargetDir => target.join("pipec").join("bin").join(&bin),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--release")
        .arg("--bin")
        .arg(&bin)
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    let compiled = match options.device {
        BuildDevice::Gpu => {
            eprintln!(
                "compiling `{bin}` for the CPU and the GPU with cargo in release mode (target directory {}; the \
                 first build compiles burn, about 15 minutes on 2 cores; later builds take seconds)",
                target.display()
            );
            target.join("release").join(&bin)
        }
        BuildDevice::Cpu => {
            command.arg("--no-default-features");
            let triple = host_triple()?;
            let folder = if let Some(triple) = triple.filter(|t| t.ends_with("-linux-gnu")) {
                // A static executable (glibc's static-pie), so that it runs in an image with
                // nothing else in it. `--target` keeps the flag off build scripts and macros.
                let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
                flags.push_str(" -C target-feature=+crt-static");
                command.arg("--target").arg(&triple).env("RUSTFLAGS", flags.trim());
                target.join(&triple).join("release")
            } else {
                target.join("release")
            };
            eprintln!(
                "compiling `{bin}` for the CPU with cargo in release mode (target directory {}; the first build \
                 compiles the server's dependencies, about 2 minutes on 2 cores; later builds take seconds)",
                target.display()
            );
            folder.join(&bin)
        }
    };
    if options.batch {
        command.arg("--features").arg("batch");
    }
    let compile_started = Instant::now();
    let status = command.status().with_context(|| format!("cannot run `{}`", Path::new(&cargo).display()))?;
    if !status.success() {
        bail!("cargo could not build `{bin}` ({status}); its messages are above");
    }
    install(&compiled, &output)?;
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "built {} ({:.1} MiB) in {:.1} s, of which cargo {:.1} s",
        output.display(),
        size as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64(),
        compile_started.elapsed().as_secs_f64()
    );
    Ok(Some((output, pipeline)))
}

/// The host's target triple, from `rustc -vV` (`None` if rustc does not say).
fn host_triple() -> Result<Option<String>> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("cannot run `{} -vV`", Path::new(&rustc).display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().find_map(|line| line.strip_prefix("host: ")).map(|t| t.trim().to_string()))
}

/// Copies the binary into place through a temporary file, so that a running copy of an older
/// build is not disturbed.
fn install(compiled: &Path, output: &Path) -> Result<()> {
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let mut staging = output.as_os_str().to_owned();
    staging.push(".partial");
    let staging = PathBuf::from(staging);
    std::fs::copy(compiled, &staging)
        .with_context(|| format!("cannot copy `{}` to `{}`", compiled.display(), staging.display()))?;
    std::fs::rename(&staging, output).with_context(|| format!("cannot move the binary to `{}`", output.display()))?;
    Ok(())
}
