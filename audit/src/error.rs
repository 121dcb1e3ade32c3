//! The crate's one error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong opening, writing or reading an audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An I/O operation on `path` failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A record that is not at the end of the log cannot be read back.
    #[error("{}: corrupt record at byte offset {offset}: {reason}", segment.display())]
    Corrupt { segment: PathBuf, offset: u64, reason: String },
    /// The file is named like a segment but does not start with the segment header.
    #[error("{}: not a pipec audit log segment (bad header)", path.display())]
    NotALog { path: PathBuf },
    /// The segment was written by a newer (or unknown) format version.
    #[error("{}: audit log format version {version} is not supported (this build reads version {})", path.display(), crate::FORMAT_VERSION)]
    UnsupportedVersion { path: PathBuf, version: u32 },
    /// Another writer (likely another server process) holds the folder's lock file.
    #[error("{}: the audit log is already open for writing by another process", path.display())]
    Locked { path: PathBuf },
    /// The writer thread panicked (a bug); records still queued were not written.
    #[error("the audit log writer thread stopped unexpectedly")]
    WriterStopped,
}

impl AuditError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> AuditError {
        AuditError::Io { path: path.to_path_buf(), source }
    }
}
