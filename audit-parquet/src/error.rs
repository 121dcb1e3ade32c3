//! The crate's one error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong exporting an audit log to Parquet or reading an export back.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{}: {reason}", path.display())]
    Arrow { path: PathBuf, reason: String },
    /// The export's output folder must be new.
    #[error("{}: already exists; give a new folder (an export is never written over another)", path.display())]
    OutputExists { path: PathBuf },
    /// A record that cannot be written as asked (a value out of the columns' range).
    #[error("record {seq}: {reason}")]
    Record { seq: u64, reason: String },
    /// A file that is not an export of this format, or is damaged.
    #[error("{}: not a pipec audit export: {reason}", path.display())]
    NotAnExport { path: PathBuf, reason: String },
}

impl ExportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ExportError {
        ExportError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn parquet(path: &Path, source: parquet::errors::ParquetError) -> ExportError {
        ExportError::Parquet { path: path.to_path_buf(), source }
    }

    pub(crate) fn not_an_export(path: &Path, reason: impl Into<String>) -> ExportError {
        ExportError::NotAnExport { path: path.to_path_buf(), reason: reason.into() }
    }
}
