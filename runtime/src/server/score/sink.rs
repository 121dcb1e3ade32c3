//! The output file, written under a temporary name beside it and renamed into place only once
//! complete and synced, so that a failed or interrupted run leaves no partial output under the
//! asked-for name (nor any file at all, unless the process is killed).
//!
//! For Parquet, the workers encode and compress: each turns its batch into one row group's
//! column chunks with an [`Encoder`], and the writer only appends them in order, so that
//! encoding, the costliest part of writing, runs on every core.

use super::error::ScoreError;
use arrow_array::RecordBatch;
use arrow_ipc::writer::FileWriter;
use arrow_schema::SchemaRef;
use clap::ValueEnum;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Parquet,
    /// An Arrow IPC file (Feather v2).
    Arrow,
}

impl OutputFormat {
    pub fn of(path: &Path) -> Option<OutputFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "parquet" | "pq" => Some(OutputFormat::Parquet),
            "arrow" | "feather" | "ipc" => Some(OutputFormat::Arrow),
            _ => None,
        }
    }
}

/// Parquet's page compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompressionFlag {
    None,
    Snappy,
    Zstd,
    Lz4,
}

enum Writer {
    Parquet(SerializedFileWriter<BufWriter<File>>),
    Arrow(FileWriter<BufWriter<File>>),
}

/// A batch of output rows as a worker hands it to the writer.
pub enum Encoded {
    /// As is (Arrow IPC).
    Batch(RecordBatch),
    /// One Parquet row group's column chunks, encoded and compressed.
    RowGroup { rows: usize, chunks: Vec<ArrowColumnChunk> },
}

impl Encoded {
    pub fn rows(&self) -> usize {
        match self {
            Encoded::Batch(batch) => batch.num_rows(),
            Encoded::RowGroup { rows, .. } => *rows,
        }
    }
}

/// Turns a batch of output rows into what [`Sink::write`] takes; shared by the workers.
pub struct Encoder {
    parquet: Option<Arc<ArrowRowGroupWriterFactory>>,
}

impl Encoder {
    pub fn encode(&self, batch: RecordBatch) -> Result<Encoded, String> {
        let Some(factory) = &self.parquet else { return Ok(Encoded::Batch(batch)) };
        let rows = batch.num_rows();
        // The index only matters to encrypted files, which these are not.
        let mut writers = factory.create_column_writers(0).map_err(|e| e.to_string())?.into_iter();
        let mut chunks = Vec::with_capacity(batch.num_columns());
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            for leaf in compute_leaves(field, array).map_err(|e| e.to_string())? {
                let mut writer = writers.next().ok_or("more leaf columns than the schema has")?;
                writer.write(&leaf).map_err(|e| e.to_string())?;
                chunks.push(writer.close().map_err(|e| e.to_string())?);
            }
        }
        Ok(Encoded::RowGroup { rows, chunks })
    }
}

pub struct Sink {
    path: PathBuf,
    partial: PathBuf,
    writer: Option<Writer>,
}

impl Sink {
    /// Creates the temporary file; `metadata` goes into the Parquet footer's key-value
    /// metadata (it is also in `schema`'s metadata, which Arrow IPC keeps).
    pub fn create(
        path: &Path,
        format: OutputFormat,
        schema: SchemaRef,
        metadata: &[(String, String)],
        compression: CompressionFlag,
    ) -> Result<(Sink, Encoder), ScoreError> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = path.with_file_name(format!(".{name}.pipec-partial-{}", std::process::id()));
        let fail = |e: &dyn std::fmt::Display| ScoreError::Write { path: path.to_path_buf(), reason: e.to_string() };
        let file = File::create(&partial).map_err(|e| fail(&e))?;
        // From here on, dropping the sink removes the temporary file.
        let mut sink = Sink { path: path.to_path_buf(), partial, writer: None };
        let out = BufWriter::with_capacity(1 << 20, file);
        let mut parquet = None;
        let writer = match format {
            OutputFormat::Parquet => {
                let compression = match compression {
                    CompressionFlag::None => Compression::UNCOMPRESSED,
                    CompressionFlag::Snappy => Compression::SNAPPY,
                    CompressionFlag::Zstd => Compression::ZSTD(ZstdLevel::default()),
                    CompressionFlag::Lz4 => Compression::LZ4_RAW,
                };
                let pairs = metadata.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
                let properties = WriterProperties::builder()
                    .set_compression(compression)
                    .set_key_value_metadata(Some(pairs))
                    .set_created_by(format!("pipec {}", env!("CARGO_PKG_VERSION")))
                    .build();
                // ArrowWriter writes the schema into the footer (ARROW:schema); its lower-level
                // parts then take row groups encoded elsewhere.
                let writer = ArrowWriter::try_new(out, schema, Some(properties)).map_err(|e| fail(&e))?;
                let (file, factory) = writer.into_serialized_writer().map_err(|e| fail(&e))?;
                parquet = Some(Arc::new(factory));
                Writer::Parquet(file)
            }
            OutputFormat::Arrow => Writer::Arrow(FileWriter::try_new(out, &schema).map_err(|e| fail(&e))?),
        };
        sink.writer = Some(writer);
        Ok((sink, Encoder { parquet }))
    }

    pub fn write(&mut self, encoded: Encoded) -> Result<(), ScoreError> {
        let result = match (self.writer.as_mut(), encoded) {
            (Some(Writer::Parquet(file)), Encoded::RowGroup { chunks, .. }) => append_row_group(file, chunks),
            (Some(Writer::Arrow(w)), Encoded::Batch(batch)) => w.write(&batch).map_err(|e| e.to_string()),
            (None, _) => Err("the output is already closed".to_string()),
            _ => Err("a batch encoded for another format".to_string()),
        };
        result.map_err(|reason| ScoreError::Write { path: self.path.clone(), reason })
    }

    /// Closes the file, syncs it and renames it into place.
    pub fn finish(mut self) -> Result<(), ScoreError> {
        let fail = |e: &dyn std::fmt::Display| ScoreError::Write { path: self.path.clone(), reason: e.to_string() };
        let out = match self.writer.take() {
            Some(Writer::Parquet(file)) => file.into_inner().map_err(|e| fail(&e))?,
            Some(Writer::Arrow(mut w)) => {
                w.finish().map_err(|e| fail(&e))?;
                w.into_inner().map_err(|e| fail(&e))?
            }
            None => return Err(fail(&"the output is already closed")),
        };
        let file = out.into_inner().map_err(|e| fail(&e.error().to_string()))?;
        file.sync_all().map_err(|e| fail(&e))?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| fail(&e))?;
        Ok(())
    }
}

fn append_row_group(
    file: &mut SerializedFileWriter<BufWriter<File>>,
    chunks: Vec<ArrowColumnChunk>,
) -> Result<(), String> {
    let mut row_group = file.next_row_group().map_err(|e| e.to_string())?;
    for chunk in chunks {
        chunk.append_to_row_group(&mut row_group).map_err(|e| e.to_string())?;
    }
    row_group.close().map(|_| ()).map_err(|e| e.to_string())
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Still here unless `finish` renamed it.
        let _ = std::fs::remove_file(&self.partial);
    }
}
