//! pipec's monitoring statistics: pure computation, no I/O, no threads.
//!
//! This crate owns
//! - the monitoring specification ([`MonitorSpec`]) that the compiler builds from a `.pipe`
//!   file's `monitor` section and compiles (as JSON) into the generated server;
//! - drift baselines ([`Baseline`]), computed at build time from reference values: decile bins
//!   and 101 quantiles for numeric features, category shares for categorical ones;
//! - the server's sliding windows: [`DriftMonitor`] (population stability index plus
//!   Kolmogorov-Smirnov or chi-square per feature, and the drift flag) and [`AccuracyWindow`]
//!   (precision, recall, F1, log loss for classifiers; MAE, RMSE for regressors);
//! - the statistics themselves ([`stats`]): PSI, KS distance, Pearson chi-square and its
//!   survival function via the regularized incomplete gamma function.
//!
//! Conventions (also documented where they apply):
//! - numeric bins: a value `v` falls in bin `edges.partition_point(|e| *e < v)`, so bin `i`
//!   is `(edges[i-1], edges[i]]`, the first bin `(-inf, edges[0]]`, the last
//!   `(edges[last], +inf)`; NaN is missing;
//! - shares (`proportions`, `missing`, `other`) are fractions of *all* reference values,
//!   missing ones included, so they sum to 1;
//! - PSI and chi-square smooth every share below [`stats::EPSILON`] (1e-4) up to it;
//! - a feature is flagged only once its window holds at least
//!   `min(window, `[`MIN_SAMPLE`]`)` observations (`MIN_SAMPLE` = 100).
//!
//! Nothing here panics on any input, including a deserialized, inconsistent spec
//! ([`MonitorSpec::validate`] reports such problems).

mod accuracy;
mod baseline;
mod drift;
mod error;
mod spec;
pub mod stats;
mod window;

pub use accuracy::{AccuracyReport, AccuracyWindow, LOG_LOSS_CLIP};
pub use baseline::{Baseline, MAX_CATEGORIES, QUANTILES, bin_index, quantile_linear};
pub use drift::{DriftMonitor, FeatureDrift, MIN_SAMPLE, Observation, Statistic};
pub use error::{BaselineError, SpecError};
pub use spec::{AccuracySpec, FeatureBaseline, MonitorSpec, Source};
