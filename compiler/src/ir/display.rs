//! The IR as text, for `pipec explain` and for before/after tests of passes.

use super::{CategoryMap, Graph, Op};
use std::fmt::Write;

/// Renders the graph, one node per line: `%3: f32[4] = affine %2 scale=[..] shift=[..]`.
pub fn render_text(graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "pipeline {} \"{}\"", graph.name, graph.version);
    for (i, input) in graph.inputs.iter().enumerate() {
        let shape = if input.is_vector { format!("[{}]", input.width) } else { String::new() };
        let null = if input.nullable { "?" } else { "" };
        let _ = writeln!(out, "  input #{i} {}: {}{shape}{null}", input.name, input.kind.keyword());
    }
    for id in graph.ids() {
        let node = graph.node(id);
        let label = match graph.label(id) {
            Some(name) => format!("  # {name}"),
            None => String::new(),
        };
        let _ = writeln!(out, "  {id}: {} = {}{label}", node.ty, describe(graph, &node.op));
    }
    for output in graph.outputs() {
        let _ = writeln!(out, "  {} {} = {}", output.role.keyword(), output.name, output.node);
    }
    out
}

/// A one-line description of an op (used by the text and Graphviz renderings).
pub fn describe(graph: &Graph, op: &Op) -> String {
    let ids = |ids: Vec<super::NodeId>| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    match op {
        Op::Input { input } => {
            let name = graph.inputs.get(*input as usize).map_or("?", |i| i.name.as_str());
            format!("input {name}")
        }
        Op::Category { input, map, missing } => {
            let name = graph.inputs.get(*input as usize).map_or("?", |i| i.name.as_str());
            let map = match map {
                CategoryMap::Vocab(v) => format!("vocab={}", list_str(v)),
                CategoryMap::Hash { buckets } => format!("hash buckets={buckets}"),
                CategoryMap::Presence => "presence".to_string(),
            };
            let missing = missing.as_ref().map_or(String::new(), |m| format!(" missing={m:?}"));
            format!("category {name} {map}{missing}")
        }
        Op::Const { values } => format!("const {}", list_f32(values)),
        Op::Unary { op, x } => format!("{} {x}", op.name()),
        Op::Binary { op, a, b } => format!("{} {a}, {b}", op.name()),
        Op::Softmax { x } => format!("softmax {x}"),
        Op::Where { cond, a, b } => format!("where {cond}, {a}, {b}"),
        Op::Concat { parts } => format!("concat {}", ids(parts.clone())),
        Op::Slice { x, start, len } => format!("slice {x} [{start}..{}]", start + len),
        Op::Affine { x, scale, shift } => {
            format!("affine {x} scale={} shift={}", list_f32(scale), list_f32(shift))
        }
        Op::Impute { x, value } => format!("impute {x}, {value:?}"),
        Op::OneHot { index } => format!("one_hot {index}"),
        Op::Gather { index, table } => format!("gather {index} table={}x{}", table.rows, table.cols),
        Op::Dense { x, weight, bias } => {
            // The IR keeps the matrix `[in, out]` (the transpose of the files' `[out, in]`):
            // name both sizes rather than print a shape that reads the other way round.
            format!("dense {x} in={} out={} bias={}", weight.rows, weight.cols, list_f32(bias))
        }
        Op::Bucketize { x, boundaries } => format!("bucketize {x} boundaries={}", list_f32(boundaries)),
        Op::Trees { x, forest } => format!("trees {x} {forest:?}"),
    }
}

fn list_f32(values: &[f32]) -> String {
    const SHOWN: usize = 4;
    let mut parts: Vec<String> = values.iter().take(SHOWN).map(|v| format!("{v:?}")).collect();
    if values.len() > SHOWN {
        parts.push(format!("... {} more", values.len() - SHOWN));
    }
    format!("[{}]", parts.join(", "))
}

fn list_str(values: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut parts: Vec<String> = values.iter().take(SHOWN).map(|v| format!("{v:?}")).collect();
    if values.len() > SHOWN {
        parts.push(format!("... {} more", values.len() - SHOWN));
    }
    format!("[{}]", parts.join(", "))
}
