//! XGBoost JSON models (`save_model("m.json")`, XGBoost 2.x and 3.x) into node tables.
//!
//! What is read (paths from the document root):
//! - `learner.objective.name`: `binary:logistic` (sigmoid), `reg:squarederror` (identity),
//!   `multi:softprob` (softmax); anything else is rejected.
//! - `learner.learner_model_param`: `num_feature`, `num_class`, `base_score` (a string:
//!   `"5E-1"` in 2.x, `"[5E-1]"` or one value per class in 3.x). The base margin is
//!   `logit(base_score)` for `binary:logistic` (XGBoost's `ProbToMargin`,
//!   `-ln(1/p - 1)` in f32), `base_score` itself otherwise (multiclass has no
//!   `ProbToMargin`: the value, or each class's value, is added to the margins as is).
//! - `learner.gradient_booster` (`name` must be `gbtree`): `model.trees[*]` and
//!   `model.tree_info` (the class of each tree).
//! - Each tree: `left_children`/`right_children` (-1 for a leaf), `split_indices`,
//!   `split_conditions` (a leaf's value for a leaf: XGBoost stores the leaf value and the
//!   split condition in one field; `base_weights` are the weights before the learning rate
//!   and are not used), `default_left`. Categorical splits (`split_type` 1, nonempty
//!   `categories_nodes`) and vector leaves are rejected.
//! - Splits: XGBoost goes left when `x < split_condition` (f32), NaN goes the default
//!   direction; stored as `x <= f32_less_than(split_condition)` with [`Missing::Nan`].

use crate::builder::{ForestBuilder, TreeNode};
use crate::error::{ImportError, Imported};
use crate::forest::{Missing, Objective};
use crate::json::{self, error, join};
use crate::threshold::f32_less_than;

const SUPPORTED: &str = "binary:logistic, reg:squarederror, multi:softprob";

/// Reads an XGBoost JSON model.
pub fn import_xgboost(text: &str) -> Result<Imported, ImportError> {
    let doc = json::document(text)?;
    let learner = json::child(&doc, "", "learner")?;
    let lp = "learner";

    let objective_path = join(lp, "objective");
    let objective_obj = json::child(&learner, lp, "objective")?;
    let objective_name_path = join(&objective_path, "name");
    let name = json::string(json::field(&objective_obj, &objective_path, "name")?, &objective_name_path)?;
    let objective = match name.as_str() {
        "binary:logistic" => Objective::Sigmoid,
        "reg:squarederror" => Objective::Identity,
        "multi:softprob" => Objective::Softmax,
        "multi:softmax" => {
            return Err(ImportError::Unsupported(format!(
                "XGBoost objective `multi:softmax` predicts class ids, not scores; train with \
                 `multi:softprob` (supported objectives: {SUPPORTED})"
            )));
        }
        other => {
            return Err(ImportError::Unsupported(format!(
                "XGBoost objective `{other}` (supported objectives: {SUPPORTED})"
            )));
        }
    };

    let mpp = join(lp, "learner_model_param");
    let mp = json::child(&learner, lp, "learner_model_param")?;
    let features = json::string_u32(json::field(&mp, &mpp, "num_feature")?, &join(&mpp, "num_feature"))?;
    let num_class = match mp.get("num_class") {
        Some(v) => json::string_u32(v, &join(&mpp, "num_class"))?,
        None => 0,
    };
    if let Some(v) = mp.get("num_target") {
        let targets = json::string_u32(v, &join(&mpp, "num_target"))?;
        if targets > 1 {
            return Err(ImportError::Unsupported(format!("XGBoost model with {targets} targets (one is supported)")));
        }
    }
    let outputs = match objective {
        Objective::Softmax => {
            if num_class < 2 {
                return Err(error(
                    &join(&mpp, "num_class"),
                    format!("`multi:softprob` needs at least 2 classes, found {num_class}"),
                ));
            }
            num_class
        }
        _ => {
            if num_class > 1 {
                return Err(error(&join(&mpp, "num_class"), format!("{num_class} classes with objective `{name}`")));
            }
            1
        }
    };
    let bsp = join(&mpp, "base_score");
    let scores = base_scores(&json::string_number(json::field(&mp, &mpp, "base_score")?, &bsp)?, &bsp)?;
    let base = base_margins(objective, &scores, outputs, &bsp)?;

    let feature_names = match learner.get("feature_names") {
        Some(raw) => {
            let path = join(lp, "feature_names");
            let names = json::strings(raw, &path)?;
            if names.is_empty() {
                None
            } else if names.len() != features as usize {
                return Err(error(&path, format!("{} names for {features} features", names.len())));
            } else {
                Some(names)
            }
        }
        None => None,
    };

    let gbp = join(lp, "gradient_booster");
    let gb = json::child(&learner, lp, "gradient_booster")?;
    let booster = json::string(json::field(&gb, &gbp, "name")?, &join(&gbp, "name"))?;
    if booster != "gbtree" {
        return Err(ImportError::Unsupported(format!("XGBoost booster `{booster}` (only `gbtree` is supported)")));
    }
    let modelp = join(&gbp, "model");
    let model = json::child(&gb, &gbp, "model")?;
    let treesp = join(&modelp, "trees");
    let trees = json::array(json::field(&model, &modelp, "trees")?, &treesp)?;
    let infop = join(&modelp, "tree_info");
    let tree_info = json::ints(json::field(&model, &modelp, "tree_info")?, &infop)?;
    if tree_info.len() != trees.len() {
        return Err(error(&infop, format!("{} entries for {} trees", tree_info.len(), trees.len())));
    }

    let mut builder = ForestBuilder::new(features, base);
    for (t, raw) in trees.iter().enumerate() {
        let path = format!("{treesp}[{t}]");
        let class = tree_info[t];
        if class < 0 || class >= i64::from(outputs) {
            return Err(error(&format!("{infop}[{t}]"), format!("class {class} (outputs: {outputs})")));
        }
        let nodes = read_tree(raw, &path, features)?;
        builder.add_tree(class as u32, &nodes).map_err(|m| error(&path, m))?;
    }
    let forest = builder.finish().map_err(ImportError::Invalid)?;
    Ok(Imported { forest, objective, feature_names })
}

