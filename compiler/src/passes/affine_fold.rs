//! Folds affine feature transforms (standardize, min_max, scaling) into the dense layer that
//! reads them: `dense(x * s + t, W, b)` is `dense(x, diag(s) W, b + t W)`.
//!
//! An affine transform is an `Affine` op, or a chain of elementwise `sub`, `add`, `mul` and
//! `div` by constants, as ONNX exports write a scaler (`Scaler`, or `(x - mean) / std`).
//!
//! The dense input may be a concatenation: each affine part folds into its own block of rows
//! of `W`. The bias correction is accumulated in f64.

use super::Rebuild;
use crate::ir::{BinaryFn, Graph, Matrix, NodeId, Op, Ty};

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
        let affine: Vec<Option<Affine>> = parts.iter().map(|p| affine_of(new, *p)).collect();
        if affine.iter().all(Option::is_none) {
            rebuild.copy(id);
            continue;
        }
        let mut weight = weight.clone();
        let mut bias: Vec<f64> = bias.iter().map(|b| f64::from(*b)).collect();
        let mut inner_parts = Vec::with_capacity(parts.len());
        let mut row = 0u32;
        for (part, affine) in parts.iter().zip(affine) {
            let width = new.ty(*part).width();
            if let Some(Affine { x: inner, scale, shift }) = affine {
                for k in 0..width {
                    fold_row(&mut weight, &mut bias, row + k, scale[k as usize] as f32, shift[k as usize] as f32);
                }
                inner_parts.push(inner);
            } else {
                inner_parts.push(*part);
            }
            row += width;
        }
        let span = graph.span(id);
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

/// `x * scale + shift` per element, the constants composed in f64.
struct Affine {
    x: NodeId,
    scale: Vec<f64>,
    shift: Vec<f64>,
}

/// `node` as an affine transform of another node, if it is one: an `Affine` op, or elementwise
/// arithmetic with a constant (on either side of `add` and `mul`, on the right of `sub` and
/// `div`) over a node that is itself affine or not.
fn affine_of(graph: &Graph, node: NodeId) -> Option<Affine> {
    let width = graph.ty(node).width() as usize;
    if !matches!(graph.ty(node), Ty::F32(_)) {
        return None;
    }
    match &graph.node(node).op {
        Op::Affine { x, scale, shift } => Some(Affine {
            x: *x,
            scale: scale.iter().map(|&v| f64::from(v)).collect(),
            shift: shift.iter().map(|&v| f64::from(v)).collect(),
        }),
        Op::Binary { op, a, b } => {
            let constant = |id: NodeId| match &graph.node(id).op {
                Op::Const { values } if values.len() == 1 || values.len() == width => Some(
                    (0..width).map(|k| f64::from(values[if values.len() == 1 { 0 } else { k }])).collect::<Vec<f64>>(),
                ),
                _ => None,
            };
            let (x, c) = match (op, constant(*a), constant(*b)) {
                (BinaryFn::Add | BinaryFn::Mul, Some(c), None) => (*b, c),
                (BinaryFn::Add | BinaryFn::Sub | BinaryFn::Mul | BinaryFn::Div, None, Some(c)) => (*a, c),
                _ => return None,
            };
            if graph.ty(x) != graph.ty(node) || (*op == BinaryFn::Div && c.contains(&0.0)) {
                return None;
            }
            let inner = affine_of(graph, x).unwrap_or(Affine { x, scale: vec![1.0; width], shift: vec![0.0; width] });
            let (mut scale, mut shift) = (inner.scale, inner.shift);
            for k in 0..width {
                match op {
                    BinaryFn::Add => shift[k] += c[k],
                    BinaryFn::Sub => shift[k] -= c[k],
                    BinaryFn::Mul => {
                        scale[k] *= c[k];
                        shift[k] *= c[k];
                    }
                    _ => {
                        scale[k] /= c[k];
                        shift[k] /= c[k];
                    }
                }
            }
            Some(Affine { x: inner.x, scale, shift })
        }
        _ => None,
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

    /// An ONNX scaler arrives as `(x - offset) * scale` or `(x - mean) / std` with constants.
    #[test]
    fn folds_constant_arithmetic_into_dense() {
        let dir = TestDir::new();
        dir.linear("m.safetensors", 3, 2);
        for features in ["s = (v - [1.5, -2, 0.5]) * [2, 0.5, 4]", "s = (v - [1.5, -2, 0.5]) / [2, 0.5, 4] + 1"] {
            let before = dir.graph(&format!(
                "pipeline p {{ input {{ v: f32[3] }}
                   features {{ {features} }}
                   models {{ m = linear(\"m.safetensors\") }}
                   output {{ y = m(s) }} }}"
            ));
            let after = crate::passes::dce(&affine_fold(&crate::passes::const_fold(&before)));
            for op in ["sub", "mul", "div", "add"] {
                assert_eq!(count_ops(&after, op), 0, "{features}: {}", ir_text(&after));
            }
            assert_eq!(count_ops(&after, "dense"), 1);
            assert_equivalent(&before, &after);
        }
    }
}
