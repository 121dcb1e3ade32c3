//! Common-subexpression elimination: identical ops over identical operands become one node.

use super::Rebuild;
use crate::ir::Graph;
use std::collections::HashMap;

pub fn cse(graph: &Graph) -> Graph {
    let mut rebuild = Rebuild::new(graph);
    // Keyed by the op's full Debug text (operands already remapped, constants by value) and
    // its type: exact, and cheap enough for pipelines of this size.
    let mut seen: HashMap<String, crate::ir::NodeId> = HashMap::new();
    for id in graph.ids() {
        let op = rebuild.remapped(id);
        let key = format!("{:?}|{:?}", graph.ty(id), op);
        match seen.get(&key) {
            Some(&existing) => rebuild.set(existing),
            None => {
                let new = rebuild.push(op, graph.ty(id), graph.span(id));
                rebuild.set(new);
                seen.insert(key, new);
            }
        }
    }
    rebuild.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_util::*;

    #[test]
    fn merges_repeated_expression() {
        let before = graph_from(
            "pipeline p { input { a: f32 } features { u = log1p(a) * 2 v = log1p(a) * 2 } output { y = u + v } }",
        );
        let after = cse(&before);
        assert_eq!(count_ops(&before, "log1p"), 2);
        assert_eq!(count_ops(&after, "log1p"), 1, "{}", ir_text(&after));
        assert_equivalent(&before, &after);
    }
}
