//! `pipec build FILE`: the server binary (`-o`), its generated crate only (`--emit-crate`),
//! an OCI image archive holding it (`--image`), or the pipeline as a Python wheel (`--python`,
//! `wheel.rs`).

use crate::load::ColorChoice;
use crate::server_build::{BuildDevice, CargoArgs, Options, Pipeline, Place, build_binary, write_crate};
use crate::wheel;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub struct BuildArgs {
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
}

pub fn run(args: BuildArgs, color: ColorChoice) -> Result<ExitCode> {
    let BuildArgs {
        file,
        output,
        emit_crate,
        image,
        cargo,
        in_workspace,
        challenger,
        disable_pass,
        batch,
        python,
        maturin,
    } = args;
    let options = Options { challenger, in_workspace, disabled: disable_pass, batch, ..cargo.options(color) };
    match (output, emit_crate, image) {
        (output, dir, None) if python => wheel::build(&file, output, dir, maturin, &options),
        (None, Some(dir), None) => emit_crate_only(&file, &dir, &options),
        (output, dir, image) => build(&file, output, dir, image.as_deref(), &options),
    }
}

/// `pipec build FILE --emit-crate DIR`: the crate only.
fn emit_crate_only(file: &Path, dir: &Path, options: &Options) -> Result<ExitCode> {
    Ok(match write_crate(file, Some(dir), options)? {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::FAILURE,
    })
}

/// `pipec build FILE [-o BIN] [--emit-crate DIR] [--image FILE.tar]`: the server binary, and
/// with `--image` an OCI image archive holding it (the binary then goes under the target
/// directory unless `-o` names a place).
fn build(
    file: &Path,
    output: Option<PathBuf>,
    dir: Option<PathBuf>,
    image: Option<&Path>,
    options: &Options,
) -> Result<ExitCode> {
    if image.is_some() && options.device != BuildDevice::Cpu {
        bail!("--image holds a CPU server (static, in an empty image); build it with --device cpu, the default");
    }
    let place = match (output, image) {
        (Some(path), _) => Place::Given(path),
        (None, Some(_)) => Place::TargetDir,
        (None, None) => Place::CurrentFolder,
    };
    let Some((binary, pipeline)) = build_binary(file, place, dir.as_deref(), options)? else {
        return Ok(ExitCode::FAILURE);
    };
    if let Some(image) = image {
        write_image(&binary, &pipeline, image)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The port the image's server listens on (`PORT`, the Knative default), and its gRPC port.
pub const IMAGE_HTTP_PORT: u16 = 8080;
pub const IMAGE_GRPC_PORT: u16 = 8081;

fn write_image(binary: &Path, pipeline: &Pipeline, out: &Path) -> Result<()> {
    let started = Instant::now();
    let reference = crate::deploy::default_image(&pipeline.name, &pipeline.version);
    let (repository, tag) = reference.rsplit_once(':').unwrap_or((reference.as_str(), "latest"));
    let spec = crate::image::ImageSpec {
        binary,
        repository: repository.to_string(),
        tag: tag.to_string(),
        port: IMAGE_HTTP_PORT,
        user: "65532:65532".into(),
        env: vec![("PIPEC_HOST".into(), "0.0.0.0".into()), ("PIPEC_GRPC_PORT".into(), IMAGE_GRPC_PORT.to_string())],
        labels: vec![
            ("org.opencontainers.image.title".into(), pipeline.name.clone()),
            ("org.opencontainers.image.version".into(), pipeline.version.clone()),
            ("dev.pipec.identity".into(), pipeline.identity.clone()),
        ],
        created: None,
    };
    let summary = crate::image::write_image(&spec, out)?;
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    eprintln!(
        "wrote image {reference} to {} ({:.1} MiB; the layer {:.1} MiB compressed, {:.1} MiB unpacked; image id {}) in {} ms; \
         load it with `docker load -i {}`",
        out.display(),
        mib(summary.archive_bytes),
        mib(summary.layer_compressed_bytes),
        mib(summary.layer_uncompressed_bytes),
        summary.image_id,
        started.elapsed().as_millis(),
        out.display()
    );
    Ok(())
}
