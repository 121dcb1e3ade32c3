//! Error types: building a baseline, validating a spec.

/// Why reference values give no baseline.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BaselineError {
    #[error("the reference data has no values")]
    Empty,
    #[error("every reference value is missing (NaN)")]
    AllMissing,
    #[error("reference value {index} is infinite")]
    Infinite { index: usize },
}

/// Why a [`crate::MonitorSpec`] is inconsistent (e.g. hand-edited or from another version).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("the monitoring window must hold at least one row")]
    ZeroWindow,
    #[error("the drift threshold must be a finite number >= 0, got {0}")]
    BadThreshold(f64),
    #[error("feature `{0}` is monitored twice")]
    DuplicateFeature(String),
    #[error("baseline of feature `{feature}`: {reason}")]
    BadBaseline { feature: String, reason: String },
}
