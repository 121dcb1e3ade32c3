//! The translation of one ONNX graph output into IR ops: values, constants, broadcasting,
//! and the dispatch to the operator files.
//!
//! An ONNX tensor `[N, d1, .., dk]` is a batch of rows; its row is the IR value of width
//! `d1 * .. * dk` (rank 1, `[N]`, is width 1), and `Value::dims` keeps the row's shape for
//! the operators that care (Reshape, Concat, OneHotEncoder). Nothing crosses rows.

use super::names::NodeNames;
use crate::ir::{BinaryFn, Graph, NodeId, Op, Ty, UnaryFn};
use onnx_ir::{ArgType, Argument, Node, OnnxGraph, TensorDataExt};
use std::collections::{HashMap, HashSet};

/// Rows wider than this are refused (the pipeline's own limit on a vector).
const MAX_WIDTH: u64 = super::super::MAX_WIDTH as u64;

/// Why a graph could not be translated.
#[derive(Debug)]
pub(super) struct TranslateError {
    pub code: &'static str,
    pub message: String,
    pub note: String,
}

/// A value of the graph being translated: an IR node and the row's shape.
#[derive(Clone, Debug)]
pub(super) struct Value {
    pub id: NodeId,
    /// The shape of one row (the tensor's dims after the batch); empty for `[N]`.
    pub dims: Vec<u32>,
}

impl Value {
    pub fn width(&self) -> u32 {
        self.dims.iter().product()
    }
}

/// A constant input (an initializer or a folded constant), as f64 with its full shape.
#[derive(Clone, Debug)]
pub(super) struct Constant {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

impl Constant {
    pub fn f32s(&self) -> Vec<f32> {
        self.values.iter().map(|v| *v as f32).collect()
    }
}

/// A node's input: computed per row, or known when compiling.
pub(super) enum Operand {
    Value(Value),
    Const(Constant),
}

/// The translation of one output: a graph with one input (the model's) and its result.
pub(super) struct Translated {
    pub graph: Graph,
    pub output: NodeId,
}

impl Translated {
    /// Whether a NaN in the input can reach the output: every op passes NaN on except
    /// constants, tree ensembles (which route it) and a `Where` keyed on `is_missing` of the
    /// very value it replaces (an imputer).
    pub fn propagates_missing(&self) -> bool {
        let mut nan = vec![false; self.graph.nodes().len()];
        for (i, node) in self.graph.nodes().iter().enumerate() {
            nan[i] = match &node.op {
                Op::Input { .. } => true,
                Op::Const { .. } | Op::Trees { .. } => false,
                Op::Impute { .. } => false,
                Op::Unary { op: UnaryFn::IsMissing, .. } => false,
                Op::Where { cond, a, b } => {
                    let replaces =
                        matches!(self.graph.node(*cond).op, Op::Unary { op: UnaryFn::IsMissing, x } if x == *b);
                    if replaces { nan[a.index()] } else { nan[cond.index()] || nan[a.index()] || nan[b.index()] }
                }
                // A comparison with NaN is a boolean, not a NaN; what it selects is judged at the Where.
                Op::Binary { op, .. } if op.is_comparison() => false,
                op => op.operands().iter().any(|o| nan[o.index()]),
            };
        }
        nan[self.output.index()]
    }
}

pub(super) struct Translator {
    pub graph: Graph,
    values: HashMap<String, Value>,
}

/// The width of the model's input row, from its declared type.
pub(super) fn input_width(input: &Argument) -> Result<u32, String> {
    let ArgType::Tensor(t) = &input.ty else { return Err("is not a tensor".into()) };
    if !is_numeric(t.dtype) {
        return Err(format!("holds {:?} values; pipec gives a model f32 numbers", t.dtype));
    }
    let shape = t.static_shape.clone().unwrap_or_default();
    match (t.rank, shape.as_slice()) {
        (1, _) => Ok(1),
        (2, [_, Some(width)]) if *width >= 1 && (*width as u64) <= MAX_WIDTH => Ok(*width as u32),
        (2, _) => Err("has no fixed width (expected the shape [N, width])".into()),
        (rank, _) => Err(format!("has rank {rank}; expected [N, width]")),
    }
}

fn is_numeric(dtype: onnx_ir::DType) -> bool {
    use onnx_ir::DType::*;
    matches!(dtype, F32 | F64 | F16 | I64 | I32 | I16 | I8 | U8 | U16 | U32 | U64)
}

impl Translator {
    /// Translates everything output `output` depends on.
    pub fn translate(
        onnx: &OnnxGraph,
        names: &NodeNames,
        input: &Argument,
        input_width: u32,
        output: &str,
    ) -> Result<Translated, TranslateError> {
        let mut graph = Graph::default();
        graph.inputs.push(super::fragment_input(input_width));
        let mut t = Translator { graph, values: HashMap::new() };
        let id = t.push(Op::Input { input: 0 }, Ty::F32(input_width));
        let input_rank = match &input.ty {
            ArgType::Tensor(tt) => tt.rank,
            _ => 2,
        };
        let dims = if input_rank == 1 { Vec::new() } else { vec![input_width] };
        t.values.insert(input.name.clone(), Value { id, dims });

        let producer: HashMap<&str, usize> = onnx
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.outputs().iter().map(move |o| (o.name.as_str(), i)))
            .collect();
        let needed = needed_nodes(onnx, &producer, output);
        let ordinals = ordinals(onnx);
        for (i, node) in onnx.nodes.iter().enumerate() {
            if !needed.contains(&i) || matches!(node, Node::Constant(_)) {
                continue;
            }
            t.node(node).map_err(|message| {
                let op = op_name(node);
                TranslateError {
                    code: if message.starts_with(UNSUPPORTED) { "E0304" } else { "E0302" },
                    message: format!("{op} node {}: {}", names.describe(node, &op, ordinals[i]), message.trim_start_matches(UNSUPPORTED)),
                    note: "pipec translates the standard operators an MLP export and a skl2onnx pipeline use, and the ONNX-ML \
                           operators Scaler, Imputer, Normalizer, OneHotEncoder, LabelEncoder, ArrayFeatureExtractor, \
                           LinearClassifier, LinearRegressor and the tree ensembles (docs/language.md, ONNX models)"
                        .into(),
                }
            })?;
        }
        let out = t.values.get(output).cloned().ok_or_else(|| match producer.get(output) {
            Some(&i) => {
                let node = &onnx.nodes[i];
                let op = op_name(node);
                TranslateError {
                    code: "E0304",
                    message: format!(
                        "{op} node {}: pipec does not translate this output of it (a classifier's integer label); \
                         choose its scores or probabilities",
                        names.describe(node, &op, ordinals[i])
                    ),
                    note: String::new(),
                }
            }
            None => TranslateError {
                code: "E0302",
                message: "the chosen output is not computed from the model's input".into(),
                note: String::new(),
            },
        })?;
        Ok(Translated { graph: t.graph, output: out.id })
    }

