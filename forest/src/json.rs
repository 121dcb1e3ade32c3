//! Reading XGBoost's JSON one level at a time, keeping each number's text so f32 values are
//! parsed straight from their decimal form; every error names its JSON path.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::error::ImportError;

pub(crate) type Object<'a> = BTreeMap<String, &'a RawValue>;

pub(crate) fn error(path: &str, message: impl Into<String>) -> ImportError {
    ImportError::Xgboost { path: path.to_string(), message: message.into() }
}

/// The first characters of a JSON value, for messages.
fn excerpt(raw: &RawValue) -> String {
    let text = raw.get();
    let mut cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    cut
}

pub(crate) fn document(text: &str) -> Result<Object<'_>, ImportError> {
    serde_json::from_str(text).map_err(|e| error("$", format!("not a JSON object: {e}")))
}

pub(crate) fn object<'a>(raw: &'a RawValue, path: &str) -> Result<Object<'a>, ImportError> {
    serde_json::from_str(raw.get()).map_err(|_| error(path, format!("expected an object, found `{}`", excerpt(raw))))
}

/// `parent.key` (just `key` at the top).
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

pub(crate) fn field<'a>(obj: &Object<'a>, parent: &str, key: &str) -> Result<&'a RawValue, ImportError> {
    obj.get(key)
        .copied()
        .ok_or_else(|| error(if parent.is_empty() { "$" } else { parent }, format!("missing field `{key}`")))
}

pub(crate) fn child<'a>(obj: &Object<'a>, parent: &str, key: &str) -> Result<Object<'a>, ImportError> {
    object(field(obj, parent, key)?, &join(parent, key))
}

pub(crate) fn string(raw: &RawValue, path: &str) -> Result<String, ImportError> {
    serde_json::from_str(raw.get()).map_err(|_| error(path, format!("expected a string, found `{}`", excerpt(raw))))
}

pub(crate) fn array<'a>(raw: &'a RawValue, path: &str) -> Result<Vec<&'a RawValue>, ImportError> {
    serde_json::from_str(raw.get()).map_err(|_| error(path, format!("expected an array, found `{}`", excerpt(raw))))
}

pub(crate) fn strings(raw: &RawValue, path: &str) -> Result<Vec<String>, ImportError> {
    serde_json::from_str(raw.get())
        .map_err(|_| error(path, format!("expected an array of strings, found `{}`", excerpt(raw))))
}

pub(crate) fn ints(raw: &RawValue, path: &str) -> Result<Vec<i64>, ImportError> {
    serde_json::from_str(raw.get())
        .map_err(|_| error(path, format!("expected an array of integers, found `{}`", excerpt(raw))))
}

/// An array of numbers, each parsed from its decimal text to the nearest f32.
pub(crate) fn f32s(raw: &RawValue, path: &str) -> Result<Vec<f32>, ImportError> {
    array(raw, path)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let text = v.get().trim();
            text.parse::<f32>()
                .ok()
                .filter(|_| text.starts_with(|c: char| c == '-' || c.is_ascii_digit()))
                .ok_or_else(|| error(&format!("{path}[{i}]"), format!("expected a number, found `{}`", excerpt(v))))
        })
        .collect()
}

/// An array of booleans written as `true`/`false` or `0`/`1`.
pub(crate) fn bools(raw: &RawValue, path: &str) -> Result<Vec<bool>, ImportError> {
    array(raw, path)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v.get().trim() {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(error(&format!("{path}[{i}]"), format!("expected 0, 1, true or false, found `{}`", excerpt(v)))),
        })
        .collect()
}

/// A value XGBoost writes as a string holding a number (`"4"`), accepting a bare number too.
pub(crate) fn string_number(raw: &RawValue, path: &str) -> Result<String, ImportError> {
    let text = raw.get().trim();
    if text.starts_with('"') { string(raw, path) } else { Ok(text.to_string()) }
}

pub(crate) fn string_u32(raw: &RawValue, path: &str) -> Result<u32, ImportError> {
    let s = string_number(raw, path)?;
    s.trim().parse::<u32>().map_err(|_| error(path, format!("expected a whole number, found `{s}`")))
}
