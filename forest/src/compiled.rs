//! The fast row walk: [`CompiledForest`], a [`Forest`] with a compact copy of its tables
//! built once at load, evaluated with the reference semantics of `eval.rs` bit for bit.
//!
//! Layout, built by [`CompiledForest::new`]:
//!
//! - **Slots.** Each row is first widened into a small array of *slots*: for every missing
//!   rule a split of the forest uses, one copy of the row with that rule already applied
//!   (`Nan` default right: the value itself, NaN compares false and goes right; `Nan`
//!   default left: NaN becomes -inf, which is `<=` every non-NaN threshold; `Zero`: NaN and
//!   `|x| <= 1e-35` become NaN or -inf by the default direction; `None`: NaN becomes 0.0);
//!   then one slot per distinct categorical test (source slot and bitset) of the forest,
//!   0.0 when the category goes left and 1.0 when not (LightGBM's rule, computed once per
//!   row); and one last slot holding -inf. Every split then is one comparison,
//!   `slots[slot] <= threshold` (a categorical one `decision <= 0.5`), whatever its rule.
//! - **Nodes.** 12 bytes each (`threshold`, `slot`, `left`), a split's two children adjacent
//!   (right is `left + 1`), laid out breadth first per tree; and, when the slot and node
//!   indices fit in one 32-bit word together (usual models), packed into 8 bytes
//!   ([`Packed`]), which is what the branch-free step reads. A leaf reads the -inf slot, holds
//!   its value as its threshold (finite, so -inf `<=` it: a leaf "goes left") and is its own
//!   left child: a walk of the tree's depth in steps ends on the leaf whichever path it takes,
//!   with no branch on the node kind.
//! - **Groups.** Trees are walked in chunks of [`CHUNK`] trees in table order; within a
//!   chunk, sorted by depth and cut into groups of [`WALK_LANES`] trees walked in lockstep
//!   (the deepest lane's depth in steps; a group deeper than [`EARLY_EXIT_DEPTH`], as
//!   leaf-wise LightGBM trees are, stops once every lane is on a leaf; the last group is
//!   padded with a spare leaf), so independent trees overlap in the CPU's out-of-order window
//!   instead of mispredicting. Each tree's leaf value lands in a per-chunk buffer at its
//!   table position, and the buffer is summed in table order, exactly as `eval.rs` does
//!   (f64, one running sum per output).
//! - **Exact sums.** When every partial sum of the forest's leaf values is provably exact in
//!   f64 (all leaves are multiples of `2^q` and the sum of every tree's largest `|leaf|`
//!   stays below `2^(q + 53)`: true for usual models), f64 addition is associative on them
//!   and the order is free: the buffer is summed by output with four running sums each, and
//!   with one output the whole forest is one chunk whose leaf values go straight into one
//!   running sum per lane. The result is the same bits.
//! - **The general step.** A split no slot comparison expresses (a NaN threshold, or a
//!   categorical one, with missing values going left) is a *reference node*, evaluated by
//!   [`Forest::goes_left`] on the original node; when a forest has more distinct
//!   categorical tests than trees (and [`MIN_DECISIONS`]), they are tested in the walk
//!   instead of per row. Groups holding either take the general step (a branch on the
//!   node's flags), the others the branch-free one.
//!
//! Memory is linear in the model: 12 bytes a node, about 8 bytes a tree, the bitsets once
//! more; no code is generated per tree. The walk reads the tables unchecked
//! (`get_unchecked`), relying on invariants [`Plan::build`] checks once
//! (`Plan::indices_in_range`), on a forest that passed [`Forest::validate`].

use std::collections::HashMap;
use std::ops::Deref;

use crate::eval::ZERO_THRESHOLD;
use crate::forest::{Forest, Missing, NodeKind};

/// Trees per chunk: the leaf values of one chunk are buffered on the stack before summing.
const CHUNK: usize = 256;
/// Slots kept on the stack; wider rows use a heap buffer.
const STACK_SLOTS: usize = 512;
/// Marks a reference node in [`Node::slot`].
const REFERENCE: u32 = 1 << 31;
/// Marks a categorical split in [`Node::slot`] (its threshold's bits are its bitset's offset
/// in [`Plan::bits`]).
const CATEGORICAL: u32 = 1 << 30;
/// The slot index (or feature, for reference nodes) in [`Node::slot`].
const SLOT: u32 = CATEGORICAL - 1;
/// Running sums per output when the sums are exact.
const LANES: usize = 4;
/// Per-row categorical decisions allowed even for forests of fewer trees.
const MIN_DECISIONS: usize = 256;
/// Trees walked in lockstep.
const WALK_LANES: usize = 8;
/// Runs deeper than this stop stepping once all lanes are on leaves (leaf-wise trees are
/// deep but their usual paths short); shallower ones always take their depth's steps.
const EARLY_EXIT_DEPTH: u32 = 8;

/// One compact node (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Node {
    /// The threshold (numeric split), the leaf value (leaf), the bits of the bitset's offset
    /// in [`Plan::bits`] (categorical split), or the original node index's bits (reference
    /// node).
    threshold: f32,
    /// Slot index (numeric split, leaf), [`CATEGORICAL`] | slot index (categorical split), or
    /// [`REFERENCE`] | feature (reference node).
    slot: u32,
    /// Compact index of the left child (the right one follows it); a leaf's own index.
    left: u32,
}

