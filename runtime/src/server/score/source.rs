//! The input file as a stream of Arrow record batches: Parquet (only the columns needed are
//! decoded), Arrow IPC (file or stream) or CSV (`csv_source.rs`).

use super::csv_source::{CsvSource, KindOf};
use super::error::ScoreError;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_ipc::reader::{FileReader, StreamReader};
use arrow_schema::{Schema, SchemaRef};
use clap::ValueEnum;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Parquet,
    /// Arrow IPC, as a file (Feather v2) or a stream.
    Arrow,
    /// Comma-separated values with a header row; an empty field is a missing value.
    Csv,
}

impl InputFormat {
    /// The format a file's extension names.
    pub fn of(path: &Path) -> Option<InputFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "parquet" | "pq" => Some(InputFormat::Parquet),
            "arrow" | "arrows" | "feather" | "ipc" => Some(InputFormat::Arrow),
            "csv" => Some(InputFormat::Csv),
            _ => None,
        }
    }
}

/// Picks the columns to read from the file's full schema (their indices, ascending); called
/// once, before any data is decoded.
pub type Select<'a> = &'a dyn Fn(&Schema) -> Result<Vec<usize>, ScoreError>;

pub struct Source {
    schema: SchemaRef,
    total_rows: Option<u64>,
    reader: Reader,
    path: PathBuf,
}

enum Reader {
    Parquet(ParquetRecordBatchReader),
    ArrowFile(FileReader<BufReader<File>>),
    ArrowStream(StreamReader<BufReader<File>>),
    Csv(Box<CsvSource>),
}

impl Source {
    pub fn open(
        path: &Path,
        format: InputFormat,
        batch_rows: usize,
        select: Select,
        csv_kind: KindOf,
    ) -> Result<Source, ScoreError> {
        let open =
            || File::open(path).map_err(|e| ScoreError::Open { path: path.to_path_buf(), reason: e.to_string() });
        let malformed = |format: &'static str| {
            move |e: &dyn std::fmt::Display| ScoreError::Malformed {
                path: path.to_path_buf(),
                format,
                reason: e.to_string(),
            }
        };
        let (reader, total_rows) = match format {
            InputFormat::Parquet => {
                let bad = malformed("Parquet");
                let builder = ParquetRecordBatchReaderBuilder::try_new(open()?).map_err(|e| bad(&e))?;
                let wanted = select(builder.schema())?;
                let total = builder.metadata().file_metadata().num_rows();
                let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
                let reader = builder.with_projection(mask).with_batch_size(batch_rows).build().map_err(|e| bad(&e))?;
                (Reader::Parquet(reader), u64::try_from(total).ok())
            }
            InputFormat::Arrow => {
                let bad = malformed("Arrow IPC");
                let mut magic = [0u8; 6];
                let is_file = open()?.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
                if is_file {
                    let schema = FileReader::try_new(BufReader::new(open()?), None).map_err(|e| bad(&e))?.schema();
                    let wanted = select(&schema)?;
                    let reader = FileReader::try_new(BufReader::new(open()?), Some(wanted)).map_err(|e| bad(&e))?;
                    (Reader::ArrowFile(reader), None)
                } else {
                    let schema = StreamReader::try_new(BufReader::new(open()?), None).map_err(|e| bad(&e))?.schema();
                    let wanted = select(&schema)?;
                    let reader = StreamReader::try_new(BufReader::new(open()?), Some(wanted)).map_err(|e| bad(&e))?;
                    (Reader::ArrowStream(reader), None)
                }
            }
            InputFormat::Csv => (Reader::Csv(Box::new(CsvSource::open(path, batch_rows, select, csv_kind)?)), None),
        };
        let schema = match &reader {
            Reader::Parquet(r) => r.schema(),
            Reader::ArrowFile(r) => r.schema(),
            Reader::ArrowStream(r) => r.schema(),
            Reader::Csv(r) => r.schema(),
        };
        Ok(Source { schema, total_rows, reader, path: path.to_path_buf() })
    }

    /// The schema of the batches read: the selected columns only.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The number of rows, where the file says it before being read (Parquet).
    pub fn total_rows(&self) -> Option<u64> {
        self.total_rows
    }

    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ScoreError>> {
        let malformed = |format: &'static str, e: &dyn std::fmt::Display| ScoreError::Malformed {
            path: self.path.clone(),
            format,
            reason: e.to_string(),
        };
        match &mut self.reader {
            Reader::Parquet(r) => r.next().map(|b| b.map_err(|e| malformed("Parquet", &e))),
            Reader::ArrowFile(r) => r.next().map(|b| b.map_err(|e| malformed("Arrow IPC", &e))),
            Reader::ArrowStream(r) => r.next().map(|b| b.map_err(|e| malformed("Arrow IPC", &e))),
            Reader::Csv(r) => r.next_batch(),
        }
    }
}