/// `"5E-1"`, `"[5E-1]"` or `"[1E-1,2E-1]"` as f32 values.
fn base_scores(text: &str, path: &str) -> Result<Vec<f32>, ImportError> {
    let t = text.trim();
    let inner = match t.strip_prefix('[') {
        Some(rest) => {
            rest.strip_suffix(']').ok_or_else(|| error(path, format!("`{text}` opens a list it does not close")))?
        }
        None => t,
    };
    let values: Result<Vec<f32>, _> = inner.split(',').map(|s| s.trim().parse::<f32>()).collect();
    match values {
        Ok(v) if !v.is_empty() && v.iter().all(|x| x.is_finite()) => Ok(v),
        _ => Err(error(path, format!("`{text}` is not a number or a list of numbers"))),
    }
}

fn base_margins(objective: Objective, scores: &[f32], outputs: u32, path: &str) -> Result<Vec<f32>, ImportError> {
    let n = outputs as usize;
    let per_output: Vec<f32> = if scores.len() == n {
        scores.to_vec()
    } else if scores.len() == 1 {
        vec![scores[0]; n]
    } else {
        return Err(error(path, format!("{} values for {outputs} outputs", scores.len())));
    };
    per_output
        .into_iter()
        .map(|p| match objective {
            Objective::Sigmoid => {
                if p > 0.0 && p < 1.0 {
                    // XGBoost's ProbToMargin for logistic regression, in f32.
                    Ok(-(1.0f32 / p - 1.0f32).ln())
                } else {
                    Err(error(path, format!("{p} is not a probability strictly between 0 and 1")))
                }
            }
            _ => Ok(p),
        })
        .collect()
}

fn read_tree(raw: &serde_json::value::RawValue, path: &str, features: u32) -> Result<Vec<TreeNode>, ImportError> {
    let tree = json::object(raw, path)?;
    let f = |key: &str| json::field(&tree, path, key);
    let p = |key: &str| join(path, key);
    if let Some(param) = tree.get("tree_param") {
        let pp = p("tree_param");
        let param = json::object(param, &pp)?;
        if let Some(v) = param.get("size_leaf_vector") {
            let size = json::string_u32(v, &join(&pp, "size_leaf_vector"))?;
            if size > 1 {
                return Err(ImportError::Unsupported(format!("{path}: vector leaves (size_leaf_vector {size})")));
            }
        }
    }
    if let Some(v) = tree.get("categories_nodes")
        && !json::ints(v, &p("categories_nodes"))?.is_empty()
    {
        return Err(ImportError::Unsupported(format!(
            "{path}: categorical splits in XGBoost models are not supported (`categories_nodes` is not empty)"
        )));
    }
    let left = json::ints(f("left_children")?, &p("left_children"))?;
    let right = json::ints(f("right_children")?, &p("right_children"))?;
    let index = json::ints(f("split_indices")?, &p("split_indices"))?;
    let cond = json::f32s(f("split_conditions")?, &p("split_conditions"))?;
    let default_left = json::bools(f("default_left")?, &p("default_left"))?;
    let split_type = match tree.get("split_type") {
        Some(v) => Some(json::ints(v, &p("split_type"))?),
        None => None,
    };
    let n = left.len();
    let mut lengths = vec![
        ("right_children", right.len()),
        ("split_indices", index.len()),
        ("split_conditions", cond.len()),
        ("default_left", default_left.len()),
    ];
    if let Some(st) = &split_type {
        lengths.push(("split_type", st.len()));
    }
    for (name, len) in lengths {
        if len != n {
            return Err(error(path, format!("`left_children` has {n} entries, `{name}` {len}")));
        }
    }
    if n == 0 {
        return Err(error(path, "the tree has no nodes"));
    }
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let (l, r) = (left[i], right[i]);
        if l == -1 {
            if r != -1 {
                return Err(error(path, format!("node {i}: `left_children` is -1 but `right_children` is {r}")));
            }
            if !cond[i].is_finite() {
                return Err(error(&format!("{path}.split_conditions[{i}]"), format!("leaf value {}", cond[i])));
            }
            nodes.push(TreeNode::Leaf { value: cond[i] });
            continue;
        }
        for (name, c) in [("left_children", l), ("right_children", r)] {
            if c < 0 || c >= n as i64 {
                return Err(error(
                    &format!("{path}.{name}[{i}]"),
                    format!("child {c} is not a node (the tree has {n})"),
                ));
            }
        }
        if split_type.as_ref().is_some_and(|st| st[i] != 0) {
            return Err(ImportError::Unsupported(format!(
                "{path}: node {i} is a categorical split; categorical splits in XGBoost models are not supported"
            )));
        }
        let feature = index[i];
        if feature < 0 || feature >= i64::from(features) {
            return Err(error(
                &format!("{path}.split_indices[{i}]"),
                format!("feature {feature} (num_feature: {features})"),
            ));
        }
        nodes.push(TreeNode::Numeric {
            feature: feature as u32,
            threshold: f32_less_than(cond[i]),
            default_left: default_left[i],
            missing: Missing::Nan,
            left: l as usize,
            right: r as usize,
        });
    }
    Ok(nodes)
}