/// A node of the numeric step in 8 bytes: the threshold, and the slot in the low `shift`
/// bits of `word` with the left child above them (when both fit in 32 bits).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(8))]
struct Packed {
    threshold: f32,
    word: u32,
}

/// How a slot variant rewrites a feature value before `value <= threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    NanRight,
    NanLeft,
    ZeroRight,
    ZeroLeft,
    NoneZero,
}

const VARIANTS: [Variant; 5] = [
    Variant::NanRight,
    Variant::NanLeft,
    Variant::ZeroRight,
    Variant::ZeroLeft,
    Variant::NoneZero,
];

impl Variant {
    fn index(self) -> usize {
        self as usize
    }

    fn of(missing: Missing, default_left: bool) -> Variant {
        match (missing, default_left) {
            (Missing::Nan, false) => Variant::NanRight,
            (Missing::Nan, true) => Variant::NanLeft,
            (Missing::Zero, false) => Variant::ZeroRight,
            (Missing::Zero, true) => Variant::ZeroLeft,
            (Missing::None, _) => Variant::NoneZero,
        }
    }

    /// Whether the variant marks default-left values with -inf (which a NaN threshold or a
    /// category test would send right).
    fn sends_default_left(self) -> bool {
        matches!(self, Variant::NanLeft | Variant::ZeroLeft)
    }

    #[inline]
    fn apply(self, x: f32) -> f32 {
        match self {
            Variant::NanRight => x,
            Variant::NanLeft => {
                if x.is_nan() {
                    f32::NEG_INFINITY
                } else {
                    x
                }
            }
            Variant::ZeroRight | Variant::ZeroLeft => {
                let is_default = x.is_nan() || x.abs() <= ZERO_THRESHOLD;
                match (is_default, self == Variant::ZeroLeft) {
                    (false, _) => x,
                    (true, true) => f32::NEG_INFINITY,
                    (true, false) => f32::NAN,
                }
            }
            Variant::NoneZero => {
                if x.is_nan() {
                    0.0
                } else {
                    x
                }
            }
        }
    }
}

/// [`WALK_LANES`] trees of one chunk walked in lockstep.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    /// Steps to take: the deepest lane's depth.
    steps: u32,
    /// Whether a lane holds a categorical or reference node (then every lane takes the
    /// general step).
    general: bool,
    /// The lanes' compact roots (a padding lane: the spare leaf, the last node).
    roots: [u32; WALK_LANES],
    /// Where each lane's leaf value goes in the chunk's value buffer (a padding lane:
    /// [`CHUNK`], a scratch entry): the tree's position in the chunk, or with exact sums its
    /// place in the chunk's trees ordered by output.
    at: [u32; WALK_LANES],
    /// Each lane's tree (table position; `u32::MAX` for padding), for the build's checks.
    tree: [u32; WALK_LANES],
}

/// With exact sums: the value buffer's entries `start..end` of one chunk all add to `output`.
#[derive(Clone, Debug, PartialEq)]
struct Segment {
    output: u32,
    start: u32,
    end: u32,
}

#[derive(Clone, Debug, PartialEq)]
struct Chunk {
    /// Table positions of its trees: `first..first + trees`.
    first: u32,
    trees: u32,
    /// `groups[groups_start..groups_end]`.
    groups_start: u32,
    groups_end: u32,
    /// `segments[segments_start..segments_end]` (exact sums only).
    segments_start: u32,
    segments_end: u32,
}

/// The compact tables (module documentation).
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    /// The 12-byte nodes; emptied after the build's checks when only the packed step runs
    /// (packed nodes, no general group).
    nodes: Vec<Node>,
    features: usize,
    /// Slot offset of each used [`Variant`] (by index), `None` when unused.
    variant_offset: [Option<u32>; 5],
    /// Slots per row, the last one -inf.
    slots: usize,
    groups: Vec<Group>,
    chunks: Vec<Chunk>,
    segments: Vec<Segment>,
    /// `nodes` packed for the numeric step, when slot and child indices fit in one word
    /// (empty otherwise), with the slot's bit width.
    packed: Vec<Packed>,
    pack_shift: u32,
    /// Per-row categorical decisions: (source slot, bitset offset in `bits`), written to
    /// slots `decision_base..` as 0.0 (left) or 1.0 (right).
    decisions: Vec<(u32, u32)>,
    decision_base: usize,
    /// Categorical bitsets: at each offset the word count `len`, the `len` words, one zero
    /// word; offset 0 is an empty set (`[0, 0]`).
    bits: Vec<u32>,
    /// Whether leaf values go straight into running sums, in any order (one output, exact
    /// sums): then `chunks` is one chunk of every tree.
    direct: bool,
    /// Whether four running sums per output give the same bits as one (module docs).
    exact: bool,
}

