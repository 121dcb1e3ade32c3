//! The ONNX-ML (`ai.onnx.ml`) operators skl2onnx writes for scikit-learn pipelines, each as
//! onnxruntime computes it: Scaler, Imputer, OneHotEncoder (typed by onnx-ir), and
//! Normalizer, LabelEncoder, ArrayFeatureExtractor, LinearClassifier, LinearRegressor and the
//! tree ensembles (raw attributes, `Node::Custom`). String categories are not numbers in a
//! pipeline: encode them in the `.pipe` (one_hot, vocab) and give the model numbers.

use super::scores::{PostTransform, classifier_scores};
use super::translate::{Operand, Translator, Value, unsupported};
use crate::ir::{BinaryFn, Matrix, Op, Ty, UnaryFn};
use onnx_ir::node::custom::CustomNode;
use onnx_ir::{Node, PublicAttributesOwned, TensorDataExt};

pub(super) fn translate(t: &mut Translator, node: &Node) -> Result<bool, String> {
    match node {
        Node::Scaler(n) => {
            let x = t.value(node, 0)?;
            let mut y = x.clone();
            if let Some(offset) = &n.config.offset {
                y = t.binary_const(BinaryFn::Sub, &y, per_column(offset, x.width(), "offset")?)?;
            }
            if let Some(scale) = &n.config.scale {
                y = t.binary_const(BinaryFn::Mul, &y, per_column(scale, x.width(), "scale")?)?;
            }
            t.set(node, 0, y)?;
        }
        Node::Imputer(n) => {
            let x = t.value(node, 0)?;
            let c = &n.config;
            let (imputed, replaced): (Vec<f32>, f32) = match (&c.imputed_value_floats, &c.imputed_value_int64s) {
                (Some(v), _) if !v.is_empty() => (v.clone(), c.replaced_value_float.unwrap_or(0.0)),
                (_, Some(v)) if !v.is_empty() => {
                    (v.iter().map(|i| *i as f32).collect(), c.replaced_value_int64.unwrap_or(0) as f32)
                }
                _ => return Err("has no imputed values".into()),
            };
            let imputed = per_column(&imputed, x.width(), "imputed_value_floats")?;
            let y = if replaced.is_nan() && imputed.len() == 1 {
                let id = t.push(Op::Impute { x: x.id, value: imputed[0] }, Ty::F32(x.width()));
                Value { id, dims: x.dims.clone() }
            } else {
                let cond = if replaced.is_nan() {
                    t.unary(UnaryFn::IsMissing, &x)
                } else {
                    t.binary_const(BinaryFn::Eq, &x, vec![replaced])?
                };
                let fill = t.const_row(imputed);
                let id = t.push(Op::Where { cond: cond.id, a: fill, b: x.id }, Ty::F32(x.width()));
                Value { id, dims: x.dims.clone() }
            };
            t.set(node, 0, y)?;
        }
        Node::OneHotEncoder(n) => {
            let Some(categories) = &n.config.cats_int64s else {
                return Err(unsupported(
                    "string categories (cats_strings): encode strings in the .pipe (one_hot, vocab) and give the model numbers",
                ));
            };
            let x = t.value(node, 0)?;
            let cats: Vec<f32> = categories.iter().map(|c| *c as f32).collect();
            let truncated = t.unary(UnaryFn::Trunc, &x);
            let mut parts = Vec::new();
            for column in 0..x.width() {
                let v = if x.width() == 1 { truncated.clone() } else { t.select(&truncated, &[i64::from(column)])? };
                let hits = t.binary_const(BinaryFn::Eq, &Value { id: v.id, dims: vec![1] }, cats.clone())?;
                parts.push(t.bool_to_f32(&hits).id);
            }
            let width = x.width() * cats.len() as u32;
            let id = match parts.as_slice() {
                [one] => *one,
                _ => t.push(Op::Concat { parts }, Ty::F32(width)),
            };
            let mut dims = x.dims.clone();
            dims.push(cats.len() as u32);
            t.set(node, 0, Value { id, dims })?;
        }
        Node::Custom(c) if c.domain == "ai.onnx.ml" => return custom(t, node, c),
        _ => return Ok(false),
    }
    Ok(true)
}

