//! Tree ensembles evaluated with burn tensor operations: the batch (and GPU) path of a
//! `pipec_forest::Forest`, computing what `Forest::predict_margins` computes (the node
//! semantics are pinned in `pipec_forest`'s `eval.rs`).
//!
//! The strategy is Hummingbird's *tree traversal*, which works for trees of any depth: every
//! row walks every tree at once. A `[rows, trees]` tensor of node indices starts at the roots;
//! each step gathers the current nodes' attributes from one `[attributes, nodes]` table (a
//! single `take`), gathers the rows' feature values (`gather`), decides left or right with
//! masks (missing values included), and moves to the chosen child. Leaves are their own
//! children, so after `max_depth` steps every walk rests on its leaf. The leaf values are
//! then gathered and summed per output with a matmul against a `[trees, outputs]` one-hot
//! matrix, plus the base margins.
//!
//! Everything is f32 on the device, so node indices, feature indices and category-table
//! positions are held as exact f32 integers (below 2^24); `TensorForest::new` checks that.
//! Margins are summed in f32 (the reference sums in f64), so they agree to f32 rounding.

use crate::error::RuntimeError;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use pipec_forest::{Forest, Missing, NodeKind, ZERO_THRESHOLD};

/// The most `rows * trees` node indices walked at once; bigger batches are cut into chunks of
/// rows. Each step holds a few tensors of this size plus the gathered attributes (6 or 9 per
/// element), so a chunk peaks at roughly 20 f32 values per element (about 320 MiB).
const CHUNK_ELEMENTS: usize = 1 << 22;

/// Largest integer an f32 holds exactly: node, feature and category-table indices stay below it.
const EXACT_F32: usize = 1 << 24;

/// Rows of the per-node attribute table.
mod attr {
    /// Go left when `x <= threshold` (numeric splits).
    pub const THRESHOLD: usize = 0;
    /// The feature tested.
    pub const FEATURE: usize = 1;
    pub const LEFT: usize = 2;
    pub const RIGHT: usize = 3;
    /// The child a missing value goes to (`default_left ? left : right`).
    pub const DEFAULT_CHILD: usize = 4;
    /// What counts as missing: 0 nothing (NaN is read as 0), 1 NaN, 2 NaN and zero.
    pub const MISSING_MODE: usize = 5;
    /// Rows present only when the forest has categorical splits: 1.0 for them.
    pub const CATEGORICAL: usize = 6;
    /// Where the node's category membership starts in the membership table (0 for others).
    pub const CAT_BASE: usize = 7;
    /// How many categories the node's bitset covers (`32 * cat_len`; 0 for other nodes).
    pub const CAT_SIZE: usize = 8;
    pub const NUMERIC_ONLY: usize = 6;
    pub const WITH_CATEGORICAL: usize = 9;
}

/// A forest's node tables on a burn device, evaluated for a whole batch with tensor operations.
#[derive(Clone, Debug)]
pub struct TensorForest {
    /// `[attributes, nodes]`, the rows listed in [`attr`].
    attributes: Tensor<2>,
    /// `[1, trees]`: each tree's root.
    roots: Tensor<2, Int>,
    /// `[nodes]`: each node's leaf value (0 for splits).
    leaf_values: Tensor<1>,
    /// `[trees, outputs]`: 1 where the tree adds to the output.
    tree_outputs: Tensor<2>,
    /// `[1, outputs]`: the initial margins.
    base: Tensor<2>,
    /// Category membership of every categorical node, 1.0 = goes left; entry 0 is a
    /// never-member sentinel. `None` when the forest has no categorical splits.
    membership: Option<Tensor<1>>,
    /// The largest `CAT_SIZE`: category values are clamped to it before the integer cast.
    max_categories: f32,
    /// Whether any split treats zero as missing (`Missing::Zero`).
    zero_missing: bool,
    /// Steps that bring every walk to its leaf (the longest root-to-leaf path).
    depth: usize,
    features: usize,
    trees: usize,
    outputs: usize,
    device: Device,
}