/// How a [`CompiledForest`] walks its trees ([`CompiledForest::layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompiledLayout {
    /// Bytes of the compact tables (nodes, groups, bitsets).
    pub bytes: usize,
    /// Values each row is widened to (one per feature and missing rule used, one per
    /// categorical decision, one -inf).
    pub slots: usize,
    /// Categorical tests computed once per row (distinct source and bitset).
    pub decisions: usize,
    /// Groups of trees walked in lockstep, and how many of them take the general step
    /// (categorical tests in the walk, or reference nodes).
    pub groups: usize,
    pub general_groups: usize,
    /// Whether the margins use four running sums per output (exact; module documentation).
    pub exact_sums: bool,
}

/// A [`Forest`] with its compact walk (module documentation). Dereferences to the tables;
/// [`CompiledForest::predict_margins`] is the fast one-row evaluation, bit-identical to
/// [`Forest::predict_margins`].
#[derive(Clone, Debug)]
pub struct CompiledForest {
    forest: Forest,
    /// `None` when the tables are too large for the compact indices (then the reference
    /// walk runs).
    plan: Option<Plan>,
}

impl Deref for CompiledForest {
    type Target = Forest;
    fn deref(&self) -> &Forest {
        &self.forest
    }
}

impl From<Forest> for CompiledForest {
    fn from(forest: Forest) -> Self {
        CompiledForest::new(forest)
    }
}

impl CompiledForest {
    /// Builds the compact walk of a forest that passes [`Forest::validate`] (on one that
    /// does not, the reference walk is kept, with its own panics).
    pub fn new(forest: Forest) -> CompiledForest {
        let plan = if forest.validate().is_ok() {
            Plan::build(&forest)
        } else {
            None
        };
        CompiledForest { forest, plan }
    }

    /// The node tables.
    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    /// The node tables, giving up the compact walk.
    pub fn into_forest(self) -> Forest {
        self.forest
    }

    /// Whether the compact walk is in use (false only for tables too large for it).
    pub fn is_compiled(&self) -> bool {
        self.plan.is_some()
    }

    /// Whether the margins are summed with four running sums per output (exact; see the
    /// module documentation).
    pub fn sums_exactly(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| p.exact)
    }

    /// How the compact walk is laid out (`None` when the reference walk runs).
    pub fn layout(&self) -> Option<CompiledLayout> {
        self.plan.as_ref().map(|p| CompiledLayout {
            bytes: self.compiled_bytes(),
            slots: p.slots,
            decisions: p.decisions.len(),
            groups: p.groups.len(),
            general_groups: p.groups.iter().filter(|g| g.general).count(),
            exact_sums: p.exact,
        })
    }

    /// Bytes of the compact tables.
    pub fn compiled_bytes(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| {
            p.nodes.len() * std::mem::size_of::<Node>()
                + p.packed.len() * std::mem::size_of::<Packed>()
                + p.groups.len() * std::mem::size_of::<Group>()
                + p.bits.len() * 4
                + p.chunks.len() * std::mem::size_of::<Chunk>()
        })
    }

    /// One row's margins, bit-identical to [`Forest::predict_margins`] (the reference).
    ///
    /// Panics when `x.len() != features` or `out.len() != outputs`.
    pub fn predict_margins(&self, x: &[f32], out: &mut [f32]) {
        let Some(plan) = &self.plan else {
            return self.forest.predict_margins(x, out);
        };
        assert_eq!(
            x.len(),
            self.forest.features as usize,
            "row width differs from the forest's features"
        );
        assert_eq!(
            out.len(),
            self.forest.outputs as usize,
            "output width differs from the forest's outputs"
        );
        // The slot buffer: on the stack, no larger than needed to zero, for most models.
        if plan.slots <= 64 {
            plan.run_with::<64>(&self.forest, x, out);
        } else if plan.slots <= 256 {
            plan.run_with::<256>(&self.forest, x, out);
        } else if plan.slots <= STACK_SLOTS {
            plan.run_with::<STACK_SLOTS>(&self.forest, x, out);
        } else {
            let mut slots = vec![0.0f32; plan.slots];
            plan.fill_slots(x, &mut slots);
            plan.margins(&self.forest, x, &slots, out);
        }
    }

    /// Margins of several rows, row-major (`rows.len() == n * features`,
    /// `out.len() == n * outputs`): [`CompiledForest::predict_margins`] on each.
    pub fn predict_margins_rows(&self, rows: &[f32], out: &mut [f32]) {
        let (f, o) = (self.forest.features as usize, self.forest.outputs as usize);
        assert!(
            f > 0 && rows.len().is_multiple_of(f) && rows.len() / f * o == out.len(),
            "rows and outputs disagree with the forest's widths"
        );
        for (row, margins) in rows.chunks_exact(f).zip(out.chunks_exact_mut(o)) {
            self.predict_margins(row, margins);
        }
    }
}

/// The smallest `q` with every nonzero leaf value a multiple of `2^q`.
fn quantum(v: f32) -> Option<i32> {
    if v == 0.0 {
        return None;
    }
    let bits = v.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    let (m, e) = if exponent == 0 {
        (mantissa, -149)
    } else {
        (mantissa | 0x80_0000, exponent - 150)
    };
    Some(e + m.trailing_zeros() as i32)
}

