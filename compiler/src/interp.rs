//! The reference interpreter of the IR, row by row in f32.
//!
//! It defines what each [`Op`] computes; the passes are tested against it (a pass must not
//! change what a graph computes beyond f32 rounding), constant folding uses it, and the
//! generated burn code is tested against the same scikit-learn references it is.

use crate::ir::{BinaryFn, CategoryMap, Graph, NodeId, Op, Ty, UnaryFn, combine_lanes, dense_lanes};
use pipec_interface::CategoryLookup;

/// One input column of a batch, in the order of [`Graph::inputs`]: the runtime's own type
/// (`pipec-interface`), so the interpreter and generated code read the same values.
pub use pipec_interface::Column;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("the batch has {got} columns, the pipeline {expected} inputs")]
    ColumnCount { expected: usize, got: usize },
    #[error("input `{name}` does not have the expected kind or length")]
    ColumnShape { name: String },
}

/// Evaluates every node over `rows` rows; the value of node `i` is `rows * width` f32
/// (booleans as 0/1, category indices as their number).
pub fn eval_nodes(graph: &Graph, columns: &[Column], rows: usize) -> Result<Vec<Vec<f32>>, EvalError> {
    if columns.len() != graph.inputs.len() {
        return Err(EvalError::ColumnCount { expected: graph.inputs.len(), got: columns.len() });
    }
    let mut values: Vec<Vec<f32>> = Vec::with_capacity(graph.nodes().len());
    for id in graph.ids() {
        let node = graph.node(id);
        let value = match &node.op {
            Op::Input { input } => input_value(graph, columns, *input, rows)?,
            Op::Category { input, map, missing } => {
                category_value(graph, columns, *input, map, missing.as_deref(), rows)?
            }
            op => eval_op(op, node.ty, |n: NodeId| (&values[n.index()][..], widths(graph, n)), rows),
        };
        values.push(value);
    }
    Ok(values)
}

/// Evaluates the outputs only: one `rows * width` vector per output, in declared order.
pub fn eval_outputs(graph: &Graph, columns: &[Column], rows: usize) -> Result<Vec<Vec<f32>>, EvalError> {
    let values = eval_nodes(graph, columns, rows)?;
    Ok(graph.outputs().iter().map(|o| values[o.node.index()].clone()).collect())
}

fn widths(graph: &Graph, id: NodeId) -> usize {
    graph.ty(id).width() as usize
}

fn input_value(graph: &Graph, columns: &[Column], input: u32, rows: usize) -> Result<Vec<f32>, EvalError> {
    let spec = &graph.inputs[input as usize];
    let expected = rows * spec.width;
    let bad = || EvalError::ColumnShape { name: spec.name.clone() };
    match &columns[input as usize] {
        Column::F32(v) if v.len() == expected => Ok(v.clone()),
        Column::Bool(v) if v.len() == expected => Ok(v.iter().map(|b| f32::from(u8::from(*b))).collect()),
        _ => Err(bad()),
    }
}

fn category_value(
    graph: &Graph,
    columns: &[Column],
    input: u32,
    map: &CategoryMap,
    missing: Option<&str>,
    rows: usize,
) -> Result<Vec<f32>, EvalError> {
    let spec = &graph.inputs[input as usize];
    match &columns[input as usize] {
        Column::Str(v) if v.len() == rows => {
            Ok(category_lookup(map).indices(v, missing).into_iter().map(|i| i as f32).collect())
        }
        _ => Err(EvalError::ColumnShape { name: spec.name.clone() }),
    }
}

/// The category index of a string: its vocabulary position or hash bucket; an unknown or
/// missing string gets `map.categories()`. The rule is the interface's
/// ([`CategoryLookup::index`]), which generated code calls through the runtime's
/// `CategoryTable`.
pub fn category_index(map: &CategoryMap, value: Option<&str>) -> u32 {
    category_lookup(map).index(value)
}

/// The IR's category map as the shared lookup, over the IR's own vocabulary.
fn category_lookup(map: &CategoryMap) -> CategoryLookup<&[String]> {
    match map {
        CategoryMap::Vocab(vocab) => CategoryLookup::Vocab(vocab.as_slice()),
        CategoryMap::Hash { buckets } => CategoryLookup::Hash { buckets: *buckets },
        CategoryMap::Presence => CategoryLookup::Presence,
    }
}

