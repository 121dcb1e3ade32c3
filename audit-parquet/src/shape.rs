//! The columns of an export file: the record's fields, then one column per input and output
//! of the pipeline that logged it. Records of one shape (the same named, typed and sized
//! inputs and outputs) share a file; a new shape starts a new file.

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use pipec_audit::{AuditRecord, NamedValues, Values};
use std::collections::HashMap;
use std::sync::Arc;

/// The type of a logged column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    F32,
    Bool,
    Str,
}

impl Kind {
    fn of(values: &Values) -> Kind {
        match values {
            Values::F32(_) => Kind::F32,
            Values::Bool(_) => Kind::Bool,
            Values::Str(_) => Kind::Str,
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Kind::F32 => DataType::Float32,
            Kind::Bool => DataType::Boolean,
            Kind::Str => DataType::Utf8,
        }
    }
}

/// One logged column: an input or an output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ColumnShape {
    pub name: String,
    pub kind: Kind,
    /// Values per row: a scalar column when 1, else a fixed-size list of `width`.
    pub width: u32,
}

impl ColumnShape {
    fn of(column: &NamedValues) -> ColumnShape {
        ColumnShape { name: column.name.clone(), kind: Kind::of(&column.values), width: column.width }
    }

    fn field(&self, prefix: &str) -> Field {
        // Only strings can be missing as such; a missing number is NaN, kept bit for bit.
        let nullable = self.kind == Kind::Str;
        let element = self.kind.data_type();
        let data_type = if self.width == 1 {
            element
        } else {
            DataType::FixedSizeList(Arc::new(Field::new("item", element, nullable)), self.width as i32)
        };
        Field::new(format!("{prefix}{}", self.name), data_type, nullable && self.width == 1)
    }

    /// The shape of a column read back from a field named `{prefix}name`.
    pub fn from_field(field: &Field, name: &str) -> Option<ColumnShape> {
        let (element, width) = match field.data_type() {
            DataType::FixedSizeList(item, width) => (item.data_type(), u32::try_from(*width).ok()?),
            other => (other, 1),
        };
        let kind = match element {
            DataType::Float32 => Kind::F32,
            DataType::Boolean => Kind::Bool,
            DataType::Utf8 => Kind::Str,
            _ => return None,
        };
        Some(ColumnShape { name: name.to_string(), kind, width })
    }
}

/// The logged columns of a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    pub inputs: Vec<ColumnShape>,
    pub outputs: Vec<ColumnShape>,
}

pub(crate) const INPUT_PREFIX: &str = "inputs.";
pub(crate) const OUTPUT_PREFIX: &str = "outputs.";

/// The record fields before the logged columns, named as in `pipec log`'s JSON (nested
/// objects flattened with dots, as `pandas.json_normalize` names them).
pub(crate) mod field {
    pub const SEQ: &str = "seq";
    /// The row's index within its request (JSON holds a request's rows as arrays).
    pub const ROW: &str = "row";
    pub const REQUEST_ID: &str = "request_id";
    pub const TIME: &str = "time";
    pub const PIPELINE: &str = "pipeline";
    pub const ANSWERED: &str = "answered";
    pub const ROUTE: &str = "route";
    pub const BATCH_ID: &str = "batch.id";
    pub const BATCH_OFFSET: &str = "batch.offset";
    pub const BATCH_ROWS: &str = "batch.rows";
    pub const ROWS: &str = "rows";
    /// After the logged columns: the names of the checks this row failed.
    pub const FAILED_CHECKS: &str = "failed_checks";
}

impl Shape {
    pub fn of(record: &AuditRecord) -> Shape {
        Shape {
            inputs: record.inputs.iter().map(ColumnShape::of).collect(),
            outputs: record.outputs.iter().map(ColumnShape::of).collect(),
        }
    }

    /// The file schema; `metadata` goes into the Parquet footer.
    pub fn schema(&self, metadata: HashMap<String, String>) -> SchemaRef {
        use field::*;
        let int = |name: &str| Field::new(name, DataType::Int64, false);
        let text = |name: &str| Field::new(name, DataType::Utf8, false);
        let mut fields = vec![
            int(SEQ),
            int(ROW),
            text(REQUEST_ID),
            Field::new(TIME, DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false),
            text(PIPELINE),
            Field::new(ANSWERED, DataType::Boolean, false),
            text(ROUTE),
            int(BATCH_ID),
            int(BATCH_OFFSET),
            int(BATCH_ROWS),
            int(ROWS),
        ];
        fields.extend(self.inputs.iter().map(|c| c.field(INPUT_PREFIX)));
        fields.extend(self.outputs.iter().map(|c| c.field(OUTPUT_PREFIX)));
        fields.push(Field::new(
            FAILED_CHECKS,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
            false,
        ));
        Arc::new(Schema::new_with_metadata(Fields::from(fields), metadata))
    }
}