/// One way of stepping through the nodes (see [`Plan::walk_group`]).
trait Walker {
    /// The node after `i` (a leaf's is itself).
    fn step(&self, i: u32) -> u32;
    fn is_leaf(&self, i: u32) -> bool;
    /// A leaf's value.
    fn value(&self, i: u32) -> f32;
}

/// The branch-free step over the 12-byte nodes.
struct Wide<'a> {
    nodes: &'a [Node],
    slots: &'a [f32],
}

/// The branch-free step over the 8-byte nodes.
struct Narrow<'a> {
    packed: &'a [Packed],
    slots: &'a [f32],
    shift: u32,
}

/// The general step (categorical tests in the walk, reference nodes).
struct General<'a> {
    plan: &'a Plan,
    forest: &'a Forest,
    x: &'a [f32],
    slots: &'a [f32],
}

// SAFETY (all three): `Plan::indices_in_range` checked at build that every node's slot,
// children and bitset are in range (packed nodes decoding to the same), that groups start
// from roots or the spare leaf, and that groups of the branch-free steps hold no flagged
// node; `slots` is `Plan::slots` long (`predict_margins`). `Wide` runs only when there are
// no packed nodes, and `General` only on general groups: in both cases `Plan::nodes` was kept.
impl Walker for Wide<'_> {
    #[inline(always)]
    fn step(&self, i: u32) -> u32 {
        let n = unsafe { *self.nodes.get_unchecked(i as usize) };
        let v = unsafe { *self.slots.get_unchecked(n.slot as usize) };
        // NaN compares false: it goes right.
        let left = v <= n.threshold;
        n.left + u32::from(!left)
    }
    #[inline(always)]
    fn is_leaf(&self, i: u32) -> bool {
        unsafe { self.nodes.get_unchecked(i as usize) }.slot as usize == self.slots.len() - 1
    }
    #[inline(always)]
    fn value(&self, i: u32) -> f32 {
        unsafe { self.nodes.get_unchecked(i as usize) }.threshold
    }
}

impl Walker for Narrow<'_> {
    #[inline(always)]
    fn step(&self, i: u32) -> u32 {
        let n = unsafe { *self.packed.get_unchecked(i as usize) };
        let mask = (1u32 << self.shift) - 1;
        let v = unsafe { *self.slots.get_unchecked((n.word & mask) as usize) };
        let left = v <= n.threshold;
        (n.word >> self.shift) + u32::from(!left)
    }
    #[inline(always)]
    fn is_leaf(&self, i: u32) -> bool {
        let mask = (1u32 << self.shift) - 1;
        let word = unsafe { self.packed.get_unchecked(i as usize) }.word;
        (word & mask) as usize == self.slots.len() - 1
    }
    #[inline(always)]
    fn value(&self, i: u32) -> f32 {
        unsafe { self.packed.get_unchecked(i as usize) }.threshold
    }
}

impl Walker for General<'_> {
    #[inline(always)]
    fn step(&self, i: u32) -> u32 {
        self.plan.step_general(self.forest, self.x, self.slots, i)
    }
    #[inline(always)]
    fn is_leaf(&self, i: u32) -> bool {
        unsafe { self.plan.nodes.get_unchecked(i as usize) }.slot as usize == self.slots.len() - 1
    }
    #[inline(always)]
    fn value(&self, i: u32) -> f32 {
        unsafe { self.plan.nodes.get_unchecked(i as usize) }.threshold
    }
}

