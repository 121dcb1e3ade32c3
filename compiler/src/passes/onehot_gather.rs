//! One-hot into a dense layer becomes a row gather: `dense(one_hot(i), W)` is row `i` of `W`.
//!
//! When the one-hot vectors are parts of a concatenation, their blocks of rows of `W` become
//! gather tables and the dense layer keeps only the other parts:
//! `dense(concat(x, one_hot(i)), W, b) = dense(x, W_x, b) + gather(i, W_i)`.
//! An unknown category gathers zeros, as its all-zero one-hot row multiplied out would.

use super::Rebuild;
use super::affine_fold::dense_input_parts;
use crate::ir::{BinaryFn, Graph, Matrix, Op, Ty};

pub fn onehot_gather(graph: &Graph) -> Graph {
    let mut rebuild = Rebuild::new(graph);
    for id in graph.ids() {
        let op = rebuild.remapped(id);
        let Op::Dense { x, weight, bias } = &op else {
            rebuild.copy(id);
            continue;
        };
        let new = &rebuild.new;
        let parts = dense_input_parts(new, *x);
        if !parts.iter().any(|p| matches!(new.node(*p).op, Op::OneHot { .. })) {
            rebuild.copy(id);
            continue;
        }
        let mut rest_parts = Vec::new();
        let mut rest_rows: Vec<u32> = Vec::new();
        let mut gathers = Vec::new();
        let mut row = 0u32;
        for part in &parts {
            let width = new.ty(*part).width();
            match &new.node(*part).op {
                Op::OneHot { index } => gathers.push((*index, rows_of(weight, row, width))),
                _ => {
                    rest_parts.push(*part);
                    rest_rows.extend(row..row + width);
                }
            }
            row += width;
        }
        let span = graph.span(id);
        let out_ty = graph.ty(id);
        let mut acc = if rest_parts.is_empty() {
            rebuild.push(Op::Const { values: bias.clone() }, out_ty, span)
        } else {
            let rest_width = rest_rows.len() as u32;
            let input = if rest_parts.len() == 1 {
                rest_parts[0]
            } else {
                rebuild.push(Op::Concat { parts: rest_parts }, Ty::F32(rest_width), span)
            };
            let rest_weight = select_rows(weight, &rest_rows);
            rebuild.push(Op::Dense { x: input, weight: rest_weight, bias: bias.clone() }, out_ty, span)
        };
        for (index, table) in gathers {
            let gathered = rebuild.push(Op::Gather { index, table }, out_ty, span);
            acc = rebuild.push(Op::Binary { op: BinaryFn::Add, a: acc, b: gathered }, out_ty, span);
        }
        rebuild.set(acc);
    }
    rebuild.finish()
}

fn rows_of(weight: &Matrix, start: u32, count: u32) -> Matrix {
    select_rows(weight, &(start..start + count).collect::<Vec<_>>())
}

fn select_rows(weight: &Matrix, rows: &[u32]) -> Matrix {
    let mut data = Vec::with_capacity(rows.len() * weight.cols as usize);
    for r in rows {
        let start = (r * weight.cols) as usize;
        data.extend_from_slice(&weight.data[start..start + weight.cols as usize]);
    }
    Matrix { rows: rows.len() as u32, cols: weight.cols, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_util::*;

    #[test]
    fn one_hot_parts_become_gathers() {
        let dir = TestDir::new();
        dir.linear("m.safetensors", 5, 2);
        let before = dir.graph(
            "pipeline p { input { a: f32 s: str t: str? }
               features { x = concat(a, one_hot(s, vocab: [\"u\", \"v\"]), hash_bucket(t, buckets: 2)) }
               models { m = linear(\"m.safetensors\") }
               output { y = m(x) } }",
        );
        let after = crate::passes::dce(&onehot_gather(&before));
        assert_eq!(count_ops(&after, "one_hot"), 0, "{}", ir_text(&after));
        assert_eq!(count_ops(&after, "gather"), 2, "{}", ir_text(&after));
        assert_eq!(count_ops(&after, "dense"), 1);
        assert_equivalent(&before, &after);
    }

    #[test]
    fn all_one_hot_input_needs_no_dense() {
        let dir = TestDir::new();
        dir.linear("m.safetensors", 2, 3);
        let before = dir.graph(
            "pipeline p { input { s: str } models { m = linear(\"m.safetensors\") }
               output { y = m(one_hot(s, vocab: [\"u\", \"v\"])) } }",
        );
        let after = crate::passes::dce(&onehot_gather(&before));
        assert_eq!(count_ops(&after, "dense"), 0, "{}", ir_text(&after));
        assert_equivalent(&before, &after);
    }
}