/// Evaluates one non-input op; `operand` gives an operand's values and width.
pub fn eval_op<'a>(op: &Op, ty: Ty, operand: impl Fn(NodeId) -> (&'a [f32], usize), rows: usize) -> Vec<f32> {
    let width = ty.width() as usize;
    // An operand's element (row r, column c), broadcasting width-1 operands and
    // one-row constants.
    let at = |id: NodeId, r: usize, c: usize| -> f32 {
        let (v, w) = operand(id);
        let r = if v.len() == w { 0 } else { r };
        let c = if w == 1 { 0 } else { c };
        v[r * w + c]
    };
    let mut out = Vec::with_capacity(rows * width);
    for r in 0..rows {
        match op {
            // Read from the batch by `eval_nodes`, never evaluated as plain ops.
            Op::Input { .. } | Op::Category { .. } => {}
            Op::Const { values } => out.extend_from_slice(values),
            Op::Unary { op, x } => (0..width).for_each(|c| out.push(unary(*op, at(*x, r, c)))),
            Op::Binary { op, a, b } => (0..width).for_each(|c| out.push(binary(*op, at(*a, r, c), at(*b, r, c)))),
            Op::Softmax { x } => {
                let row: Vec<f32> = (0..width).map(|c| at(*x, r, c)).collect();
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let exps: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
                let sum: f32 = exps.iter().sum();
                out.extend(exps.iter().map(|e| e / sum));
            }
            Op::Where { cond, a, b } => {
                (0..width).for_each(|c| out.push(if at(*cond, r, c) != 0.0 { at(*a, r, c) } else { at(*b, r, c) }))
            }
            Op::Concat { parts } => {
                for part in parts {
                    let w = operand(*part).1;
                    (0..w).for_each(|c| out.push(at(*part, r, c)));
                }
            }
            Op::Slice { x, start, len } => (*start..start + len).for_each(|c| out.push(at(*x, r, c as usize))),
            Op::Affine { x, scale, shift } => (0..width).for_each(|c| out.push(at(*x, r, c) * scale[c] + shift[c])),
            Op::Impute { x, value } => (0..width).for_each(|c| {
                let v = at(*x, r, c);
                out.push(if v.is_nan() { *value } else { v })
            }),
            Op::OneHot { index } => {
                let i = at(*index, r, 0) as usize;
                (0..width).for_each(|c| out.push(if c == i { 1.0 } else { 0.0 }))
            }
            Op::Gather { index, table } => {
                let i = at(*index, r, 0) as u32;
                (0..table.cols).for_each(|c| out.push(if i < table.rows { table.get(i, c) } else { 0.0 }))
            }
            Op::Dense { x, weight, bias } => {
                // The order `Op::Dense` documents: `lanes` partial sums, k ascending in each,
                // combined pairwise, then the bias.
                let input: Vec<f32> = (0..weight.rows as usize).map(|k| at(*x, r, k)).collect();
                let lanes = dense_lanes(weight.rows, weight.cols);
                let mut acc = vec![0.0f32; lanes];
                for j in 0..weight.cols {
                    acc.fill(0.0);
                    for (k, xk) in input.iter().enumerate() {
                        acc[k % lanes] += xk * weight.get(k as u32, j);
                    }
                    out.push(combine_lanes(&acc) + bias[j as usize]);
                }
            }
            Op::Bucketize { x, boundaries } => {
                let v = at(*x, r, 0);
                out.push(boundaries.iter().filter(|b| **b <= v).count() as f32);
            }
            Op::Trees { x, forest } => {
                let input: Vec<f32> = (0..forest.forest.features as usize).map(|k| at(*x, r, k)).collect();
                let mut margins = vec![0.0f32; width];
                forest.forest.predict_margins(&input, &mut margins);
                out.extend_from_slice(&margins);
            }
        }
    }
    out
}

fn unary(op: UnaryFn, x: f32) -> f32 {
    match op {
        UnaryFn::Neg => -x,
        UnaryFn::Log => x.ln(),
        UnaryFn::Log1p => x.ln_1p(),
        UnaryFn::Exp => x.exp(),
        UnaryFn::Sqrt => x.sqrt(),
        UnaryFn::Abs => x.abs(),
        UnaryFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        UnaryFn::Relu => x.max(0.0),
        UnaryFn::Tanh => x.tanh(),
        UnaryFn::Trunc => x.trunc(),
        UnaryFn::Not => bool_f32(x == 0.0),
        UnaryFn::IsMissing => bool_f32(x.is_nan()),
    }
}

fn binary(op: BinaryFn, a: f32, b: f32) -> f32 {
    match op {
        BinaryFn::Add => a + b,
        BinaryFn::Sub => a - b,
        BinaryFn::Mul => a * b,
        BinaryFn::Div => a / b,
        BinaryFn::Min => a.min(b),
        BinaryFn::Max => a.max(b),
        BinaryFn::Lt => bool_f32(a < b),
        BinaryFn::Le => bool_f32(a <= b),
        BinaryFn::Gt => bool_f32(a > b),
        BinaryFn::Ge => bool_f32(a >= b),
        BinaryFn::Eq => bool_f32(a == b),
        BinaryFn::Ne => bool_f32(a != b),
        BinaryFn::And => bool_f32(a != 0.0 && b != 0.0),
        BinaryFn::Or => bool_f32(a != 0.0 || b != 0.0),
    }
}

fn bool_f32(b: bool) -> f32 {
    if b { 1.0 } else { 0.0 }
}
