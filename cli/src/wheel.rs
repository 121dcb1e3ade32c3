//! `pipec build FILE --python [-o DIR|FILE.whl]`: the pipeline as a Python wheel. Writes the
//! pipeline's crate as `build` does, the wheel's crate beside it (`pipec_codegen::
//! generate_python`: a pyo3 `cdylib` over the native path and its `pyproject.toml`), and runs
//! `maturin build --release` on it in the shared target directory, so that the runtime's
//! dependencies are compiled once; cargo's and maturin's output pass through.

use crate::server_build::{BuildDevice, Options, WORKSPACE_LOCK, runtime_path, target_dir, write_crate};
use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Builds the wheel of `file`; `output` is a folder to put it in under its standard name, or
/// a `.whl` path; default: the current folder. `maturin` is the maturin to run (default:
/// `maturin` on the PATH).
pub fn build(
    file: &Path,
    output: Option<PathBuf>,
    dir: Option<PathBuf>,
    maturin: Option<PathBuf>,
    options: &Options,
) -> Result<ExitCode> {
    if options.device != BuildDevice::Cpu {
        bail!("--python builds the native path only (the wheel has no GPU code); drop --device gpu");
    }
    if options.challenger.is_some() {
        bail!("--python builds one pipeline; a wheel holds no challenger");
    }
    let started = Instant::now();
    let maturin = find_maturin(maturin)?;
    let Some((pipeline_dir, pipeline)) = write_crate(file, dir.as_deref(), options)? else {
        return Ok(ExitCode::FAILURE);
    };
    let package = pipec_codegen::python_package_name(&pipeline.name);
    let crate_dir = pipeline_dir.parent().unwrap_or(Path::new(".")).join(&package);
    let python_options = pipec_codegen::PythonCrateOptions {
        runtime_path: runtime_path(options)?.display().to_string(),
        pipeline_path: std::fs::canonicalize(&pipeline_dir).unwrap_or(pipeline_dir).display().to_string(),
        source_name: file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    };
    let generated = pipec_codegen::generate_python(&pipeline.name, &pipeline.version, &python_options);
    std::fs::create_dir_all(&crate_dir).with_context(|| format!("cannot create `{}`", crate_dir.display()))?;
    pipec_codegen::write_crate(&crate_dir, &generated)
        .with_context(|| format!("cannot write into `{}`", crate_dir.display()))?;
    let lock = crate_dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::write(&lock, WORKSPACE_LOCK).with_context(|| format!("cannot write `{}`", lock.display()))?;
    }
    let target = target_dir(options);
    // A folder of this wheel's own, emptied first, so that the wheel maturin writes is the
    // only one there.
    let wheels = target.join("pipec").join("wheels").join(&package);
    if wheels.exists() {
        std::fs::remove_dir_all(&wheels).with_context(|| format!("cannot empty `{}`", wheels.display()))?;
    }
    eprintln!(
        "building the wheel of `{}` with {} in release mode (crate {}, target directory {}; the first build compiles \
         pyo3, arrow-rs and parquet, about 3 minutes on 2 cores)",
        pipeline.name,
        maturin.to_string_lossy(),
        crate_dir.display(),
        target.display()
    );
    let compile_started = Instant::now();
    let status = Command::new(&maturin)
        .arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--out")
        .arg(&wheels)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .with_context(|| format!("cannot run `{}`", maturin.to_string_lossy()))?;
    if !status.success() {
        bail!("maturin could not build the wheel ({status}); its messages are above");
    }
    let wheel = built_wheel(&wheels)?;
    let name = wheel.file_name().map(OsString::from).unwrap_or_default();
    let destination = match output {
        Some(path) if path.extension().is_some_and(|e| e == "whl") => path,
        Some(folder) => folder.join(&name),
        None => PathBuf::from(&name),
    };
    if let Some(parent) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    std::fs::copy(&wheel, &destination)
        .with_context(|| format!("cannot copy `{}` to `{}`", wheel.display(), destination.display()))?;
    let size = std::fs::metadata(&destination).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "built {} ({:.1} MiB; module `{}`) in {:.1} s, of which maturin {:.1} s; install it with `pip install {}`",
        destination.display(),
        size as f64 / (1 << 20) as f64,
        pipec_codegen::python_module_name(&pipeline.name),
        started.elapsed().as_secs_f64(),
        compile_started.elapsed().as_secs_f64(),
        destination.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The maturin to run: `--maturin` (or `PIPEC_MATURIN`), else `maturin` on the PATH; checked
/// by running `maturin --version`.
fn find_maturin(given: Option<PathBuf>) -> Result<OsString> {
    let maturin = given.map_or_else(|| OsString::from("maturin"), PathBuf::into_os_string);
    match Command::new(&maturin).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(maturin),
        Ok(out) => bail!(
            "`{} --version` failed ({}): {}",
            maturin.to_string_lossy(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => bail!(
            "--python needs maturin to build the wheel, and `{}` cannot be run ({e}); install it with \
             `pip install maturin`, or give its path with --maturin PATH (or PIPEC_MATURIN)",
            maturin.to_string_lossy()
        ),
    }
}

/// The one wheel maturin wrote into `folder`.
fn built_wheel(folder: &Path) -> Result<PathBuf> {
    let entries =
        std::fs::read_dir(folder).with_context(|| format!("maturin wrote no wheel into `{}`", folder.display()))?;
    let wheels: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "whl"))
        .collect();
    match wheels.as_slice() {
        [wheel] => Ok(wheel.clone()),
        [] => bail!("maturin wrote no wheel into `{}`", folder.display()),
        _ => bail!("maturin wrote {} wheels into `{}`; expected one", wheels.len(), folder.display()),
    }
}
