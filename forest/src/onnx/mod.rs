//! ONNX-ML tree ensembles (`ai.onnx.ml` `TreeEnsembleRegressor` and `TreeEnsembleClassifier`,
//! opsets 1 and 3, and `TreeEnsemble`, opset 5) into node tables, with the rule onnxruntime
//! applies to the sums. This crate reads no ONNX file: the compiler reads the node's
//! attributes and fills [`OnnxTreeEnsemble`] or [`OnnxUnifiedTreeEnsemble`].
//!
//! The semantics are onnxruntime 1.32's CPU kernels (`onnxruntime/core/providers/cpu/ml/`:
//! `tree_ensemble_attribute.h`, `tree_ensemble_common.h`, `tree_ensemble_aggregator.h`,
//! `ml_common.h`), checked against onnxruntime 1.32.0 itself by
//! `forest/tests/onnx_reference.py`; where the ONNX specification says otherwise, onnxruntime
//! wins. What onnxruntime does:
//!
//! **Trees.** Opsets 1/3: a tree is a run of consecutive nodes with the same
//! `nodes_treeids` (`roots_` in `TreeEnsembleCommon::Init`), rooted at the run's first node;
//! children are found by `(tree id, node id)`. Opset 5: one tree per `tree_roots` entry; a
//! root whose true and false branches are the same leaf is a one-leaf tree. A subtree reached
//! from two parents is evaluated from both (here it is copied); a cycle is rejected.
//!
//! **Splits.** The true branch is taken when `x CMP threshold` holds (`ProcessTreeNodeLeave`):
//! `BRANCH_LEQ` `<=`, `BRANCH_LT` `<`, `BRANCH_GTE` `>=`, `BRANCH_GT` `>`, compared in the
//! thresholds' type (float thresholds with a float input; double thresholds need a double
//! input, and float thresholds are widened when the input is double). A NaN feature fails
//! every comparison and so takes the false branch, unless `nodes_missing_value_tracks_true`
//! is 1 (then the true branch). pipec feeds f32 values (a double input is rounded to f32 on
//! entry, before the ensemble sees it), so each split becomes exactly
//! `x <= u` on f32 with [`Missing::Nan`](crate::Missing): `LEQ` `u = f32_at_most(t)`, `LT` `u` the
//! largest f32 below `t`, both with the true branch left; `GTE` and `GT` swap the branches
//! (`x >= t` is `!(x < t)`, `x > t` is `!(x <= t)` off NaN). `default_left` says where NaN
//! goes. `BRANCH_EQ`, `BRANCH_NEQ` and `BRANCH_MEMBER` are not supported.
//!
//! **Leaves.** A leaf adds each of its weight entries to its target or class
//! (`ProcessTreeNodePrediction`) and marks it scored (`has_score`). Two exceptions: with
//! one target (a regressor with `n_targets = 1`, or opset 5 with `n_targets = 1`) only the
//! leaf's first weight entry (attribute order) is added and no mark is kept
//! (`ProcessTreeNodePrediction1`); weight entries on split nodes are ignored. Sums are kept
//! in the thresholds' type (f32 for float attributes; the tables here sum f32 leaves in
//! f64, which differs by rounding only). A forest tree adds to one output, so an ONNX tree
//! becomes one forest tree per output it has weights for (leaves without a weight for it
//! add 0).
//!
//! **Aggregation** (regressor and opset 5; the classifier has no `aggregate_function` and
//! always sums): `SUM`; `AVERAGE` divides each output's sum by the number of trees (the runs
//! of `nodes_treeids`, or `tree_roots.len()`, whether or not the tree has weights for that
//! output) and then adds the base value. Here the division is folded into the leaf values
//! (`weight / trees` in f64, rounded to f32 once). `MIN` and `MAX` are not supported.
//!
//! **Base values and `has_score`** (`FinalizeScores`). Regressor, one target: the score is
//! `sum + base_values[0]` (`base_values` has 0 or `n_targets` entries in onnxruntime 1.32).
//! Regressor with several targets: target `k` is `sum_k + base_values[k]` when some leaf of
//! the row had a weight for `k`, and 0 otherwise, base value included. Classifier with more
//! than two classes: `sum_k + base_values[k]` (0 or one base value per class). Opset 5 has no
//! base values. Whether a row scores an output is known here when some tree has a weight for
//! it on every leaf (always) or no leaf has one (never: the output is 0); otherwise it
//! depends on the row, which only matters, and is then rejected, when the output's base value
//! is not 0. The binary classifier is described below.
//!
//! **Transforms** (`write_scores`). One regressor target: only `PROBIT` applies (`LOGISTIC`,
//! `SOFTMAX` and `SOFTMAX_ZERO` are ignored). Several scores: `LOGISTIC` and `PROBIT`
//! elementwise, `SOFTMAX` over the row; `SOFTMAX_ZERO` (a softmax over the scores that are not
//! within 1e-7 of 0) is not supported. Opset 5's `post_transform` integers are decoded as
//! onnxruntime 1.32 decodes them, which is NOT the ONNX specification's order: 0 NONE,
//! **1 LOGISTIC, 2 SOFTMAX**, 3 SOFTMAX_ZERO, 4 PROBIT (the specification says 1 SOFTMAX,
//! 2 LOGISTIC; onnxruntime casts its own `POST_EVAL_TRANSFORM` enum). `aggregate_function`:
//! 0 AVERAGE, 1 SUM, 2 MIN, 3 MAX (both agree).
//!
//! **The binary classifier** (two class labels, 0 to 2 base values;
//! `TreeAggregatorClassifier::FinalizeScores`, `_set_score_binary`, `write_scores`). Let
//! `S0`, `S1` be the class sums, `B` the base values, `T` the transform; `binary_case` means
//! every weight entry (split nodes' included) names the same class; `all_positive` that no
//! weight entry is negative. Whether a row scores class 1 must not depend on the row,
//! otherwise the model is rejected (onnxruntime writes one or two scores row by row); class 0
//! is written as 0 where it is not scored, as above. Then:
//! - `B` has 2 entries and class 1 is scored: class 1's sum is replaced by `B[1] + S0` and
//!   class 0 by its negation: `NegatedPair(T)` with `m = S0 + B[1]` (class-1 weights are
//!   ignored). When class 0 is never scored its 0 is written: rejected (constant output).
//! - `B` has 2 entries, class 1 never scored: `T([S0 + B[0], 0])`.
//! - `B` has 0 or 1 entries, class 1 scored: `T([S0 + B[0], S1])` (`B[0]` = 0 when absent).
//! - `B` has 0 or 1 entries, class 1 never scored: one score `s = S0 + B[0]`, written as two:
//!   `binary_case && all_positive`: `[1 - s, s]`, or `[1 - p, p]` with `p = logistic(s)`
//!   for `LOGISTIC` (`ComplementPair`); else (`binary_case`, or no base value): `[-s, s]`, or
//!   `[logistic(-s), logistic(s)]` for `LOGISTIC` (`NegatedPair`). `SOFTMAX` and
//!   `SOFTMAX_ZERO` are ignored here; `PROBIT` (and the remaining case) leaves the second
//!   output unset, and is rejected.
//!
//! An output that a row does not score is written as 0 before the transform (so `LOGISTIC`
//! gives 0.5 and `PROBIT` `-inf` there). A classifier with one class label is not supported.
//! Only the scores are produced, not the classifier's label output. onnxruntime fails at run
//! time when a classifier with more than two classes and no base values meets a row that
//! scores no class; here that row gets the transform of zeros.