impl Plan {
    fn build(f: &Forest) -> Option<Plan> {
        let features = f.features as usize;
        let trees = f.roots.len();
        let n = f.kind.len();
        // Which variants the numeric splits use, and which nodes need the reference.
        let mut used = [false; 5];
        let mut reference = vec![false; n];
        for (i, kind) in f.kind.iter().enumerate() {
            match kind {
                NodeKind::Leaf => {}
                NodeKind::Numeric => {
                    let v = Variant::of(f.missing[i], f.default_left[i]);
                    if f.threshold[i].is_nan() && v.sends_default_left() {
                        reference[i] = true;
                    } else {
                        used[v.index()] = true;
                    }
                }
                NodeKind::Categorical => {
                    let v = Variant::of(f.missing[i], f.default_left[i]);
                    if v.sends_default_left() {
                        reference[i] = true;
                    } else {
                        used[v.index()] = true;
                    }
                }
            }
        }
        let mut variant_offset = [None; 5];
        let mut slots: u64 = 0;
        for v in VARIANTS {
            if used[v.index()] {
                variant_offset[v.index()] = Some(u32::try_from(slots).ok()?);
                slots += features as u64;
            }
        }
        // Categorical splits as decisions computed once per row (one per distinct source
        // slot and bitset), when there are few enough of them; each such split becomes a
        // numeric one, `decision <= 0.5`.
        let mut bits: Vec<u32> = vec![0, 0];
        let mut decisions: Vec<(u32, u32)> = Vec::new();
        let mut decision_of: HashMap<(u32, &[u32]), u32> = HashMap::new();
        let mut node_decision: HashMap<usize, u32> = HashMap::new();
        let categorical = (0..n)
            .filter(|&i| f.kind[i] == NodeKind::Categorical && !reference[i])
            .collect::<Vec<_>>();
        let decision_base = slots;
        for &i in &categorical {
            let v = Variant::of(f.missing[i], f.default_left[i]);
            let src = variant_offset[v.index()]? + f.feature[i];
            let (start, len) = (f.cat_offset[i] as usize, f.cat_len[i] as usize);
            let words = f.cat_bits.get(start..start + len)?;
            let next = decisions.len() as u32;
            let d = *decision_of.entry((src, words)).or_insert(next);
            if d == next {
                let at = u32::try_from(bits.len()).ok()?;
                bits.push(len as u32);
                bits.extend_from_slice(words);
                bits.push(0);
                decisions.push((src, at));
            }
            node_decision.insert(i, d);
        }
        if decisions.len() > trees.max(MIN_DECISIONS) {
            // Too many to compute for every row: the general step tests them in the walk.
            decisions.clear();
            node_decision.clear();
        } else {
            slots += decisions.len() as u64;
        }
        let neg_inf_slot = u32::try_from(slots).ok()?;
        slots += 1;
        if slots >= u64::from(CATEGORICAL) || features as u64 >= u64::from(CATEGORICAL) {
            return None;
        }
        if n >= u32::MAX as usize {
            return None;
        }

        // Nodes, breadth first per tree, children adjacent.
        let mut nodes = vec![
            Node {
                threshold: 0.0,
                slot: 0,
                left: 0
            };
            n
        ];
        let mut tree_depth = vec![0u32; trees];
        let mut tree_general = vec![false; trees];
        let mut queue: Vec<(usize, u32, u32)> = Vec::new();
        for t in 0..trees {
            let root = f.roots[t] as usize;
            let base = root as u32;
            let mut next = base + 1;
            queue.clear();
            queue.push((root, base, 0));
            let mut head = 0;
            while let Some(&(orig, at, depth)) = queue.get(head) {
                head += 1;
                tree_depth[t] = tree_depth[t].max(depth);
                let node = match f.kind[orig] {
                    NodeKind::Leaf => Node {
                        threshold: f.leaf_value[orig],
                        slot: neg_inf_slot,
                        left: at,
                    },
                    _ => {
                        let left = next;
                        next += 2;
                        queue.push((f.left[orig] as usize, left, depth + 1));
                        queue.push((f.right[orig] as usize, left + 1, depth + 1));
                        if reference[orig] {
                            tree_general[t] = true;
                            Node {
                                threshold: f32::from_bits(orig as u32),
                                slot: REFERENCE | f.feature[orig],
                                left,
                            }
                        } else if let Some(&d) = node_decision.get(&orig) {
                            Node {
                                threshold: 0.5,
                                slot: decision_base as u32 + d,
                                left,
                            }
                        } else if f.kind[orig] == NodeKind::Categorical {
                            tree_general[t] = true;
                            let v = Variant::of(f.missing[orig], f.default_left[orig]);
                            let offset = variant_offset[v.index()]?;
                            let at = u32::try_from(bits.len()).ok()?;
                            let (start, len) = (f.cat_offset[orig] as usize, f.cat_len[orig]);
                            bits.push(len);
                            bits.extend_from_slice(f.cat_bits.get(start..start + len as usize)?);
                            bits.push(0);
                            Node {
                                threshold: f32::from_bits(at),
                                slot: CATEGORICAL | (offset + f.feature[orig]),
                                left,
                            }
                        } else {
                            let v = Variant::of(f.missing[orig], f.default_left[orig]);
                            let offset = variant_offset[v.index()]?;
                            Node {
                                threshold: f.threshold[orig],
                                slot: offset + f.feature[orig],
                                left,
                            }
                        }
                    }
                };
                nodes[at as usize] = node;
            }
            // A validated tree is contiguous, so breadth first fills exactly its nodes.
            let end = f.roots.get(t + 1).map_or(n, |&r| r as usize);
            if next as usize != end {
                return None;
            }
        }

        // The spare leaf padding lanes start on.
        let spare = u32::try_from(nodes.len()).ok()?;
        nodes.push(Node {
            threshold: 0.0,
            slot: neg_inf_slot,
            left: spare,
        });

        // Walk order: chunks in table order; inside, trees sorted by (walker, depth) and cut
        // into groups of WALK_LANES. With one output and exact sums, the order is free: one
        // chunk of every tree, whose leaf values go straight into running sums.
        let exact = Self::sums_are_exact(f);
        let direct = exact && f.outputs == 1;
        let chunk_len = if direct { trees.max(1) } else { CHUNK };
        let mut groups = Vec::new();
        let mut chunks = Vec::new();
        let mut segments = Vec::new();
        let mut position = vec![0u32; chunk_len];
        for first in (0..trees).step_by(chunk_len) {
            let last = (first + chunk_len).min(trees);
            // Value positions: table order, or with exact sums ordered by output.
            let mut by_output: Vec<usize> = (first..last).collect();
            if exact {
                by_output.sort_by_key(|&t| (f.tree_output[t], t));
            }
            let segments_start = segments.len() as u32;
            for (p, &t) in by_output.iter().enumerate() {
                position[t - first] = p as u32;
                let o = f.tree_output[t];
                let in_chunk = segments.len() as u32 > segments_start;
                match segments.last_mut() {
                    Some(Segment { output, end, .. }) if in_chunk && *output == o => {
                        *end = p as u32 + 1;
                    }
                    _ => segments.push(Segment {
                        output: o,
                        start: p as u32,
                        end: p as u32 + 1,
                    }),
                }
            }
            let mut members: Vec<usize> = (first..last).collect();
            members.sort_by_key(|&t| (tree_general[t], tree_depth[t], t));
            let groups_start = groups.len() as u32;
            for lanes in members.chunks(WALK_LANES) {
                let mut group = Group {
                    steps: 0,
                    general: false,
                    roots: [spare; WALK_LANES],
                    at: [CHUNK as u32; WALK_LANES],
                    tree: [u32::MAX; WALK_LANES],
                };
                for (k, &t) in lanes.iter().enumerate() {
                    group.steps = group.steps.max(tree_depth[t]);
                    group.general |= tree_general[t];
                    group.roots[k] = f.roots[t];
                    group.at[k] = position[t - first];
                    group.tree[k] = t as u32;
                }
                groups.push(group);
            }
            chunks.push(Chunk {
                first: first as u32,
                trees: (last - first) as u32,
                groups_start,
                groups_end: groups.len() as u32,
                segments_start,
                segments_end: segments.len() as u32,
            });
        }

        // 8-byte nodes for the numeric step when the indices fit.
        let slot_bits = 32 - ((slots - 1) as u32).leading_zeros();
        let node_bits = 32 - (nodes.len() as u32).leading_zeros();
        let (packed, pack_shift) = if slot_bits + node_bits <= 32 && slot_bits < 32 {
            let mask = (1u32 << slot_bits) - 1;
            let packed = nodes
                .iter()
                .map(|n| Packed {
                    threshold: n.threshold,
                    word: (n.slot & mask) | (n.left << slot_bits),
                })
                .collect();
            (packed, slot_bits)
        } else {
            (Vec::new(), 0)
        };
        let plan = Plan {
            packed,
            pack_shift,
            nodes,
            features,
            variant_offset,
            slots: slots as usize,
            groups,
            chunks,
            segments,
            bits,
            decisions,
            decision_base: decision_base as usize,
            exact,
            direct,
        };
        if !plan.indices_in_range(f) {
            return None;
        }
        let mut plan = plan;
        if !plan.packed.is_empty() && !plan.groups.iter().any(|g| g.general) {
            // Only the packed step runs: the 12-byte nodes are not read again.
            plan.nodes = Vec::new();
        }
        Some(plan)
    }

