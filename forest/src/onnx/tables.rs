//! Reading the attribute tables into trees: every attribute checked, every reference
//! resolved, each tree expanded from its root (a subtree reached twice is copied, a cycle is
//! an error). This file: the shared pieces and opsets 1/3; `unified.rs`: opset 5.

use std::collections::HashMap;

use super::OnnxTreeEnsemble;
use crate::error::ImportError;

/// The most tree nodes an import expands to (shared subtrees are copied).
pub(super) const MAX_NODES: usize = 1 << 24;

/// onnxruntime's comparison `x CMP threshold` (true branch when it holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmp {
    Leq,
    Lt,
    Gte,
    Gt,
}

/// A tree node; in a [`Tree`] children are indices into the same vector.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Split {
        feature: u32,
        cmp: Cmp,
        threshold: f64,
        /// `nodes_missing_value_tracks_true`: NaN takes the true branch.
        nan_true: bool,
        on_true: usize,
        on_false: usize,
    },
    /// `(target or class, weight)` in attribute order.
    Leaf { weights: Vec<(u32, f64)> },
}

/// One tree, root first, every other node with exactly one parent.
pub(super) type Tree = Vec<Node>;

pub(super) fn invalid(message: impl Into<String>) -> ImportError {
    ImportError::Onnx(message.into())
}

pub(super) fn check_len(name: &str, len: usize, expected: usize, what: &str) -> Result<(), ImportError> {
    if len == expected { Ok(()) } else { Err(invalid(format!("`{name}` has {len} entries, {what} {expected}"))) }
}

pub(super) fn feature(value: i64, features: u32, at: impl Fn() -> String) -> Result<u32, ImportError> {
    match u32::try_from(value) {
        Ok(f) if f < features => Ok(f),
        _ => Err(invalid(format!("{}: feature {value} (the input has {features} features)", at()))),
    }
}

pub(super) fn threshold(value: f64, double: bool, at: impl Fn() -> String) -> Result<f64, ImportError> {
    if !double && !value.is_nan() && f64::from(value as f32) != value {
        return Err(invalid(format!("{}: {value} is not an f32, but the thresholds were read as floats", at())));
    }
    Ok(value)
}

pub(super) fn flag(table: &[i64], i: usize, name: &str) -> Result<bool, ImportError> {
    match table.get(i).copied().unwrap_or(0) {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(invalid(format!("`{name}[{i}]` is {v}, not 0 or 1"))),
    }
}

pub(super) fn unsupported_mode(mode: &str) -> ImportError {
    ImportError::Unsupported(format!(
        "node mode {mode}: equality and set-membership splits are not supported \
         (only BRANCH_LEQ, BRANCH_LT, BRANCH_GTE and BRANCH_GT)"
    ))
}

/// Expands the tree rooted at source node `root`. `node(i)` gives source node `i` with
/// source indices as children; `name(i)` names it in messages; `on_path` has one `false`
/// per source node and is left all `false`.
pub(super) fn expand(
    root: usize,
    on_path: &mut [bool],
    budget: &mut usize,
    node: impl Fn(usize) -> Node,
    name: impl Fn(usize) -> String,
) -> Result<Tree, ImportError> {
    enum Step {
        Enter(usize, Option<(usize, bool)>),
        Exit(usize),
    }
    let mut tree: Tree = Vec::new();
    let mut stack = vec![Step::Enter(root, None)];
    while let Some(step) = stack.pop() {
        let (src, parent) = match step {
            Step::Exit(s) => {
                on_path[s] = false;
                continue;
            }
            Step::Enter(s, p) => (s, p),
        };
        if on_path[src] {
            // Leave the shared scratch clean for the caller's next tree.
            on_path.iter_mut().for_each(|b| *b = false);
            return Err(invalid(format!("{} is its own descendant (the tree has a cycle)", name(src))));
        }
        if *budget == 0 {
            on_path.iter_mut().for_each(|b| *b = false);
            return Err(invalid(format!(
                "the trees expand to more than {MAX_NODES} nodes (subtrees reached from \
                 several parents are copied)"
            )));
        }
        *budget -= 1;
        let dst = tree.len();
        if let Some((p, is_true)) = parent
            && let Some(Node::Split { on_true, on_false, .. }) = tree.get_mut(p)
        {
            if is_true { *on_true = dst } else { *on_false = dst }
        }
        let n = node(src);
        if let Node::Split { on_true, on_false, .. } = n {
            on_path[src] = true;
            stack.push(Step::Exit(src));
            stack.push(Step::Enter(on_false, Some((dst, false))));
            stack.push(Step::Enter(on_true, Some((dst, true))));
        }
        tree.push(n);
    }
    Ok(tree)
}

