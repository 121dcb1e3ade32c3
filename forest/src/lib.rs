//! Tree ensembles for pipec: what this crate owns.
//!
//! - The node tables ([`Forest`]): every tree of an XGBoost or LightGBM model flattened into
//!   per-node vectors, every library's split rule normalised to one form (`x <= threshold`
//!   on f32, a missing-value rule, a category bitset). The compiler keeps an `Arc<Forest>` in
//!   its IR, the runtime evaluates the same tables with tensors, code generation embeds them.
//! - Importing: [`import_xgboost`] (XGBoost JSON, `save_model("m.json")`) and
//!   [`import_lightgbm`] (LightGBM text, `save_model("m.txt")`), with typed errors that name
//!   the JSON path or the text line ([`ImportError`]); [`import_onnx_tree_ensemble`] and
//!   [`import_onnx_unified_tree_ensemble`] (ONNX-ML tree-ensemble attributes the compiler
//!   reads, with the [`ScoreRule`] onnxruntime applies to the margins; see `onnx/mod.rs`).
//! - Evaluation, one row at a time ([`Forest::predict_margins`], [`Forest::predict`]): the
//!   reference semantics every other evaluation of the tables must reproduce (see `eval.rs`).
//! - The fast row walk ([`CompiledForest`], `compiled/`): a compact copy of the tables built
//!   once at load (8-byte nodes, children adjacent, missing rules folded into the row, a
//!   fixed number of branch-free steps per tree), bit-identical to the reference; what the
//!   generated native path runs.
//! - Checking ([`Forest::validate`]): a validated forest never makes evaluation panic.
//! - The blob ([`Forest::encode`], [`Forest::decode`]): the tables as f32 words for
//!   generated code (layout in `blob.rs`).
//! - Building tables by hand ([`ForestBuilder`], [`TreeNode`]), used by the importers.

mod blob;
mod builder;
mod compiled;
mod error;
mod eval;
mod forest;
mod json;
mod lightgbm;
mod onnx;
mod threshold;
mod xgboost;

pub use blob::BLOB_MAGIC;
pub use builder::{ForestBuilder, TreeNode};
pub use compiled::{CompiledForest, CompiledLayout};
pub use error::{ImportError, Imported};
pub use eval::{ZERO_THRESHOLD, apply_objective};
pub use forest::{Forest, Missing, NodeKind, Objective};
pub use lightgbm::import_lightgbm;
pub use onnx::{
    OnnxEnsembleKind, OnnxForest, OnnxTreeEnsemble, OnnxUnifiedTreeEnsemble, ScoreRule, ScoreTransform,
    import_onnx_tree_ensemble, import_onnx_unified_tree_ensemble, onnx_probit,
};
pub use threshold::{f32_at_most, f32_less_than, next_down};
pub use xgboost::import_xgboost;
