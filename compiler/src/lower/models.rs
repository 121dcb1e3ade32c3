//! The models section: loading weight files and applying a model to its input.
//!
//! A model lowers into ordinary IR ops (dense layers and activations), so the passes and code
//! generation see one graph, not opaque model calls.

use super::args::{CallArgs, literal_str, literal_word};
use super::{Lowerer, MAX_WIDTH};
use crate::artifacts::{WeightTensor, parse_safetensors};
use crate::ir::{Matrix, NodeId, Op, Ty, UnaryFn};
use pipec_dsl::ast::ModelDecl;
use pipec_dsl::{Diagnostic, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputActivation {
    Identity,
    Sigmoid,
    Softmax,
}

/// A loaded model.
#[derive(Clone, Debug)]
pub enum ModelDef {
    Dense(DenseModel),
    Trees(super::trees::TreeModel),
    Onnx(super::onnx::OnnxModel),
}

/// A loaded dense model: its layers (weights stored `in x out`) and activations.
#[derive(Clone, Debug)]
pub struct DenseModel {
    pub layers: Vec<(Matrix, Vec<f32>)>,
    /// Applied after every layer but the last.
    pub hidden: Option<UnaryFn>,
    pub output: OutputActivation,
    /// The span of the weight file's path in the source.
    pub path_span: Span,
    pub path: String,
    /// The tensor that fixes the input width, for messages (`layers.0.weight`).
    pub first_tensor: String,
}

impl DenseModel {
    pub fn in_width(&self) -> u32 {
        self.layers.first().map_or(0, |(w, _)| w.rows)
    }
    pub fn out_width(&self) -> u32 {
        self.layers.last().map_or(0, |(w, _)| w.cols)
    }
}

const KINDS: [&str; 6] = ["linear", "logistic", "mlp", "xgboost", "lightgbm", "onnx"];

/// Loads the weight file of a model declaration; `None` after reporting an error.
pub(crate) fn load(lowerer: &mut Lowerer, decl: &ModelDecl) -> Option<ModelDef> {
    match try_load(lowerer, decl) {
        Ok(model) => Some(model),
        Err(diagnostic) => {
            lowerer.error(diagnostic);
            None
        }
    }
}

fn try_load(lowerer: &Lowerer, decl: &ModelDecl) -> Result<ModelDef, Diagnostic> {
    let kind = decl.kind.name.as_str();
    if !KINDS.contains(&kind) {
        return Err(Diagnostic::error("E0106", format!("unknown model kind `{kind}`"))
            .with_primary(decl.kind.span, format!("expected one of: {}", KINDS.join(", "))));
    }
    if super::trees::KINDS.contains(&kind) {
        return super::trees::load(lowerer, decl, kind).map(ModelDef::Trees);
    }
    if kind == super::onnx::KIND {
        return super::onnx::load(lowerer, decl).map(ModelDef::Onnx);
    }
    load_dense(lowerer, decl, kind).map(ModelDef::Dense)
}

fn load_dense(lowerer: &Lowerer, decl: &ModelDecl, kind: &str) -> Result<DenseModel, Diagnostic> {
    let allowed: &[&str] = if kind == "mlp" { &["activation", "output"] } else { &[] };
    let args = CallArgs::check(kind, decl.span, &decl.args, (1, 1), allowed)?;
    let path_expr = args.positional[0];
    let path = literal_str(path_expr, "weight file")?;
    let bytes = lowerer.read_artifact_at(path, path_expr.span, "weight file")?;
    let file = lowerer.base_dir.join(path);
    let tensors = parse_safetensors(&file, &bytes).map_err(|e| {
        Diagnostic::error(e.code(), e.to_string())
            .with_primary(path_expr.span, "this weight file")
            .with_note(format!("artifact paths are relative to the .pipe file: {}", file.display()))
    })?;
    let invalid = |reason: String| {
        Diagnostic::error("E0302", format!("`{path}` does not hold a valid {kind} model"))
            .with_primary(path_expr.span, reason)
    };
    let names: Vec<(String, String)> = if kind == "mlp" {
        let count = (0..).take_while(|i| tensors.contains_key(&format!("layers.{i}.weight"))).count();
        if count == 0 {
            return Err(invalid("expected tensors `layers.0.weight`, `layers.0.bias`, ...".into()));
        }
        (0..count).map(|i| (format!("layers.{i}.weight"), format!("layers.{i}.bias"))).collect()
    } else {
        vec![("weight".into(), "bias".into())]
    };
    let mut layers = Vec::with_capacity(names.len());
    for (weight_name, bias_name) in &names {
        let weight = tensors.get(weight_name).ok_or_else(|| invalid(format!("no tensor `{weight_name}`")))?;
        let bias = tensors.get(bias_name).ok_or_else(|| invalid(format!("no tensor `{bias_name}`")))?;
        let layer = dense_layer(weight_name, weight, bias_name, bias).map_err(invalid)?;
        if let Some((previous, _)) = layers.last() {
            let previous: &Matrix = previous;
            if previous.cols != layer.0.rows {
                return Err(invalid(format!(
                    "`{weight_name}` takes {} inputs but the layer before gives {}",
                    layer.0.rows, previous.cols
                )));
            }
        }
        layers.push(layer);
    }
    let (hidden, output) = match kind {
        "mlp" => {
            let hidden = match args.named("activation") {
                None => Some(UnaryFn::Relu),
                // The hidden activations are unary functions of the IR, by their names.
                Some(e) => UnaryFn::from_name(literal_word(e, "activation", &["relu", "tanh", "sigmoid", "identity"])?),
            };
            let output = match args.named("output") {
                None => OutputActivation::Identity,
                Some(e) => match literal_word(e, "output", &["identity", "sigmoid", "softmax"])? {
                    "sigmoid" => OutputActivation::Sigmoid,
                    "softmax" => OutputActivation::Softmax,
                    _ => OutputActivation::Identity,
                },
            };
            (hidden, output)
        }
        "logistic" if layers[0].0.cols == 1 => (None, OutputActivation::Sigmoid),
        "logistic" => (None, OutputActivation::Softmax),
        _ => (None, OutputActivation::Identity),
    };
    let used = names.iter().flat_map(|(weight, bias)| [weight.clone(), bias.clone()]);
    let all: Vec<String> = tensors.keys().cloned().collect();
    lowerer.record_tensor_use(path, path_expr.span, &all, used);
    Ok(DenseModel {
        layers,
        hidden,
        output,
        path_span: path_expr.span,
        path: path.to_string(),
        first_tensor: names[0].0.clone(),
    })
}

/// A `[out, in]` weight and `[out]` bias as an `in x out` matrix and a bias vector.
fn dense_layer(
    weight_name: &str,
    weight: &WeightTensor,
    bias_name: &str,
    bias: &WeightTensor,
) -> Result<(Matrix, Vec<f32>), String> {
    let [out, inp] = weight.shape[..] else {
        return Err(format!("`{weight_name}` has shape {:?}; expected [out, in]", weight.shape));
    };
    if out == 0 || inp == 0 || out > MAX_WIDTH as usize || inp > MAX_WIDTH as usize {
        return Err(format!("`{weight_name}` has shape {:?}, out of range", weight.shape));
    }
    if bias.shape[..] != [out] {
        return Err(format!("`{bias_name}` has shape {:?}; expected [{out}] to match `{weight_name}`", bias.shape));
    }
    let mut data = vec![0.0f32; out * inp];
    for o in 0..out {
        for i in 0..inp {
            data[i * out + o] = weight.data[o * inp + i];
        }
    }
    Ok((Matrix { rows: inp as u32, cols: out as u32, data }, bias.data.clone()))
}

/// Applies a dense model to `x` (already checked to be a non-null f32 value) at `span`.
pub(crate) fn apply(lowerer: &mut Lowerer, model: &DenseModel, x: NodeId, x_span: Span, span: Span) -> Option<NodeId> {
    let width = lowerer.graph.ty(x).width();
    if width != model.in_width() {
        lowerer.error(
            Diagnostic::error("E0203", format!("the model takes {} inputs but is given {width}", model.in_width()))
                .with_primary(x_span, format!("this is f32[{width}]"))
                .with_secondary(
                    model.path_span,
                    format!(
                        "`{}` fixes the input width at {} (its `{}` is [{}, {}])",
                        model.path,
                        model.in_width(),
                        model.first_tensor,
                        model.layers[0].0.cols,
                        model.in_width()
                    ),
                ),
        );
        return None;
    }
    let mut value = x;
    let last = model.layers.len() - 1;
    for (i, (weight, bias)) in model.layers.iter().enumerate() {
        let ty = Ty::F32(weight.cols);
        value = lowerer.push(Op::Dense { x: value, weight: weight.clone(), bias: bias.clone() }, ty, span);
        if i < last
            && let Some(op) = model.hidden
        {
            value = lowerer.push(Op::Unary { op, x: value }, ty, span);
        }
    }
    let ty = Ty::F32(model.out_width());
    Some(match model.output {
        OutputActivation::Identity => value,
        OutputActivation::Sigmoid => lowerer.push(Op::Unary { op: UnaryFn::Sigmoid, x: value }, ty, span),
        OutputActivation::Softmax => lowerer.push(Op::Softmax { x: value }, ty, span),
    })
}
