//! From expanded trees to node tables and a score rule, following onnxruntime 1.32's
//! aggregation (see the module documentation of `onnx` for the account this implements).

use super::OnnxForest;
use super::score::{ScoreRule, ScoreTransform};
use super::tables::{Cmp, Node, Tree, invalid};
use crate::builder::{ForestBuilder, TreeNode};
use crate::error::ImportError;
use crate::forest::Missing;
use crate::threshold::{f32_at_most, f32_less_than};

/// `post_transform`, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Post {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

/// What the attributes say beyond the trees.
pub(super) struct Spec {
    pub classifier: bool,
    /// `n_targets`, or the number of class labels.
    pub outputs: u32,
    pub base: Vec<f64>,
    pub average: bool,
    pub post: Post,
    /// onnxruntime's `binary_case_`: two classes and one distinct class id among all the
    /// weight entries.
    pub binary_case: bool,
    /// onnxruntime's `weights_are_all_positive_`: no weight entry is below 0.
    pub all_positive: bool,
}

/// Whether a row's leaves give output `k` a weight (onnxruntime's `has_score`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Has {
    /// Some tree has a weight for `k` on every leaf: every row.
    Always,
    /// No leaf has a weight for `k`.
    Never,
    /// It depends on the row.
    Sometimes,
}

/// A forest output: the trees of ONNX output `Some(k)` (or none), and a base value.
type Out = (Option<u32>, f64);

fn unsupported(message: String) -> ImportError {
    ImportError::Unsupported(message)
}

/// onnxruntime writes `has_score ? value : 0`; `value` is the sum of output `k`'s weights
/// plus `base`, so when `base` is 0 both are the sum (0 without weights).
fn visible(k: u32, base: f64, has: Has, what: &str) -> Result<Out, ImportError> {
    match has {
        Has::Always => Ok((Some(k), base)),
        Has::Never => Ok((None, 0.0)),
        Has::Sometimes if base == 0.0 => Ok((Some(k), 0.0)),
        Has::Sometimes => Err(unsupported(format!(
            "onnxruntime writes {what} {k} as 0 for rows whose leaves carry no weight for it, \
             and as its sum plus the base value {base} otherwise, and no tree has a weight for \
             it on every leaf, so which one depends on the row"
        ))),
    }
}

fn margins(post: Post, n: u32) -> Result<ScoreTransform, ImportError> {
    Ok(match post {
        Post::None => ScoreTransform::None,
        Post::Logistic => ScoreTransform::Logistic,
        Post::Softmax => ScoreTransform::Softmax,
        Post::Probit => ScoreTransform::Probit,
        Post::SoftmaxZero => {
            return Err(unsupported(format!(
                "post_transform SOFTMAX_ZERO over {n} scores (a softmax over the scores that \
                 are not near 0 only) is not expressible with row-wise softmax"
            )));
        }
    })
}