mod lower;
mod score;
mod tables;
mod unified;

pub use score::{ScoreRule, ScoreTransform, onnx_probit};

use crate::error::ImportError;
use crate::forest::Forest;
use lower::{Post, Spec};
use tables::invalid;

/// Which opset-1/3 operator the attributes belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnnxEnsembleKind {
    /// `TreeEnsembleRegressor`: the weights are `target_*`, the outputs `n_targets`.
    #[default]
    Regressor,
    /// `TreeEnsembleClassifier`: the weights are `class_*`, the outputs the class labels.
    Classifier,
}

impl OnnxEnsembleKind {
    fn weight_prefix(self) -> &'static str {
        match self {
            OnnxEnsembleKind::Regressor => "target",
            OnnxEnsembleKind::Classifier => "class",
        }
    }

    fn outputs_name(self) -> &'static str {
        match self {
            OnnxEnsembleKind::Regressor => "targets",
            OnnxEnsembleKind::Classifier => "classes",
        }
    }
}

/// The attributes of `ai.onnx.ml` `TreeEnsembleRegressor` or `TreeEnsembleClassifier`
/// (opsets 1 and 3). `nodes_hitrates` and the class labels themselves are not needed.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxTreeEnsemble {
    pub kind: OnnxEnsembleKind,
    pub nodes_treeids: Vec<i64>,
    pub nodes_nodeids: Vec<i64>,
    pub nodes_featureids: Vec<i64>,
    /// `BRANCH_LEQ`, `BRANCH_LT`, `BRANCH_GTE`, `BRANCH_GT`, `BRANCH_EQ`, `BRANCH_NEQ` or
    /// `LEAF`.
    pub nodes_modes: Vec<String>,
    /// `nodes_values` (floats, widened exactly) or `nodes_values_as_tensor` (doubles).
    pub nodes_values: Vec<f64>,
    /// Whether `nodes_values` came from `nodes_values_as_tensor`. When false every value
    /// must be an f32.
    pub nodes_values_are_double: bool,
    pub nodes_truenodeids: Vec<i64>,
    pub nodes_falsenodeids: Vec<i64>,
    /// Empty means all 0.
    pub nodes_missing_value_tracks_true: Vec<i64>,
    /// `target_treeids` / `class_treeids`.
    pub weight_treeids: Vec<i64>,
    /// `target_nodeids` / `class_nodeids`.
    pub weight_nodeids: Vec<i64>,
    /// `target_ids` / `class_ids`.
    pub weight_ids: Vec<i64>,
    /// `target_weights` / `class_weights` (or their `_as_tensor` doubles).
    pub weights: Vec<f64>,
    /// `base_values` (or `base_values_as_tensor`); may be empty.
    pub base_values: Vec<f64>,
    /// `n_targets` for the regressor; the number of `classlabels_int64s` or
    /// `classlabels_strings` for the classifier.
    pub n_targets_or_classes: i64,
    /// `SUM` (the default), `AVERAGE`, `MIN` or `MAX`; the classifier has no such attribute
    /// and must leave `SUM`.
    pub aggregate_function: String,
    /// `NONE` (the default), `LOGISTIC`, `SOFTMAX`, `SOFTMAX_ZERO` or `PROBIT`.
    pub post_transform: String,
}

