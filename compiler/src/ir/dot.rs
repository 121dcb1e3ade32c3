//! The IR as a Graphviz digraph, for `pipec explain --dot`.

use super::Graph;
use super::display::describe;
use std::fmt::Write;

/// Renders the graph in the DOT language: one box per node, one edge per operand, and a
/// double octagon per output.
pub fn render_dot(graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {:?} {{", graph.name);
    let _ = writeln!(out, "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];");
    for id in graph.ids() {
        let node = graph.node(id);
        let mut label = format!("{id}: {}\\n{}", node.ty, escape(&describe(graph, &node.op)));
        if let Some(name) = graph.label(id) {
            label = format!("{}\\n{label}", escape(name));
        }
        let _ = writeln!(out, "  n{} [label=\"{label}\"];", id.0);
        for operand in node.op.operands() {
            let _ = writeln!(out, "  n{} -> n{};", operand.0, id.0);
        }
    }
    for (i, output) in graph.outputs().iter().enumerate() {
        let shape = match output.role {
            super::OutputRole::Output => "doubleoctagon",
            super::OutputRole::Check => "octagon",
            super::OutputRole::Watch => "note",
        };
        let _ = writeln!(out, "  out{i} [label=\"{}\", shape={shape}];", escape(&output.name));
        let _ = writeln!(out, "  n{} -> out{i};", output.node.0);
    }
    out.push_str("}\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
