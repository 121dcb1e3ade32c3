//! The walk of one row over a [`Plan`]: its slots filled ([`Plan::fill_slots`]), then every
//! group of trees stepped in lockstep by one of three steps ([`Walker`]: the branch-free
//! step over [`Near`] or [`Node`] nodes, or the general one), the leaf values summed per
//! output, directly or through a chunk's value buffer.

use super::variant::VARIANTS;
use super::{CATEGORICAL, CHUNK, EARLY_EXIT_DEPTH, Group, LANES, Near, Node, Plan, REFERENCE, SLOT, WALK_LANES};
use crate::forest::Forest;

/// One way of stepping through the nodes (see [`Plan::walk_group`]). Node indices are
/// `usize` in the walk, so the step needs no widening.
trait Walker {
    /// The node after `i` (a leaf's is itself).
    fn step(&self, i: usize) -> usize;
    fn is_leaf(&self, i: usize) -> bool;
    /// A leaf's value.
    fn value(&self, i: usize) -> f32;
}

/// The branch-free step over the 12-byte nodes.
struct Wide<'a> {
    nodes: &'a [Node],
    slots: &'a [f32],
}

/// The branch-free step over the 8-byte nodes with relative children.
struct Relative<'a> {
    near: &'a [Near],
    slots: &'a [f32],
}

/// The general step (categorical tests in the walk, reference nodes).
struct General<'a> {
    plan: &'a Plan,
    forest: &'a Forest,
    x: &'a [f32],
    slots: &'a [f32],
}

// SAFETY (all three): `Plan::indices_in_range` checked at build that every node's slot,
// children and bitset are in range (near nodes holding the same slot and child), that groups
// start from roots or the spare leaf, and that groups of the branch-free steps hold no
// flagged node; `slots` is `Plan::slots` long (`predict_margins`). `Wide` runs only when
// there are no near nodes, and `General` only on general groups: in both cases `Plan::nodes`
// was kept.
impl Walker for Wide<'_> {
    #[inline(always)]
    fn step(&self, i: usize) -> usize {
        let n = unsafe { *self.nodes.get_unchecked(i) };
        let v = unsafe { *self.slots.get_unchecked(n.slot as usize) };
        // NaN compares false: it goes right.
        let left = v <= n.threshold;
        n.left as usize + usize::from(!left)
    }
    #[inline(always)]
    fn is_leaf(&self, i: usize) -> bool {
        unsafe { self.nodes.get_unchecked(i) }.slot as usize == self.slots.len() - 1
    }
    #[inline(always)]
    fn value(&self, i: usize) -> f32 {
        unsafe { self.nodes.get_unchecked(i) }.threshold
    }
}

impl Walker for Relative<'_> {
    #[inline(always)]
    fn step(&self, i: usize) -> usize {
        let n = unsafe { *self.near.get_unchecked(i) };
        let v = unsafe { *self.slots.get_unchecked(n.slot()) };
        // NaN compares false: it goes right. A leaf (-inf slot, delta 0) stays.
        let left = v <= n.threshold;
        i + n.delta() + usize::from(!left)
    }
    #[inline(always)]
    fn is_leaf(&self, i: usize) -> bool {
        unsafe { self.near.get_unchecked(i) }.delta() == 0
    }
    #[inline(always)]
    fn value(&self, i: usize) -> f32 {
        unsafe { self.near.get_unchecked(i) }.threshold
    }
}

impl Walker for General<'_> {
    #[inline(always)]
    fn step(&self, i: usize) -> usize {
        self.plan.step_general(self.forest, self.x, self.slots, i)
    }
    #[inline(always)]
    fn is_leaf(&self, i: usize) -> bool {
        unsafe { self.plan.nodes.get_unchecked(i) }.slot as usize == self.slots.len() - 1
    }
    #[inline(always)]
    fn value(&self, i: usize) -> f32 {
        unsafe { self.plan.nodes.get_unchecked(i) }.threshold
    }
}

impl Plan {
    #[inline(always)]
    pub(super) fn run_with<const N: usize>(&self, f: &Forest, x: &[f32], out: &mut [f32]) {
        let mut buffer = [0.0f32; N];
        let slots = &mut buffer[..self.slots];
        self.fill_slots(x, slots);
        self.margins(f, x, slots, out);
    }