impl OnnxTreeEnsemble {
    /// Empty tables with the attributes' defaults (`SUM`, `NONE`).
    pub fn new(kind: OnnxEnsembleKind) -> Self {
        OnnxTreeEnsemble {
            kind,
            nodes_treeids: Vec::new(),
            nodes_nodeids: Vec::new(),
            nodes_featureids: Vec::new(),
            nodes_modes: Vec::new(),
            nodes_values: Vec::new(),
            nodes_values_are_double: false,
            nodes_truenodeids: Vec::new(),
            nodes_falsenodeids: Vec::new(),
            nodes_missing_value_tracks_true: Vec::new(),
            weight_treeids: Vec::new(),
            weight_nodeids: Vec::new(),
            weight_ids: Vec::new(),
            weights: Vec::new(),
            base_values: Vec::new(),
            n_targets_or_classes: 0,
            aggregate_function: "SUM".into(),
            post_transform: "NONE".into(),
        }
    }
}

impl Default for OnnxTreeEnsemble {
    /// A regressor's empty tables with the attributes' defaults.
    fn default() -> Self {
        OnnxTreeEnsemble::new(OnnxEnsembleKind::Regressor)
    }
}

/// The attributes of `ai.onnx.ml` `TreeEnsemble` (opset 5). `nodes_hitrates` is not needed.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxUnifiedTreeEnsemble {
    pub nodes_featureids: Vec<i64>,
    /// `nodes_splits`, widened to f64.
    pub nodes_splits: Vec<f64>,
    /// Whether the `nodes_splits` tensor was double (onnxruntime requires the input to have
    /// the same type). When false every value must be an f32.
    pub nodes_splits_are_double: bool,
    /// 0 LEQ, 1 LT, 2 GTE, 3 GT, 4 EQ, 5 NEQ, 6 MEMBER.
    pub nodes_modes: Vec<u8>,
    pub nodes_truenodeids: Vec<i64>,
    pub nodes_trueleafs: Vec<i64>,
    pub nodes_falsenodeids: Vec<i64>,
    pub nodes_falseleafs: Vec<i64>,
    /// Empty means all 0.
    pub nodes_missing_value_tracks_true: Vec<i64>,
    /// Only used by `BRANCH_MEMBER` nodes, which are not supported.
    pub membership_values: Vec<f64>,
    pub leaf_targetids: Vec<i64>,
    pub leaf_weights: Vec<f64>,
    pub tree_roots: Vec<i64>,
    pub n_targets: i64,
    /// 0 AVERAGE, 1 SUM (the default), 2 MIN, 3 MAX.
    pub aggregate_function: i64,
    /// As onnxruntime 1.32 reads it: 0 NONE (the default), 1 LOGISTIC, 2 SOFTMAX,
    /// 3 SOFTMAX_ZERO, 4 PROBIT (the ONNX specification swaps 1 and 2; see the module
    /// documentation).
    pub post_transform: i64,
}

