//! Tree-ensemble models: `xgboost("m.json")` and `lightgbm("m.txt")`. `pipec-forest` imports
//! the library's own model file into node tables; applying the model is one `Trees` op (the
//! margins) followed by what the library's `predict` applies (sigmoid or softmax), unless
//! `output: margin` asks for the margins. Tree models take missing values: each split sends
//! them where the library does, so a nullable input needs no imputation.

use super::Lowerer;
use super::args::{CallArgs, literal_str, literal_word};
use crate::ir::{ForestRef, NodeId, Op, Ty, UnaryFn};
use pipec_dsl::ast::ModelDecl;
use pipec_dsl::{Diagnostic, Span};
use pipec_forest::Objective;

/// A loaded tree ensemble.
#[derive(Clone, Debug)]
pub struct TreeModel {
    pub forest: ForestRef,
    pub objective: Objective,
    /// `output: margin`: the summed margins, without the objective's transform.
    pub margin: bool,
    pub path_span: Span,
    pub path: String,
}

pub const KINDS: [&str; 2] = ["xgboost", "lightgbm"];

pub(crate) fn load(lowerer: &Lowerer, decl: &ModelDecl, kind: &str) -> Result<TreeModel, Diagnostic> {
    let args = CallArgs::check(kind, decl.span, &decl.args, (1, 1), &["output"])?;
    let path_expr = args.positional[0];
    let path = literal_str(path_expr, "model file")?;
    let margin = match args.named("output") {
        None => false,
        Some(e) => literal_word(e, "output", &["predict", "margin"])? == "margin",
    };
    let bytes = lowerer.read_artifact_at(path, path_expr.span, "model file")?;
    let invalid = |reason: String| {
        Diagnostic::error("E0302", format!("`{path}` is not a {kind} model pipec can read"))
            .with_primary(path_expr.span, reason)
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| invalid(format!("not UTF-8 text: {e}")))?;
    let imported = match kind {
        "xgboost" => pipec_forest::import_xgboost(text),
        _ => pipec_forest::import_lightgbm(text),
    }
    .map_err(|e| invalid(e.to_string()))?;
    imported.forest.validate().map_err(invalid)?;
    Ok(TreeModel {
        forest: ForestRef::new(imported.forest),
        objective: imported.objective,
        margin,
        path_span: path_expr.span,
        path: path.to_string(),
    })
}

/// Applies a tree model to `x` (an f32 vector, possibly nullable).
pub(crate) fn apply(lowerer: &mut Lowerer, model: &TreeModel, x: NodeId, x_span: Span, span: Span) -> Option<NodeId> {
    let width = lowerer.graph.ty(x).width();
    let features = model.forest.forest.features;
    if width != features {
        lowerer.error(
            Diagnostic::error("E0203", format!("the model takes {features} inputs but is given {width}"))
                .with_primary(x_span, format!("this is f32[{width}]"))
                .with_secondary(model.path_span, format!("`{}` was trained on {features} features", model.path)),
        );
        return None;
    }
    let outputs = model.forest.forest.outputs;
    let ty = Ty::F32(outputs);
    let margins = lowerer.push(Op::Trees { x, forest: model.forest.clone() }, ty, span);
    if model.margin {
        return Some(margins);
    }
    Some(match model.objective {
        Objective::Identity => margins,
        Objective::Sigmoid => lowerer.push(Op::Unary { op: UnaryFn::Sigmoid, x: margins }, ty, span),
        Objective::Softmax => lowerer.push(Op::Softmax { x: margins }, ty, span),
    })
}