    /// What the unchecked reads of the walk rely on, checked once: every node's slot,
    /// bitset and original node are inside their tables; a leaf (the last slot, -inf) has a
    /// finite value so it always goes to its own index, and every other node's two children
    /// are nodes; every walk root is a node; trees walked by the numeric step hold no
    /// flagged node.
    fn indices_in_range(&self, f: &Forest) -> bool {
        let n = self.nodes.len();
        let leaf_slot = self.slots as u32 - 1;
        let bits_end = self.bits.len().saturating_sub(1);
        let nodes_ok = self.nodes.iter().all(|node| {
            let children = if node.slot == leaf_slot {
                node.threshold.is_finite() && (node.left as usize) < n
            } else {
                (node.left as usize) + 1 < n
            };
            let target = if node.slot & REFERENCE != 0 {
                ((node.threshold.to_bits() as usize) < f.kind.len())
                    && (node.slot & SLOT) < f.features
            } else if node.slot & CATEGORICAL != 0 {
                let at = node.threshold.to_bits() as usize;
                (node.slot & SLOT) < leaf_slot
                    && self
                        .bits
                        .get(at)
                        .is_some_and(|&len| at + 1 + len as usize <= bits_end)
            } else {
                (node.slot as usize) < self.slots
            };
            children && target
        });
        let trees = f.roots.len();
        let groups_ok = self.chunks.iter().all(|c| {
            let groups = self
                .groups
                .get(c.groups_start as usize..c.groups_end as usize);
            groups.is_some_and(|groups| {
                groups.iter().all(|g| {
                    (0..WALK_LANES).all(|k| {
                        let (root, at, t) = (g.roots[k], g.at[k], g.tree[k] as usize);
                        if g.tree[k] == u32::MAX {
                            return root as usize == n - 1 && at as usize == CHUNK;
                        }
                        if at >= c.trees
                            || t < c.first as usize
                            || t >= (c.first + c.trees) as usize
                            || t >= trees
                            || root != f.roots[t]
                        {
                            return false;
                        }
                        let end = f.roots.get(t + 1).map_or(n - 1, |&r| r as usize);
                        g.general
                            || self.nodes[root as usize..end]
                                .iter()
                                .all(|node| node.slot & (REFERENCE | CATEGORICAL) == 0)
                    })
                })
            })
        });
        let decisions_ok = self.decisions.iter().all(|&(src, at)| {
            let at = at as usize;
            (src as usize) < self.decision_base
                && self
                    .bits
                    .get(at)
                    .is_some_and(|&len| at + 1 + len as usize <= bits_end)
        }) && self.decision_base + self.decisions.len() < self.slots;
        let packed_ok = self.packed.is_empty()
            || (self.packed.len() == n
                && self.pack_shift < 32
                && self.packed.iter().zip(&self.nodes).all(|(p, node)| {
                    let mask = (1u32 << self.pack_shift) - 1;
                    node.slot & (REFERENCE | CATEGORICAL) != 0
                        || (p.word & mask == node.slot
                            && p.word >> self.pack_shift == node.left
                            && p.threshold.to_bits() == node.threshold.to_bits())
                }));
        nodes_ok
            && packed_ok
            && decisions_ok
            && groups_ok
            && (self.direct || self.chunks.iter().all(|c| c.trees as usize <= CHUNK))
            && self.bits.len() >= 2
            && self.bits[0] == 0
            && self.bits[1] == 0
    }