    #[inline]
    pub(super) fn fill_slots(&self, x: &[f32], slots: &mut [f32]) {
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
    fn step_general(&self, f: &Forest, x: &[f32], slots: &[f32], i: usize) -> usize {
        // SAFETY: as in `step`; categorical offsets and their words were checked too.
        let n = unsafe { *self.nodes.get_unchecked(i) };
        if n.slot & REFERENCE != 0 {
            let orig = n.threshold.to_bits() as usize;
            let left = f.goes_left(orig, x[(n.slot & SLOT) as usize]);
            return n.left as usize + usize::from(!left);
        }
        let is_cat = n.slot & CATEGORICAL != 0;
        let v = unsafe { *slots.get_unchecked((n.slot & SLOT) as usize) };
        let numeric_left = v <= n.threshold;
        let at = if is_cat { n.threshold.to_bits() as usize } else { 0 };
        let left = if is_cat { self.category_left(at, v) } else { numeric_left };
        n.left as usize + usize::from(!left)
    }

    /// LightGBM's category test on a slot value against the bitset at `at` in `bits`: in
    /// `(-1, 2^31)` and bit `trunc(v)` set; a NaN or default-marked value goes right.
    #[inline(always)]
    fn category_left(&self, at: usize, v: f32) -> bool {
        let c = if v > -1.0 && v < 2_147_483_648.0 { v as u32 } else { u32::MAX };
        // SAFETY: `at` is a bitset offset checked by `indices_in_range` (0 or a categorical
        // node's or decision's), whose `len` words and a zero word follow it.
        let len = unsafe { *self.bits.get_unchecked(at) };
        let word = unsafe { *self.bits.get_unchecked(at + 1 + (c >> 5).min(len) as usize) };
        (word >> (c & 31)) & 1 != 0
    }

    /// Walks one group's lanes in lockstep, `steps` steps (fewer when the group is deeper
    /// than [`EARLY_EXIT_DEPTH`] and every lane is on a leaf); returns each lane's leaf.
    #[inline(always)]
    fn walk_group<W: Walker>(g: &Group, w: &W) -> [usize; WALK_LANES] {
        let mut lane = g.roots.map(|r| r as usize);
        if g.steps > EARLY_EXIT_DEPTH {
            for _ in 0..g.steps {
                for i in lane.iter_mut() {
                    *i = w.step(*i);
                }
                if lane.iter().fold(true, |all, &i| all & w.is_leaf(i)) {
                    break;
                }
            }
        } else {
            // Shallow groups: a loop with nothing but the steps, which stays in registers.
            for _ in 0..g.steps {
                for i in lane.iter_mut() {
                    *i = w.step(*i);
                }
            }
        }
        lane
    }

    /// Every group walked by `w` (or the general step): with direct sums each output's
    /// groups in turn, their leaf values going straight into [`WALK_LANES`] running sums;
    /// otherwise into the chunk's value buffer, summed per chunk.
    #[inline(always)]
    fn walk_all<W: Walker>(&self, w: &W, general: &General<'_>, out: &mut [f32], f: &Forest) {
        if self.direct {
            let outputs = out.iter_mut().zip(&f.base).zip(&self.constants);
            for (((m, b), &constant), &(start, end)) in outputs.zip(&self.output_groups) {
                let mut acc = [0.0f64; WALK_LANES];
                acc[0] = constant;
                // SAFETY: every range is inside `groups` (`indices_in_range`).
                let groups = unsafe { self.groups.get_unchecked(start as usize..end as usize) };
                for g in groups {
                    let lane = if g.general { Self::walk_group(g, general) } else { Self::walk_group(g, w) };
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
                *m = (acc[0] + f64::from(*b)) as f32;
            }
            return;
        }
        self.sum_chunks(f, out, |g, values| {
            let lane = if g.general { Self::walk_group(g, general) } else { Self::walk_group(g, w) };
            for (&i, &at) in lane.iter().zip(&g.at) {
                // SAFETY: `at <= CHUNK` (`indices_in_range`).
                unsafe { *values.get_unchecked_mut(at as usize) = w.value(i) };
            }
        });
    }

    pub(super) fn margins(&self, f: &Forest, x: &[f32], slots: &[f32], out: &mut [f32]) {
        let general = General { plan: self, forest: f, x, slots };
        if self.near.is_empty() {
            let w = Wide { nodes: &self.nodes, slots };
            self.walk_all(&w, &general, out, f);
        } else {
            let w = Relative { near: &self.near, slots };
            self.walk_all(&w, &general, out, f);
        }
    }

    /// Walks each chunk's groups with `walk` (which stores every lane's leaf value in the
    /// buffer), then adds the buffer to the margins: in table order, or with exact sums by
    /// output segments into four running sums each.
    #[inline(always)]
    fn sum_chunks(&self, f: &Forest, out: &mut [f32], walk: impl Fn(&Group, &mut [f32; CHUNK + 1])) {
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
            let segments = &self.segments[chunk.segments_start as usize..chunk.segments_end as usize];
            for seg in segments {
                let o = seg.output as usize * LANES;
                let (mut s0, mut s1, mut s2, mut s3) = (sums[o], sums[o + 1], sums[o + 2], sums[o + 3]);
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