    fn node(&mut self, node: &Node) -> Result<(), String> {
        if super::standard::translate(self, node)? {
            return Ok(());
        }
        if super::ml::translate(self, node)? {
            return Ok(());
        }
        Err(unsupported("pipec does not translate this operator"))
    }

    // ---- values ----------------------------------------------------------------------

    pub fn push(&mut self, op: Op, ty: Ty) -> NodeId {
        self.graph.push(op, ty, pipec_dsl::Span::default())
    }

    pub fn ty(&self, id: NodeId) -> Ty {
        self.graph.ty(id)
    }

    /// Input `i` of `node`; a missing optional input is `None`.
    pub fn operand(&self, node: &Node, i: usize) -> Result<Option<Operand>, String> {
        let Some(arg) = node.inputs().get(i) else { return Ok(None) };
        if arg.is_optional() {
            return Ok(None);
        }
        if let Some(data) = arg.value() {
            let values = data.to_f64_vec().map_err(|e| format!("constant input {i}: {e:?}"))?;
            let shape = data.shape().to_vec();
            return Ok(Some(Operand::Const(Constant { shape, values })));
        }
        match self.values.get(&arg.name) {
            Some(v) => Ok(Some(Operand::Value(v.clone()))),
            None => Err(unsupported(&format!("input {i} is computed by something pipec cannot translate"))),
        }
    }

    pub fn value(&self, node: &Node, i: usize) -> Result<Value, String> {
        match self.operand(node, i)? {
            Some(Operand::Value(v)) => Ok(v),
            Some(Operand::Const(_)) => Err(unsupported(&format!(
                "input {i} is a constant; pipec expects it to be computed from the model's input"
            ))),
            None => Err(format!("input {i} is missing")),
        }
    }

