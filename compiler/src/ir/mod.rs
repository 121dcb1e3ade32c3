//! The typed dataflow IR.
//!
//! A [`Graph`] is an arena of [`Node`]s addressed by [`NodeId`] handles. Nodes are kept in
//! topological order: every operand of a node has a smaller id than the node. Every value is a
//! batch of rows; its [`Ty`] gives the per-row shape (a scalar is a vector of width 1). Source
//! spans sit in a side table ([`Graph::span`]), so passes carry them without looking at them.
//!
//! Semantics of each [`Op`] are documented on the variant; the reference implementation is
//! [`crate::interp`], and code generation must agree with it.

mod display;
mod dot;
mod functions;
mod graph;

pub use display::{describe as display_op, render_text};
pub use dot::render_dot;
pub use functions::{BinaryFn, UnaryFn};
pub use graph::Graph;

/// A handle to a node of one [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// The per-row type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// `width` f32 values per row; a missing input value is NaN until imputed.
    F32(u32),
    /// `width` booleans per row.
    Bool(u32),
    /// One category index per row, in `0..categories`, or `categories` for an unknown value.
    Index { categories: u32 },
}

impl Ty {
    pub fn width(self) -> u32 {
        match self {
            Ty::F32(w) | Ty::Bool(w) => w,
            Ty::Index { .. } => 1,
        }
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::F32(1) => write!(f, "f32"),
            Ty::F32(w) => write!(f, "f32[{w}]"),
            Ty::Bool(1) => write!(f, "bool"),
            Ty::Bool(w) => write!(f, "bool[{w}]"),
            Ty::Index { categories } => write!(f, "index<{categories}>"),
        }
    }
}

/// How a string input becomes a category index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CategoryMap {
    /// Position in the vocabulary; an unknown string gets `vocab.len()`.
    Vocab(Vec<String>),
    /// FNV-1a 64 of the UTF-8 bytes, modulo `buckets`.
    Hash { buckets: u32 },
    /// Whether the string is there: every present string is category 0, a missing one is
    /// unknown (1). `is_missing` on a string is built on it.
    Presence,
}

impl CategoryMap {
    pub fn categories(&self) -> u32 {
        match self {
            CategoryMap::Vocab(v) => v.len() as u32,
            CategoryMap::Hash { buckets } => *buckets,
            CategoryMap::Presence => 1,
        }
    }
}

/// A dense row-major matrix of f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: u32,
    pub cols: u32,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn get(&self, r: u32, c: u32) -> f32 {
        self.data[(r * self.cols + c) as usize]
    }
}

/// Partial sums (lanes) a dense layer of `inputs` rows and `outputs` columns accumulates
/// each output in ([`Op::Dense`]): [`DENSE_LANES`] when the outputs are fewer than 8 and the
/// inputs at least 8, otherwise 1. A sum over k is a chain of dependent additions (four
/// cycles each): with 8 or more outputs the native path runs the outputs' sums side by side,
/// 4 to a vector; with fewer, such as a 32-input sigmoid output, it needs the lanes. (Lanes
/// for 8 to 31 outputs measured slower on the 30-8-8-1 MLP, so they stop at 8.)
pub fn dense_lanes(inputs: u32, outputs: u32) -> usize {
    if outputs < 8 && inputs >= 8 { DENSE_LANES } else { 1 }
}

/// The most lanes a dense layer sums in ([`dense_lanes`]).
pub const DENSE_LANES: usize = 8;

/// The partial sums of a dense output combined pairwise: the halves of `lanes` combined, then
/// added, so 8 lanes give `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`; one lane is
/// itself. The native path emits this same tree ([`Op::Dense`]).
pub fn combine_lanes(lanes: &[f32]) -> f32 {
    match lanes {
        [] => 0.0,
        [one] => *one,
        _ => {
            let (a, b) = lanes.split_at(lanes.len() / 2);
            combine_lanes(a) + combine_lanes(b)
        }
    }
}

