//! LightGBM text models (`save_model("m.txt")`, LightGBM 4.x) into node tables.
//!
//! What is read:
//! - Header: `max_feature_idx` (features = it + 1), `num_class`, `num_tree_per_iteration`,
//!   `objective`, `feature_names`. Supported objectives: `binary sigmoid:S` (sigmoid),
//!   `multiclass num_class:K` (softmax), and the identity-output regressions `regression`,
//!   `regression_l1`, `huber`, `fair`, `quantile`, `mape` (not with `sqrt`). For
//!   `binary` with `S != 1`, LightGBM predicts `sigmoid(S * margin)`: the scale is folded
//!   into the leaf values (each `S * value` computed in f64, then rounded to f32), so the
//!   tables' margins are `S` times LightGBM's raw scores. Random-forest models
//!   (`average_output`) and linear trees are rejected.
//! - Each `Tree=` block: `num_leaves`, `num_cat`, `split_feature`, `threshold`,
//!   `decision_type`, `left_child`, `right_child` (negative: `~leaf`), `leaf_value`
//!   (shrinkage already applied, and the first trees already carry the initial score:
//!   LightGBM folds `boost_from_average` into them, so the base margin is 0),
//!   `cat_boundaries`, `cat_threshold`. Tree `i` adds to output
//!   `i % num_tree_per_iteration`.
//! - Numeric split (`NumericalDecision`): `decision_type` bit 1 is `default_left`, bits
//!   2-3 the missing type (0 None: NaN compared as 0.0; 1 Zero: NaN as 0.0, then
//!   `|x| <= 1e-35f` goes the default way; 2 NaN: NaN goes the default way); then left when
//!   `(double)x <= threshold`, stored as `x <= f32_at_most(threshold)`, exactly equivalent.
//! - Categorical split (`CategoricalDecision`, bit 0): NaN goes right, `(int)x < 0` goes
//!   right, else left when category `(int)x` is in the bitset
//!   `cat_threshold[cat_boundaries[t]..cat_boundaries[t + 1]]` (`t` the threshold), right
//!   beyond it. Stored as a categorical node with [`Missing::Nan`] and `default_left`
//!   false; the tables' categorical rule (see `eval.rs`) is this one.

use std::collections::HashMap;

use crate::builder::{ForestBuilder, TreeNode};
use crate::error::{ImportError, Imported};
use crate::forest::{Missing, Objective};
use crate::threshold::f32_at_most;

const SUPPORTED: &str = "binary, multiclass, regression, regression_l1, huber, fair, quantile, mape";

fn error(line: usize, message: impl Into<String>) -> ImportError {
    ImportError::Lightgbm { line, message: message.into() }
}

/// `key=value` lines of one section, with their line numbers (from 1).
struct Section<'a> {
    start: usize,
    name: String,
    fields: HashMap<&'a str, (usize, &'a str)>,
}

impl<'a> Section<'a> {
    fn get(&self, key: &str) -> Result<(usize, &'a str), ImportError> {
        self.fields.get(key).copied().ok_or_else(|| error(self.start, format!("{}: missing `{key}=`", self.name)))
    }

    fn opt(&self, key: &str) -> Option<(usize, &'a str)> {
        self.fields.get(key).copied()
    }

    fn int<T: std::str::FromStr>(&self, key: &str) -> Result<T, ImportError> {
        let (line, v) = self.get(key)?;
        v.trim().parse().map_err(|_| error(line, format!("`{key}` is `{v}`, not a whole number in range")))
    }

    fn list<T: std::str::FromStr>(&self, key: &str, what: &str) -> Result<(usize, Vec<T>), ImportError> {
        let (line, v) = self.get(key)?;
        let values = v
            .split_whitespace()
            .enumerate()
            .map(|(i, s)| s.parse().map_err(|_| error(line, format!("`{key}` entry {i} is `{s}`, not {what}"))))
            .collect::<Result<Vec<T>, _>>()?;
        Ok((line, values))
    }
}

