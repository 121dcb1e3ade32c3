//! pipec's back end: a checked pipeline to a Rust crate that links `pipec-runtime`.
//!
//! [`generate`] turns a [`Checked`] graph (only the compiler can make one, so nothing
//! unvalidated gets here) into the files of a crate: `Cargo.toml` (with a default feature
//! `gpu`; without it the crate and its server hold only the native path), `src/main.rs` (the
//! server binary, one call into `pipec_runtime::server`), `src/lib.rs` (the interface: the
//! spec and the weights), `src/native.rs` (the one-row path: straight-line Rust over
//! fixed-size arrays), `src/tensor.rs` (burn tensor code over a batch of rows; `gpu`),
//! `src/fused.rs` (the whole graph as one CubeCL kernel for the GPU, one thread per row;
//! `gpu`), all built with quote, formatted by prettyplease and marked `@generated`, and
//! `weights.bin` (every constant the code reads, little-endian f32, embedded with
//! `include_bytes!`). The same input gives the same bytes. [`generate_python`] writes the crate
//! of the pipeline's Python wheel (`python_crate.rs`). [`write_crate`] writes the
//! files, touching only those whose content changed, so cargo rebuilds only what it must.

mod blob;
mod cargo_toml;
mod forward;
mod fused;
mod native;
mod python_crate;
mod spec;

pub use python_crate::{PythonCrateOptions, python_module_name, python_package_name};

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
    pub role: CrateRole,
}

/// What the crate is for.
#[derive(Clone, Debug)]
pub enum CrateRole {
    /// A library and its server binary; with `challenger`, the server holds that crate's
    /// pipeline beside this one.
    Server { challenger: Option<ChallengerCrate> },
    /// A library only, named by [`challenger_package_name`], for a champion's server.
    Challenger,
}

