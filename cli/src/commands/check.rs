//! `pipec check FILE`: syntax, names, types, vector lengths and artifact files; a one-line
//! summary of the pipeline when it has no errors.

use crate::load::{ColorChoice, load};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The .pipe file; artifact paths in it resolve relative to its folder.
    file: PathBuf,
}

/// `1 input`, `2 inputs`, `0 inputs`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

pub fn run(args: CheckArgs, color: ColorChoice) -> Result<ExitCode> {
    Ok(match load(&args.file, color)? {
        Some(checked) => {
            let g = checked.graph();
            let checks = g.checks().count();
            let monitor = checked.monitor().map_or(String::new(), |m| format!(", {} watched", m.features.len()));
            println!(
                "ok: pipeline `{}` {} ({}, {}, {}{monitor}; identity {})",
                g.name,
                g.version,
                counted(g.inputs.len(), "input"),
                counted(g.public_outputs().count(), "output"),
                counted(checks, "check"),
                checked.identity()
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    })
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(counted(1, "input"), "1 input");
        assert_eq!(counted(2, "output"), "2 outputs");
        assert_eq!(counted(0, "check"), "0 checks");
    }
}