impl TensorForest {
    /// Checks `forest` (`Forest::validate`, and the f32 index limits above) and uploads its
    /// node tables to `device`. A malformed forest is an error here, never a panic later.
    ///
    /// A forest without trees is evaluated as one single-leaf tree that adds to no output.
    pub fn new(forest: &Forest, device: &Device) -> Result<TensorForest, RuntimeError> {
        forest.validate().map_err(RuntimeError::Forest)?;
        check_f32_limits(forest).map_err(RuntimeError::Forest)?;
        let padded;
        let (forest, trees_used) = if forest.roots.is_empty() {
            padded = single_zero_leaf(forest);
            (&padded, 0)
        } else {
            (forest, forest.roots.len())
        };
        let nodes = forest.kind.len();
        let trees = forest.roots.len();
        let outputs = forest.outputs as usize;
        let categories = CategoryTable::new(forest);
        let attributes = attribute_table(forest, &categories);
        let rows = attributes.len() / nodes;
        let roots: Vec<i64> = forest.roots.iter().map(|&r| i64::from(r)).collect();
        let mut tree_outputs = vec![0.0f32; trees * outputs];
        for (tree, &output) in forest.tree_output.iter().enumerate().take(trees_used) {
            tree_outputs[tree * outputs + output as usize] = 1.0;
        }
        let membership = categories.has_categorical.then(|| {
            let len = categories.membership.len();
            Tensor::from_data(TensorData::new(categories.membership.clone(), [len]), device)
        });
        Ok(TensorForest {
            attributes: Tensor::from_data(TensorData::new(attributes, [rows, nodes]), device),
            roots: Tensor::from_data(TensorData::new(roots, [1, trees]), device),
            leaf_values: Tensor::from_data(TensorData::new(forest.leaf_value.clone(), [nodes]), device),
            tree_outputs: Tensor::from_data(TensorData::new(tree_outputs, [trees, outputs]), device),
            base: Tensor::from_data(TensorData::new(forest.base.clone(), [1, outputs]), device),
            membership,
            max_categories: categories.max_size as f32,
            zero_missing: forest
                .kind
                .iter()
                .zip(&forest.missing)
                .any(|(k, m)| *k != NodeKind::Leaf && *m == Missing::Zero),
            depth: forest.max_depth as usize,
            features: forest.features as usize,
            trees,
            outputs,
            device: device.clone(),
        })
    }

    /// The summed margins (before the objective's link function) of every row.
    /// `x`: `[rows, features]`, NaN = missing; returns `[rows, outputs]`.
    ///
    /// # Panics
    /// When `x` is not `features` wide (a caller's bug: the width is fixed by the pipeline).
    pub fn margins(&self, x: Tensor<2>) -> Tensor<2> {
        let [_, width] = x.dims();
        assert_eq!(width, self.features, "the forest reads {} features, the batch has {width}", self.features);
        self.margins_in_chunks(x, CHUNK_ELEMENTS)
    }

    /// [`margins`](Self::margins), walking at most `chunk_elements` (rows times trees) at once.
    fn margins_in_chunks(&self, x: Tensor<2>, chunk_elements: usize) -> Tensor<2> {
        let [rows, _] = x.dims();
        if rows == 0 {
            return Tensor::zeros([0, self.outputs], &self.device);
        }
        let chunk = (chunk_elements / self.trees).max(1);
        if rows <= chunk {
            return self.chunk_margins(x);
        }
        let parts = (0..rows)
            .step_by(chunk)
            .map(|start| self.chunk_margins(x.clone().slice_dim(0, start..(start + chunk).min(rows))))
            .collect();
        Tensor::cat(parts, 0)
    }