/// The path dependency on a challenger's crate.
#[derive(Clone, Debug)]
pub struct ChallengerCrate {
    pub package: String,
    pub path: String,
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

/// The package name of a challenger's crate for pipeline `name` (distinct from the
/// champion's, so that one server can link both).
pub fn challenger_package_name(name: &str) -> String {
    format!("{}-challenger", package_name(name))
}

/// The name of the server binary built from the crate generated for pipeline `name`.
pub fn server_bin_name(name: &str) -> String {
    format!("{}-server", name.replace('_', "-"))
}

pub fn generate(checked: &Checked, options: &CrateOptions) -> GeneratedCrate {
    let graph = checked.graph();
    let mut blob = blob::Blob::default();
    let (lib, tensor) = forward::generate_lib(graph, &mut blob, &options.source_name);
    let native = native::generate_native(graph, &mut blob, &options.source_name);
    let fused = fused::generate_fused(graph, &mut blob, &options.source_name);
    let mut files = vec![
        (PathBuf::from("Cargo.toml"), cargo_toml::render(graph, options).into_bytes()),
        (PathBuf::from("src/lib.rs"), lib.into_bytes()),
    ];
    if let CrateRole::Server { challenger } = &options.role {
        files.push((
            PathBuf::from("src/main.rs"),
            server_main(graph, &options.source_name, challenger.is_some()).into_bytes(),
        ));
    }
    files.push((PathBuf::from("src/fused.rs"), fused.into_bytes()));
    files.push((PathBuf::from("src/native.rs"), native.into_bytes()));
    files.push((PathBuf::from("src/tensor.rs"), tensor.into_bytes()));
    files.push((PathBuf::from("weights.bin"), blob.into_bytes()));
    GeneratedCrate { files }
}

/// The crate of the Python wheel (`pipec build --python`, built by maturin) of the pipeline
/// `name` of `version`, whose crate [`generate`] wrote: a `cdylib` named
/// [`python_module_name`] over that crate's native path.
pub fn generate_python(name: &str, version: &str, options: &PythonCrateOptions) -> GeneratedCrate {
    python_crate::generate(name, version, options)
}

/// How the fused GPU kernel computes the graph (or why it cannot), one line per notable
/// node, for `pipec explain`.
pub fn describe_fused(graph: &pipec_compiler::ir::Graph) -> Vec<String> {
    fused::describe(graph)
}

/// The field declaration and initialiser of node `id`'s category table (`c<id>`), as both
/// code paths hold it, and the field's name.
fn category_table_field(
    id: pipec_compiler::ir::NodeId,
    map: &pipec_compiler::ir::CategoryMap,
) -> (proc_macro2::Ident, proc_macro2::TokenStream, proc_macro2::TokenStream) {
    use quote::quote;
    let table = quote::format_ident!("c{}", id.0);
    let init = category_table_init(map);
    (table.clone(), quote!(#table: CategoryTable), quote!(#table: #init))
}

/// The expression that builds a `CategoryTable` for `map` (the burn, native and fused paths).
fn category_table_init(map: &pipec_compiler::ir::CategoryMap) -> proc_macro2::TokenStream {
    use pipec_compiler::ir::CategoryMap;
    use quote::quote;
    match map {
        CategoryMap::Vocab(words) => quote!(CategoryTable::vocab(&[#(#words),*])),
        CategoryMap::Hash { buckets } => quote!(CategoryTable::hash(#buckets)),
        CategoryMap::Presence => quote!(CategoryTable::presence()),
    }
}

/// Whether the graph holds a tree ensemble (its code then names the runtime's forest types).
fn has_trees(graph: &pipec_compiler::ir::Graph) -> bool {
    graph.ids().any(|id| matches!(graph.node(id).op, pipec_compiler::ir::Op::Trees { .. }))
}

/// A generated Rust file: the `@generated` header, then `tokens` formatted by prettyplease.
fn format_file(tokens: proc_macro2::TokenStream, source_name: &str) -> String {
    let file: syn::File = match syn::parse2(tokens) {
        Ok(file) => file,
        // The tokens are built from fixed templates and identifiers made here; a parse failure
        // is a bug in this crate, reported in the output rather than by a panic.
        Err(e) => return format!("compile_error!({:?});\n", e.to_string()),
    };
    format!(
        "// @generated by pipec {} from `{source_name}`; do not edit.\n{}",
        env!("CARGO_PKG_VERSION"),
        prettyplease::unparse(&file)
    )
}

/// The server binary's `main`: everything but the pipeline lives in `pipec_runtime::server`.
/// With a challenger, the crate depends on it under the name `challenger`.
fn server_main(graph: &pipec_compiler::ir::Graph, source_name: &str, with_challenger: bool) -> String {
    let lib = package_name(&graph.name).replace('-', "_");
    let (gpu, cpu) = if with_challenger {
        (
            format!("pipec_runtime::server::main_with_challenger::<{lib}::Pipeline, challenger::Pipeline>()"),
            format!(
                "pipec_runtime::server::main_native_with_challenger::<{lib}::native::NativePipeline, challenger::native::NativePipeline>()"
            ),
        )
    } else {
        (
            format!("pipec_runtime::server::main::<{lib}::Pipeline>()"),
            format!("pipec_runtime::server::main_native::<{lib}::native::NativePipeline>()"),
        )
    };
    format!(
        "// @generated by pipec {pipec} from `{source_name}`; do not edit.\n\
         //! The `{name}` inference server. `--help` lists its settings. Built without the\n\
         //! feature `gpu` (`pipec build --device cpu`), it runs the native path only.\n\
         \n\
         #[cfg(feature = \"gpu\")]\n\
         fn main() -> std::process::ExitCode {{\n    \
             {gpu}\n\
         }}\n\
         \n\
         #[cfg(not(feature = \"gpu\"))]\n\
         fn main() -> std::process::ExitCode {{\n    \
             {cpu}\n\
         }}\n",
        pipec = env!("CARGO_PKG_VERSION"),
        name = graph.name,
    )
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
