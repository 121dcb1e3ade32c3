//! Dead-output elimination: drops every node that no output depends on. Every entry of
//! `Graph::outputs` is a root, whatever its role: outputs, checks and watched features.
//!
//! Inputs stay declared (clients still send them); only their nodes go.

use super::Rebuild;
use crate::ir::Graph;

pub fn dce(graph: &Graph) -> Graph {
    let mut live = vec![false; graph.nodes().len()];
    for output in graph.outputs() {
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
        let before =
            graph_from("pipeline p { input { a: f32 b: f32 } features { unused = exp(b) } output { y = a * 2 } }");
        let after = dce(&before);
        assert!(before.nodes().len() > after.nodes().len());
        assert!(!ir_text(&after).contains("exp"), "{}", ir_text(&after));
        assert_eq!(after.inputs.len(), 2, "inputs stay declared");
        assert_equivalent(&before, &after);
    }

    #[test]
    fn keeps_checks_and_watched_features() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/titanic");
        let before = graph_in(&std::fs::read_to_string(dir.join("titanic_ops.pipe")).unwrap(), &dir);
        let after = crate::passes::optimise(&before, &[]);
        let roles = |g: &Graph| g.outputs().iter().map(|o| (o.name.clone(), o.role)).collect::<Vec<_>>();
        assert_eq!(roles(&before), roles(&after));
        assert!(after.outputs().iter().any(|o| o.role == crate::ir::OutputRole::Check));
        assert!(after.outputs().iter().any(|o| o.role == crate::ir::OutputRole::Watch));
        assert_eq!(before.monitor, after.monitor);
        assert_eq!(before.identity, after.identity);
        assert_equivalent(&before, &after);
    }
}
