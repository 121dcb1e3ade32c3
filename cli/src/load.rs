//! Reading and checking a `.pipe` file with its diagnostics printed, the `--color` choice,
//! and `--disable-pass` names: what every subcommand that starts from a `.pipe` file shares.

use anyhow::{Context, Result};
use pipec_compiler::{Checked, Pass};
use std::io::IsTerminal;
use std::path::Path;

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
            let start = text
                .char_indices()
                .map(|(i, _)| i)
                .nth(String::from_utf8_lossy(&bytes[..at]).chars().count())
                .unwrap_or(text.len());
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

/// `--disable-pass` names to passes; an unknown name is an error listing the known ones.
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
