//! Folds affine feature transforms (standardize, min_max, scaling) into the dense layer that
//! reads them: `dense(x * s + t, W, b)` is `dense(x, diag(s) W, b + t W)`.
//!
//! The dense input may be a concatenation: each affine part folds into its own block of rows
//! of `W`. The bias correction is accumulated in f64.

use super::Rebuild;
use crate::ir::{Graph, Matrix, NodeId, Op, Ty};

pub fn affine_fold(graph: &Graph) -> Graph {
    let mut rebuild = Rebuild::new(graph);
    for id in graph.ids() {
        let op = rebuild.remapped(id);
        let Op::Dense { x, weight, bias } = &op else {
            rebuild.copy(id);
            continue;
        };
        let new = &rebuild.new;
        let parts = dense_input_parts(new, *x);
        if !parts.iter().any(|p| matches!(new.node(*p).op, Op::Affine { .. })) {
            rebuild.copy(id);
            continue;
        }
        let mut weight = weight.clone();
        let mut bias: Vec<f64> = bias.iter().map(|b| f64::from(*b)).collect();
        let mut inner_parts = Vec::with_capacity(parts.len());
        let mut row = 0u32;
        for part in &parts {
            let width = new.ty(*part).width();
            if let Op::Affine { x: inner, scale, shift } = &new.node(*part).op {
                for k in 0..width {
                    fold_row(&mut weight, &mut bias, row + k, scale[k as usize], shift[k as usize]);
                }
                inner_parts.push(*inner);
            } else {
                inner_parts.push(*part);
            }
            row += width;
        }
        let span = graph.spans[id.index()];
        let input = if inner_parts.len() == 1 {
            inner_parts[0]
        } else {
            rebuild.push(Op::Concat { parts: inner_parts }, Ty::F32(weight.rows), span)
        };
        let bias = bias.iter().map(|b| *b as f32).collect();
        let new_id = rebuild.push(Op::Dense { x: input, weight, bias }, graph.ty(id), span);
        rebuild.set(new_id);
    }
    rebuild.finish()
}

/// The parts of a dense layer's input: the concatenated parts, or the input itself.
pub(super) fn dense_input_parts(graph: &Graph, x: NodeId) -> Vec<NodeId> {
    match &graph.node(x).op {
        Op::Concat { parts } => parts.clone(),
        _ => vec![x],
    }
}

/// Row `row` of `weight` reads `x * scale + shift`: fold both into the row and the bias.
fn fold_row(weight: &mut Matrix, bias: &mut [f64], row: u32, scale: f32, shift: f32) {
    for col in 0..weight.cols {
        let at = (row * weight.cols + col) as usize;
        let w = weight.data[at];
        bias[col as usize] += f64::from(shift) * f64::from(w);
        weight.data[at] = (f64::from(w) * f64::from(scale)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_util::*;

    #[test]
    fn folds_standardize_inside_concat_into_dense() {
        let dir = TestDir::new();
        dir.linear("m.safetensors", 3, 2);
        let before = dir.graph(
            "pipeline p { input { a: f32 b: f32 c: f32 }
               features { s = standardize([a, b], mean: [1.5, -2], std: [2, 0.5]) x = concat(s, c) }
               models { m = linear(\"m.safetensors\") }
               output { y = m(x) } }",
        );
        let after = crate::passes::dce(&affine_fold(&crate::passes::const_fold(&before)));
        assert_eq!(count_ops(&before, "affine"), 1);
        assert_eq!(count_ops(&after, "affine"), 0, "{}", ir_text(&after));
        assert_eq!(count_ops(&after, "dense"), 1);
        // A 3-input, 2-output layer (stored `[out, in]` = 2x3 in the file) says so.
        assert!(ir_text(&after).contains("in=3 out=2"), "{}", ir_text(&after));
        assert_equivalent(&before, &after);
    }
}
