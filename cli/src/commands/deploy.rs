//! `pipec deploy k8s|kserve FILE`: checks the pipeline, then writes the manifests for its
//! image (`deploy/`).

use crate::deploy::{DeployArgs, deploy};
use crate::load::{ColorChoice, load};
use anyhow::Result;
use std::process::ExitCode;

/// `pipec deploy`: checks the pipeline, then writes the manifests for its image.
pub fn run(args: &DeployArgs, color: ColorChoice) -> Result<ExitCode> {
    let Some(checked) = load(&args.file, color)? else { return Ok(ExitCode::FAILURE) };
    let graph = checked.graph();
    for path in deploy(args, &graph.name, &graph.version, checked.identity())? {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
