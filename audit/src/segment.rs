//! Segment files: naming, listing, the header, creation, and walking the frames of one file.

use crate::FORMAT_VERSION;
use crate::error::AuditError;
use crate::frame::{self, FrameRead};
use crate::record::AuditRecord;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The first 8 bytes of every segment.
pub(crate) const MAGIC: &[u8; 8] = b"PIPECAUD";
/// Magic plus the format version.
pub(crate) const HEADER_BYTES: u64 = 12;

/// A segment file of a log folder and the seq of its first record.
#[derive(Clone, Debug)]
pub(crate) struct SegmentFile {
    pub path: PathBuf,
    pub first_seq: u64,
}

/// `audit-{first_seq:020}.log`.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("audit-{first_seq:020}.log")
}

/// The first seq encoded in a segment's file name, or `None` for any other file.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("audit-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files of `dir`, in seq order. Other files are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>, AuditError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AuditError::io(dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AuditError::io(dir, e))?;
        let name = entry.file_name();
        if let Some(first_seq) = name.to_str().and_then(parse_name) {
            segments.push(SegmentFile { path: entry.path(), first_seq });
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

pub(crate) fn header() -> [u8; HEADER_BYTES as usize] {
    let mut header = [0u8; HEADER_BYTES as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

/// The state of a segment's header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    Good,
    /// The file ends inside the header (a crash while the segment was being created); it holds
    /// this many bytes, all matching the header.
    Torn {
        bytes: u64,
    },
}

/// Reads and checks the header at the start of `input`.
pub(crate) fn read_header(input: &mut impl Read, path: &Path) -> Result<Header, AuditError> {
    let mut bytes = [0u8; HEADER_BYTES as usize];
    let got = frame::read_full(input, &mut bytes).map_err(|e| AuditError::io(path, e))?;
    let expected = header();
    if got < bytes.len() {
        return if bytes[..got] == expected[..got] {
            Ok(Header::Torn { bytes: got as u64 })
        } else {
            Err(AuditError::NotALog { path: path.to_path_buf() })
        };
    }
    if &bytes[..8] != MAGIC {
        return Err(AuditError::NotALog { path: path.to_path_buf() });
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return Err(AuditError::UnsupportedVersion { path: path.to_path_buf(), version });
    }
    Ok(Header::Good)
}

/// Creates the segment `audit-{first_seq:020}.log` in `dir` with its header, synced, and syncs
/// the folder so that the new name survives a crash.
pub(crate) fn create(dir: &Path, first_seq: u64) -> Result<(File, PathBuf), AuditError> {
    let path = dir.join(file_name(first_seq));
    let mut file =
        OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(|e| AuditError::io(&path, e))?;
    file.write_all(&header()).map_err(|e| AuditError::io(&path, e))?;
    file.sync_data().map_err(|e| AuditError::io(&path, e))?;
    sync_dir(dir)?;
    Ok((file, path))
}

/// Makes the folder's entries (new or truncated files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| AuditError::io(dir, e))
}

/// What [`Scanner::next`] found.
#[derive(Debug)]
pub(crate) enum Scanned {
    Record(AuditRecord),
    /// Clean end of the file.
    End,
    /// A torn or damaged frame starting at `offset`.
    Damaged {
        offset: u64,
        reason: String,
    },
}

/// Walks the frames of one segment whose header has been read, checking that seqs run on from
/// the one in the file name.
pub(crate) struct Scanner<R> {
    input: R,
    path: PathBuf,
    /// Offset of the next frame, which is also the end of the good data so far.
    offset: u64,
    next_seq: u64,
}

impl<R: Read> Scanner<R> {
    pub(crate) fn new(input: R, segment: &SegmentFile) -> Scanner<R> {
        Scanner { input, path: segment.path.clone(), offset: HEADER_BYTES, next_seq: segment.first_seq }
    }

    /// End of the last good frame read so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn next(&mut self) -> Result<Scanned, AuditError> {
        let read = frame::read(&mut self.input).map_err(|e| AuditError::io(&self.path, e))?;
        match read {
            FrameRead::Record { record, bytes } => {
                if record.seq != self.next_seq {
                    // The checksum holds, so this is not a torn write: refuse to guess.
                    return Err(AuditError::Corrupt {
                        segment: self.path.clone(),
                        offset: self.offset,
                        reason: format!("record has seq {} where {} was expected", record.seq, self.next_seq),
                    });
                }
                self.offset += bytes;
                self.next_seq += 1;
                Ok(Scanned::Record(record))
            }
            FrameRead::End => Ok(Scanned::End),
            FrameRead::Torn(reason) | FrameRead::Bad(reason) => Ok(Scanned::Damaged { offset: self.offset, reason }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_names_are_segments() {
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(file_name(42), "audit-00000000000000000042.log");
        assert_eq!(parse_name(&file_name(u64::MAX)), Some(u64::MAX));
        for other in
            ["audit.lock", "audit-42.log", "audit-0000000000000000004x.log", "audit-00000000000000000042.log.tmp"]
        {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
