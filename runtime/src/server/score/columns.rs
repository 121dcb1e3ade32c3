//! The pipeline's inputs among the columns of the input file: found by name and their types
//! checked once against the file's schema, then each record batch turned into a checked
//! [`Batch`], converted as the server converts a request (numbers through f64 to f32, NaN a
//! missing value), so that the answers are the server's, bit for bit.

use super::error::ScoreError;
use crate::batch::{Batch, Column};
use crate::spec::{InputKind, InputSpec, PipelineSpec};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, PrimitiveArray, RecordBatch};
use arrow_schema::{DataType, Schema};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where each of the pipeline's inputs is in the file's record batches.
pub struct InputColumns {
    path: PathBuf,
    spec: &'static PipelineSpec,
    /// The column of each input, in the order of `spec.inputs`.
    indices: Vec<usize>,
}

impl InputColumns {
    /// Finds every input of `spec` among the columns of `schema` and checks its type.
    pub fn new(spec: &'static PipelineSpec, schema: &Schema, path: &Path) -> Result<InputColumns, ScoreError> {
        let mut indices = Vec::with_capacity(spec.inputs.len());
        for input in spec.inputs {
            let Some((index, field)) = schema.column_with_name(input.name) else {
                return Err(ScoreError::MissingColumn {
                    path: path.to_path_buf(),
                    input: input.name.to_string(),
                    columns: column_names(schema),
                });
            };
            if !accepts(input, field.data_type()) {
                return Err(ScoreError::ColumnType {
                    path: path.to_path_buf(),
                    column: input.name.to_string(),
                    found: field.data_type().to_string(),
                    expected: expected(input),
                });
            }
            indices.push(index);
        }
        Ok(InputColumns { path: path.to_path_buf(), spec, indices })
    }

    /// The pipeline's batch of `record`'s rows; `first_row` is the number of the first, over
    /// the whole input, for errors.
    pub fn batch(&self, record: &RecordBatch, first_row: u64) -> Result<Batch, ScoreError> {
        let rows = record.num_rows();
        let mut columns = Vec::with_capacity(self.indices.len());
        for (input, &index) in self.spec.inputs.iter().zip(&self.indices) {
            let array = record.column(index).as_ref();
            let at = |(element, reason): (usize, String)| ScoreError::Value {
                path: self.path.clone(),
                column: input.name.to_string(),
                row: first_row + (element / input.width.max(1)) as u64,
                reason,
            };
            let column = match input.kind {
                InputKind::Str => Column::Str(strings(array, input.nullable).map_err(at)?),
                InputKind::Bool => Column::Bool(booleans(array, input.width).map_err(at)?),
                InputKind::F32 | InputKind::F64 | InputKind::I64 => {
                    let mut values = Vec::with_capacity(rows * input.width);
                    if input.width == 1
                        && !matches!(
                            array.data_type(),
                            DataType::FixedSizeList(..) | DataType::List(_) | DataType::LargeList(_)
                        )
                    {
                        numbers(array, input.nullable, &mut values).map_err(at)?;
                    } else {
                        vectors(array, input.width, input.nullable, &mut values).map_err(at)?;
                    }
                    Column::F32(values)
                }
            };
            columns.push(column);
        }
        Batch::new(self.spec, rows, columns).map_err(|e| ScoreError::Value {
            path: self.path.clone(),
            column: String::new(),
            row: first_row,
            reason: e.to_string(),
        })
    }
}

pub fn column_names(schema: &Schema) -> String {
    schema.fields().iter().map(|f| format!("`{}`", f.name())).collect::<Vec<_>>().join(", ")
}

fn is_number(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Float32
            | DataType::Float64
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

fn is_string(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(key, value) => key.is_integer() && matches!(**value, DataType::Utf8 | DataType::LargeUtf8),
        _ => false,
    }
}