impl Default for OnnxUnifiedTreeEnsemble {
    /// Empty tables with the attributes' defaults (1 SUM, 0 NONE).
    fn default() -> Self {
        OnnxUnifiedTreeEnsemble {
            nodes_featureids: Vec::new(),
            nodes_splits: Vec::new(),
            nodes_splits_are_double: false,
            nodes_modes: Vec::new(),
            nodes_truenodeids: Vec::new(),
            nodes_trueleafs: Vec::new(),
            nodes_falsenodeids: Vec::new(),
            nodes_falseleafs: Vec::new(),
            nodes_missing_value_tracks_true: Vec::new(),
            membership_values: Vec::new(),
            leaf_targetids: Vec::new(),
            leaf_weights: Vec::new(),
            tree_roots: Vec::new(),
            n_targets: 0,
            aggregate_function: 1,
            post_transform: 0,
        }
    }
}

/// An imported ensemble: node tables whose margins ([`Forest::predict_margins`], base values
/// included) become onnxruntime's float output by `scores`.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxForest {
    pub forest: Forest,
    pub scores: ScoreRule,
}

fn aggregate(name: &str) -> Result<bool, ImportError> {
    match name {
        "SUM" => Ok(false),
        "AVERAGE" => Ok(true),
        "MIN" | "MAX" => {
            Err(ImportError::Unsupported(format!("aggregate_function {name}: only SUM and AVERAGE are supported")))
        }
        other => Err(invalid(format!("aggregate_function is `{other}` (expected SUM, AVERAGE, MIN or MAX)"))),
    }
}

fn post(name: &str) -> Result<Post, ImportError> {
    Ok(match name {
        "NONE" => Post::None,
        "LOGISTIC" => Post::Logistic,
        "SOFTMAX" => Post::Softmax,
        "SOFTMAX_ZERO" => Post::SoftmaxZero,
        "PROBIT" => Post::Probit,
        other => {
            return Err(invalid(format!(
                "post_transform is `{other}` (expected NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO \
                 or PROBIT)"
            )));
        }
    })
}

