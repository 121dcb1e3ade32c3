//! What an import returns, and how it fails.

use crate::forest::{Forest, Objective};

/// A model read into node tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub forest: Forest,
    /// What the library's `predict` applies to the margins.
    pub objective: Objective,
    /// The feature names the model file records, when it records them (one per feature).
    pub feature_names: Option<Vec<String>>,
}

/// Why a model file, or a blob, could not be turned into node tables.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ImportError {
    /// An XGBoost JSON model; `path` is the JSON path (`learner.gradient_booster...`).
    #[error("XGBoost model, {path}: {message}")]
    Xgboost { path: String, message: String },
    /// A LightGBM text model; `line` counts from 1 (0 when no single line is at fault).
    #[error("LightGBM model, line {line}: {message}")]
    Lightgbm { line: usize, message: String },
    /// ONNX-ML tree-ensemble attributes that are inconsistent (the message names the
    /// attribute and index).
    #[error("ONNX tree ensemble: {0}")]
    Onnx(String),
    /// A model the importer understands but this crate does not support.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// Tables that break the invariants [`Forest::validate`] checks.
    #[error("invalid forest: {0}")]
    Invalid(String),
    /// A blob that is not an encoded forest.
    #[error("forest blob: {0}")]
    Blob(String),
}
