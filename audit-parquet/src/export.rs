//! The exporter: records in, Parquet files out, one folder per day and model
//! (`day=YYYY-MM-DD/model=champion/part-00000.parquet`, Hive-style, as Spark, pandas,
//! pyarrow and Polars read partitioned data sets). The export is written under a temporary
//! folder beside the output and renamed into place when complete and synced: a failed export
//! leaves nothing under the output's name.

use crate::error::ExportError;
use crate::shape::Shape;
use crate::to_arrow::record_batch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use pipec_audit::AuditRecord;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// The export format's version, in every file's footer (`pipec.audit_export`).
pub const EXPORT_VERSION: &str = "1";

/// Rows gathered before they are written as one row group (a record is never split).
const ROW_GROUP_ROWS: usize = 65_536;

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub records: u64,
    pub rows: u64,
    /// The files written, relative to the output folder, in the order they were closed.
    pub files: Vec<PathBuf>,
}

/// Writes records into a new export folder; [`Exporter::finish`] puts it in place.
pub struct Exporter {
    output: PathBuf,
    partial: PathBuf,
    /// The open file of each (day, model).
    open: BTreeMap<(String, String), Part>,
    /// The next part number of each (day, model).
    next_part: HashMap<(String, String), u32>,
    latest_day: String,
    summary: ExportSummary,
    finished: bool,
}

/// One open file of a partition.
struct Part {
    relative: PathBuf,
    shape: Shape,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    pending: Vec<AuditRecord>,
    pending_rows: usize,
}

impl Exporter {
    /// Starts an export into `output`, which must not exist yet.
    pub fn create(output: &Path) -> Result<Exporter, ExportError> {
        if output.exists() {
            return Err(ExportError::OutputExists { path: output.to_path_buf() });
        }
        let name = output.file_name().map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
        let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let partial = parent.join(format!(".{name}.pipec-partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|e| ExportError::io(&partial, e))?;
        Ok(Exporter {
            output: output.to_path_buf(),
            partial,
            open: BTreeMap::new(),
            next_part: HashMap::new(),
            latest_day: String::new(),
            summary: ExportSummary::default(),
            finished: false,
        })
    }

    /// Adds one record (records come in seq order, so days advance; a day two days behind
    /// the latest is closed, and a late record for it starts a new part).
    pub fn push(&mut self, record: AuditRecord) -> Result<(), ExportError> {
        if record.rows == 0 {
            // A request has at least one row; a record without rows has nothing to write.
            return Ok(());
        }
        let day = day_of(record.time_unix_nanos);
        if day > self.latest_day {
            let closing: Vec<(String, String)> =
                self.open.keys().filter(|(d, _)| *d < self.latest_day).cloned().collect();
            for key in closing {
                self.close(&key)?;
            }
            self.latest_day = day.clone();
        }
        let key = (day, record.model.clone());
        let shape = Shape::of(&record);
        if self.open.get(&key).is_some_and(|part| part.shape != shape) {
            self.close(&key)?;
        }
        if !self.open.contains_key(&key) {
            let part = self.open_part(&key, shape)?;
            self.open.insert(key.clone(), part);
        }
        self.summary.records += 1;
        self.summary.rows += u64::from(record.rows);
        let Some(part) = self.open.get_mut(&key) else { return Ok(()) };
        part.pending_rows += record.rows as usize;
        part.pending.push(record);
        if part.pending_rows >= ROW_GROUP_ROWS {
            let full = self.partial.join(&part.relative);
            part.write_pending(&full)?;
        }
        Ok(())
    }

    /// Closes every file, syncs them and moves the export into place.
    pub fn finish(mut self) -> Result<ExportSummary, ExportError> {
        let keys: Vec<(String, String)> = self.open.keys().cloned().collect();
        for key in keys {
            self.close(&key)?;
        }
        sync_tree(&self.partial)?;
        std::fs::rename(&self.partial, &self.output).map_err(|e| ExportError::io(&self.output, e))?;
        self.finished = true;
        Ok(std::mem::take(&mut self.summary))
    }

    fn open_part(&mut self, key: &(String, String), shape: Shape) -> Result<Part, ExportError> {
        let number = self.next_part.entry(key.clone()).or_insert(0);
        let relative = PathBuf::from(format!("day={}", key.0))
            .join(format!("model={}", key.1))
            .join(format!("part-{number:05}.parquet"));
        *number += 1;
        let full = self.partial.join(&relative);
        if let Some(folder) = full.parent() {
            std::fs::create_dir_all(folder).map_err(|e| ExportError::io(folder, e))?;
        }
        let metadata = HashMap::from([
            ("pipec.audit_export".to_string(), EXPORT_VERSION.to_string()),
            ("pipec.model".to_string(), key.1.clone()),
            ("pipec.day".to_string(), key.0.clone()),
            ("pipec.compiler".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ]);
        // In the footer's key-value metadata (what `pyarrow.parquet.read_metadata` shows) as well
        // as in the Arrow schema stored there.
        let footer: Vec<KeyValue> = metadata.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
        let schema = shape.schema(metadata);
        let file = File::create(&full).map_err(|e| ExportError::io(&full, e))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(None)
            .set_key_value_metadata(Some(footer))
            .build();
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| ExportError::parquet(&full, e))?;
        Ok(Part { relative, shape, schema, writer, pending: Vec::new(), pending_rows: 0 })
    }

    fn close(&mut self, key: &(String, String)) -> Result<(), ExportError> {
        let Some(mut part) = self.open.remove(key) else { return Ok(()) };
        let full = self.partial.join(&part.relative);
        part.write_pending(&full)?;
        part.writer.close().map_err(|e| ExportError::parquet(&full, e))?;
        self.summary.files.push(part.relative);
        Ok(())
    }
}

impl Part {
    /// Writes the pending records as one row group.
    fn write_pending(&mut self, full: &Path) -> Result<(), ExportError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = record_batch(&self.shape, &self.schema, &self.pending)?;
        self.writer.write(&batch).map_err(|e| ExportError::parquet(full, e))?;
        self.writer.flush().map_err(|e| ExportError::parquet(full, e))?;
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.partial);
        }
    }
}

/// The UTC day of a time, `YYYY-MM-DD`.
pub fn day_of(time_unix_nanos: u64) -> String {
    let time = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(time_unix_nanos)).to_string();
    time.get(..10).unwrap_or("1970-01-01").to_string()
}

fn sync_tree(folder: &Path) -> Result<(), ExportError> {
    for entry in std::fs::read_dir(folder).map_err(|e| ExportError::io(folder, e))? {
        let path = entry.map_err(|e| ExportError::io(folder, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path).and_then(|f| f.sync_all()).map_err(|e| ExportError::io(&path, e))?;
        }
    }
    File::open(folder).and_then(|f| f.sync_all()).map_err(|e| ExportError::io(folder, e))
}
