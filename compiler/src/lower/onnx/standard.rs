//! The standard (`ai.onnx`) operators: what a PyTorch MLP export and a skl2onnx pipeline use
//! around their models. Each is rewritten into IR ops over the row; anything that would mix
//! rows (an axis 0 op, a reshape of the batch) is refused.

use super::translate::{Operand, Translator, Value, unsupported};
use crate::ir::{BinaryFn, Matrix, Op, Ty, UnaryFn};
use onnx_ir::node::clip::ClipInput;
use onnx_ir::node::reshape::ReshapeInput;
use onnx_ir::node::squeeze::SqueezeInput;
use onnx_ir::node::unsqueeze::UnsqueezeConfig;
use onnx_ir::{DType, Node};

/// Translates `node` if it is a standard operator pipec knows; `Ok(false)` otherwise.
pub(super) fn translate(t: &mut Translator, node: &Node) -> Result<bool, String> {
    match node {
        Node::Identity(_) | Node::Dropout(_) => t.pass_through(node)?,
        Node::Cast(n) => cast(t, node, n.config.to)?,
        Node::Linear(n) => {
            let x = t.value(node, 0)?;
            let w = t.constant(node, 1)?;
            let bias = t.operand(node, 2)?;
            dense(t, node, &x, &w, n.config.transpose_weight, 1.0, bias, 1.0)?;
        }
        Node::Gemm(n) => {
            if n.config.trans_a != 0 {
                return Err(unsupported("transA = 1 would transpose the batch"));
            }
            let x = t.value(node, 0)?;
            let w = t.constant(node, 1)?;
            let bias = t.operand(node, 2)?;
            dense(t, node, &x, &w, n.config.trans_b != 0, n.config.alpha, bias, n.config.beta)?;
        }
        Node::MatMul(_) => {
            let x = t.value(node, 0)?;
            let w = t.constant(node, 1)?;
            dense(t, node, &x, &w, false, 1.0, None, 1.0)?;
        }
        Node::Add(_) => arithmetic(t, node, BinaryFn::Add)?,
        Node::Sub(_) => arithmetic(t, node, BinaryFn::Sub)?,
        Node::Mul(_) => arithmetic(t, node, BinaryFn::Mul)?,
        Node::Div(_) => arithmetic(t, node, BinaryFn::Div)?,
        Node::Max(_) => fold(t, node, BinaryFn::Max)?,
        Node::Min(_) => fold(t, node, BinaryFn::Min)?,
        Node::Sum(_) => fold(t, node, BinaryFn::Add)?,
        Node::Relu(_) => unary(t, node, UnaryFn::Relu)?,
        Node::Sigmoid(_) => unary(t, node, UnaryFn::Sigmoid)?,
        Node::Tanh(_) => unary(t, node, UnaryFn::Tanh)?,
        Node::Exp(_) => unary(t, node, UnaryFn::Exp)?,
        Node::Log(_) => unary(t, node, UnaryFn::Log)?,
        Node::Abs(_) => unary(t, node, UnaryFn::Abs)?,
        Node::Neg(_) => unary(t, node, UnaryFn::Neg)?,
        Node::Sqrt(_) => unary(t, node, UnaryFn::Sqrt)?,
        Node::Softmax(n) => {
            let x = softmax_operand(t, node, n.config.axis)?;
            let s = t.softmax(&x);
            t.set(node, 0, s)?;
        }
        Node::LogSoftmax(n) => {
            let x = softmax_operand(t, node, n.config.axis)?;
            let s = t.softmax(&x);
            let l = t.unary(UnaryFn::Log, &s);
            t.set(node, 0, l)?;
        }
        Node::LeakyRelu(n) => {
            let x = t.value(node, 0)?;
            let negative = t.binary_const(BinaryFn::Lt, &x, vec![0.0])?;
            let scaled = t.binary_const(BinaryFn::Mul, &x, vec![n.config.alpha as f32])?;
            let id = t.push(Op::Where { cond: negative.id, a: scaled.id, b: x.id }, Ty::F32(x.width()));
            t.set(node, 0, Value { id, dims: x.dims })?;
        }
        Node::Clip(n) => {
            let mut x = t.value(node, 0)?;
            for (bound, op) in [(&n.config.min, BinaryFn::Max), (&n.config.max, BinaryFn::Min)] {
                let value = match bound {
                    None => continue,
                    Some(ClipInput::Static(v)) => *v as f32,
                    Some(ClipInput::Runtime(r)) => match t.operand(node, r.input_index)? {
                        Some(Operand::Const(c)) if c.values.len() == 1 => c.values[0] as f32,
                        None => continue,
                        _ => return Err(unsupported("a bound computed per row")),
                    },
                };
                x = t.binary_const(op, &x, vec![value])?;
            }
            t.set(node, 0, x)?;
        }
        Node::Concat(n) => concat(t, node, n.config.axis)?,
        Node::Gather(n) => gather(t, node, n.config.axis)?,
        Node::Reshape(n) => {
            let shape = match &n.config.shape {
                ReshapeInput::Static(s) => s.clone(),
                ReshapeInput::Runtime(r) => t.constant(node, r.input_index)?.values.iter().map(|v| *v as i64).collect(),
            };
            let x = t.value(node, 0)?;
            let dims = reshape(&x.dims, &shape)?;
            t.set(node, 0, Value { id: x.id, dims })?;
        }
        Node::Flatten(n) => {
            let x = t.value(node, 0)?;
            let axis = n.config.axis;
            if axis == 0 || x.dims.iter().take(axis - 1).any(|d| *d != 1) {
                return Err(unsupported(&format!("flattening from axis {axis} would merge rows")));
            }
            let width = x.width();
            t.set(node, 0, Value { id: x.id, dims: vec![width] })?;
        }
        Node::Squeeze(n) => {
            let x = t.value(node, 0)?;
            let dims = match &n.config.axes {
                None => x.dims.iter().copied().filter(|d| *d != 1).collect(),
                Some(SqueezeInput::Static(axes)) => squeeze(&x.dims, axes)?,
                Some(SqueezeInput::Runtime(r)) => {
                    let axes: Vec<i64> = t.constant(node, r.input_index)?.values.iter().map(|v| *v as i64).collect();
                    squeeze(&x.dims, &axes)?
                }
            };
            t.set(node, 0, Value { id: x.id, dims })?;
        }
        Node::Unsqueeze(n) => {
            let x = t.value(node, 0)?;
            let axes: Vec<i64> = match &n.config {
                UnsqueezeConfig::Static(axes) => axes.clone(),
                UnsqueezeConfig::Runtime(r) => {
                    t.constant(node, r.input_index)?.values.iter().map(|v| *v as i64).collect()
                }
            };
            let dims = unsqueeze(&x.dims, &axes)?;
            t.set(node, 0, Value { id: x.id, dims })?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn unary(t: &mut Translator, node: &Node, op: UnaryFn) -> Result<(), String> {
    let x = t.value(node, 0)?;
    let y = t.unary(op, &x);
    t.set(node, 0, y)
}

fn arithmetic(t: &mut Translator, node: &Node, op: BinaryFn) -> Result<(), String> {
    let a = t.operand(node, 0)?.ok_or("input 0 is missing")?;
    let b = t.operand(node, 1)?.ok_or("input 1 is missing")?;
    let y = t.binary(op, a, b)?;
    t.set(node, 0, y)
}

/// A variadic elementwise op (Max, Min, Sum) as a chain of binary ones.
fn fold(t: &mut Translator, node: &Node, op: BinaryFn) -> Result<(), String> {
    let mut acc = match t.operand(node, 0)?.ok_or("has no inputs")? {
        Operand::Value(v) => v,
        Operand::Const(_) => return Err(unsupported("its first input is a constant")),
    };
    for i in 1..node.inputs().len() {
        let b = t.operand(node, i)?.ok_or("an input is missing")?;
        acc = t.binary(op, Operand::Value(acc), b)?;
    }
    t.set(node, 0, acc)
}

fn cast(t: &mut Translator, node: &Node, to: DType) -> Result<(), String> {
    let x = t.value(node, 0)?;
    let is_bool = matches!(t.ty(x.id), Ty::Bool(_));
    let y = match to {
        DType::Bool(_) if is_bool => x,
        DType::Bool(_) => t.binary_const(BinaryFn::Ne, &x, vec![0.0])?,
        _ if is_bool => t.bool_to_f32(&x),
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 | DType::Flex32 => x,
        // Integers: C's conversion, toward zero (the pipeline keeps them as f32 values).
        _ => t.unary(UnaryFn::Trunc, &x),
    };
    t.set(node, 0, y)
}

/// `x · (alpha W) + beta C`, with `W` `[in, out]` (or `[out, in]` when `transposed`).
#[allow(clippy::too_many_arguments)]
fn dense(
    t: &mut Translator,
    node: &Node,
    x: &Value,
    w: &super::translate::Constant,
    transposed: bool,
    alpha: f32,
    bias: Option<Operand>,
    beta: f32,
) -> Result<(), String> {
    let [a, b] = w.shape[..] else {
        return Err(unsupported(&format!("a weight of shape {:?} (pipec takes a matrix)", w.shape)));
    };
    let (rows, cols) = if transposed { (b, a) } else { (a, b) };
    if rows != x.width() as usize || x.dims.len() > 1 {
        return Err(format!("the weight takes rows of {rows} values but the input's are {:?}", x.dims));
    }
    let mut data = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            let v = if transposed { w.values[c * rows + r] } else { w.values[r * cols + c] };
            data[r * cols + c] = (v * f64::from(alpha)) as f32;
        }
    }
    let bias = match bias {
        None => vec![0.0f32; cols],
        Some(Operand::Const(c)) if c.values.len() == 1 => vec![(c.values[0] * f64::from(beta)) as f32; cols],
        Some(Operand::Const(c)) if c.values.len() == cols => {
            c.values.iter().map(|v| (v * f64::from(beta)) as f32).collect()
        }
        Some(Operand::Const(c)) => return Err(format!("a bias of shape {:?} for {cols} outputs", c.shape)),
        Some(Operand::Value(_)) => return Err(unsupported("a bias computed per row")),
    };
    let weight = Matrix { rows: rows as u32, cols: cols as u32, data };
    let id = t.push(Op::Dense { x: x.id, weight, bias }, Ty::F32(cols as u32));
    t.set(node, 0, Value { id, dims: vec![cols as u32] })
}

/// The operand of a softmax over `axis`, which must be the row's only non-unit axis.
fn softmax_operand(t: &mut Translator, node: &Node, axis: usize) -> Result<Value, String> {
    let x = t.value(node, 0)?;
    let last = x.dims.len();
    let leading: u32 = x.dims.iter().take(last.saturating_sub(1)).product();
    if axis != last || last == 0 || leading != 1 {
        return Err(unsupported(&format!("a softmax over axis {axis} of rows shaped {:?}", x.dims)));
    }
    Ok(x)
}

fn concat(t: &mut Translator, node: &Node, axis: usize) -> Result<(), String> {
    let mut parts = Vec::new();
    let mut last = 0u32;
    let mut leading: Option<Vec<u32>> = None;
    for i in 0..node.inputs().len() {
        let v = match t.operand(node, i)?.ok_or("an input is missing")? {
            Operand::Value(v) => v,
            Operand::Const(c) => {
                let dims: Vec<u32> = c.shape.iter().skip(1).map(|d| *d as u32).collect();
                if c.shape.first() != Some(&1) {
                    return Err(unsupported("a constant that is not one row"));
                }
                let id = t.const_row(c.f32s());
                Value { id, dims }
            }
        };
        if axis != v.dims.len() || v.dims.is_empty() {
            return Err(unsupported(&format!("concatenating along axis {axis} of rows shaped {:?}", v.dims)));
        }
        let (head, tail) = v.dims.split_at(v.dims.len() - 1);
        if head.iter().any(|d| *d != 1) || leading.as_deref().is_some_and(|l| l != head) {
            return Err(unsupported(&format!("concatenating rows shaped {:?}", v.dims)));
        }
        leading = Some(head.to_vec());
        last += tail[0];
        parts.push(v.id);
    }
    let mut dims = leading.unwrap_or_default();
    dims.push(last);
    let id = match parts.as_slice() {
        [one] => *one,
        _ => t.push(Op::Concat { parts }, Ty::F32(last)),
    };
    t.set(node, 0, Value { id, dims })
}

/// Gather along a row axis with constant indices: column selection.
fn gather(t: &mut Translator, node: &Node, axis: usize) -> Result<(), String> {
    let x = t.value(node, 0)?;
    let indices = t.constant(node, 1)?;
    if axis != 1 || x.dims.len() != 1 {
        return Err(unsupported(&format!("gathering along axis {axis} of rows shaped {:?}", x.dims)));
    }
    if indices.shape.len() > 1 {
        return Err(unsupported(&format!("indices of shape {:?}", indices.shape)));
    }
    let list: Vec<i64> = indices.values.iter().map(|v| *v as i64).collect();
    let mut y = t.select(&x, &list)?;
    if indices.shape.is_empty() {
        y.dims = Vec::new();
    }
    t.set(node, 0, y)
}

/// The row shape after reshaping `[N, dims..]` to `shape` (whose first entry must keep the
/// batch: -1 or 0).
fn reshape(dims: &[u32], shape: &[i64]) -> Result<Vec<u32>, String> {
    let width: u64 = dims.iter().map(|d| u64::from(*d)).product();
    let Some((&first, rest)) = shape.split_first() else {
        return Err(unsupported("a reshape to a scalar"));
    };
    if first != -1 && first != 0 {
        return Err(unsupported(&format!("a reshape to {shape:?}, which fixes the batch size")));
    }
    let mut out = Vec::with_capacity(rest.len());
    let mut infer = None;
    for (i, &s) in rest.iter().enumerate() {
        match s {
            0 => out.push(
                *dims.get(i).ok_or_else(|| format!("a reshape to {shape:?} copies a dimension the input lacks"))?,
            ),
            -1 if infer.is_none() && first == 0 => {
                infer = Some(i);
                out.push(1);
            }
            s if s > 0 && s <= i64::from(u32::MAX) => out.push(s as u32),
            _ => return Err(unsupported(&format!("a reshape to {shape:?}"))),
        }
    }
    let known: u64 = out.iter().map(|d| u64::from(*d)).product();
    if let Some(i) = infer {
        if known == 0 || !width.is_multiple_of(known) {
            return Err(format!("cannot reshape rows of {width} values to {shape:?}"));
        }
        out[i] = (width / known) as u32;
    } else if known != width {
        return Err(format!("cannot reshape rows of {width} values to {shape:?}"));
    }
    Ok(out)
}

fn row_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    if axis <= 0 || axis as usize >= rank {
        return Err(unsupported(&format!("axis {axis} (the batch, or outside the tensor)")));
    }
    Ok(axis as usize - 1)
}

fn squeeze(dims: &[u32], axes: &[i64]) -> Result<Vec<u32>, String> {
    let mut drop = Vec::new();
    for &a in axes {
        let i = row_axis(a, dims.len() + 1)?;
        if dims[i] != 1 {
            return Err(format!("squeezes axis {a}, which has {} values", dims[i]));
        }
        drop.push(i);
    }
    Ok(dims.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, d)| *d).collect())
}

fn unsqueeze(dims: &[u32], axes: &[i64]) -> Result<Vec<u32>, String> {
    let rank = dims.len() + 1 + axes.len();
    let mut positions = Vec::new();
    for &a in axes {
        positions.push(row_axis(a, rank)?);
    }
    let mut out = Vec::with_capacity(rank - 1);
    let mut source = dims.iter();
    for i in 0..rank - 1 {
        if positions.contains(&i) {
            out.push(1);
        } else {
            out.push(*source.next().ok_or("unsqueeze axes out of range")?);
        }
    }
    Ok(out)
}
