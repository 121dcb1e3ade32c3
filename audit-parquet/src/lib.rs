//! pipec's audit log as data: [`Exporter`] writes audit records as Parquet files partitioned
//! by day and model (`pipec log --format parquet`), and [`read_export`] reads such an export
//! back as records (`replay` of an export). It owns the export format; the log's own format
//! stays in `pipec-audit`.
//!
//! # Export format (version 1)
//!
//! An export is a folder of Hive-style partitions, `day=YYYY-MM-DD/model=ROLE/part-NNNNN.parquet`
//! (the UTC day of the record's time; `ROLE` is `champion` or `challenger`). The partition
//! keys are in the path only, as Spark writes them; each file's footer also holds
//! `pipec.audit_export` (the format version, `1`), `pipec.model`, `pipec.day` and
//! `pipec.compiler`.
//!
//! One row per scored row, in seq order. The columns are named as `pandas.json_normalize`
//! names the fields of `pipec log`'s JSON:
//!
//! | column | type | |
//! |---|---|---|
//! | `seq` | Int64 | the record's seq |
//! | `row` | Int64 | the row's index within its request |
//! | `request_id`, `pipeline`, `route` | Utf8 | |
//! | `time` | Timestamp(ns, UTC) | the record's time |
//! | `answered` | Boolean | |
//! | `batch.id`, `batch.offset`, `batch.rows`, `rows` | Int64 | |
//! | `inputs.NAME` | Float32, Boolean or Utf8; a FixedSizeList of them for vectors | |
//! | `outputs.NAME` | likewise | outputs, checks and watched features |
//! | `failed_checks` | List<Utf8> | the checks this row failed |
//!
//! Numbers are written bit for bit: a missing number is NaN (JSON's `null`), not a null; a
//! missing string is a null. A record's rows are never split between row groups, and a file
//! holds records of one shape (the same named, typed, sized inputs and outputs): a build with
//! other columns starts a new part.

mod error;
mod export;
mod from_arrow;
mod import;
mod shape;
mod to_arrow;

pub use error::ExportError;
pub use export::{EXPORT_VERSION, ExportSummary, Exporter, day_of};
pub use import::{ExportRecords, is_export, read_export};