fn custom(t: &mut Translator, node: &Node, c: &CustomNode) -> Result<bool, String> {
    match c.op_type.as_str() {
        "Normalizer" => normalizer(t, node, c.attrs.get_string("norm").unwrap_or("MAX"))?,
        "LabelEncoder" => label_encoder(t, node, &c.attrs)?,
        "ArrayFeatureExtractor" => {
            let x = t.value(node, 0)?;
            let indices = t.constant(node, 1)?;
            if x.dims.len() != 1 {
                return Err(unsupported(&format!("extracting from rows shaped {:?}", x.dims)));
            }
            let list: Vec<i64> = indices.values.iter().map(|v| *v as i64).collect();
            let y = t.select(&x, &list)?;
            t.set(node, 0, y)?;
        }
        "LinearRegressor" => {
            let x = t.value(node, 0)?;
            let targets = c.attrs.get_i64("targets").unwrap_or(1);
            let y = linear(t, &x, &c.attrs, usize::try_from(targets).map_err(|_| "targets < 0")?)?;
            let post = PostTransform::parse(c.attrs.get_string("post_transform"))?;
            if post != PostTransform::None {
                return Err(unsupported(&format!("post_transform {post:?} on a regressor")));
            }
            t.set(node, 0, y)?;
        }
        "LinearClassifier" => {
            let x = t.value(node, 0)?;
            let labels = match (c.attrs.get_i64s("classlabels_ints"), c.attrs.get_strings("classlabels_strings")) {
                (Some(l), _) => l.len(),
                (_, Some(l)) => l.len(),
                _ => return Err("has no class labels".into()),
            };
            let coefficients = c.attrs.get_f32s("coefficients").ok_or("has no coefficients")?;
            if x.width() == 0 || coefficients.len() % x.width() as usize != 0 {
                return Err(format!("{} coefficients do not divide into rows of {}", coefficients.len(), x.width()));
            }
            let classes = coefficients.len() / x.width() as usize;
            let margins = linear(t, &x, &c.attrs, classes)?;
            let post = PostTransform::parse(c.attrs.get_string("post_transform"))?;
            let scores = classifier_scores(t, &margins, labels, post)?;
            t.set(node, 1, scores)?;
        }
        "TreeEnsembleClassifier" | "TreeEnsembleRegressor" | "TreeEnsemble" => super::tree_ops::translate(t, node, c)?,
        "ZipMap" => {
            return Err(unsupported("its output is a sequence of maps; convert with options={'zipmap': False}"));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A per-column attribute: one value for every column, or one per column.
fn per_column(values: &[f32], width: u32, what: &str) -> Result<Vec<f32>, String> {
    match values.len() {
        1 => Ok(values.to_vec()),
        n if n == width as usize => Ok(values.to_vec()),
        n => Err(format!("{what} has {n} values for rows of {width}")),
    }
}

/// `x · coefficientsᵀ + intercepts` with `outputs` rows of coefficients.
fn linear(t: &mut Translator, x: &Value, attrs: &PublicAttributesOwned, outputs: usize) -> Result<Value, String> {
    let coefficients = attrs.get_f32s("coefficients").ok_or("has no coefficients")?;
    let inputs = x.width() as usize;
    if outputs == 0 || coefficients.len() != outputs * inputs {
        return Err(format!("{} coefficients for {outputs} outputs of rows of {inputs}", coefficients.len()));
    }
    let intercepts = match attrs.get_f32s("intercepts") {
        None | Some([]) => vec![0.0; outputs],
        Some(i) if i.len() == outputs => i.to_vec(),
        Some(i) => return Err(format!("{} intercepts for {outputs} outputs", i.len())),
    };
    let mut data = vec![0.0f32; inputs * outputs];
    for o in 0..outputs {
        for i in 0..inputs {
            data[i * outputs + o] = coefficients[o * inputs + i];
        }
    }
    let weight = Matrix { rows: inputs as u32, cols: outputs as u32, data };
    let id = t.push(Op::Dense { x: x.id, weight, bias: intercepts }, Ty::F32(outputs as u32));
    Ok(Value { id, dims: vec![outputs as u32] })
}

/// Each row divided by its MAX (the largest value, signed), L1 or L2 norm; a row whose norm
/// is zero is left as it is (as onnxruntime does).
fn normalizer(t: &mut Translator, node: &Node, norm: &str) -> Result<(), String> {
    let x = t.value(node, 0)?;
    let width = x.width();
    let column = |t: &mut Translator, v: &Value| {
        let ones = Matrix { rows: width, cols: 1, data: vec![1.0; width as usize] };
        let id = t.push(Op::Dense { x: v.id, weight: ones, bias: vec![0.0] }, Ty::F32(1));
        Value { id, dims: Vec::new() }
    };
    let norm_value = match norm {
        "MAX" => {
            let mut m = t.select(&x, &[0])?;
            for i in 1..width {
                let next = t.select(&x, &[i64::from(i)])?;
                m = t.binary(BinaryFn::Max, Operand::Value(m), Operand::Value(next))?;
            }
            m
        }
        "L1" => {
            let a = t.unary(UnaryFn::Abs, &x);
            column(t, &a)
        }
        "L2" => {
            let sq = t.binary(BinaryFn::Mul, Operand::Value(x.clone()), Operand::Value(x.clone()))?;
            let s = column(t, &sq);
            t.unary(UnaryFn::Sqrt, &s)
        }
        other => return Err(format!("unknown norm `{other}`")),
    };
    let zero = t.binary_const(BinaryFn::Eq, &norm_value, vec![0.0])?;
    let one = t.const_row(vec![1.0]);
    let divisor = t.push(Op::Where { cond: zero.id, a: one, b: norm_value.id }, Ty::F32(1));
    let y = t.binary(BinaryFn::Div, Operand::Value(x), Operand::Value(Value { id: divisor, dims: Vec::new() }))?;
    t.set(node, 0, y)
}

/// A numeric map: each key to its value, anything else to the default.
fn label_encoder(t: &mut Translator, node: &Node, attrs: &PublicAttributesOwned) -> Result<(), String> {
    let strings = ["keys_strings", "values_strings"].iter().any(|k| attrs.get_strings(k).is_some());
    if strings {
        return Err(unsupported("string keys or values: encode strings in the .pipe and give the model numbers"));
    }
    let keys: Vec<f64> =
        match (attrs.get_f32s("keys_floats"), attrs.get_i64s("keys_int64s"), attrs.get_tensor("keys_tensor")) {
            (Some(k), _, _) => k.iter().map(|v| f64::from(*v)).collect(),
            (_, Some(k), _) => k.iter().map(|v| *v as f64).collect(),
            (_, _, Some(k)) => k.to_f64_vec().map_err(|e| format!("keys_tensor: {e:?}"))?,
            _ => return Err("has no keys".into()),
        };
    let values: Vec<f64> =
        match (attrs.get_f32s("values_floats"), attrs.get_i64s("values_int64s"), attrs.get_tensor("values_tensor")) {
            (Some(v), _, _) => v.iter().map(|v| f64::from(*v)).collect(),
            (_, Some(v), _) => v.iter().map(|v| *v as f64).collect(),
            (_, _, Some(v)) => v.to_f64_vec().map_err(|e| format!("values_tensor: {e:?}"))?,
            _ => return Err("has no values".into()),
        };
    if keys.len() != values.len() || keys.is_empty() {
        return Err(format!("{} keys but {} values", keys.len(), values.len()));
    }
    let default = if let Some(d) = attrs.get_tensor("default_tensor") {
        d.scalar_f64().map_err(|e| format!("default_tensor: {e:?}"))?
    } else if attrs.get_f32s("values_floats").is_some() {
        f64::from(attrs.get_f32("default_float").unwrap_or(-0.0))
    } else {
        attrs.get_i64("default_int64").unwrap_or(-1) as f64
    };
    let x = t.value(node, 0)?;
    let width = x.width();
    let mut result = t.const_row(vec![default as f32]);
    // Later keys are tested first, so the first matching key wins (keys are distinct anyway).
    for (key, value) in keys.iter().zip(&values).rev() {
        let hit = if key.is_nan() {
            t.unary(UnaryFn::IsMissing, &x)
        } else {
            t.binary_const(BinaryFn::Eq, &x, vec![*key as f32])?
        };
        let value = t.const_row(vec![*value as f32]);
        result = t.push(Op::Where { cond: hit.id, a: value, b: result }, Ty::F32(width));
    }
    t.set(node, 0, Value { id: result, dims: x.dims })
}