    pub fn constant(&self, node: &Node, i: usize) -> Result<Constant, String> {
        match self.operand(node, i)? {
            Some(Operand::Const(c)) => Ok(c),
            Some(Operand::Value(_)) => {
                Err(unsupported(&format!("input {i} is computed per row; pipec needs it constant")))
            }
            None => Err(format!("input {i} is missing")),
        }
    }

    /// Records `value` as output `i` of `node`.
    pub fn set(&mut self, node: &Node, i: usize, value: Value) -> Result<(), String> {
        if value.width() as u64 > MAX_WIDTH {
            return Err(format!("its output is {} values wide, more than pipec allows", value.width()));
        }
        let out = node.outputs().get(i).ok_or_else(|| format!("has no output {i}"))?;
        self.values.insert(out.name.clone(), value);
        Ok(())
    }

    /// The single input passed through to the single output.
    pub fn pass_through(&mut self, node: &Node) -> Result<(), String> {
        let v = self.value(node, 0)?;
        self.set(node, 0, v)
    }

    pub fn const_row(&mut self, values: Vec<f32>) -> NodeId {
        let width = values.len() as u32;
        self.push(Op::Const { values }, Ty::F32(width))
    }

    pub fn unary(&mut self, op: UnaryFn, x: &Value) -> Value {
        let ty = match op {
            UnaryFn::IsMissing | UnaryFn::Not => Ty::Bool(x.width()),
            _ => Ty::F32(x.width()),
        };
        Value { id: self.push(Op::Unary { op, x: x.id }, ty), dims: x.dims.clone() }
    }

    /// Softmax over the row.
    pub fn softmax(&mut self, x: &Value) -> Value {
        Value { id: self.push(Op::Softmax { x: x.id }, Ty::F32(x.width())), dims: x.dims.clone() }
    }

    /// A constant shaped to combine with rows shaped `like` under ONNX broadcasting without
    /// mixing rows: one value; the row's own shape (leading ones allowed); or, against rows
    /// of one value shaped `[1]` (a tensor `[N, 1]`), a row of constants (`[k]` or `[1, k]`).
    /// A rank-1 tensor `[N]` has its batch on the broadcast axis, so only one value fits it.
    pub fn broadcast(&mut self, c: &Constant, like: &[u32]) -> Result<Value, String> {
        if c.values.len() == 1 {
            return Ok(Value { id: self.const_row(c.f32s()), dims: Vec::new() });
        }
        if !like.is_empty()
            && like.iter().all(|d| *d == 1)
            && c.shape.first().is_none_or(|d| *d == 1 || c.shape.len() == 1)
        {
            // A row of one value against a row of constants: `[N, 1]` with `[k]` is `[N, k]`.
            let start = usize::from(c.shape.len() > 1);
            let dims = c.shape[start..].iter().map(|d| *d as u32).collect();
            return Ok(Value { id: self.const_row(c.f32s()), dims });
        }
        let trailing: Vec<usize> = c.shape.iter().copied().skip_while(|d| *d == 1).collect();
        let row: Vec<usize> = like.iter().map(|d| *d as usize).skip_while(|d| *d == 1).collect();
        if !like.is_empty() && trailing == row {
            return Ok(Value { id: self.const_row(c.f32s()), dims: like.to_vec() });
        }
        Err(unsupported(&format!(
            "a constant of shape {:?} does not broadcast over rows of shape {:?} without mixing rows",
            c.shape, like
        )))
    }

    fn resolve(&mut self, a: Operand, other: Option<&Operand>) -> Result<Value, String> {
        match a {
            Operand::Value(v) => Ok(v),
            Operand::Const(c) => {
                let like = match other {
                    Some(Operand::Value(v)) => v.dims.clone(),
                    _ => return Err(unsupported("both operands are constant")),
                };
                self.broadcast(&c, &like)
            }
        }
    }

