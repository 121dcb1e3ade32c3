//! The subcommands.

use anyhow::{Context, Result};
use pipec_compiler::{Checked, Pass};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Auto => std::io::stderr().is_terminal(),
            ColorChoice::Always => true,
            ColorChoice::Never => false,
        }
    }
}

/// Reads and checks a file, printing its diagnostics to stderr.
pub fn load(file: &Path, color: ColorChoice) -> Result<Option<Checked>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    let name = file.display().to_string();
    let (source, diagnostics, checked) = match std::str::from_utf8(&bytes) {
        Ok(text) => {
            let base = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let outcome = pipec_compiler::check_source(text, base);
            (text.to_string(), outcome.diagnostics, outcome.checked)
        }
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let start = text.char_indices().map(|(i, _)| i).nth(String::from_utf8_lossy(&bytes[..at]).chars().count()).unwrap_or(text.len());
            let end = text[start..].chars().next().map_or(start, |c| start + c.len_utf8());
            let d = pipec_dsl::Diagnostic::error("E0000", "the file is not valid UTF-8")
                .with_primary(pipec_dsl::Span::new(start, end), "expected UTF-8 text here");
            (text, vec![d], None)
        }
    };
    if !diagnostics.is_empty() {
        eprint!("{}", pipec_dsl::render(&diagnostics, &name, &source, color.enabled()));
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        eprintln!("error: `{name}` has {errors} error(s)");
    }
    Ok(checked)
}

pub fn passes(names: &[String]) -> Result<Vec<Pass>> {
    names
        .iter()
        .map(|n| {
            Pass::from_name(n).with_context(|| {
                let all: Vec<&str> = Pass::ALL.iter().map(|p| p.name()).collect();
                format!("unknown pass `{n}`; expected one of: {}", all.join(", "))
            })
        })
        .collect()
}

/// `1 input`, `2 inputs`, `0 inputs`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

pub fn check(file: &Path, color: ColorChoice) -> Result<ExitCode> {
    Ok(match load(file, color)? {
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

pub fn explain(file: &Path, dot: Option<&Path>, disabled: &[String], color: ColorChoice) -> Result<ExitCode> {
    let disabled = passes(disabled)?;
    let Some(checked) = load(file, color)? else { return Ok(ExitCode::FAILURE) };
    let optimised = checked.optimised(&disabled);
    match dot {
        Some(path) if path == Path::new("-") => print!("{}", pipec_compiler::ir::render_dot(optimised.graph())),
        Some(path) => {
            std::fs::write(path, pipec_compiler::ir::render_dot(optimised.graph()))
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let before = checked.graph();
            let after = optimised.graph();
            println!("== before optimisation ({} nodes)", before.nodes.len());
            print!("{}", pipec_compiler::ir::render_text(before));
            println!("\n== after optimisation ({} nodes)", after.nodes.len());
            print!("{}", pipec_compiler::ir::render_text(after));
            println!("\n== GPU (fused kernel)");
            for line in pipec_codegen::describe_fused(after) {
                println!("{line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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