/// The forest's outputs and the score rule (`has[k]` for each ONNX output).
fn plan(spec: &Spec, has: &[Has]) -> Result<(Vec<Out>, ScoreRule), ImportError> {
    let (n, b) = (spec.outputs, &spec.base);
    if !spec.classifier {
        if n == 1 {
            // FinalizeScores1: the sum (divided for AVERAGE) plus base_values[0]; only
            // PROBIT applies, the other transforms are ignored.
            let base = b.first().copied().unwrap_or(0.0);
            let t = match spec.post {
                Post::Probit => ScoreTransform::Probit,
                _ => ScoreTransform::None,
            };
            return Ok((vec![(Some(0), base)], ScoreRule::Margins(t)));
        }
        let outs = (0..n)
            .map(|k| {
                let base = if b.len() == n as usize { b[k as usize] } else { 0.0 };
                visible(k, base, has[k as usize], "target")
            })
            .collect::<Result<_, _>>()?;
        return Ok((outs, ScoreRule::Margins(margins(spec.post, n)?)));
    }
    if n > 2 {
        let outs = (0..n).map(|k| (Some(k), b.get(k as usize).copied().unwrap_or(0.0))).collect();
        return Ok((outs, ScoreRule::Margins(margins(spec.post, n)?)));
    }
    let (h0, h1) = (has[0], has[1]);
    let transform = || margins(spec.post, 2);
    match (b.len(), h1) {
        (_, Has::Sometimes) => Err(unsupported(
            "binary classifier whose class-1 weights reach some rows only: onnxruntime then \
             writes one or two scores depending on the row"
                .into(),
        )),
        (2, Has::Always) => match h0 {
            // predictions[1] = base_values[1] + (class-0 sum); predictions[0] = its negation.
            Has::Always => Ok((vec![(Some(0), b[1])], ScoreRule::NegatedPair(transform()?))),
            Has::Never => Err(unsupported(
                "binary classifier with two base values and weights for class 1 only: \
                 onnxruntime replaces the class-1 score by base_values[1] plus the (empty) \
                 class-0 sum, so its output does not depend on the input"
                    .into(),
            )),
            Has::Sometimes => Err(unsupported(
                "binary classifier with two base values whose class-0 weights reach some rows \
                 only: onnxruntime writes the first score as 0 or as a negated sum depending \
                 on the row"
                    .into(),
            )),
        },
        (2, _) => {
            let first = visible(0, b[0], h0, "class")?;
            Ok((vec![first, (None, 0.0)], ScoreRule::Margins(transform()?)))
        }
        (_, Has::Always) => {
            let first = visible(0, b.first().copied().unwrap_or(0.0), h0, "class")?;
            Ok((vec![first, (Some(1), 0.0)], ScoreRule::Margins(transform()?)))
        }
        (_, _) => {
            // One score s (class 0's sum plus base_values[0]), written as two.
            let first = visible(0, b.first().copied().unwrap_or(0.0), h0, "class")?;
            if spec.post == Post::Probit {
                return Err(unsupported(
                    "binary classifier with one score and post_transform PROBIT: onnxruntime \
                     writes the first output only and leaves the second unset"
                        .into(),
                ));
            }
            let rule = if spec.binary_case && spec.all_positive {
                ScoreRule::ComplementPair { logistic: spec.post == Post::Logistic }
            } else if spec.binary_case || b.is_empty() {
                ScoreRule::NegatedPair(match spec.post {
                    Post::Logistic => ScoreTransform::Logistic,
                    _ => ScoreTransform::None,
                })
            } else {
                return Err(unsupported(
                    "classifier with two classes, weights for both, one base value and no \
                     class-1 weight on the rows' leaves: onnxruntime writes the first output \
                     only and leaves the second unset"
                        .into(),
                ));
            };
            Ok((vec![first], rule))
        }
    }
}

/// One tree's leaf values by ONNX output: `by_output[k]` holds `(node, value)` for the
/// leaves with a weight for `k`, in node order. In the one-target regressor a leaf's value
/// is its first weight entry (onnxruntime reads only that one), elsewhere the sum of its
/// entries for `k`.
struct LeafValues {
    leaves: usize,
    by_output: Vec<Vec<(usize, f64)>>,
}

fn leaf_values(tree: &Tree, outputs: usize, first_only: bool) -> LeafValues {
    let mut v = LeafValues { leaves: 0, by_output: vec![Vec::new(); outputs] };
    for (i, node) in tree.iter().enumerate() {
        let Node::Leaf { weights } = node else {
            continue;
        };
        v.leaves += 1;
        let entries = if first_only { &weights[..weights.len().min(1)] } else { &weights[..] };
        for &(k, w) in entries {
            let k = if first_only { 0 } else { k as usize };
            let list = &mut v.by_output[k];
            match list.last_mut() {
                Some((node, sum)) if *node == i => *sum += w,
                _ => list.push((i, w)),
            }
        }
    }
    v
}

