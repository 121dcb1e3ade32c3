//! The node tables every consumer of a tree ensemble reads: the compiler's interpreter, the
//! generated native path, and the runtime's tensor evaluation.

/// What a split node tests, or that the node is a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Leaf,
    /// Go left when `x <= threshold` (every library's comparison is normalised to this form,
    /// exactly, when importing).
    Numeric,
    /// Go left when the category `x` (a whole number) is in the node's bitset. Exactly
    /// (LightGBM's rule): `x > -1.0 && x < 2^31` and bit `trunc(x)` is set, else right; so
    /// -0.5 is category 0, and values beyond the bitset go right. The importers give every
    /// categorical node `Missing::Nan` with `default_left` false (NaN goes right). See
    /// `eval.rs` for the full reference semantics.
    Categorical,
}

/// How a split treats a missing value (NaN), after LightGBM's `missing_type`; XGBoost splits
/// are all `Nan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// NaN goes the default direction.
    Nan,
    /// NaN and zero (|x| <= 1e-35) go the default direction.
    Zero,
    /// NaN is compared as 0.0.
    None,
}

/// What the library's `predict` applies to the summed margins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// Regression: the margin itself.
    Identity,
    /// Binary classification: the logistic function of the single margin.
    Sigmoid,
    /// Multiclass: softmax over the margins.
    Softmax,
}

/// A forest of binary decision trees, flattened: one entry per node in the per-node vectors,
/// trees one after another, each tree's nodes contiguous with its root first.
#[derive(Clone, Debug, PartialEq)]
pub struct Forest {
    /// Width of the feature vector each row brings.
    pub features: u32,
    /// Margins per row (1 for regression and binary, the class count for multiclass).
    pub outputs: u32,
    /// Initial margin of each output (`outputs` values).
    pub base: Vec<f32>,
    /// Root node of each tree.
    pub roots: Vec<u32>,
    /// The output each tree's leaf value is added to.
    pub tree_output: Vec<u32>,
    /// Per node.
    pub kind: Vec<NodeKind>,
    pub feature: Vec<u32>,
    pub threshold: Vec<f32>,
    pub default_left: Vec<bool>,
    pub missing: Vec<Missing>,
    /// Children (absolute node indices); a leaf's are its own index.
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    /// A leaf's value (0 for split nodes).
    pub leaf_value: Vec<f32>,
    /// For categorical nodes: the node's bitset is `cat_bits[cat_offset..cat_offset + cat_len]`
    /// (bit `c % 32` of word `c / 32` set: category `c` goes left). Zero for other nodes.
    pub cat_offset: Vec<u32>,
    pub cat_len: Vec<u32>,
    pub cat_bits: Vec<u32>,
    /// Longest root-to-leaf path, in splits.
    pub max_depth: u32,
}
