//! `pipec explain FILE`: the IR before and after the optimisation passes and how the fused GPU
//! kernel computes each node, or the optimised IR as a Graphviz digraph (`--dot`).

use crate::load::{ColorChoice, load, passes};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ExplainArgs {
    file: PathBuf,
    /// Write the optimised IR as a Graphviz digraph to this file (`-` for stdout).
    #[arg(long)]
    dot: Option<PathBuf>,
    /// Switch a pass off (repeatable): const-fold, cse, affine-fold, onehot-gather, dce.
    #[arg(long = "disable-pass", value_name = "PASS")]
    disable_pass: Vec<String>,
}

pub fn run(args: ExplainArgs, color: ColorChoice) -> Result<ExitCode> {
    let disabled = passes(&args.disable_pass)?;
    let Some(checked) = load(&args.file, color)? else { return Ok(ExitCode::FAILURE) };
    let optimised = checked.optimised(&disabled);
    match args.dot.as_deref() {
        Some(path) if path == Path::new("-") => print!("{}", pipec_compiler::ir::render_dot(optimised.graph())),
        Some(path) => {
            std::fs::write(path, pipec_compiler::ir::render_dot(optimised.graph()))
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let before = checked.graph();
            let after = optimised.graph();
            println!("== before optimisation ({} nodes)", before.nodes().len());
            print!("{}", pipec_compiler::ir::render_text(before));
            println!("\n== after optimisation ({} nodes)", after.nodes().len());
            print!("{}", pipec_compiler::ir::render_text(after));
            println!("\n== GPU (fused kernel)");
            for line in pipec_codegen::describe_fused(after) {
                println!("{line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