/// One operation. Operands are [`NodeId`]s of earlier nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Numeric or boolean input number `input` (index into [`Graph::inputs`]).
    Input {
        input: u32,
    },
    /// A string input turned into a category index; a missing string becomes `missing` first
    /// (or, without one, counts as unknown).
    Category {
        input: u32,
        map: CategoryMap,
        missing: Option<String>,
    },
    /// A constant row, broadcast over the batch (`Ty::Bool` constants hold 0.0 or 1.0).
    Const {
        values: Vec<f32>,
    },
    Unary {
        op: UnaryFn,
        x: NodeId,
    },
    /// Elementwise; an operand of width 1 is broadcast to the other's width.
    Binary {
        op: BinaryFn,
        a: NodeId,
        b: NodeId,
    },
    /// Softmax over the row's vector.
    Softmax {
        x: NodeId,
    },
    /// Elementwise `cond ? a : b`, width-1 operands broadcast.
    Where {
        cond: NodeId,
        a: NodeId,
        b: NodeId,
    },
    /// The row vectors of `parts`, joined in order.
    Concat {
        parts: Vec<NodeId>,
    },
    /// Elements `start..start + len` of the row vector.
    Slice {
        x: NodeId,
        start: u32,
        len: u32,
    },
    /// `x * scale + shift`, elementwise with per-element constants.
    Affine {
        x: NodeId,
        scale: Vec<f32>,
        shift: Vec<f32>,
    },
    /// Missing (NaN) elements replaced by `value`.
    Impute {
        x: NodeId,
        value: f32,
    },
    /// The category index as a one-hot f32 vector of width `categories` (unknown: all zero).
    OneHot {
        index: NodeId,
    },
    /// Row `index` of `table` (`categories x out`); an unknown index gives zeros.
    Gather {
        index: NodeId,
        table: Matrix,
    },
    /// `x · weight + bias`, with `weight` stored `in x out`, in this f32 order (which the
    /// interpreter and the native path share, bit for bit): each output `j` sums the products
    /// `x[k] * weight[k][j]` in [`dense_lanes`]`(in, out)` partial sums (lanes), lane `l`
    /// taking the `k` with `k % lanes == l` in ascending `k`, each lane starting at 0.0; the
    /// lanes are then combined by [`combine_lanes`] (pairwise), and the bias added last.
    /// With one lane that is the plain ascending sum.
    Dense {
        x: NodeId,
        weight: Matrix,
        bias: Vec<f32>,
    },
    /// Number of `boundaries` that are `<= x`, as f32 (x of width 1).
    Bucketize {
        x: NodeId,
        boundaries: Vec<f32>,
    },
    /// The margins of a tree ensemble (XGBoost, LightGBM) over the row vector `x`, whose
    /// missing (NaN) elements follow each split's rule: `forest.outputs` values per row, each
    /// the output's base plus the leaf values of its trees (summed in f64, rounded once).
    Trees {
        x: NodeId,
        forest: ForestRef,
    },
}

/// A tree ensemble's node tables, shared rather than copied (they can be megabytes).
/// Compared, hashed and printed by a digest of their content, so that CSE and the IR text
/// stay cheap.
#[derive(Clone)]
pub struct ForestRef {
    pub forest: std::sync::Arc<pipec_forest::Forest>,
    digest: u64,
}

impl ForestRef {
    pub fn new(forest: pipec_forest::Forest) -> ForestRef {
        let words = forest.encode();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_bits().to_le_bytes()).collect();
        let digest = pipec_interface::fnv1a64(&bytes);
        ForestRef { forest: std::sync::Arc::new(forest), digest }
    }

    pub fn trees(&self) -> usize {
        self.forest.roots.len()
    }
}

impl PartialEq for ForestRef {
    fn eq(&self, other: &ForestRef) -> bool {
        self.digest == other.digest
            && (std::sync::Arc::ptr_eq(&self.forest, &other.forest) || self.forest == other.forest)
    }
}

