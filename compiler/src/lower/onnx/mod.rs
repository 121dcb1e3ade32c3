//! ONNX models: `onnx("m.onnx")`, optionally `output: "name"` to pick a graph output.
//!
//! The file is read by `onnx-ir` (burn's ONNX parser) into typed nodes; every node the chosen
//! output depends on is translated into ordinary IR ops over one row vector (`translate.rs`,
//! the standard operators in `standard.rs`, the ONNX-ML ones in `ml.rs`, tree ensembles into
//! `pipec_forest` tables in `tree_ops.rs`). The translation is built once, at the declaration,
//! as a small graph of its own whose single input is the model's input; applying the model
//! splices that graph into the pipeline's, so the passes and both code paths see one graph.
//! An operator outside that set is a diagnostic naming the operator and the node as the file
//! names it (`names.rs`), never a panic.

mod ml;
mod names;
mod scores;
mod standard;
mod translate;
mod tree_ops;

use super::Lowerer;
use super::args::{CallArgs, literal_str};
use crate::ir::{Graph, InputKind, InputSpec, NodeId, Op};
use names::NodeNames;
use onnx_ir::Message;
use pipec_dsl::ast::ModelDecl;
use pipec_dsl::{Diagnostic, Span};
use std::sync::Arc;
use translate::Translator;

pub const KIND: &str = "onnx";

/// ONNX's element types FLOAT, FLOAT16, DOUBLE and BFLOAT16.
const FLOAT_TYPES: [i32; 4] = [1, 10, 11, 16];

/// A loaded ONNX model: its translation, ready to be spliced where the model is applied.
#[derive(Clone, Debug)]
pub struct OnnxModel {
    /// One input (`Op::Input { input: 0 }`, width `input_width`); `output` is the result.
    pub fragment: Arc<Graph>,
    pub output: NodeId,
    pub input_width: u32,
    /// Whether a missing (NaN) input can reach the output unreplaced: only then is a
    /// nullable argument refused.
    pub propagates_missing: bool,
    /// The ONNX name of the chosen output, for messages.
    pub output_name: String,
    pub path_span: Span,
    pub path: String,
}

pub(crate) fn load(lowerer: &Lowerer, decl: &ModelDecl) -> Result<OnnxModel, Diagnostic> {
    let args = CallArgs::check(KIND, decl.span, &decl.args, (1, 1), &["output"])?;
    let path_expr = args.positional[0];
    let path = literal_str(path_expr, "model file")?;
    let wanted = match args.named("output") {
        None => None,
        Some(e) => Some((literal_str(e, "output")?, e.span)),
    };
    let bytes = lowerer.read_artifact_at(path, path_expr.span, "model file")?;
    let invalid = |reason: String| {
        Diagnostic::error("E0302", format!("`{path}` is not an ONNX model pipec can read"))
            .with_primary(path_expr.span, reason)
    };
    let proto =
        onnx_ir::ModelProto::parse_from_bytes(&bytes).map_err(|e| invalid(format!("not an ONNX protobuf: {e}")))?;
    let graph = parse_graph(&bytes).map_err(invalid)?;
    let names = NodeNames::new(&proto);

    // Graph inputs and outputs keep their order through onnx-ir, which renames them.
    let initializers: std::collections::HashSet<&str> =
        proto.graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let proto_inputs: Vec<&str> =
        proto.graph.input.iter().map(|i| i.name.as_str()).filter(|n| !initializers.contains(n)).collect();
    let [input] = graph.inputs.as_slice() else {
        return Err(invalid(format!(
            "the model has {} inputs ({}); pipec applies a model to one vector",
            graph.inputs.len(),
            proto_inputs.join(", ")
        )));
    };
    let input_name = proto_inputs.first().copied().unwrap_or(input.name.as_str());
    let input_width = translate::input_width(input).map_err(|why| invalid(format!("input `{input_name}` {why}")))?;

    let proto_outputs: Vec<&str> = proto.graph.output.iter().map(|o| o.name.as_str()).collect();
    if proto_outputs.len() != graph.outputs.len() {
        return Err(invalid("the graph's outputs could not be matched to the file's".into()));
    }
    let index = match wanted {
        Some((name, span)) => proto_outputs.iter().position(|o| *o == name).ok_or_else(|| {
            Diagnostic::error("E0302", format!("`{path}` has no output `{name}`"))
                .with_primary(span, format!("its outputs are: {}", proto_outputs.join(", ")))
        })?,
        None => {
            // The types the file declares (onnx-ir only guesses those of custom operators).
            let floats: Vec<usize> = proto
                .graph
                .output
                .iter()
                .enumerate()
                .filter(|(_, o)| o.type_.has_tensor_type() && FLOAT_TYPES.contains(&o.type_.tensor_type().elem_type))
                .map(|(i, _)| i)
                .collect();
            match floats.as_slice() {
                [only] => *only,
                _ => {
                    return Err(Diagnostic::error(
                        "E0302",
                        format!("`{path}` has {} float outputs; say which one this model is", floats.len()),
                    )
                    .with_primary(path_expr.span, format!("its outputs are: {}", proto_outputs.join(", ")))
                    .with_note(format!("for example: onnx(\"{path}\", output: \"{}\")", proto_outputs[0])));
                }
            }
        }
    };
    let output_name = proto_outputs[index].to_string();

    let translated =
        Translator::translate(&graph, &names, input, input_width, &graph.outputs[index].name).map_err(|e| {
            Diagnostic::error(e.code, format!("`{path}`: {}", e.message))
                .with_primary(path_expr.span, format!("while translating output `{output_name}` of this model"))
                .with_note(e.note)
        })?;
    Ok(OnnxModel {
        propagates_missing: translated.propagates_missing(),
        output: translated.output,
        fragment: Arc::new(translated.graph),
        input_width,
        output_name,
        path_span: path_expr.span,
        path: path.to_string(),
    })
}