/// `TreeEnsembleRegressor`/`TreeEnsembleClassifier`: one tree per run of equal
/// `nodes_treeids` (onnxruntime's `roots_`), rooted at the run's first node.
pub(super) fn read_v3(e: &OnnxTreeEnsemble, features: u32) -> Result<Vec<Tree>, ImportError> {
    let n = e.nodes_treeids.len();
    let of_treeids = "`nodes_treeids`";
    check_len("nodes_nodeids", e.nodes_nodeids.len(), n, of_treeids)?;
    check_len("nodes_featureids", e.nodes_featureids.len(), n, of_treeids)?;
    check_len("nodes_modes", e.nodes_modes.len(), n, of_treeids)?;
    check_len("nodes_values", e.nodes_values.len(), n, of_treeids)?;
    check_len("nodes_truenodeids", e.nodes_truenodeids.len(), n, of_treeids)?;
    check_len("nodes_falsenodeids", e.nodes_falsenodeids.len(), n, of_treeids)?;
    if !e.nodes_missing_value_tracks_true.is_empty() {
        let len = e.nodes_missing_value_tracks_true.len();
        check_len("nodes_missing_value_tracks_true", len, n, of_treeids)?;
    }
    let w = e.weight_ids.len();
    let prefix = e.kind.weight_prefix();
    let of_ids = format!("`{prefix}_ids`");
    check_len(&format!("{prefix}_treeids"), e.weight_treeids.len(), w, &of_ids)?;
    check_len(&format!("{prefix}_nodeids"), e.weight_nodeids.len(), w, &of_ids)?;
    check_len(&format!("{prefix}_weights"), e.weights.len(), w, &of_ids)?;
    if n == 0 {
        return Err(invalid("the ensemble has no nodes"));
    }

    let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
    for i in 0..n {
        let key = (e.nodes_treeids[i], e.nodes_nodeids[i]);
        if index.insert(key, i).is_some() {
            return Err(invalid(format!("node {} of tree {} appears twice (`nodes_nodeids[{i}]`)", key.1, key.0)));
        }
    }

    let outputs = e.n_targets_or_classes;
    let mut leaf_weights: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for j in 0..w {
        let key = (e.weight_treeids[j], e.weight_nodeids[j]);
        let Some(&i) = index.get(&key) else {
            return Err(invalid(format!("`{prefix}_nodeids[{j}]`: node {} of tree {} does not exist", key.1, key.0)));
        };
        let id = e.weight_ids[j];
        let target = match u32::try_from(id) {
            Ok(t) if i64::from(t) < outputs => t,
            _ => {
                return Err(invalid(format!(
                    "`{prefix}_ids[{j}]` is {id} (the ensemble has {outputs} {})",
                    e.kind.outputs_name()
                )));
            }
        };
        let weight = e.weights[j];
        if !weight.is_finite() {
            return Err(invalid(format!("`{prefix}_weights[{j}]` is {weight}")));
        }
        // onnxruntime ignores weights attached to split nodes.
        if e.nodes_modes[i] == "LEAF" {
            leaf_weights[i].push((target, weight));
        }
    }

    let mut nodes: Vec<Node> = Vec::with_capacity(n);
    for (i, weights) in leaf_weights.into_iter().enumerate() {
        let tree = e.nodes_treeids[i];
        let at = || format!("`nodes_*[{i}]` (node {} of tree {tree})", e.nodes_nodeids[i]);
        let cmp = match e.nodes_modes[i].as_str() {
            "LEAF" => {
                nodes.push(Node::Leaf { weights });
                continue;
            }
            "BRANCH_LEQ" => Cmp::Leq,
            "BRANCH_LT" => Cmp::Lt,
            "BRANCH_GTE" => Cmp::Gte,
            "BRANCH_GT" => Cmp::Gt,
            m @ ("BRANCH_EQ" | "BRANCH_NEQ") => return Err(unsupported_mode(m)),
            other => {
                return Err(invalid(format!(
                    "{}: unknown mode `{other}` (expected LEAF or BRANCH_LEQ, BRANCH_LT, \
                     BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ)",
                    at()
                )));
            }
        };
        let child = |name: &str, id: i64| -> Result<usize, ImportError> {
            index
                .get(&(tree, id))
                .copied()
                .ok_or_else(|| invalid(format!("`{name}[{i}]`: node {id} of tree {tree} does not exist")))
        };
        nodes.push(Node::Split {
            feature: feature(e.nodes_featureids[i], features, at)?,
            cmp,
            threshold: threshold(e.nodes_values[i], e.nodes_values_are_double, at)?,
            nan_true: flag(&e.nodes_missing_value_tracks_true, i, "nodes_missing_value_tracks_true")?,
            on_true: child("nodes_truenodeids", e.nodes_truenodeids[i])?,
            on_false: child("nodes_falsenodeids", e.nodes_falsenodeids[i])?,
        });
    }

    let mut on_path = vec![false; n];
    let mut budget = MAX_NODES;
    let mut trees = Vec::new();
    for root in 0..n {
        if root > 0 && e.nodes_treeids[root] == e.nodes_treeids[root - 1] {
            continue;
        }
        trees.push(expand(
            root,
            &mut on_path,
            &mut budget,
            |i| nodes[i].clone(),
            |i| format!("node {} of tree {}", e.nodes_nodeids[i], e.nodes_treeids[i]),
        )?);
    }
    Ok(trees)
}