    /// Whether every partial sum of leaf values, in any order and any grouping, is exact in
    /// f64: all leaves are multiples of `2^q`, and the sum over trees of each tree's largest
    /// `|leaf|` (a bound on every partial sum) is below `2^(q + 53)` with room for the
    /// rounding of that bound itself.
    fn sums_are_exact(f: &Forest) -> bool {
        let q = f.leaf_value.iter().filter_map(|&v| quantum(v)).min();
        let Some(q) = q else {
            return true; // all leaves are zero
        };
        let trees = f.roots.len();
        if trees > 1 << 30 {
            return false;
        }
        let mut bound = 0.0f64;
        for t in 0..trees {
            let start = f.roots[t] as usize;
            let end = f.roots.get(t + 1).map_or(f.kind.len(), |&r| r as usize);
            let largest = f.leaf_value[start..end]
                .iter()
                .fold(0.0f64, |a, &v| a.max(f64::from(v).abs()));
            bound += largest;
        }
        // Relative rounding error of `bound` is below trees * 2^-53 <= 2^-23.
        let limit = (2.0f64).powi(q + 53);
        bound.is_finite() && bound * (1.0 + 2f64.powi(-20)) < limit
    }

    #[inline(always)]
    fn run_with<const N: usize>(&self, f: &Forest, x: &[f32], out: &mut [f32]) {
        let mut buffer = [0.0f32; N];
        let slots = &mut buffer[..self.slots];
        self.fill_slots(x, slots);
        self.margins(f, x, slots, out);
    }

    #[inline]
    fn fill_slots(&self, x: &[f32], slots: &mut [f32]) {
        for v in VARIANTS {
            if let Some(offset) = self.variant_offset[v.index()] {
                let offset = offset as usize;
                let dst = &mut slots[offset..offset + self.features];
                for (d, &s) in dst.iter_mut().zip(x) {
                    *d = v.apply(s);
                }
            }
        }
        for (k, &(src, at)) in self.decisions.iter().enumerate() {
            let left = self.category_left(at as usize, slots[src as usize]);
            slots[self.decision_base + k] = if left { 0.0 } else { 1.0 };
        }
        if let Some(last) = slots.last_mut() {
            *last = f32::NEG_INFINITY;
        }
    }

    /// One step of a tree with categorical or reference nodes: categorical splits branch-free
    /// (LightGBM's rule on the slot value: in `(-1, 2^31)`, bit `trunc(v)` of the bitset, a
    /// NaN or default-marked value goes right), reference nodes through [`Forest::goes_left`].
    #[inline(always)]
    fn step_general(&self, f: &Forest, x: &[f32], slots: &[f32], i: u32) -> u32 {
        // SAFETY: as in `step`; categorical offsets and their words were checked too.
        let n = unsafe { *self.nodes.get_unchecked(i as usize) };
        if n.slot & REFERENCE != 0 {
            let orig = n.threshold.to_bits() as usize;
            let left = f.goes_left(orig, x[(n.slot & SLOT) as usize]);
            return n.left + u32::from(!left);
        }
        let is_cat = n.slot & CATEGORICAL != 0;
        let v = unsafe { *slots.get_unchecked((n.slot & SLOT) as usize) };
        let numeric_left = v <= n.threshold;
        let at = if is_cat {
            n.threshold.to_bits() as usize
        } else {
            0
        };
        let left = if is_cat {
            self.category_left(at, v)
        } else {
            numeric_left
        };
        n.left + u32::from(!left)
    }

    /// LightGBM's category test on a slot value against the bitset at `at` in `bits`: in
    /// `(-1, 2^31)` and bit `trunc(v)` set; a NaN or default-marked value goes right.
    #[inline(always)]
    fn category_left(&self, at: usize, v: f32) -> bool {
        let c = if v > -1.0 && v < 2_147_483_648.0 {
            v as u32
        } else {
            u32::MAX
        };
        // SAFETY: `at` is a bitset offset checked by `indices_in_range` (0 or a categorical
        // node's or decision's), whose `len` words and a zero word follow it.
        let len = unsafe { *self.bits.get_unchecked(at) };
        let word = unsafe { *self.bits.get_unchecked(at + 1 + (c >> 5).min(len) as usize) };
        (word >> (c & 31)) & 1 != 0
    }