/// Whether a column of `data_type` can feed `input`.
fn accepts(input: &InputSpec, data_type: &DataType) -> bool {
    let element = |ok: fn(&DataType) -> bool| match data_type {
        DataType::FixedSizeList(item, n) => *n as usize == input.width && ok(item.data_type()),
        DataType::List(item) | DataType::LargeList(item) => ok(item.data_type()),
        scalar => input.width == 1 && ok(scalar),
    };
    match input.kind {
        InputKind::Str => input.width == 1 && is_string(data_type),
        InputKind::Bool => element(|t| *t == DataType::Boolean),
        InputKind::F32 | InputKind::F64 | InputKind::I64 => element(is_number),
    }
}

/// What `input` takes, in Arrow's words.
fn expected(input: &InputSpec) -> String {
    let missing = if input.nullable { ", nulls allowed" } else { "" };
    let scalar = match input.kind {
        InputKind::Str => return format!("strings (Utf8, LargeUtf8, Utf8View or a dictionary of them){missing}"),
        InputKind::Bool => "Boolean",
        InputKind::F32 | InputKind::F64 | InputKind::I64 => "numbers (Float32/64, Int8-64 or UInt8-64)",
    };
    if input.width == 1 {
        format!("{scalar}{missing}")
    } else {
        format!("lists of {} {scalar} (FixedSizeList({}) or List){missing}", input.width, input.width)
    }
}

/// The server's conversion of a number: through f64 to f32; NaN is a missing value; anything
/// beyond f32's range is refused.
fn to_f32(v: f64, nullable: bool) -> Result<f32, String> {
    let x = v as f32;
    if v.is_nan() {
        if nullable { Ok(f32::NAN) } else { Err("NaN (a missing value), but the input is not nullable".into()) }
    } else if !x.is_finite() {
        Err(format!("{v} is not a finite 32-bit float"))
    } else {
        Ok(x)
    }
}

/// Appends a numeric column's values; an error names the element.
fn numbers(array: &dyn Array, nullable: bool, out: &mut Vec<f32>) -> Result<(), (usize, String)> {
    fn push<T: ArrowPrimitiveType>(
        array: &PrimitiveArray<T>,
        to_f64: impl Fn(T::Native) -> f64,
        nullable: bool,
        out: &mut Vec<f32>,
    ) -> Result<(), (usize, String)> {
        for (i, value) in array.values().iter().enumerate() {
            if array.is_null(i) {
                if !nullable {
                    return Err((i, "null, but the input is not nullable".into()));
                }
                out.push(f32::NAN);
            } else {
                out.push(to_f32(to_f64(*value), nullable).map_err(|reason| (i, reason))?);
            }
        }
        Ok(())
    }
    match array.data_type() {
        DataType::Float32 => push(array.as_primitive::<Float32Type>(), f64::from, nullable, out),
        DataType::Float64 => push(array.as_primitive::<Float64Type>(), |v| v, nullable, out),
        DataType::Int8 => push(array.as_primitive::<Int8Type>(), f64::from, nullable, out),
        DataType::Int16 => push(array.as_primitive::<Int16Type>(), f64::from, nullable, out),
        DataType::Int32 => push(array.as_primitive::<Int32Type>(), f64::from, nullable, out),
        DataType::Int64 => push(array.as_primitive::<Int64Type>(), |v| v as f64, nullable, out),
        DataType::UInt8 => push(array.as_primitive::<UInt8Type>(), f64::from, nullable, out),
        DataType::UInt16 => push(array.as_primitive::<UInt16Type>(), f64::from, nullable, out),
        DataType::UInt32 => push(array.as_primitive::<UInt32Type>(), f64::from, nullable, out),
        DataType::UInt64 => push(array.as_primitive::<UInt64Type>(), |v| v as f64, nullable, out),
        other => Err((0, format!("a column of {other}, not numbers"))),
    }
}

/// Appends a list column's values, `width` per row; a null row of a nullable input is
/// `width` missing values.
fn vectors(array: &dyn Array, width: usize, nullable: bool, out: &mut Vec<f32>) -> Result<(), (usize, String)> {
    for row in 0..array.len() {
        let at = |(element, reason): (usize, String)| (row * width + element, reason);
        if array.is_null(row) {
            if !nullable {
                return Err(at((0, "null, but the input is not nullable".into())));
            }
            out.extend(std::iter::repeat_n(f32::NAN, width));
            continue;
        }
        let values = match array.data_type() {
            DataType::FixedSizeList(..) => array.as_fixed_size_list().value(row),
            DataType::List(_) => array.as_list::<i32>().value(row),
            DataType::LargeList(_) => array.as_list::<i64>().value(row),
            other => return Err(at((0, format!("a column of {other}, not lists")))),
        };
        if values.len() != width {
            return Err(at((0, format!("a list of {} values; the input takes {width}", values.len()))));
        }
        numbers(values.as_ref(), nullable, out).map_err(at)?;
    }
    Ok(())
}

