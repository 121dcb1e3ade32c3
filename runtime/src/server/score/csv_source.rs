//! CSV input: a header row names the columns; the pipeline's inputs are parsed as its spec
//! types them (numbers as Float64, booleans `true`/`false`/`1`/`0`, strings as given), every
//! other column kept as text. An empty field is a missing value, as pandas and Spark read it.
//! Errors name the line.

use super::error::ScoreError;
use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a column's fields are read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    Number,
    Bool,
    Text,
}

pub struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    /// The selected columns: their place in a record and how to read them.
    columns: Vec<(usize, CsvKind)>,
    schema: SchemaRef,
    batch_rows: usize,
    record: csv::StringRecord,
}

/// How the column of a name is read: the pipeline's input types it, other columns are text.
pub type KindOf<'a> = &'a dyn Fn(&str) -> CsvKind;

impl CsvSource {
    pub fn open(
        path: &Path,
        batch_rows: usize,
        select: super::source::Select,
        kind: KindOf,
    ) -> Result<CsvSource, ScoreError> {
        let file =
            File::open(path).map_err(|e| ScoreError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(BufReader::new(file));
        let headers = reader
            .headers()
            .map_err(|e| ScoreError::Malformed { path: path.to_path_buf(), format: "CSV", reason: e.to_string() })?
            .clone();
        let data_type = |kind: CsvKind| match kind {
            CsvKind::Number => DataType::Float64,
            CsvKind::Bool => DataType::Boolean,
            CsvKind::Text => DataType::Utf8,
        };
        let full =
            Schema::new(headers.iter().map(|name| Field::new(name, data_type(kind(name)), true)).collect::<Vec<_>>());
        let wanted = select(&full)?;
        let columns: Vec<(usize, CsvKind)> = wanted.iter().map(|&i| (i, kind(&headers[i]))).collect();
        let schema = Arc::new(full.project(&wanted).map_err(|e| ScoreError::Setup(e.to_string()))?);
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            columns,
            schema,
            batch_rows,
            record: csv::StringRecord::new(),
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ScoreError>> {
        match self.read_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn read_batch(&mut self) -> Result<Option<RecordBatch>, ScoreError> {
        enum Builder {
            Number(Float64Builder),
            Bool(BooleanBuilder),
            Text(StringBuilder),
        }
        let mut builders: Vec<Builder> = self
            .columns
            .iter()
            .map(|(_, kind)| match kind {
                CsvKind::Number => Builder::Number(Float64Builder::with_capacity(self.batch_rows)),
                CsvKind::Bool => Builder::Bool(BooleanBuilder::with_capacity(self.batch_rows)),
                CsvKind::Text => Builder::Text(StringBuilder::new()),
            })
            .collect();
        let mut rows = 0;
        while rows < self.batch_rows {
            let more = self.reader.read_record(&mut self.record).map_err(|e| {
                let line = e.position().map_or(0, csv::Position::line);
                ScoreError::Csv { path: self.path.clone(), line, reason: e.to_string() }
            })?;
            if !more {
                break;
            }
            let line = self.record.position().map_or(0, csv::Position::line);
            for (position, ((index, _), builder)) in self.columns.iter().zip(&mut builders).enumerate() {
                let field = self.record.get(*index).unwrap_or("");
                let name = self.schema.field(position).name();
                let bad = |what: &str| ScoreError::Csv {
                    path: self.path.clone(),
                    line,
                    reason: format!("column `{name}`: `{field}` is not {what}"),
                };
                match builder {
                    Builder::Number(b) if field.is_empty() => b.append_null(),
                    Builder::Number(b) => b.append_value(field.trim().parse::<f64>().map_err(|_| bad("a number"))?),
                    Builder::Bool(b) if field.is_empty() => b.append_null(),
                    Builder::Bool(b) => b.append_value(match field.trim().to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad("a boolean (true, false, 1 or 0)")),
                    }),
                    Builder::Text(b) if field.is_empty() => b.append_null(),
                    Builder::Text(b) => b.append_value(field),
                }
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Number(mut b) => Arc::new(b.finish()),
                    Builder::Bool(mut b) => Arc::new(b.finish()),
                    Builder::Text(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        RecordBatch::try_new(self.schema.clone(), arrays).map(Some).map_err(|e| ScoreError::Malformed {
            path: self.path.clone(),
            format: "CSV",
            reason: e.to_string(),
        })
    }
}
