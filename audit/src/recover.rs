//! Opening a log folder for writing: find the last segment, cut off a torn or damaged tail,
//! and work out the next seq.

use crate::error::AuditError;
use crate::segment::{self, HEADER_BYTES, Header, Scanned, Scanner, SegmentFile};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What [`crate::AuditLog::open`] found and repaired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Segment files in the folder after opening (a new, empty log has one).
    pub segments: usize,
    /// Records in the log after recovery: `next_seq` minus the first segment's first seq (only
    /// the last segment is read at open; the others were synced before it was started).
    pub records: u64,
    /// The seq the next record will get.
    pub next_seq: u64,
    /// Set when the last segment ended in a torn or damaged frame that was cut off.
    pub truncated: Option<Truncation>,
}

/// A tail of a segment that is not good data: cut off by recovery, or skipped by the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub segment: PathBuf,
    /// Where the good data ends (the start of the first bad frame).
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub bytes_removed: u64,
    /// Why the frame at `offset` is not good, e.g. "checksum mismatch (...)".
    pub reason: String,
}

/// The segment the writer appends to.
#[derive(Debug)]
pub(crate) struct OpenSegment {
    pub file: File,
    pub path: PathBuf,
    pub first_seq: u64,
    /// Bytes of good data (header included); the file is positioned here.
    pub len: u64,
    /// Records in this segment.
    pub records: u64,
}

/// Recovers the log in `dir` (created if missing) and opens its last segment for appending.
pub(crate) fn recover(dir: &Path) -> Result<(OpenSegment, Recovery), AuditError> {
    std::fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
    let segments = segment::list(dir)?;
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        let (file, path) = segment::create(dir, 1)?;
        let open = OpenSegment { file, path, first_seq: 1, len: HEADER_BYTES, records: 0 };
        return Ok((open, Recovery { segments: 1, records: 0, next_seq: 1, truncated: None }));
    };
    let (open, truncated) = recover_segment(dir, last)?;
    let next_seq = open.first_seq + open.records;
    let recovery =
        Recovery { segments: segments.len(), records: next_seq.saturating_sub(first.first_seq), next_seq, truncated };
    Ok((open, recovery))
}

/// Scans one segment, cuts it after its last good frame, and positions it there.
fn recover_segment(dir: &Path, segment: &SegmentFile) -> Result<(OpenSegment, Option<Truncation>), AuditError> {
    let path = &segment.path;
    let io = |e| AuditError::io(path, e);
    let mut file = OpenOptions::new().read(true).write(true).open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();

    let mut input = BufReader::new(&file);
    let (good_len, records, truncated) = match segment::read_header(&mut input, path)? {
        Header::Torn { bytes } => {
            let reason = format!("segment header cut short ({bytes} of {HEADER_BYTES} bytes); header rewritten");
            (0, 0, Some(Truncation { segment: path.clone(), offset: 0, bytes_removed: bytes, reason }))
        }
        Header::Good => {
            let mut scanner = Scanner::new(&mut input, segment);
            let mut records = 0u64;
            let damage = loop {
                match scanner.next()? {
                    Scanned::Record(_) => records += 1,
                    Scanned::End => break None,
                    Scanned::Damaged { offset, reason } => break Some((offset, reason)),
                }
            };
            let good_len = scanner.offset();
            let truncated = damage.map(|(offset, reason)| Truncation {
                segment: path.clone(),
                offset,
                bytes_removed: file_len.saturating_sub(offset),
                reason,
            });
            (good_len, records, truncated)
        }
    };
    drop(input);

    if truncated.is_some() {
        file.set_len(good_len).map_err(io)?;
        if good_len == 0 {
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.write_all(&segment::header()).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        segment::sync_dir(dir)?;
    }
    let len = good_len.max(HEADER_BYTES);
    file.seek(SeekFrom::Start(len)).map_err(io)?;
    let open = OpenSegment { file, path: path.clone(), first_seq: segment.first_seq, len, records };
    Ok((open, truncated))
}
