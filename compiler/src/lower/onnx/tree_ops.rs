//! ONNX-ML tree ensembles (`TreeEnsembleClassifier`, `TreeEnsembleRegressor`, opset 5's
//! `TreeEnsemble`) into `pipec_forest` tables: the attributes are read here and handed to
//! `pipec_forest::import_onnx_*`, which normalises every split and says how onnxruntime turns
//! the margins into the operator's scores (`ScoreRule`); the result is one `Trees` op and
//! those few elementwise ops, exactly as for XGBoost and LightGBM models.

use super::scores::{apply, complement_pair};
use super::translate::{Translator, Value, unsupported};
use crate::ir::{ForestRef, Op, Ty, UnaryFn};
use onnx_ir::node::custom::CustomNode;
use onnx_ir::{DType, Node, PublicAttributesOwned, TensorDataExt};
use pipec_forest::{ImportError, OnnxEnsembleKind, OnnxTreeEnsemble, OnnxUnifiedTreeEnsemble, ScoreRule};

pub(super) fn translate(t: &mut Translator, node: &Node, c: &CustomNode) -> Result<(), String> {
    let x = t.value(node, 0)?;
    if x.dims.len() > 1 {
        return Err(unsupported(&format!("a tree ensemble over rows shaped {:?}", x.dims)));
    }
    let features = x.width();
    let a = &c.attrs;
    let imported = match c.op_type.as_str() {
        "TreeEnsemble" => pipec_forest::import_onnx_unified_tree_ensemble(&unified(a)?, features),
        kind => pipec_forest::import_onnx_tree_ensemble(&legacy(a, kind == "TreeEnsembleClassifier")?, features),
    }
    .map_err(|e| match e {
        ImportError::Unsupported(why) => unsupported(&why),
        other => other.to_string(),
    })?;
    imported.forest.validate().map_err(|e| format!("the trees do not form valid tables: {e}"))?;
    let outputs = imported.forest.outputs;
    let forest = ForestRef::new(imported.forest);
    let margins = Value { id: t.push(Op::Trees { x: x.id, forest }, Ty::F32(outputs)), dims: vec![outputs] };
    let scores = match imported.scores {
        ScoreRule::Margins(transform) => apply(t, &margins, transform)?,
        ScoreRule::NegatedPair(transform) => {
            let negated = t.unary(UnaryFn::Neg, &margins);
            let pair =
                Value { id: t.push(Op::Concat { parts: vec![negated.id, margins.id] }, Ty::F32(2)), dims: vec![2] };
            apply(t, &pair, transform)?
        }
        ScoreRule::ComplementPair { logistic } => {
            let p = if logistic { t.unary(UnaryFn::Sigmoid, &margins) } else { margins };
            complement_pair(t, &p)?
        }
    };
    // The classifier's scores are its second output (the first is the label).
    let index = usize::from(c.op_type == "TreeEnsembleClassifier");
    t.set(node, index, scores)
}

fn ints(a: &PublicAttributesOwned, name: &str) -> Vec<i64> {
    a.get_i64s(name).map(<[i64]>::to_vec).unwrap_or_default()
}

/// A float list attribute, or its `_as_tensor` form; and whether that tensor is double.
fn floats(a: &PublicAttributesOwned, name: &str) -> Result<(Vec<f64>, bool), String> {
    if let Some(tensor) = a.get_tensor(&format!("{name}_as_tensor")) {
        let values = tensor.to_f64_vec().map_err(|e| format!("{name}_as_tensor: {e:?}"))?;
        return Ok((values, tensor.dtype() == DType::F64));
    }
    Ok((a.get_f32s(name).map(|v| v.iter().map(|x| f64::from(*x)).collect()).unwrap_or_default(), false))
}

fn legacy(a: &PublicAttributesOwned, classifier: bool) -> Result<OnnxTreeEnsemble, String> {
    let kind = if classifier { OnnxEnsembleKind::Classifier } else { OnnxEnsembleKind::Regressor };
    let mut e = OnnxTreeEnsemble::new(kind);
    let prefix = if classifier { "class" } else { "target" };
    e.nodes_treeids = ints(a, "nodes_treeids");
    e.nodes_nodeids = ints(a, "nodes_nodeids");
    e.nodes_featureids = ints(a, "nodes_featureids");
    e.nodes_modes = a.get_strings("nodes_modes").map(<[String]>::to_vec).unwrap_or_default();
    (e.nodes_values, e.nodes_values_are_double) = floats(a, "nodes_values")?;
    e.nodes_truenodeids = ints(a, "nodes_truenodeids");
    e.nodes_falsenodeids = ints(a, "nodes_falsenodeids");
    e.nodes_missing_value_tracks_true = ints(a, "nodes_missing_value_tracks_true");
    e.weight_treeids = ints(a, &format!("{prefix}_treeids"));
    e.weight_nodeids = ints(a, &format!("{prefix}_nodeids"));
    e.weight_ids = ints(a, &format!("{prefix}_ids"));
    e.weights = floats(a, &format!("{prefix}_weights"))?.0;
    e.base_values = floats(a, "base_values")?.0;
    e.n_targets_or_classes = if classifier {
        let labels = a.get_i64s("classlabels_int64s").map(<[i64]>::len);
        labels.or_else(|| a.get_strings("classlabels_strings").map(<[String]>::len)).unwrap_or(0) as i64
    } else {
        a.get_i64("n_targets").unwrap_or(1)
    };
    if let Some(f) = a.get_string("aggregate_function") {
        e.aggregate_function = f.to_string();
    }
    if let Some(p) = a.get_string("post_transform") {
        e.post_transform = p.to_string();
    }
    Ok(e)
}

fn unified(a: &PublicAttributesOwned) -> Result<OnnxUnifiedTreeEnsemble, String> {
    let tensor = |name: &str| -> Result<(Vec<f64>, bool), String> {
        match a.get_tensor(name) {
            Some(t) => Ok((t.to_f64_vec().map_err(|e| format!("{name}: {e:?}"))?, t.dtype() == DType::F64)),
            None => Ok((Vec::new(), false)),
        }
    };
    let defaults = OnnxUnifiedTreeEnsemble::default();
    let (nodes_splits, nodes_splits_are_double) = tensor("nodes_splits")?;
    Ok(OnnxUnifiedTreeEnsemble {
        nodes_featureids: ints(a, "nodes_featureids"),
        nodes_splits,
        nodes_splits_are_double,
        // Out-of-range codes become 255, which the importer reports as an unknown mode.
        nodes_modes: tensor("nodes_modes")?
            .0
            .iter()
            .map(|m| if (0.0..=255.0).contains(m) { *m as u8 } else { u8::MAX })
            .collect(),
        nodes_truenodeids: ints(a, "nodes_truenodeids"),
        nodes_trueleafs: ints(a, "nodes_trueleafs"),
        nodes_falsenodeids: ints(a, "nodes_falsenodeids"),
        nodes_falseleafs: ints(a, "nodes_falseleafs"),
        nodes_missing_value_tracks_true: ints(a, "nodes_missing_value_tracks_true"),
        membership_values: tensor("membership_values")?.0,
        leaf_targetids: ints(a, "leaf_targetids"),
        leaf_weights: tensor("leaf_weights")?.0,
        tree_roots: ints(a, "tree_roots"),
        n_targets: a.get_i64("n_targets").unwrap_or(1),
        aggregate_function: a.get_i64("aggregate_function").unwrap_or(defaults.aggregate_function),
        post_transform: a.get_i64("post_transform").unwrap_or(defaults.post_transform),
    })
}
