//! Reading `TreeEnsemble` (opset 5) attribute tables into trees (see `tables.rs`).

use super::OnnxUnifiedTreeEnsemble;
use super::tables::{
    Cmp, MAX_NODES, Node, Tree, check_len, expand, feature, flag, invalid, threshold, unsupported_mode,
};
use crate::error::ImportError;

/// `TreeEnsemble` (opset 5): one tree per `tree_roots` entry. Source node `i < n` is
/// interior node `i`, source node `n + j` is leaf `j`.
pub(super) fn read(e: &OnnxUnifiedTreeEnsemble, features: u32) -> Result<Vec<Tree>, ImportError> {
    let n = e.nodes_featureids.len();
    let of_features = "`nodes_featureids`";
    check_len("nodes_splits", e.nodes_splits.len(), n, of_features)?;
    check_len("nodes_modes", e.nodes_modes.len(), n, of_features)?;
    check_len("nodes_truenodeids", e.nodes_truenodeids.len(), n, of_features)?;
    check_len("nodes_trueleafs", e.nodes_trueleafs.len(), n, of_features)?;
    check_len("nodes_falsenodeids", e.nodes_falsenodeids.len(), n, of_features)?;
    check_len("nodes_falseleafs", e.nodes_falseleafs.len(), n, of_features)?;
    if !e.nodes_missing_value_tracks_true.is_empty() {
        let len = e.nodes_missing_value_tracks_true.len();
        check_len("nodes_missing_value_tracks_true", len, n, of_features)?;
    }
    let leaves = e.leaf_targetids.len();
    check_len("leaf_weights", e.leaf_weights.len(), leaves, "`leaf_targetids`")?;
    if e.tree_roots.is_empty() {
        return Err(invalid("`tree_roots` is empty"));
    }

    let mut leaf_nodes = Vec::with_capacity(leaves);
    for j in 0..leaves {
        let id = e.leaf_targetids[j];
        let target = match u32::try_from(id) {
            Ok(t) if i64::from(t) < e.n_targets => t,
            _ => {
                return Err(invalid(format!("`leaf_targetids[{j}]` is {id} (n_targets is {})", e.n_targets)));
            }
        };
        let weight = e.leaf_weights[j];
        if !weight.is_finite() {
            return Err(invalid(format!("`leaf_weights[{j}]` is {weight}")));
        }
        leaf_nodes.push(Node::Leaf { weights: vec![(target, weight)] });
    }

    let child = |i: usize, ids: &[i64], leaf_flags: &[i64], side: &str| {
        let leaf = flag(leaf_flags, i, &format!("nodes_{side}leafs"))?;
        let id = ids[i];
        let (bound, what) = if leaf { (leaves, "leaf") } else { (n, "node") };
        match usize::try_from(id) {
            Ok(c) if c < bound => Ok(if leaf { n + c } else { c }),
            _ => Err(invalid(format!("`nodes_{side}nodeids[{i}]` is {id}, not a {what} (there are {bound})"))),
        }
    };
    let mut nodes: Vec<Node> = Vec::with_capacity(n + leaves);
    for i in 0..n {
        let at = || format!("`nodes_*[{i}]`");
        let cmp = match e.nodes_modes[i] {
            0 => Cmp::Leq,
            1 => Cmp::Lt,
            2 => Cmp::Gte,
            3 => Cmp::Gt,
            4 => return Err(unsupported_mode("BRANCH_EQ (4)")),
            5 => return Err(unsupported_mode("BRANCH_NEQ (5)")),
            6 => return Err(unsupported_mode("BRANCH_MEMBER (6)")),
            m => {
                return Err(invalid(format!("`nodes_modes[{i}]` is {m} (expected 0 to 6)")));
            }
        };
        nodes.push(Node::Split {
            feature: feature(e.nodes_featureids[i], features, at)?,
            cmp,
            threshold: threshold(e.nodes_splits[i], e.nodes_splits_are_double, at)?,
            nan_true: flag(&e.nodes_missing_value_tracks_true, i, "nodes_missing_value_tracks_true")?,
            on_true: child(i, &e.nodes_truenodeids, &e.nodes_trueleafs, "true")?,
            on_false: child(i, &e.nodes_falsenodeids, &e.nodes_falseleafs, "false")?,
        });
    }
    nodes.extend(leaf_nodes);

    let mut on_path = vec![false; n + leaves];
    let mut budget = MAX_NODES;
    let mut trees = Vec::with_capacity(e.tree_roots.len());
    for (t, &r) in e.tree_roots.iter().enumerate() {
        let root = match usize::try_from(r) {
            Ok(r) if r < n => r,
            _ => {
                return Err(invalid(format!("`tree_roots[{t}]` is {r}, not a node (there are {n})")));
            }
        };
        // A one-leaf tree: the root's true and false branches are the same leaf
        // (onnxruntime 1.32 then uses leaf `nodes_truenodeids[root]`).
        if let Node::Split { on_true, on_false, .. } = nodes[root]
            && on_true == on_false
            && on_true >= n
        {
            budget = budget.saturating_sub(1);
            trees.push(vec![nodes[on_true].clone()]);
            continue;
        }
        trees.push(expand(
            root,
            &mut on_path,
            &mut budget,
            |i| nodes[i].clone(),
            |i| {
                if i < n { format!("node {i}") } else { format!("leaf {}", i - n) }
            },
        )?);
    }
    Ok(trees)
}