/// `x CMP t` on f32 `x` (compared as f64, exactly) as `x <= u`: `(u, true branch is left)`.
fn split(cmp: Cmp, t: f64) -> (f32, bool) {
    // The largest f32 strictly below t (NaN when there is none or t is NaN).
    let below = |t: f64| {
        let a = f32_at_most(t);
        if f64::from(a) == t { f32_less_than(a) } else { a }
    };
    match cmp {
        Cmp::Leq => (f32_at_most(t), true),
        Cmp::Lt => (below(t), true),
        // x >= t is false for every x when t is NaN: every value goes to the false branch.
        Cmp::Gte if t.is_nan() => (f32::INFINITY, false),
        Cmp::Gte => (below(t), false),
        Cmp::Gt if t.is_nan() => (f32::INFINITY, false),
        Cmp::Gt => (f32_at_most(t), false),
    }
}

/// The tree with output `k`'s leaf values (`values`, 0 elsewhere) divided by `scale`.
fn nodes_for(tree: &Tree, values: &[(usize, f64)], scale: f64) -> Result<Vec<TreeNode>, String> {
    let mut leaf = vec![0.0f64; tree.len()];
    for &(i, v) in values {
        leaf[i] = v;
    }
    tree.iter()
        .zip(leaf)
        .map(|(node, v)| match node {
            Node::Leaf { .. } => {
                let value = (v / scale) as f32;
                if value.is_finite() {
                    Ok(TreeNode::Leaf { value })
                } else {
                    Err(format!("a leaf value is {}, not a finite f32", v / scale))
                }
            }
            &Node::Split { feature, cmp, threshold, nan_true, on_true, on_false } => {
                let (u, true_left) = split(cmp, threshold);
                let (left, right) = if true_left { (on_true, on_false) } else { (on_false, on_true) };
                Ok(TreeNode::Numeric {
                    feature,
                    threshold: u,
                    default_left: nan_true == true_left,
                    missing: Missing::Nan,
                    left,
                    right,
                })
            }
        })
        .collect()
}

pub(super) fn lower(trees: &[Tree], spec: &Spec, features: u32) -> Result<OnnxForest, ImportError> {
    let n = spec.outputs as usize;
    let first_only = !spec.classifier && spec.outputs == 1;
    let values: Vec<LeafValues> = trees.iter().map(|t| leaf_values(t, n, first_only)).collect();
    let mut has = vec![Has::Never; n];
    for v in &values {
        for (k, list) in v.by_output.iter().enumerate() {
            if list.len() == v.leaves {
                has[k] = Has::Always;
            } else if !list.is_empty() && has[k] == Has::Never {
                has[k] = Has::Sometimes;
            }
        }
    }
    if has.iter().all(|h| *h == Has::Never) {
        return Err(invalid("no leaf carries a weight"));
    }
    let (outs, scores) = plan(spec, &has)?;

    let mut base = Vec::with_capacity(outs.len());
    for (o, &(_, b)) in outs.iter().enumerate() {
        let v = b as f32;
        if !v.is_finite() {
            return Err(invalid(format!("the base value of output {o} is {b}, not a finite f32")));
        }
        base.push(v);
    }
    // AVERAGE: onnxruntime divides each output's sum by the number of trees, then adds the
    // base value; the division is folded into the leaves.
    let scale = if spec.average { trees.len() as f64 } else { 1.0 };
    let mut builder = ForestBuilder::new(features, base);
    for (t, (tree, v)) in trees.iter().zip(&values).enumerate() {
        for (o, &(source, _)) in outs.iter().enumerate() {
            let Some(k) = source else { continue };
            let list = &v.by_output[k as usize];
            if list.is_empty() {
                continue;
            }
            let nodes = nodes_for(tree, list, scale).map_err(|m| invalid(format!("tree {t}, output {k}: {m}")))?;
            builder.add_tree(o as u32, &nodes).map_err(|m| invalid(format!("tree {t}: {m}")))?;
        }
    }
    if builder.trees() == 0 {
        return Err(invalid("no tree contributes to the scores"));
    }
    let forest = builder.finish().map_err(ImportError::Invalid)?;
    Ok(OnnxForest { forest, scores })
}