impl std::fmt::Debug for ForestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Forest({} trees, {} features -> {}, depth {}, #{:016x})",
            self.trees(),
            self.forest.features,
            self.forest.outputs,
            self.forest.max_depth,
            self.digest
        )
    }
}

impl Op {
    /// The operands, in order.
    pub fn operands(&self) -> Vec<NodeId> {
        match self {
            Op::Input { .. } | Op::Category { .. } | Op::Const { .. } => Vec::new(),
            Op::Unary { x, .. }
            | Op::Softmax { x }
            | Op::Slice { x, .. }
            | Op::Affine { x, .. }
            | Op::Impute { x, .. }
            | Op::Dense { x, .. }
            | Op::Trees { x, .. }
            | Op::Bucketize { x, .. } => vec![*x],
            Op::OneHot { index } | Op::Gather { index, .. } => vec![*index],
            Op::Binary { a, b, .. } => vec![*a, *b],
            Op::Where { cond, a, b } => vec![*cond, *a, *b],
            Op::Concat { parts } => parts.clone(),
        }
    }

    /// The same op with every operand passed through `f`.
    pub fn map_operands(&self, mut f: impl FnMut(NodeId) -> NodeId) -> Op {
        let mut op = self.clone();
        match &mut op {
            Op::Input { .. } | Op::Category { .. } | Op::Const { .. } => {}
            Op::Unary { x, .. }
            | Op::Softmax { x }
            | Op::Slice { x, .. }
            | Op::Affine { x, .. }
            | Op::Impute { x, .. }
            | Op::Dense { x, .. }
            | Op::Trees { x, .. }
            | Op::Bucketize { x, .. } => *x = f(*x),
            Op::OneHot { index } | Op::Gather { index, .. } => *index = f(*index),
            Op::Binary { a, b, .. } => {
                *a = f(*a);
                *b = f(*b);
            }
            Op::Where { cond, a, b } => {
                *cond = f(*cond);
                *a = f(*a);
                *b = f(*b);
            }
            Op::Concat { parts } => parts.iter_mut().for_each(|p| *p = f(*p)),
        }
        op
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    pub ty: Ty,
}

/// The element type of an input as declared, before conversion to the IR's f32; defined
/// once for the compiler and the runtime (`pipec-interface`).
pub use pipec_interface::{InputKind, OutputRole};

/// A declared input of the pipeline: the interface's [`pipec_interface::InputSpec`] with an
/// owned name (a generated crate's spec holds the same struct with `&'static str`).
pub type InputSpec = pipec_interface::InputSpec<String>;

/// A named column the pipeline computes. [`Graph::outputs`] holds every
/// [`OutputRole::Output`] first (in declared order), then the checks, then the watched
/// features; every pass keeps all of them (they are the roots of dead-code elimination).
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpec {
    pub name: String,
    pub node: NodeId,
    pub role: OutputRole,
}

#[cfg(test)]
mod tests {
    use super::{combine_lanes, dense_lanes};

    #[test]
    fn narrow_layers_of_enough_inputs_sum_in_lanes() {
        assert_eq!(dense_lanes(32, 1), 8);
        assert_eq!(dense_lanes(256, 1), 8);
        assert_eq!(dense_lanes(8, 7), 8);
        assert_eq!(dense_lanes(7, 1), 1);
        assert_eq!(dense_lanes(30, 8), 1);
        assert_eq!(dense_lanes(256, 256), 1);
    }

    #[test]
    fn lanes_combine_pairwise() {
        let lanes = [1e8f32, 1.0, -1e8, 1.0, 0.5, 0.25, 0.125, 0.0625];
        let expected =
            ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        assert_eq!(combine_lanes(&lanes).to_bits(), expected.to_bits());
        assert_eq!(combine_lanes(&[3.0]), 3.0);
    }
}
