//! Reading an export back as audit records: one file, or an export folder (every
//! `.parquet` file under it, in path order: by day, then model, then part).

use crate::error::ExportError;
use crate::from_arrow::Layout;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use pipec_audit::{AuditRecord, Filter};
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Whether `path` is an export rather than an audit log folder: a `.parquet` file, or a
/// folder holding no log segments (`audit-*.log`) but `.parquet` files somewhere below it.
pub fn is_export(path: &Path) -> bool {
    if path.is_file() {
        return has_parquet_extension(path);
    }
    path.is_dir()
        && pipec_audit::has_segments(path).is_ok_and(|segments| !segments)
        && parquet_files(path).is_ok_and(|files| !files.is_empty())
}

fn has_parquet_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Every `.parquet` file under `folder`, sorted by path; hidden entries (such as an export
/// still being written) are skipped.
fn parquet_files(folder: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let mut files = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| ExportError::io(&folder, e))? {
            let entry = entry.map_err(|e| ExportError::io(&folder, e))?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if has_parquet_extension(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Iterates the records of the export at `path` (a file or a folder) that pass `filter`.
pub fn read_export(path: &Path, filter: Filter) -> Result<ExportRecords, ExportError> {
    let files = if path.is_dir() {
        let files = parquet_files(path)?;
        if files.is_empty() {
            return Err(ExportError::not_an_export(path, "the folder holds no .parquet files"));
        }
        files
    } else {
        // Opened now, so that an absent file is reported before anything runs.
        File::open(path).map_err(|e| ExportError::io(path, e))?;
        vec![path.to_path_buf()]
    };
    Ok(ExportRecords { files: files.into(), current: None, ready: VecDeque::new(), filter, failed: false })
}

/// The iterator of [`read_export`]. An error ends it.
pub struct ExportRecords {
    files: VecDeque<PathBuf>,
    current: Option<OpenFile>,
    ready: VecDeque<AuditRecord>,
    filter: Filter,
    failed: bool,
}

struct OpenFile {
    path: PathBuf,
    layout: Layout,
    /// The row groups still to read, each with its first row in the file (for errors).
    row_groups: VecDeque<(usize, u64)>,
    file: File,
    /// The footer, parsed once for every row group.
    metadata: ArrowReaderMetadata,
}

impl ExportRecords {
    /// Loads the next row group's records into `ready`; false when every file is read.
    fn load(&mut self) -> Result<bool, ExportError> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.pop_front() else { return Ok(false) };
                self.current = Some(open(&path, &self.filter)?);
            }
            let Some(open) = self.current.as_mut() else { continue };
            let Some((group, first_row)) = open.row_groups.pop_front() else {
                self.current = None;
                continue;
            };
            let file = open.file.try_clone().map_err(|e| ExportError::io(&open.path, e))?;
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, open.metadata.clone());
            let rows = builder.metadata().row_group(group).num_rows();
            let reader = builder
                .with_row_groups(vec![group])
                .with_batch_size(usize::try_from(rows).unwrap_or(usize::MAX).max(1))
                .build()
                .map_err(|e| ExportError::parquet(&open.path, e))?;
            for batch in reader {
                let batch = batch.map_err(|e| ExportError::Arrow { path: open.path.clone(), reason: e.to_string() })?;
                let records = open.layout.records(&batch, first_row)?;
                self.ready.extend(records.into_iter().filter(|r| self.filter.matches(r)));
            }
            return Ok(true);
        }
    }
}

/// Opens one export file, skipping it when its model is filtered out.
fn open(path: &Path, filter: &Filter) -> Result<OpenFile, ExportError> {
    let file = File::open(path).map_err(|e| ExportError::io(path, e))?;
    let footer =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).map_err(|e| ExportError::parquet(path, e))?;
    let schema = footer.schema();
    let metadata = schema.metadata();
    if metadata.get("pipec.audit_export").is_none() {
        return Err(ExportError::not_an_export(path, "its footer has no `pipec.audit_export` entry"));
    }
    let model = metadata
        .get("pipec.model")
        .cloned()
        .ok_or_else(|| ExportError::not_an_export(path, "its footer has no `pipec.model` entry"))?;
    let layout = Layout::of(schema, model.clone(), path)?;
    let mut row_groups = VecDeque::new();
    if filter.model.as_ref().is_none_or(|m| *m == model) {
        let mut first_row = 0u64;
        for (index, group) in footer.metadata().row_groups().iter().enumerate() {
            row_groups.push_back((index, first_row));
            first_row += u64::try_from(group.num_rows()).unwrap_or(0);
        }
    }
    Ok(OpenFile { path: path.to_path_buf(), layout, row_groups, file, metadata: footer })
}

impl Iterator for ExportRecords {
    type Item = Result<AuditRecord, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.ready.pop_front() {
                return Some(Ok(record));
            }
            if self.failed {
                return None;
            }
            match self.load() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
