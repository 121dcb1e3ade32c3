//! What can stop a scoring run, each with the place it happened: the file, the column, the
//! row (counted from 0 over the whole input) or the CSV line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path}: not a readable {format} file: {reason}")]
    Malformed { path: PathBuf, format: &'static str, reason: String },
    #[error("{path}: the pipeline's input `{input}` has no column of that name (columns: {columns})")]
    MissingColumn { path: PathBuf, input: String, columns: String },
    #[error("{path}: column `{column}` is {found}; the pipeline's input `{column}` takes {expected}")]
    ColumnType { path: PathBuf, column: String, found: String, expected: String },
    #[error("{path}: column `{column}`, row {row}: {reason}")]
    Value { path: PathBuf, column: String, row: u64, reason: String },
    #[error("{path}, line {line}: {reason}")]
    Csv { path: PathBuf, line: u64, reason: String },
    #[error("--key `{column}`: the input has no column of that name (columns: {columns})")]
    UnknownKey { column: String, columns: String },
    #[error(
        "the output column `{0}` would be written twice: an input column kept in the output has the name of an output of the pipeline; keep other columns with --key"
    )]
    NameClash(String),
    #[error("rows {first}..{end}: the pipeline failed: {reason}")]
    Pipeline { first: u64, end: u64, reason: String },
    #[error("{path}: writing the output failed: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{0}")]
    Setup(String),
}

impl ScoreError {
    /// The exit status: 1 when the pipeline itself failed, 2 for everything about the files
    /// and flags.
    pub fn exit_code(&self) -> u8 {
        match self {
            ScoreError::Pipeline { .. } => 1,
            _ => 2,
        }
    }
}