    /// An elementwise binary op with ONNX broadcasting within a row.
    pub fn binary(&mut self, op: BinaryFn, a: Operand, b: Operand) -> Result<Value, String> {
        let (a, b) = match (a, b) {
            (Operand::Const(c), b) => {
                let a = self.resolve(Operand::Const(c), Some(&b))?;
                (a, self.resolve(b, None)?)
            }
            (a, b) => {
                let b = self.resolve(b, Some(&a))?;
                (self.resolve(a, None)?, b)
            }
        };
        let (wa, wb) = (a.width(), b.width());
        let dims = if wa == wb || wb == 1 {
            a.dims.clone()
        } else if wa == 1 {
            b.dims.clone()
        } else {
            return Err(format!("operands of widths {wa} and {wb} do not broadcast"));
        };
        let width = wa.max(wb);
        let ty = if op.is_comparison() || op.is_logical() { Ty::Bool(width) } else { Ty::F32(width) };
        Ok(Value { id: self.push(Op::Binary { op, a: a.id, b: b.id }, ty), dims })
    }

    /// `x` against a constant of the same or broadcastable shape.
    pub fn binary_const(&mut self, op: BinaryFn, x: &Value, values: Vec<f32>) -> Result<Value, String> {
        let c = Constant { shape: vec![values.len()], values: values.iter().map(|v| f64::from(*v)).collect() };
        self.binary(op, Operand::Value(x.clone()), Operand::Const(c))
    }

    /// Booleans as 1.0 / 0.0.
    pub fn bool_to_f32(&mut self, b: &Value) -> Value {
        let one = self.const_row(vec![1.0]);
        let zero = self.const_row(vec![0.0]);
        let width = b.width();
        Value { id: self.push(Op::Where { cond: b.id, a: one, b: zero }, Ty::F32(width)), dims: b.dims.clone() }
    }

    /// Columns `indices` of `x`'s row, in order (runs of consecutive columns become one slice).
    pub fn select(&mut self, x: &Value, indices: &[i64]) -> Result<Value, String> {
        let width = i64::from(x.width());
        let mut columns = Vec::with_capacity(indices.len());
        for &i in indices {
            let i = if i < 0 { i + width } else { i };
            if !(0..width).contains(&i) {
                return Err(format!("column index {i} is outside the row's {width} values"));
            }
            columns.push(i as u32);
        }
        if columns.is_empty() {
            return Err("selects no columns".into());
        }
        let mut parts = Vec::new();
        let mut start = 0;
        while start < columns.len() {
            let mut end = start + 1;
            while end < columns.len() && columns[end] == columns[end - 1] + 1 {
                end += 1;
            }
            let (first, len) = (columns[start], (end - start) as u32);
            parts.push(if first == 0 && len == x.width() {
                x.id
            } else {
                self.push(Op::Slice { x: x.id, start: first, len }, Ty::F32(len))
            });
            start = end;
        }
        let id = match parts.as_slice() {
            [one] => *one,
            _ => self.push(Op::Concat { parts }, Ty::F32(columns.len() as u32)),
        };
        Ok(Value { id, dims: vec![columns.len() as u32] })
    }
}

/// Prefix marking an error as an unsupported construct (E0304) rather than a broken file.
pub(super) const UNSUPPORTED: &str = "\u{1}";

pub(super) fn unsupported(why: &str) -> String {
    format!("{UNSUPPORTED}{why}")
}

/// The operator's name as the file writes it (`ai.onnx.ml::LinearClassifier`, `Gemm`).
pub(super) fn op_name(node: &Node) -> String {
    match node {
        Node::Custom(c) if c.domain.is_empty() || c.domain == "ai.onnx" => c.op_type.clone(),
        Node::Custom(c) => format!("{}::{}", c.domain, c.op_type),
        _ => node.node_type().to_string(),
    }
}

/// For each node, how many nodes of the same operator come before it.
fn ordinals(onnx: &OnnxGraph) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    onnx.nodes
        .iter()
        .map(|n| {
            let count = seen.entry(op_name(n)).or_default();
            *count += 1;
            *count - 1
        })
        .collect()
}

/// The nodes `output` depends on (indices into `onnx.nodes`).
fn needed_nodes(onnx: &OnnxGraph, producer: &HashMap<&str, usize>, output: &str) -> HashSet<usize> {
    let mut needed = HashSet::new();
    let mut stack: Vec<&str> = vec![output];
    while let Some(name) = stack.pop() {
        let Some(&i) = producer.get(name) else { continue };
        if needed.insert(i) {
            for input in onnx.nodes[i].inputs() {
                if input.value().is_none() && !input.name.is_empty() {
                    stack.push(&input.name);
                }
            }
        }
    }
    needed
}
