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
//!   (right is `left + 1`), laid out breadth first per tree; and, when every slot index and
//!   every left child's offset from its parent fit in 16 bits (usual models), copied into
//!   8-byte [`Near`] nodes (`threshold`, `slot`, `delta`), which is what the branch-free step
//!   reads: the next node is `i + delta + (slot value > threshold or NaN)`, one add with
//!   carry after the comparison. A leaf reads the -inf slot, holds its value as its threshold
//!   (finite, so -inf `<=` it: a leaf "goes left") and is its own left child (`delta` 0): a
//!   walk of the tree's depth in steps ends on the leaf whichever path it takes, with no
//!   branch on the node kind.
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
//!   and the order is free. Then, unless it would cost many padding lanes (many outputs with
//!   few trees each), the sums are *direct*: each output's trees are grouped on their own
//!   (sorted by depth, cut into groups of [`WALK_LANES`]), and each lane's leaf value goes
//!   straight into one running sum per lane, with no buffer (multiclass models walk their K
//!   outputs one after another); trees that are a single leaf are not walked at all, their
//!   values summed once at build into a per-output constant. Otherwise the buffer is summed
//!   by output with four running sums each. The result is the same bits.
//! - **The general step.** A split no slot comparison expresses (a NaN threshold, or a
//!   categorical one, with missing values going left) is a *reference node*, evaluated by
//!   [`Forest::goes_left`] on the original node; when a forest has more distinct
//!   categorical tests than trees (and [`MIN_DECISIONS`]), they are tested in the walk
//!   instead of per row. Groups holding either take the general step (a branch on the
//!   node's flags), the others the branch-free one.
//!
//! Memory is linear in the model: 8 bytes a node (12 when the near nodes do not fit, or a
//! group takes the general step, 20 when both are kept), about 8 bytes a tree, the bitsets
//! once more; no code is generated per tree. The tables are built in `build.rs`, walked in
//! `walk.rs`; `variant.rs` holds the missing rules folded into the slots. The walk reads the tables unchecked
//! (`get_unchecked`), relying on invariants [`Plan::build`] checks once
//! (`Plan::indices_in_range`), on a forest that passed [`Forest::validate`].

mod build;
mod variant;
mod walk;

use std::ops::Deref;

use crate::forest::Forest;

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

/// A node of the numeric step in 8 bytes: the threshold, the slot, and the left child as an
/// offset from the node itself (0 for a leaf), when both fit in 16 bits. A step is then one
/// add with carry: `i + delta + (goes right)`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(8))]
struct Near {
    threshold: f32,
    /// The slot in the low 16 bits, the left child's offset (`delta`) in the high ones: one
    /// 32-bit load for both.
    link: u32,
}

impl Near {
    fn new(threshold: f32, slot: u16, delta: u16) -> Near {
        Near { threshold, link: u32::from(slot) | (u32::from(delta) << 16) }
    }

    #[inline(always)]
    fn slot(self) -> usize {
        (self.link & 0xffff) as usize
    }

    #[inline(always)]
    fn delta(self) -> usize {
        (self.link >> 16) as usize
    }
}

/// [`WALK_LANES`] trees walked in lockstep: of one chunk, or with direct sums of one output.
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
    /// place in the chunk's trees ordered by output; 0 with direct sums (unused).
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
    /// The 12-byte nodes; emptied after the build's checks when only the near step runs
    /// (near nodes, no general group).
    nodes: Vec<Node>,
    features: usize,
    /// Slot offset of each used [`Variant`] (by index), `None` when unused.
    variant_offset: [Option<u32>; 5],
    /// Slots per row, the last one -inf.
    slots: usize,
    groups: Vec<Group>,
    /// Summed through the value buffer (not direct): chunks of table positions, and with
    /// exact sums their segments by output.
    chunks: Vec<Chunk>,
    segments: Vec<Segment>,
    /// With direct sums: each output's groups, `groups[start..end]`, outputs in order.
    output_groups: Vec<(u32, u32)>,
    /// With direct sums: each output's sum of its single-leaf trees (exact, as every
    /// partial sum is), which no group walks; empty otherwise.
    constants: Vec<f64>,
    /// `nodes` as [`Near`] nodes for the numeric step, when every slot index and child
    /// offset fits in 16 bits (empty otherwise).
    near: Vec<Near>,
    /// Per-row categorical decisions: (source slot, bitset offset in `bits`), written to
    /// slots `decision_base..` as 0.0 (left) or 1.0 (right).
    decisions: Vec<(u32, u32)>,
    decision_base: usize,
    /// Categorical bitsets: at each offset the word count `len`, the `len` words, one zero
    /// word; offset 0 is an empty set (`[0, 0]`).
    bits: Vec<u32>,
    /// Whether leaf values go straight into [`WALK_LANES`] running sums per output, in any
    /// order (exact sums, and groups of one output cost few padding lanes): then the groups
    /// are by output (`output_groups`) and `chunks` is empty.
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
    /// Whether the margins use several running sums per output (exact; module
    /// documentation).
    pub exact_sums: bool,
    /// Whether leaf values go straight into running sums, groups holding one output's trees
    /// (exact sums; module documentation).
    pub direct_sums: bool,
    /// Whether the numeric step reads 8-byte nodes with relative children ([`Near`]; the
    /// 12-byte ones otherwise).
    pub near_nodes: bool,
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
        let plan = if forest.validate().is_ok() { Plan::build(&forest) } else { None };
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
            direct_sums: p.direct,
            near_nodes: !p.near.is_empty(),
        })
    }

    /// Bytes of the compact tables.
    pub fn compiled_bytes(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| {
            p.nodes.len() * std::mem::size_of::<Node>()
                + p.near.len() * std::mem::size_of::<Near>()
                + p.groups.len() * std::mem::size_of::<Group>()
                + p.bits.len() * 4
                + p.chunks.len() * std::mem::size_of::<Chunk>()
                + p.segments.len() * std::mem::size_of::<Segment>()
                + p.output_groups.len() * 8
        })
    }

    /// One row's margins, bit-identical to [`Forest::predict_margins`] (the reference).
    ///
    /// Panics when `x.len() != features` or `out.len() != outputs`.
    pub fn predict_margins(&self, x: &[f32], out: &mut [f32]) {
        let Some(plan) = &self.plan else {
            return self.forest.predict_margins(x, out);
        };
        assert_eq!(x.len(), self.forest.features as usize, "row width differs from the forest's features");
        assert_eq!(out.len(), self.forest.outputs as usize, "output width differs from the forest's outputs");
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
