//! Tree ensembles (XGBoost, LightGBM) as flat node tables. Skeleton: being written.

mod forest;

pub use forest::{Forest, Missing, NodeKind, Objective};