/// Reads a LightGBM text model.
pub fn import_lightgbm(text: &str) -> Result<Imported, ImportError> {
    let (header, trees) = sections(text)?;
    if header.fields.contains_key("average_output") {
        return Err(ImportError::Unsupported(
            "LightGBM random-forest model (`average_output`): its trees are averaged, not summed".into(),
        ));
    }
    let max_feature_idx: i64 = header.int("max_feature_idx")?;
    let Ok(features) = u32::try_from(max_feature_idx + 1) else {
        return Err(error(header.get("max_feature_idx")?.0, format!("`max_feature_idx` is {max_feature_idx}")));
    };
    let num_class: u32 = match header.opt("num_class") {
        Some(_) => header.int("num_class")?,
        None => 1,
    };
    let per_iteration: u32 = match header.opt("num_tree_per_iteration") {
        Some(_) => header.int("num_tree_per_iteration")?,
        None => num_class,
    };
    let (objective_line, objective_text) = header.get("objective")?;
    let (objective, scale) = parse_objective(objective_line, objective_text, num_class)?;
    let outputs = match objective {
        Objective::Softmax => num_class,
        _ => 1,
    };
    if per_iteration != outputs {
        let line = header.opt("num_tree_per_iteration").map_or(header.start, |(l, _)| l);
        return Err(error(
            line,
            format!("{per_iteration} trees per iteration with objective `{objective_text}` (expected {outputs})"),
        ));
    }
    let feature_names = match header.opt("feature_names") {
        Some((line, v)) => {
            let names: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            if names.len() != features as usize {
                return Err(error(line, format!("{} feature names for {features} features", names.len())));
            }
            Some(names)
        }
        None => None,
    };

    let mut builder = ForestBuilder::new(features, vec![0.0; outputs as usize]);
    for (t, section) in trees.iter().enumerate() {
        let nodes = read_tree(section, features, scale)?;
        builder
            .add_tree(t as u32 % outputs, &nodes)
            .map_err(|m| error(section.start, format!("{}: {m}", section.name)))?;
    }
    let forest = builder.finish().map_err(ImportError::Invalid)?;
    Ok(Imported { forest, objective, feature_names })
}

/// The header and the `Tree=` blocks, up to `end of trees`.
fn sections(text: &str) -> Result<(Section<'_>, Vec<Section<'_>>), ImportError> {
    let mut header = Section { start: 1, name: "header".into(), fields: HashMap::new() };
    let mut trees: Vec<Section> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l == "end of trees" {
            break;
        }
        if l.trim().is_empty() {
            continue;
        }
        let (key, value) = match l.split_once('=') {
            Some((k, v)) => (k.trim(), v),
            None => (l.trim(), ""),
        };
        if key == "Tree" {
            let expected = trees.len();
            if value.trim().parse::<usize>().ok() != Some(expected) {
                return Err(error(line, format!("`Tree={value}` where `Tree={expected}` was expected")));
            }
            trees.push(Section { start: line, name: format!("tree {expected}"), fields: HashMap::new() });
            continue;
        }
        let section = trees.last_mut().unwrap_or(&mut header);
        if section.fields.insert(key, (line, value)).is_some() {
            return Err(error(line, format!("`{key}` appears twice in the same section")));
        }
    }
    Ok((header, trees))
}

fn parse_objective(line: usize, text: &str, num_class: u32) -> Result<(Objective, f64), ImportError> {
    let mut tokens = text.split_whitespace();
    let name = tokens.next().unwrap_or("");
    let params: Vec<(&str, &str)> = tokens.map(|t| t.split_once(':').unwrap_or((t, ""))).collect();
    let param = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    match name {
        "binary" => {
            let scale = match param("sigmoid") {
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| error(line, format!("`sigmoid:{v}` is not a positive number")))?,
                None => 1.0,
            };
            if num_class != 1 {
                return Err(error(line, format!("objective `binary` with num_class={num_class}")));
            }
            Ok((Objective::Sigmoid, scale))
        }
        "multiclass" => {
            let k = param("num_class").and_then(|v| v.parse::<u32>().ok());
            if k != Some(num_class) || num_class < 2 {
                return Err(error(line, format!("objective `{text}` does not match num_class={num_class}")));
            }
            Ok((Objective::Softmax, 1.0))
        }
        "regression" | "regression_l1" | "huber" | "fair" | "quantile" | "mape" => {
            if params.iter().any(|(k, _)| *k == "sqrt") {
                return Err(ImportError::Unsupported(format!(
                    "LightGBM objective `{text}` (`sqrt` squares the output)"
                )));
            }
            if num_class != 1 {
                return Err(error(line, format!("objective `{name}` with num_class={num_class}")));
            }
            Ok((Objective::Identity, 1.0))
        }
        _ => Err(ImportError::Unsupported(format!("LightGBM objective `{text}` (supported objectives: {SUPPORTED})"))),
    }
}

