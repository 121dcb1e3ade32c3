//! pipec's back end: a checked pipeline to a Rust crate that links `pipec-runtime`.
//!
//! [`generate`] turns a [`Checked`] graph (only the compiler can make one, so nothing
//! unvalidated gets here) into the files of a crate: `Cargo.toml`, `src/lib.rs` (burn tensor
//! code over a batch of rows, built with quote and formatted by prettyplease, marked
//! `@generated`) and `weights.bin` (every constant the code reads, little-endian f32, embedded
//! with `include_bytes!`). The same input gives the same bytes. [`write_crate`] writes the
//! files, touching only those whose content changed, so cargo rebuilds only what it must.

mod blob;
mod cargo_toml;
mod forward;
mod spec;

use pipec_compiler::Checked;
use std::path::{Path, PathBuf};

/// How the crate finds the runtime, and whether it is a workspace of its own.
#[derive(Clone, Debug)]
pub struct CrateOptions {
    /// The path dependency on `pipec-runtime`, as written into `Cargo.toml`.
    pub runtime_path: String,
    /// Add an empty `[workspace]` table, so the crate builds on its own wherever it is.
    pub standalone: bool,
    /// Named in the `@generated` header (the `.pipe` file name, without folders).
    pub source_name: String,
}

/// The files of a generated crate, paths relative to the crate root, in a fixed order.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedCrate {
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

/// The package name of the crate generated for pipeline `name`.
pub fn package_name(name: &str) -> String {
    format!("pipec-gen-{}", name.replace('_', "-"))
}

pub fn generate(checked: &Checked, options: &CrateOptions) -> GeneratedCrate {
    let graph = checked.graph();
    let mut blob = blob::Blob::default();
    let lib = forward::generate_lib(graph, &mut blob, &options.source_name);
    GeneratedCrate {
        files: vec![
            (PathBuf::from("Cargo.toml"), cargo_toml::render(graph, options).into_bytes()),
            (PathBuf::from("src/lib.rs"), lib.into_bytes()),
            (PathBuf::from("weights.bin"), blob.into_bytes()),
        ],
    }
}

/// Writes the crate under `dir`, skipping files whose content is already the same.
/// Returns the files that were written.
pub fn write_crate(dir: &Path, generated: &GeneratedCrate) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, bytes) in &generated.files {
        let target = dir.join(path);
        if std::fs::read(&target).is_ok_and(|old| old == *bytes) {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
        written.push(target);
    }
    Ok(written)
}
