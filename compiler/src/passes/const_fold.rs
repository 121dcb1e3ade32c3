//! Constant folding and simplification.
//!
//! - an op whose operands are all constants becomes the constant it computes (through the
//!   interpreter, so the folded value is exactly what the op would give);
//! - a concatenation inside a concatenation is flattened, a concatenation of one part is
//!   that part, and a slice of the whole vector is the vector;
//! - an affine transform with scale 1 and shift 0 is its input.

use super::Rebuild;
use crate::interp::eval_op;
use crate::ir::{Graph, NodeId, Op};

pub fn const_fold(graph: &Graph) -> Graph {
    let mut rebuild = Rebuild::new(graph);
    for id in graph.ids() {
        let op = rebuild.remapped(id);
        let ty = graph.ty(id);
        let span = graph.span(id);
        let new = &rebuild.new;
        let folded: Option<NodeId> = match &op {
            Op::Input { .. } | Op::Category { .. } | Op::Const { .. } => None,
            _ if op.operands().iter().all(|o| new.const_values(*o).is_some()) => {
                let values = eval_op(&op, ty, |o| (new.const_values(o).unwrap_or(&[]), new.ty(o).width() as usize), 1);
                Some(rebuild.push(Op::Const { values }, ty, span))
            }
            Op::Concat { parts } => {
                let mut flat = Vec::with_capacity(parts.len());
                for part in parts {
                    match &new.node(*part).op {
                        Op::Concat { parts: inner } => flat.extend_from_slice(inner),
                        _ => flat.push(*part),
                    }
                }
                if flat.len() == 1 {
                    Some(flat[0])
                } else if flat != *parts {
                    Some(rebuild.push(Op::Concat { parts: flat }, ty, span))
                } else {
                    None
                }
            }
            Op::Slice { x, start: 0, len } if new.ty(*x).width() == *len => Some(*x),
            Op::Affine { x, scale, shift } if scale.iter().all(|s| *s == 1.0) && shift.iter().all(|s| *s == 0.0) => {
                Some(*x)
            }
            _ => None,
        };
        match folded {
            Some(new_id) => rebuild.set(new_id),
            None => {
                let new_id = rebuild.push(op, ty, span);
                rebuild.set(new_id);
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
    fn folds_constant_arithmetic_and_flattens_concat() {
        let before = graph_from(
            "pipeline p { input { a: f32 b: f32 } features { k = exp(0.0) * 3 + 1 v = concat([a, b], [k]) } output { y = v * k } }",
        );
        let after = const_fold(&before);
        let text = ir_text(&after);
        assert!(text.contains("const [4.0]"), "{text}");
        assert_eq!(count_ops(&after, "exp"), 0, "{text}");
        // concat([a, b], [k]) became one flat concat of a, b and the constant.
        assert!(
            after.nodes().iter().all(|n| match &n.op {
                Op::Concat { parts } => parts.iter().all(|p| !matches!(after.node(*p).op, Op::Concat { .. })),
                _ => true,
            }),
            "{text}"
        );
        assert_equivalent(&before, &after);
    }
}
