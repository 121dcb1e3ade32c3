//! pipec's audit log: an append-only record of every inference a server answers (or shadows),
//! kept in checksummed segment files, and the means to read it back.
//!
//! This crate owns the on-disk format, the writer ([`AuditLog`]: a thread fed by a channel,
//! with group commit and size-based rotation), crash recovery at open (a torn last record is
//! detected and cut off), the reader ([`read_records`]) and the JSON display form
//! ([`record_to_json`], printed by `pipec log`). It knows nothing of HTTP or pipelines: the
//! server builds [`AuditRecord`]s and submits them.
//!
//! # Guarantees
//!
//! - Every record gets a `seq`, 1, 2, 3 ... without gaps, across segments and restarts (after
//!   a restart it continues from the last good record).
//! - [`Durability::Durable`]: a submission is acknowledged only after its records were written
//!   and `fdatasync`ed (one sync covers every submission pending at the time: group commit).
//!   An acknowledged record survives a crash of the process or the machine.
//! - [`Durability::Buffered`]: acknowledged once handed to the operating system; it survives a
//!   crash of the process, not of the machine.
//! - Records survive bit for bit: `f32` values keep their exact bits (NaN payloads, `-0.0`).
//! - One writer per folder at a time (an advisory lock on `audit.lock`); any number of readers,
//!   also while the writer appends.
//!
//! # Audit log format (version 1)
//!
//! A log is a folder of segment files named `audit-{first_seq:020}.log`, where `first_seq` is
//! the seq of the segment's first record (zero-padded so that names sort in seq order), plus
//! the lock file `audit.lock`. Other files are ignored.
//!
//! Each segment is a 12-byte header followed by frames:
//!
//! ```text
//! header: b"PIPECAUD" (8 bytes) | format version, u32 little-endian (1)
//! frame:  payload length, u32 LE | CRC-32 (IEEE, as crc32fast) of the payload, u32 LE | payload
//! ```
//!
//! The payload is one [`AuditRecord`] encoded with postcard 1.x (serde's data model: varint
//! integers, length-prefixed strings and sequences, `f32` as its 4 little-endian bytes, enum
//! variants by index in declaration order). Any change to the record types changes the format
//! and needs a new version number ([`FORMAT_VERSION`]). Payloads are at most 1 GiB; an empty
//! payload is invalid.
//!
//! A frame's seq is the file name's `first_seq` plus its index in the file. A segment is
//! synced and closed before the next one starts; the writer rotates before a frame would make
//! the segment larger than [`LogOptions::max_segment_bytes`] (a segment holds at least one
//! record). Only the last segment can end in a torn or damaged frame: opening the log for
//! writing cuts it at the end of its last good frame (see [`Recovery`]); the reader stops there
//! quietly ([`Records::torn_tail`]). Damage in any other segment, or a well-formed record whose
//! seq is not the expected one, is reported as [`AuditError::Corrupt`] with the file and byte
//! offset of the frame.

mod error;
mod frame;
mod json;
mod reader;
mod record;
mod recover;
mod segment;
mod writer;

use std::path::Path;

pub use error::AuditError;
pub use json::record_to_json;
pub use reader::{Filter, Records, read_records};
pub use record::{AuditRecord, BatchPosition, FailedCheck, NamedValues, Values};
pub use recover::{Recovery, Truncation};
pub use writer::{Acknowledge, AuditLog, AuditStats, Durability, LogOptions};

/// The segment format version written in every segment header.
pub const FORMAT_VERSION: u32 = 1;

/// Whether `dir` holds log segments (`audit-{first_seq:020}.log`), named as the writer names
/// them; the reader ignores any other file.
pub fn has_segments(dir: &Path) -> Result<bool, AuditError> {
    Ok(!segment::list(dir)?.is_empty())
}

/// The file name of the segment whose first record has seq `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    segment::file_name(first_seq)
}