/// Says where an `Unsupported` message comes from (an `Onnx` error says it when displayed).
fn from_onnx(e: ImportError) -> ImportError {
    match e {
        ImportError::Unsupported(m) => ImportError::Unsupported(format!("ONNX tree ensemble: {m}")),
        other => other,
    }
}

fn outputs(n: i64, what: &str) -> Result<u32, ImportError> {
    u32::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| invalid(format!("{what} is {n}")))
}

/// Reads `TreeEnsembleRegressor` / `TreeEnsembleClassifier` attributes for an input of
/// `features` columns.
pub fn import_onnx_tree_ensemble(e: &OnnxTreeEnsemble, features: u32) -> Result<OnnxForest, ImportError> {
    read_tree_ensemble(e, features).map_err(from_onnx)
}

fn read_tree_ensemble(e: &OnnxTreeEnsemble, features: u32) -> Result<OnnxForest, ImportError> {
    let classifier = e.kind == OnnxEnsembleKind::Classifier;
    let n = if classifier {
        let n = outputs(e.n_targets_or_classes, "the number of class labels")?;
        if n < 2 {
            return Err(ImportError::Unsupported(format!("a classifier with {n} class label (at least 2 are needed)")));
        }
        n
    } else {
        outputs(e.n_targets_or_classes, "n_targets")?
    };
    let average = aggregate(&e.aggregate_function)?;
    if classifier && average {
        return Err(invalid("TreeEnsembleClassifier has no aggregate_function (it always sums)"));
    }
    let b = e.base_values.len();
    let base_ok = b == 0 || b == n as usize || (classifier && n == 2 && b == 1);
    if !base_ok {
        return Err(invalid(format!("base_values has {b} entries for {n} {}", e.kind.outputs_name())));
    }
    if let Some(v) = e.base_values.iter().find(|v| !v.is_finite()) {
        return Err(invalid(format!("base_values holds {v}")));
    }
    let spec = Spec {
        classifier,
        outputs: n,
        base: e.base_values.clone(),
        average,
        post: post(&e.post_transform)?,
        binary_case: classifier && n == 2 && {
            let mut ids = e.weight_ids.iter();
            let first = ids.next();
            first.is_some() && ids.all(|id| Some(id) == first)
        },
        all_positive: e.weights.iter().all(|w| *w >= 0.0 || w.is_nan()),
    };
    let trees = tables::read_v3(e, features)?;
    lower::lower(&trees, &spec, features)
}

/// Reads `TreeEnsemble` (opset 5) attributes for an input of `features` columns.
pub fn import_onnx_unified_tree_ensemble(
    e: &OnnxUnifiedTreeEnsemble,
    features: u32,
) -> Result<OnnxForest, ImportError> {
    read_unified(e, features).map_err(from_onnx)
}

fn read_unified(e: &OnnxUnifiedTreeEnsemble, features: u32) -> Result<OnnxForest, ImportError> {
    let n = outputs(e.n_targets, "n_targets")?;
    let average = match e.aggregate_function {
        0 => true,
        1 => false,
        2 => aggregate("MIN")?,
        3 => aggregate("MAX")?,
        other => {
            return Err(invalid(format!("aggregate_function is {other} (expected 0 AVERAGE, 1 SUM, 2 MIN or 3 MAX)")));
        }
    };
    let post = match e.post_transform {
        0 => Post::None,
        1 => Post::Logistic,
        2 => Post::Softmax,
        3 => Post::SoftmaxZero,
        4 => Post::Probit,
        other => {
            return Err(invalid(format!("post_transform is {other} (expected 0 to 4)")));
        }
    };
    let spec = Spec {
        classifier: false,
        outputs: n,
        base: Vec::new(),
        average,
        post,
        binary_case: false,
        all_positive: false,
    };
    let trees = unified::read(e, features)?;
    lower::lower(&trees, &spec, features)
}
