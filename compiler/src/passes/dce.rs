//! Dead-output elimination: drops every node that no output depends on.
//!
//! Inputs stay declared (clients still send them); only their nodes go.

use super::Rebuild;
use crate::ir::Graph;

pub fn dce(graph: &Graph) -> Graph {
    let mut live = vec![false; graph.nodes.len()];
    for output in &graph.outputs {
        live[output.node.index()] = true;
    }
    for id in graph.ids().rev() {
        if live[id.index()] {
            for operand in graph.node(id).op.operands() {
                live[operand.index()] = true;
            }
        }
    }
    let mut rebuild = Rebuild::new(graph);
    for id in graph.ids() {
        if live[id.index()] {
            rebuild.copy(id);
        } else {
            rebuild.drop_node();
        }
    }
    rebuild.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_util::*;

    #[test]
    fn drops_unused_feature_and_keeps_outputs_equal() {
        let before = graph_from(
            "pipeline p { input { a: f32 b: f32 } features { unused = exp(b) } output { y = a * 2 } }",
        );
        let after = dce(&before);
        assert!(before.nodes.len() > after.nodes.len());
        assert!(!ir_text(&after).contains("exp"), "{}", ir_text(&after));
        assert_eq!(after.inputs.len(), 2, "inputs stay declared");
        assert_equivalent(&before, &after);
    }
}