    /// [`margins`](Self::margins) of one chunk of rows.
    fn chunk_margins(&self, x: Tensor<2>) -> Tensor<2> {
        let [rows, _] = x.dims();
        let mut node = self.roots.clone().expand([rows, self.trees]);
        for _ in 0..self.depth {
            node = self.step(&x, node);
        }
        let leaves: Tensor<2> = self.leaf_values.clone().take::<2, 2>(0, node);
        leaves.matmul(self.tree_outputs.clone()) + self.base.clone()
    }

    /// One traversal step: `[rows, trees]` current nodes to their children.
    fn step(&self, x: &Tensor<2>, node: Tensor<2, Int>) -> Tensor<2, Int> {
        let [rows, trees] = node.dims();
        let gathered: Tensor<3> = self.attributes.clone().take::<2, 3>(1, node);
        let field = |row: usize| -> Tensor<2> { gathered.clone().slice_dim(0, row..row + 1).reshape([rows, trees]) };

        let value = x.clone().gather(1, field(attr::FEATURE).int());
        let nan = value.clone().is_nan();
        // NaN read as 0: what `Missing::None` and `Missing::Zero` do with it.
        let value = value.mask_fill(nan.clone(), 0.0);
        let mode = field(attr::MISSING_MODE);
        let mut missing = nan.bool_and(mode.clone().greater_elem(0.5));
        if self.zero_missing {
            let zero = value.clone().abs().lower_equal_elem(ZERO_THRESHOLD).bool_and(mode.greater_elem(1.5));
            missing = missing.bool_or(zero);
        }

        let mut left = value.clone().lower_equal(field(attr::THRESHOLD));
        if let Some(membership) = &self.membership {
            let categorical = field(attr::CATEGORICAL).greater_elem(0.5);
            let in_set = self.in_category_set(membership, value, field(attr::CAT_BASE), field(attr::CAT_SIZE));
            left = left.bool_and(categorical.bool_not()).bool_or(in_set);
        }

        let chosen = field(attr::RIGHT).mask_where(left, field(attr::LEFT));
        chosen.mask_where(missing, field(attr::DEFAULT_CHILD)).int()
    }

    /// Whether each value's category is in its node's bitset: `x > -1`, `c = trunc(x)` below
    /// the bitset's size and its bit set (LightGBM's rule). False for every numeric node and
    /// leaf, whose set size is 0. Values are clamped to `[-1, max_categories]` first, so the
    /// integer cast never overflows and out-of-range values stay out of range.
    fn in_category_set(
        &self,
        membership: &Tensor<1>,
        value: Tensor<2>,
        base: Tensor<2>,
        size: Tensor<2>,
    ) -> Tensor<2, Bool> {
        let category = value.clamp(-1.0, self.max_categories).trunc();
        let inside = category.clone().greater_equal_elem(0.0).bool_and(category.clone().lower(size));
        let position = (base + category).mask_fill(inside.bool_not(), 0.0).int();
        let member: Tensor<2> = membership.clone().take::<2, 2>(0, position);
        member.greater_elem(0.5)
    }
}

/// The limits of holding indices as exact f32 integers (the rest is `Forest::validate`'s).
fn check_f32_limits(forest: &Forest) -> Result<(), String> {
    let nodes = forest.kind.len();
    let categories: usize =
        (0..nodes).filter(|&n| forest.kind[n] == NodeKind::Categorical).map(|n| 32 * forest.cat_len[n] as usize).sum();
    for (what, count) in
        [("nodes", nodes), ("features", forest.features as usize), ("categories in all splits", categories)]
    {
        if count >= EXACT_F32 {
            return Err(format!("{count} {what}: the tensor path holds at most {}", EXACT_F32 - 1));
        }
    }
    Ok(())
}

/// `forest` with no trees given one tree of a single 0 leaf, so no table is empty.
fn single_zero_leaf(forest: &Forest) -> Forest {
    Forest {
        roots: vec![0],
        tree_output: vec![0],
        kind: vec![NodeKind::Leaf],
        feature: vec![0],
        threshold: vec![0.0],
        default_left: vec![false],
        missing: vec![Missing::None],
        left: vec![0],
        right: vec![0],
        leaf_value: vec![0.0],
        cat_offset: vec![0],
        cat_len: vec![0],
        cat_bits: Vec::new(),
        max_depth: 0,
        ..forest.clone()
    }
}