    /// Walks one group's lanes in lockstep, `steps` steps (fewer when the group is deeper
    /// than [`EARLY_EXIT_DEPTH`] and every lane is on a leaf); returns each lane's leaf.
    #[inline(always)]
    fn walk_group<W: Walker>(g: &Group, w: &W) -> [u32; WALK_LANES] {
        let early = g.steps > EARLY_EXIT_DEPTH;
        let mut lane = g.roots;
        for _ in 0..g.steps {
            for i in lane.iter_mut() {
                *i = w.step(*i);
            }
            if early && lane.iter().fold(true, |all, &i| all & w.is_leaf(i)) {
                break;
            }
        }
        lane
    }

    /// Every group walked by `w` (or the general step); with one output and exact sums the
    /// leaf values go straight into [`WALK_LANES`] running sums, otherwise into the chunk's
    /// value buffer, summed per chunk.
    #[inline(always)]
    fn walk_all<W: Walker>(&self, w: &W, general: &General<'_>, out: &mut [f32], f: &Forest) {
        if self.direct {
            let mut acc = [0.0f64; WALK_LANES];
            for g in &self.groups {
                let lane = if g.general {
                    Self::walk_group(g, general)
                } else {
                    Self::walk_group(g, w)
                };
                for (a, &i) in acc.iter_mut().zip(&lane) {
                    *a += f64::from(w.value(i));
                }
            }
            let mut width = WALK_LANES;
            while width > 1 {
                width /= 2;
                for k in 0..width {
                    acc[k] += acc[k + width];
                }
            }
            out[0] = (acc[0] + f64::from(f.base[0])) as f32;
            return;
        }
        self.sum_chunks(f, out, |g, values| {
            let lane = if g.general {
                Self::walk_group(g, general)
            } else {
                Self::walk_group(g, w)
            };
            for (&i, &at) in lane.iter().zip(&g.at) {
                // SAFETY: `at <= CHUNK` (`indices_in_range`).
                unsafe { *values.get_unchecked_mut(at as usize) = w.value(i) };
            }
        });
    }

    fn margins(&self, f: &Forest, x: &[f32], slots: &[f32], out: &mut [f32]) {
        let general = General {
            plan: self,
            forest: f,
            x,
            slots,
        };
        if self.packed.is_empty() {
            let w = Wide {
                nodes: &self.nodes,
                slots,
            };
            self.walk_all(&w, &general, out, f);
        } else {
            let w = Narrow {
                packed: &self.packed,
                slots,
                shift: self.pack_shift,
            };
            self.walk_all(&w, &general, out, f);
        }
    }

    /// Walks each chunk's groups with `walk` (which stores every lane's leaf value in the
    /// buffer), then adds the buffer to the margins: in table order, or with exact sums by
    /// output segments into four running sums each.
    #[inline(always)]
    fn sum_chunks(
        &self,
        f: &Forest,
        out: &mut [f32],
        walk: impl Fn(&Group, &mut [f32; CHUNK + 1]),
    ) {
        let outputs = out.len();
        let lanes = if self.exact { LANES } else { 1 };
        let mut small = [0.0f64; 16 * LANES];
        let mut large = Vec::new();
        let sums: &mut [f64] = if outputs * lanes <= small.len() {
            &mut small[..outputs * lanes]
        } else {
            large.resize(outputs * lanes, 0.0);
            &mut large
        };
        let mut values = [0.0f32; CHUNK + 1];
        for chunk in &self.chunks {
            let first = chunk.first as usize;
            for g in &self.groups[chunk.groups_start as usize..chunk.groups_end as usize] {
                walk(g, &mut values);
            }
            let values = &values[..chunk.trees as usize];
            if !self.exact {
                let outs = &f.tree_output[first..first + values.len()];
                for (&v, &o) in values.iter().zip(outs) {
                    sums[o as usize] += f64::from(v);
                }
                continue;
            }
            let segments =
                &self.segments[chunk.segments_start as usize..chunk.segments_end as usize];
            for seg in segments {
                let o = seg.output as usize * LANES;
                let (mut s0, mut s1, mut s2, mut s3) =
                    (sums[o], sums[o + 1], sums[o + 2], sums[o + 3]);
                let mut v4 = values[seg.start as usize..seg.end as usize].chunks_exact(LANES);
                for v in &mut v4 {
                    s0 += f64::from(v[0]);
                    s1 += f64::from(v[1]);
                    s2 += f64::from(v[2]);
                    s3 += f64::from(v[3]);
                }
                for (k, &v) in v4.remainder().iter().enumerate() {
                    match k {
                        0 => s0 += f64::from(v),
                        1 => s1 += f64::from(v),
                        _ => s2 += f64::from(v),
                    }
                }
                sums[o..o + LANES].copy_from_slice(&[s0, s1, s2, s3]);
            }
        }
        for (o, (m, b)) in out.iter_mut().zip(&f.base).enumerate() {
            let s = if self.exact {
                let l = &sums[o * LANES..o * LANES + LANES];
                (l[0] + l[1]) + (l[2] + l[3])
            } else {
                sums[o]
            };
            *m = (s + f64::from(*b)) as f32;
        }
    }
}