fn read_tree(s: &Section, features: u32, scale: f64) -> Result<Vec<TreeNode>, ImportError> {
    let name = s.name.as_str();
    if let Some((line, v)) = s.opt("is_linear")
        && v.trim() != "0"
    {
        return Err(error(line, format!("{name}: linear trees are not supported")));
    }
    let leaves: usize = s.int("num_leaves")?;
    if leaves == 0 {
        return Err(error(s.get("num_leaves")?.0, format!("{name}: `num_leaves` is 0")));
    }
    let (leaf_line, leaf_values) = s.list::<f64>("leaf_value", "a number")?;
    if leaf_values.len() != leaves {
        return Err(error(
            leaf_line,
            format!("{name}: `leaf_value` has {} entries, `num_leaves` is {leaves}", leaf_values.len()),
        ));
    }
    let inner = leaves - 1;
    let mut nodes = Vec::with_capacity(inner + leaves);
    let leaf_nodes = leaf_values
        .iter()
        .enumerate()
        .map(|(j, &v)| {
            let value = (v * scale) as f32;
            if value.is_finite() {
                Ok(TreeNode::Leaf { value })
            } else {
                Err(error(leaf_line, format!("{name}: leaf {j} has value {v}, not a finite f32")))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if inner == 0 {
        return Ok(leaf_nodes);
    }
    let (_, split_feature) = s.list::<i64>("split_feature", "a whole number")?;
    let (threshold_line, threshold) = s.list::<f64>("threshold", "a number")?;
    let (decision_line, decision) = s.list::<i64>("decision_type", "a whole number")?;
    let (left_line, left) = s.list::<i64>("left_child", "a whole number")?;
    let (right_line, right) = s.list::<i64>("right_child", "a whole number")?;
    for (key, len) in [
        ("split_feature", split_feature.len()),
        ("threshold", threshold.len()),
        ("decision_type", decision.len()),
        ("left_child", left.len()),
        ("right_child", right.len()),
    ] {
        if len != inner {
            let line = s.get(key)?.0;
            return Err(error(
                line,
                format!("{name}: `{key}` has {len} entries, `num_leaves` is {leaves} (expected {inner})"),
            ));
        }
    }
    let num_cat: usize = match s.opt("num_cat") {
        Some(_) => s.int("num_cat")?,
        None => 0,
    };
    let (bounds, cat_words) = if num_cat > 0 {
        let (bline, bounds) = s.list::<usize>("cat_boundaries", "a whole number")?;
        let (_, words) = s.list::<u32>("cat_threshold", "a 32-bit word")?;
        if bounds.len() != num_cat + 1
            || bounds[0] != 0
            || bounds.windows(2).any(|w| w[0] > w[1])
            || bounds[num_cat] != words.len()
        {
            return Err(error(
                bline,
                format!(
                    "{name}: `cat_boundaries` must be {} nondecreasing offsets from 0 to {} (the `cat_threshold` words)",
                    num_cat + 1,
                    words.len()
                ),
            ));
        }
        (bounds, words)
    } else {
        (Vec::new(), Vec::new())
    };

    let child = |c: i64, line: usize, i: usize| -> Result<usize, ImportError> {
        if c < 0 {
            let leaf = (!c) as usize;
            if leaf < leaves {
                return Ok(inner + leaf);
            }
        } else if (c as usize) < inner {
            return Ok(c as usize);
        }
        Err(error(line, format!("{name}: node {i} has child {c}, not a node of a tree with {leaves} leaves")))
    };
    for i in 0..inner {
        let l = child(left[i], left_line, i)?;
        let r = child(right[i], right_line, i)?;
        let feature = split_feature[i];
        if feature < 0 || feature >= i64::from(features) {
            let line = s.get("split_feature")?.0;
            return Err(error(
                line,
                format!("{name}: node {i} splits on feature {feature} (max_feature_idx is {})", features as i64 - 1),
            ));
        }
        let dt = decision[i];
        if !(0..=15).contains(&dt) {
            return Err(error(decision_line, format!("{name}: node {i} has decision_type {dt}")));
        }
        let default_left = dt & 2 != 0;
        if dt & 1 != 0 {
            let t = threshold[i];
            let idx = t as usize;
            if t.fract() != 0.0 || t < 0.0 || idx >= num_cat {
                return Err(error(
                    threshold_line,
                    format!(
                        "{name}: categorical node {i} has threshold {t}, not a bitset index below num_cat={num_cat}"
                    ),
                ));
            }
            nodes.push(TreeNode::Categorical {
                feature: feature as u32,
                bits: cat_words[bounds[idx]..bounds[idx + 1]].to_vec(),
                default_left: false,
                missing: Missing::Nan,
                left: l,
                right: r,
            });
        } else {
            let missing = match (dt >> 2) & 3 {
                0 => Missing::None,
                1 => Missing::Zero,
                2 => Missing::Nan,
                _ => {
                    return Err(error(decision_line, format!("{name}: node {i} has missing type 3")));
                }
            };
            nodes.push(TreeNode::Numeric {
                feature: feature as u32,
                threshold: f32_at_most(threshold[i]),
                default_left,
                missing,
                left: l,
                right: r,
            });
        }
    }
    nodes.extend(leaf_nodes);
    Ok(nodes)
}