/// The categorical nodes' bitsets expanded to one f32 per (node, category): 1.0 = goes left.
struct CategoryTable {
    has_categorical: bool,
    /// Entry 0 is a sentinel (0.0); node `n`'s categories start at `base[n]`.
    membership: Vec<f32>,
    base: Vec<usize>,
    /// The largest `32 * cat_len`.
    max_size: usize,
}

impl CategoryTable {
    fn new(forest: &Forest) -> CategoryTable {
        let mut table = CategoryTable {
            has_categorical: false,
            membership: vec![0.0],
            base: vec![0; forest.kind.len()],
            max_size: 0,
        };
        for node in (0..forest.kind.len()).filter(|&n| forest.kind[n] == NodeKind::Categorical) {
            let (offset, len) = (forest.cat_offset[node] as usize, forest.cat_len[node] as usize);
            table.has_categorical = true;
            table.base[node] = table.membership.len();
            table.max_size = table.max_size.max(32 * len);
            for word in &forest.cat_bits[offset..offset + len] {
                table.membership.extend((0..32).map(|bit| if word >> bit & 1 == 1 { 1.0 } else { 0.0 }));
            }
        }
        table
    }
}

/// The `[attributes, nodes]` table, row-major, with the rows of [`attr`] (the categorical rows
/// only when the forest has categorical splits). Leaves are their own children.
fn attribute_table(forest: &Forest, categories: &CategoryTable) -> Vec<f32> {
    let nodes = forest.kind.len();
    let rows = if categories.has_categorical { attr::WITH_CATEGORICAL } else { attr::NUMERIC_ONLY };
    let mut table = vec![0.0f32; rows * nodes];
    for node in 0..nodes {
        let mut set = |row: usize, value: f32| table[row * nodes + node] = value;
        let kind = forest.kind[node];
        if kind == NodeKind::Leaf {
            for row in [attr::LEFT, attr::RIGHT, attr::DEFAULT_CHILD] {
                set(row, node as f32);
            }
            continue;
        }
        let (left, right) = (forest.left[node] as f32, forest.right[node] as f32);
        set(attr::THRESHOLD, forest.threshold[node]);
        set(attr::FEATURE, forest.feature[node] as f32);
        set(attr::LEFT, left);
        set(attr::RIGHT, right);
        set(attr::DEFAULT_CHILD, if forest.default_left[node] { left } else { right });
        let mode = match forest.missing[node] {
            Missing::None => 0.0,
            Missing::Nan => 1.0,
            Missing::Zero => 2.0,
        };
        set(attr::MISSING_MODE, mode);
        if kind == NodeKind::Categorical {
            set(attr::CATEGORICAL, 1.0);
            set(attr::CAT_BASE, categories.base[node] as f32);
            set(attr::CAT_SIZE, 32.0 * forest.cat_len[node] as f32);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    use pipec_forest::{ForestBuilder, TreeNode};

    fn leaf(value: f32) -> TreeNode {
        TreeNode::Leaf { value }
    }

    /// A numeric split whose children are nodes `left` and `right` of its tree.
    fn numeric(
        feature: u32,
        threshold: f32,
        missing: Missing,
        default_left: bool,
        left: usize,
        right: usize,
    ) -> TreeNode {
        TreeNode::Numeric { feature, threshold, default_left, missing, left, right }
    }

    /// A categorical split whose left categories are `categories`, in a bitset of `words`.
    fn categorical(
        feature: u32,
        categories: &[u32],
        words: u32,
        missing: Missing,
        default_left: bool,
        left: usize,
        right: usize,
    ) -> TreeNode {
        let mut bits = vec![0u32; words as usize];
        for &c in categories {
            bits[(c / 32) as usize] |= 1 << (c % 32);
        }
        TreeNode::Categorical { feature, bits, default_left, missing, left, right }
    }

    /// A split with two leaves: nodes 0 (the split), 1 and 2.
    fn stump(split: impl Fn(usize, usize) -> TreeNode, left: f32, right: f32) -> [TreeNode; 3] {
        [split(1, 2), leaf(left), leaf(right)]
    }

    /// The row-by-row reference, `Forest::predict_margins`.
    fn reference(forest: &Forest, x: &[f32]) -> Vec<f32> {
        let mut margins = vec![0.0; x.len() / forest.features as usize * forest.outputs as usize];
        for (row, out) in x.chunks(forest.features as usize).zip(margins.chunks_mut(forest.outputs as usize)) {
            forest.predict_margins(row, out);
        }
        margins
    }

    fn evaluate(forest: &Forest, x: &[f32], device: &Device, chunk_elements: usize) -> Vec<f32> {
        let rows = x.len() / forest.features as usize;
        let tensor_forest = TensorForest::new(forest, device).expect("a valid forest");
        let x = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [rows, forest.features as usize]), device);
        let margins = tensor_forest.margins_in_chunks(x, chunk_elements);
        assert_eq!(margins.dims(), [rows, forest.outputs as usize]);
        margins.into_data().try_to_vec::<f32>().expect("f32 margins")
    }

    fn assert_close(got: &[f32], expected: &[f32], what: &str) {
        assert_eq!(got.len(), expected.len(), "{what}: lengths");
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            let tolerance = 1e-5 * e.abs().max(1.0);
            assert!((g - e).abs() <= tolerance, "{what}: margin {i}: got {g}, expected {e}");
        }
    }

    /// Every missing rule, `x == threshold`, categorical values in, out, negative, fractional,
    /// NaN and beyond the bitset, a single-leaf tree, two outputs and base values.
    fn hand_forest() -> Forest {
        let mut b = ForestBuilder::new(3, vec![0.5, -1.0]);
        let mut add = |output: u32, nodes: &[TreeNode]| b.add_tree(output, nodes).expect("a valid tree");
        for (missing, default_left, output, leaves) in
            [(Missing::Nan, true, 0, (1.0, 2.0)), (Missing::Nan, false, 1, (10.0, 20.0))]
        {
            add(output, &stump(|l, r| numeric(0, 1.0, missing, default_left, l, r), leaves.0, leaves.1));
        }
        add(0, &stump(|l, r| numeric(1, -0.5, Missing::Zero, true, l, r), 100.0, 200.0));
        add(1, &stump(|l, r| numeric(1, -0.5, Missing::None, true, l, r), 1000.0, 2000.0));
        add(0, &stump(|l, r| categorical(2, &[1, 3, 33], 2, Missing::Nan, false, l, r), 0.25, 0.75));
        add(1, &stump(|l, r| categorical(2, &[0, 5], 1, Missing::None, false, l, r), 0.125, 0.375));
        add(0, &[leaf(3.0)]);
        add(
            1,
            &[
                numeric(0, 0.0, Missing::Nan, true, 1, 4),
                numeric(1, 0.0, Missing::Nan, false, 2, 3),
                leaf(0.01),
                leaf(0.02),
                leaf(0.03),
            ],
        );
        // The missing rules hold for categorical splits too: zero (and NaN) default left here,
        add(0, &stump(|l, r| categorical(2, &[2], 1, Missing::Zero, true, l, r), 0.5, 1.5));
        // and NaN defaults left here.
        add(1, &stump(|l, r| categorical(2, &[2], 1, Missing::Nan, true, l, r), 0.0625, 0.1875));
        b.finish().expect("a valid forest")
    }

    const NAN: f32 = f32::NAN;
    const HAND_ROWS: [[f32; 3]; 8] = [
        [1.0, 0.0, 3.0],
        [NAN, NAN, NAN],
        [1.5, -0.5, 33.7],
        [-3.0, 1e-36, -0.5],
        [0.0, -7.0, -1.0],
        [2.0, 5.0, 64.0],
        [f32::INFINITY, f32::NEG_INFINITY, 1e10],
        [0.0, 0.0, 2.0],
    ];
    /// Worked out by hand from `hand_forest`'s trees.
    const HAND_MARGINS: [[f32; 2]; 8] = [
        [106.25, 2009.5925],
        [105.75, 2019.2075],
        [107.25, 1019.5925],
        [106.75, 2009.3325],
        [106.75, 1009.5725],
        [207.75, 2019.5925],
        [107.75, 1019.5925],
        [105.75, 2009.4475],
    ];

    #[test]
    fn forest_hand_built_matches_worked_margins_on_flex() {
        let forest = hand_forest();
        let x: Vec<f32> = HAND_ROWS.iter().flatten().copied().collect();
        let expected: Vec<f32> = HAND_MARGINS.iter().flatten().copied().collect();
        assert_close(&reference(&forest, &x), &expected, "reference");
        assert_close(&evaluate(&forest, &x, &Device::flex(), CHUNK_ELEMENTS), &expected, "flex");
    }

    #[test]
    fn forest_single_leaves_and_empty_batches() {
        let mut b = ForestBuilder::new(2, vec![1.0, 2.0, 3.0]);
        for (tree, value) in [0.5f32, -0.25, 4.0, 8.0].into_iter().enumerate() {
            b.add_tree(tree as u32 % 3, &[leaf(value)]).expect("a valid tree");
        }
        let forest = b.finish().expect("a valid forest");
        let x = [NAN, 1.0, 2.0, 3.0];
        assert_close(
            &evaluate(&forest, &x, &Device::flex(), CHUNK_ELEMENTS),
            &[9.5, 1.75, 7.0, 9.5, 1.75, 7.0],
            "leaves",
        );
        assert_eq!(evaluate(&forest, &[], &Device::flex(), CHUNK_ELEMENTS), Vec::<f32>::new());
        let no_trees = ForestBuilder::new(2, vec![1.0, 2.0]).finish().expect("a valid forest");
        assert_close(&evaluate(&no_trees, &x, &Device::flex(), CHUNK_ELEMENTS), &[1.0, 2.0, 1.0, 2.0], "no trees");
    }

    /// xorshift64*: a small deterministic generator for the random forests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u32) -> u32 {
            (self.next() >> 32) as u32 % n
        }
        fn chance(&mut self, p: f64) -> bool {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
        }
        /// Thresholds and values share a grid, so `x == threshold` happens often.
        fn grid(&mut self) -> f32 {
            (self.below(33) as f32 - 16.0) * 0.25
        }
    }

    /// Features from `CATEGORICAL_FROM` on hold categories.
    const FEATURES: u32 = 20;
    const CATEGORICAL_FROM: u32 = 15;

    /// Appends a random subtree to `nodes`, returning its index.
    fn grow(nodes: &mut Vec<TreeNode>, rng: &mut Rng, depth: u32) -> usize {
        let at = nodes.len();
        if depth == 0 || rng.chance(0.2) {
            nodes.push(leaf(rng.grid() * 0.37));
            return at;
        }
        let missing = [Missing::Nan, Missing::Zero, Missing::None][rng.below(3) as usize];
        let feature = rng.below(FEATURES);
        // The split's children are known only once grown: reserve its place first.
        nodes.push(leaf(0.0));
        let split: Box<dyn Fn(usize, usize) -> TreeNode> = if feature >= CATEGORICAL_FROM {
            let words = 1 + rng.below(3);
            let categories: Vec<u32> = (0..32 * words).filter(|_| rng.chance(0.4)).collect();
            let default_left = rng.chance(0.5);
            Box::new(move |l, r| categorical(feature, &categories, words, missing, default_left, l, r))
        } else {
            let default_left = rng.chance(0.5);
            let threshold = rng.grid();
            Box::new(move |l, r| numeric(feature, threshold, missing, default_left, l, r))
        };
        let left = grow(nodes, rng, depth - 1);
        let right = grow(nodes, rng, depth - 1);
        nodes[at] = split(left, right);
        at
    }

    fn random_forest(seed: u64, trees: u32, outputs: u32) -> Forest {
        let mut rng = Rng(seed);
        let base = (0..outputs).map(|_| rng.grid()).collect();
        let mut b = ForestBuilder::new(FEATURES, base);
        for tree in 0..trees {
            let max_depth = 1 + rng.below(8);
            let mut nodes = Vec::new();
            grow(&mut nodes, &mut rng, max_depth);
            b.add_tree(tree % outputs, &nodes).expect("a valid tree");
        }
        b.finish().expect("a valid forest")
    }

    fn random_rows(seed: u64, rows: usize) -> Vec<f32> {
        let mut rng = Rng(seed);
        (0..rows * FEATURES as usize)
            .map(|i| match rng.below(20) {
                0 | 1 => NAN,
                2 => 0.0,
                3 => -1e-36,
                _ if i % FEATURES as usize >= CATEGORICAL_FROM as usize => {
                    rng.below(110) as f32 - 5.0 + rng.below(2) as f32 * 0.5
                }
                _ => rng.grid() + if rng.chance(0.5) { 0.0 } else { 0.1 },
            })
            .collect()
    }

    #[test]
    fn forest_random_matches_the_reference_on_flex() {
        let forest = random_forest(7, 50, 3);
        assert!(forest.max_depth >= 6, "depth {}", forest.max_depth);
        let x = random_rows(11, 500);
        let expected = reference(&forest, &x);
        assert_close(&evaluate(&forest, &x, &Device::flex(), CHUNK_ELEMENTS), &expected, "flex");
        // Chunks of 3 rows (150 / 50 trees), the last one shorter.
        assert_close(&evaluate(&forest, &x, &Device::flex(), 150), &expected, "flex in chunks");
    }

    #[test]
    fn forest_matches_the_reference_on_wgpu() {
        // The test suite needs a wgpu adapter (lavapipe in CI), as the parity tests do.
        let device = crate::open_wgpu().expect("a wgpu adapter").device;
        let forest = hand_forest();
        let x: Vec<f32> = HAND_ROWS.iter().flatten().copied().collect();
        let expected: Vec<f32> = HAND_MARGINS.iter().flatten().copied().collect();
        assert_close(&evaluate(&forest, &x, &device, CHUNK_ELEMENTS), &expected, "wgpu hand");
        let forest = random_forest(3, 12, 3);
        let x = random_rows(5, 40);
        assert_close(&evaluate(&forest, &x, &device, CHUNK_ELEMENTS), &reference(&forest, &x), "wgpu random");
    }

    #[test]
    fn forest_malformed_is_an_error() {
        let device = Device::flex();
        type Break = (&'static str, fn(&mut Forest));
        let broken: [Break; 8] = [
            ("child out of range", |f| f.left[0] = 99),
            ("cycle", |f| f.right[0] = 0),
            ("lengths", |f| {
                f.threshold.pop();
            }),
            ("tree output", |f| f.tree_output[0] = 2),
            ("feature", |f| f.feature[0] = 3),
            ("leaf value", |f| f.leaf_value[1] = f32::INFINITY),
            ("bitset", |f| f.cat_len[12] = 9),
            ("base", |f| {
                f.base.pop();
            }),
        ];
        assert!(TensorForest::new(&hand_forest(), &device).is_ok());
        for (what, breaks) in broken {
            let mut forest = hand_forest();
            breaks(&mut forest);
            match TensorForest::new(&forest, &device) {
                Err(RuntimeError::Forest(reason)) => eprintln!("{what}: {reason}"),
                other => panic!("{what}: expected an error, got {other:?}"),
            }
        }
    }
}