/// A boolean column, `width` per row. Pipelines take no missing booleans.
fn booleans(array: &dyn Array, width: usize) -> Result<Vec<bool>, (usize, String)> {
    let null = |i: usize| (i, "null; boolean inputs cannot be missing".to_string());
    match array.data_type() {
        DataType::Boolean => {
            let array = array.as_boolean();
            if let Some(i) = (0..array.len()).find(|&i| array.is_null(i)) {
                return Err(null(i));
            }
            Ok(array.values().iter().collect())
        }
        _ => {
            let mut out = Vec::with_capacity(array.len() * width);
            for row in 0..array.len() {
                if array.is_null(row) {
                    return Err(null(row * width));
                }
                let values = match array.data_type() {
                    DataType::FixedSizeList(..) => array.as_fixed_size_list().value(row),
                    DataType::List(_) => array.as_list::<i32>().value(row),
                    DataType::LargeList(_) => array.as_list::<i64>().value(row),
                    other => return Err((row * width, format!("a column of {other}, not booleans"))),
                };
                if values.len() != width {
                    return Err((row * width, format!("a list of {} values; the input takes {width}", values.len())));
                }
                let values = values.as_boolean();
                if let Some(i) = (0..values.len()).find(|&i| values.is_null(i)) {
                    return Err(null(row * width + i));
                }
                out.extend(values.values().iter());
            }
            Ok(out)
        }
    }
}

/// A string column, one per row; null is a missing value. Rows holding the same string share
/// one `Arc<str>` (a dictionary's words are made once; plain columns through [`Interner`]).
fn strings(array: &dyn Array, nullable: bool) -> Result<Vec<Option<Arc<str>>>, (usize, String)> {
    let values: Vec<Option<Arc<str>>> = match array.data_type() {
        DataType::Utf8 => Interner::default().share(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => Interner::default().share(array.as_string::<i64>().iter()),
        DataType::Utf8View => Interner::default().share(array.as_string_view().iter()),
        DataType::Dictionary(..) => {
            let Some(dictionary) = array.as_any_dictionary_opt() else {
                return Err((0, format!("a column of {}, not strings", array.data_type())));
            };
            let words = strings(dictionary.values().as_ref(), true)?;
            let keys = dictionary.normalized_keys();
            (0..array.len())
                .map(|i| if array.is_null(i) { None } else { words.get(keys[i]).cloned().flatten() })
                .collect()
        }
        other => return Err((0, format!("a column of {other}, not strings"))),
    };
    if let Some(i) = values.iter().position(Option::is_none).filter(|_| !nullable) {
        return Err((i, "null, but the input is not nullable".into()));
    }
    Ok(values)
}

/// Makes one `Arc<str>` per distinct string of a column (up to [`Interner::MAX_DISTINCT`]; past
/// that, new strings are allocated row by row), so that a categorical column costs a hash
/// lookup per row instead of an allocation and a copy.
#[derive(Default)]
struct Interner<'a> {
    seen: fnv::FnvHashMap<&'a str, Arc<str>>,
}

impl<'a> Interner<'a> {
    const MAX_DISTINCT: usize = 4096;

    fn share(mut self, values: impl Iterator<Item = Option<&'a str>>) -> Vec<Option<Arc<str>>> {
        values.map(|value| value.map(|text| self.intern(text))).collect()
    }

    fn intern(&mut self, text: &'a str) -> Arc<str> {
        if let Some(shared) = self.seen.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        if self.seen.len() < Self::MAX_DISTINCT {
            self.seen.insert(text, shared.clone());
        }
        shared
    }
}
