//! Reading a log folder back, record by record, with a filter. Works while a server is
//! appending to it.

use crate::error::AuditError;
use crate::record::AuditRecord;
use crate::recover::Truncation;
use crate::segment::{self, Header, Scanned, Scanner, SegmentFile};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Which records to yield; `None` fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Records scored at or after this time.
    pub since_unix_nanos: Option<u64>,
    /// Records scored strictly before this time.
    pub until_unix_nanos: Option<u64>,
    pub request_id: Option<String>,
    /// `"champion"` or `"challenger"`.
    pub model: Option<String>,
}

impl Filter {
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.since_unix_nanos.is_none_or(|since| record.time_unix_nanos >= since)
            && self.until_unix_nanos.is_none_or(|until| record.time_unix_nanos < until)
            && self.request_id.as_ref().is_none_or(|id| *id == record.request_id)
            && self.model.as_ref().is_none_or(|model| *model == record.model)
    }
}

/// Iterates the records of every segment in `dir`, in seq order, applying the filter.
///
/// The segment list is taken now. A torn or damaged tail of the last segment (the server may
/// be writing it, or may have crashed) ends the iteration quietly and is reported by
/// [`Records::torn_tail`]; damage anywhere else is an [`AuditError::Corrupt`] item, after
/// which the iteration ends. A folder without segments yields nothing.
pub fn read_records(dir: &Path, filter: Filter) -> Result<Records, AuditError> {
    let segments = segment::list(dir)?;
    Ok(Records { segments: segments.into_iter(), current: None, filter, torn_tail: None, done: false })
}

/// The iterator of [`read_records`].
pub struct Records {
    segments: std::vec::IntoIter<SegmentFile>,
    /// The segment being read, and whether it is the last one.
    current: Option<(SegmentFile, Scanner<BufReader<File>>, bool)>,
    filter: Filter,
    torn_tail: Option<Truncation>,
    done: bool,
}

impl Records {
    /// The torn or damaged tail of the last segment that ended the iteration, if any. Only
    /// meaningful once the iterator returned `None`.
    pub fn torn_tail(&self) -> Option<&Truncation> {
        self.torn_tail.as_ref()
    }

    /// Opens the next segment; `Ok(false)` when there is none (or its header is torn).
    fn open_next(&mut self) -> Result<bool, AuditError> {
        let Some(segment) = self.segments.next() else { return Ok(false) };
        let last = self.segments.len() == 0;
        let file = File::open(&segment.path).map_err(|e| AuditError::io(&segment.path, e))?;
        let mut input = BufReader::new(file);
        match segment::read_header(&mut input, &segment.path)? {
            Header::Good => {}
            Header::Torn { bytes } => {
                let reason = format!("segment header cut short ({bytes} of {} bytes)", segment::HEADER_BYTES);
                if !last {
                    return Err(AuditError::Corrupt { segment: segment.path, offset: 0, reason });
                }
                self.torn_tail = Some(Truncation { segment: segment.path, offset: 0, bytes_removed: bytes, reason });
                return Ok(false);
            }
        }
        let scanner = Scanner::new(input, &segment);
        self.current = Some((segment, scanner, last));
        Ok(true)
    }

    fn next_record(&mut self) -> Result<Option<AuditRecord>, AuditError> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let Some((segment, scanner, last)) = self.current.as_mut() else { return Ok(None) };
            match scanner.next()? {
                Scanned::Record(record) => {
                    if self.filter.matches(&record) {
                        return Ok(Some(record));
                    }
                }
                Scanned::End => self.current = None,
                Scanned::Damaged { offset, reason } => {
                    if !*last {
                        return Err(AuditError::Corrupt { segment: segment.path.clone(), offset, reason });
                    }
                    let file_len = std::fs::metadata(&segment.path).map(|m| m.len()).unwrap_or(offset);
                    self.torn_tail = Some(Truncation {
                        segment: segment.path.clone(),
                        offset,
                        bytes_removed: file_len.saturating_sub(offset),
                        reason,
                    });
                    return Ok(None);
                }
            }
        }
    }
}

impl Iterator for Records {
    type Item = Result<AuditRecord, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_record().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
            self.current = None;
        }
        item
    }
}

impl std::iter::FusedIterator for Records {}