/// onnx-ir's graph; a panic inside the parser (a malformed file it does not anticipate)
/// becomes an error rather than ending the compiler.
fn parse_graph(bytes: &[u8]) -> Result<onnx_ir::OnnxGraph, String> {
    let parsed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| onnx_ir::OnnxGraphBuilder::new().parse_bytes(bytes)));
    match parsed {
        Ok(Ok(graph)) => Ok(graph),
        Ok(Err(e)) => Err(format!("the ONNX reader failed: {e}")),
        Err(_) => Err("the ONNX reader failed on this file (it panicked)".into()),
    }
}

/// Applies an ONNX model to `x`; `nullable` when `x` may hold missing values.
pub(crate) fn apply(
    lowerer: &mut Lowerer,
    model: &OnnxModel,
    x: NodeId,
    nullable: bool,
    x_span: Span,
    span: Span,
) -> Option<NodeId> {
    let width = lowerer.graph.ty(x).width();
    if width != model.input_width {
        lowerer.error(
            Diagnostic::error("E0203", format!("the model takes {} inputs but is given {width}", model.input_width))
                .with_primary(x_span, format!("this is f32[{width}]"))
                .with_secondary(model.path_span, format!("`{}` takes f32[{}]", model.path, model.input_width)),
        );
        return None;
    }
    if nullable && model.propagates_missing {
        lowerer.error(
            Diagnostic::error("E0204", "this value is nullable, and the model does not replace missing values")
                .with_primary(x_span, "nullable: replace missing values before using it")
                .with_secondary(
                    model.path_span,
                    format!("a missing value would reach output `{}` of `{}`", model.output_name, model.path),
                )
                .with_note("impute(x, value) replaces them; a model whose graph starts with an Imputer or a tree ensemble takes them as they are"),
        );
        return None;
    }
    let mut map: Vec<NodeId> = Vec::with_capacity(model.fragment.nodes().len());
    for node in model.fragment.nodes() {
        let id = match node.op {
            Op::Input { .. } => x,
            _ => lowerer.push(node.op.map_operands(|o| map[o.index()]), node.ty, span),
        };
        map.push(id);
    }
    Some(map[model.output.index()])
}

/// The single input the fragment is built over.
fn fragment_input(width: u32) -> InputSpec {
    InputSpec { name: "x".into(), kind: InputKind::F32, width: width as usize, is_vector: true, nullable: true }
}
