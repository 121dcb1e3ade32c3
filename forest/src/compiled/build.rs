//! Building a [`Plan`] from a validated [`Forest`] (`Plan::build`): the slots, the compact
//! nodes (12-byte, and 8-byte [`Near`] ones when they fit), the walk order (groups by output
//! with direct sums, or chunks in table order), and the checks the walk's unchecked reads
//! rely on (`Plan::indices_in_range`), plus the test for exact sums.

use std::collections::HashMap;

use super::variant::{VARIANTS, Variant};
use super::{CATEGORICAL, CHUNK, Chunk, Group, MIN_DECISIONS, Near, Node, Plan, REFERENCE, SLOT, Segment, WALK_LANES};
use crate::forest::{Forest, NodeKind};

impl Plan {
    pub(super) fn build(f: &Forest) -> Option<Plan> {
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
        let categorical = (0..n).filter(|&i| f.kind[i] == NodeKind::Categorical && !reference[i]).collect::<Vec<_>>();
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
        let mut nodes = vec![Node { threshold: 0.0, slot: 0, left: 0 }; n];
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
                    NodeKind::Leaf => Node { threshold: f.leaf_value[orig], slot: neg_inf_slot, left: at },
                    _ => {
                        let left = next;
                        next += 2;
                        queue.push((f.left[orig] as usize, left, depth + 1));
                        queue.push((f.right[orig] as usize, left + 1, depth + 1));
                        if reference[orig] {
                            tree_general[t] = true;
                            Node { threshold: f32::from_bits(orig as u32), slot: REFERENCE | f.feature[orig], left }
                        } else if let Some(&d) = node_decision.get(&orig) {
                            Node { threshold: 0.5, slot: decision_base as u32 + d, left }
                        } else if f.kind[orig] == NodeKind::Categorical {
                            tree_general[t] = true;
                            let v = Variant::of(f.missing[orig], f.default_left[orig]);
                            let offset = variant_offset[v.index()]?;
                            let at = u32::try_from(bits.len()).ok()?;
                            let (start, len) = (f.cat_offset[orig] as usize, f.cat_len[orig]);
                            bits.push(len);
                            bits.extend_from_slice(f.cat_bits.get(start..start + len as usize)?);
                            bits.push(0);
                            Node { threshold: f32::from_bits(at), slot: CATEGORICAL | (offset + f.feature[orig]), left }
                        } else {
                            let v = Variant::of(f.missing[orig], f.default_left[orig]);
                            let offset = variant_offset[v.index()]?;
                            Node { threshold: f.threshold[orig], slot: offset + f.feature[orig], left }
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
        nodes.push(Node { threshold: 0.0, slot: neg_inf_slot, left: spare });

        // Walk order. With exact sums and few padding lanes, the order is free: each
        // output's trees on their own, sorted by (walker, depth), cut into groups of
        // WALK_LANES whose leaf values go straight into running sums (single-leaf trees
        // are summed once here instead). Otherwise chunks in table order, sorted and cut
        // the same way inside.
        let exact = Self::sums_are_exact(f);
        let mut by_output: Vec<Vec<usize>> = vec![Vec::new(); f.outputs as usize];
        for (t, &o) in f.tree_output.iter().enumerate() {
            by_output.get_mut(o as usize)?.push(t);
        }
        let padded = |members: &[usize]| {
            let general = members.iter().filter(|&&t| tree_general[t]).count();
            general.div_ceil(WALK_LANES) + (members.len() - general).div_ceil(WALK_LANES)
        };
        let is_leaf = |t: usize| f.kind[f.roots[t] as usize] == NodeKind::Leaf;
        let direct_groups: usize =
            by_output.iter().map(|m| padded(&m.iter().copied().filter(|&t| !is_leaf(t)).collect::<Vec<_>>())).sum();
        let chunked_groups: usize = (0..trees)
            .step_by(CHUNK)
            .map(|first| padded(&(first..(first + CHUNK).min(trees)).collect::<Vec<_>>()))
            .sum();
        let direct = exact && direct_groups * 4 <= chunked_groups * 5;
        let group_of = |members: &mut Vec<usize>, at: &dyn Fn(usize) -> u32| {
            members.sort_by_key(|&t| (tree_general[t], tree_depth[t], t));
            let mut out = Vec::new();
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
                    group.at[k] = at(t);
                    group.tree[k] = t as u32;
                }
                out.push(group);
            }
            out
        };
        let mut groups = Vec::new();
        let mut chunks = Vec::new();
        let mut segments = Vec::new();
        let mut output_groups = Vec::new();
        let mut constants = Vec::new();
        if direct {
            for members in by_output {
                // A tree that is one leaf adds a constant: summed here, exactly.
                let (leaves, mut walked): (Vec<usize>, Vec<usize>) = members.into_iter().partition(|&t| is_leaf(t));
                let leaf_values = leaves.iter().map(|&t| f.leaf_value[f.roots[t] as usize]);
                // From +0.0, as the reference's sums start (`Sum` for f64 starts at -0.0).
                constants.push(leaf_values.fold(0.0f64, |s, v| s + f64::from(v)));
                let start = groups.len() as u32;
                groups.extend(group_of(&mut walked, &|_| 0));
                output_groups.push((start, groups.len() as u32));
            }
        }
        let mut position = vec![0u32; CHUNK];
        for first in (0..trees).step_by(CHUNK).filter(|_| !direct) {
            let last = (first + CHUNK).min(trees);
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
                    _ => segments.push(Segment { output: o, start: p as u32, end: p as u32 + 1 }),
                }
            }
            let groups_start = groups.len() as u32;
            groups.extend(group_of(&mut (first..last).collect(), &|t| position[t - first]));
            chunks.push(Chunk {
                first: first as u32,
                trees: (last - first) as u32,
                groups_start,
                groups_end: groups.len() as u32,
                segments_start,
                segments_end: segments.len() as u32,
            });
        }

        // 8-byte nodes with relative children for the numeric step when the slot indices
        // and child offsets fit in 16 bits (flagged nodes, walked by the general step only,
        // get an empty entry).
        let fits = |v: u64| u16::try_from(v).ok();
        let near = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if n.slot & (REFERENCE | CATEGORICAL) != 0 {
                    return Some(Near::new(0.0, 0, 0));
                }
                Some(Near::new(n.threshold, fits(u64::from(n.slot))?, fits(u64::from(n.left).checked_sub(i as u64)?)?))
            })
            .collect::<Option<Vec<Near>>>()
            .unwrap_or_default();
        let plan = Plan {
            near,
            nodes,
            features,
            variant_offset,
            slots: slots as usize,
            groups,
            chunks,
            segments,
            output_groups,
            constants,
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
        if !plan.near.is_empty() && !plan.groups.iter().any(|g| g.general) {
            // Only the near step runs: the 12-byte nodes are not read again.
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
                ((node.threshold.to_bits() as usize) < f.kind.len()) && (node.slot & SLOT) < f.features
            } else if node.slot & CATEGORICAL != 0 {
                let at = node.threshold.to_bits() as usize;
                (node.slot & SLOT) < leaf_slot
                    && self.bits.get(at).is_some_and(|&len| at + 1 + len as usize <= bits_end)
            } else {
                (node.slot as usize) < self.slots
            };
            children && target
        });
        let trees = f.roots.len();
        // Each group range: a chunk's, or with direct sums an output's.
        let ranges: Vec<(u32, u32, Option<&Chunk>, u32)> = if self.direct {
            let by_output = self.output_groups.iter().zip(0..);
            by_output.map(|(&(s, e), o)| (s, e, None, o)).collect()
        } else {
            let by_chunk = self.chunks.iter();
            by_chunk.map(|c| (c.groups_start, c.groups_end, Some(c), 0)).collect()
        };
        let layout_ok = if self.direct {
            self.chunks.is_empty() && self.output_groups.len() == f.outputs as usize
        } else {
            self.output_groups.is_empty()
        };
        // Every tree is walked exactly once, from its root, where its value is summed.
        let mut walked = vec![false; trees];
        for (start, end, chunk, output) in ranges {
            let Some(groups) = self.groups.get(start as usize..end as usize) else {
                return false;
            };
            for g in groups {
                for k in 0..WALK_LANES {
                    let (root, at, t) = (g.roots[k], g.at[k], g.tree[k] as usize);
                    if g.tree[k] == u32::MAX {
                        if root as usize != n - 1 || at as usize != CHUNK {
                            return false;
                        }
                        continue;
                    }
                    if t >= trees || walked[t] || root != f.roots[t] {
                        return false;
                    }
                    walked[t] = true;
                    let placed = match chunk {
                        Some(c) => at < c.trees && t >= c.first as usize && t < (c.first + c.trees) as usize,
                        None => f.tree_output[t] == output,
                    };
                    let end = f.roots.get(t + 1).map_or(n - 1, |&r| r as usize);
                    let numeric =
                        || self.nodes[root as usize..end].iter().all(|node| node.slot & (REFERENCE | CATEGORICAL) == 0);
                    if !placed || !(g.general || numeric()) {
                        return false;
                    }
                }
            }
        }
        // With direct sums, the trees left out are single leaves, summed in `constants`.
        let mut constants = vec![0.0f64; if self.direct { f.outputs as usize } else { 0 }];
        for (t, &w) in walked.iter().enumerate() {
            let root = f.roots[t] as usize;
            if !w {
                let Some(c) = constants.get_mut(f.tree_output[t] as usize) else {
                    return false;
                };
                if f.kind[root] != NodeKind::Leaf {
                    return false;
                }
                *c += f64::from(f.leaf_value[root]);
            }
        }
        let constants_ok = constants.len() == self.constants.len()
            && (constants.iter().zip(&self.constants)).all(|(a, b)| a.to_bits() == b.to_bits());
        let groups_ok = layout_ok && constants_ok;
        let decisions_ok = self.decisions.iter().all(|&(src, at)| {
            let at = at as usize;
            (src as usize) < self.decision_base
                && self.bits.get(at).is_some_and(|&len| at + 1 + len as usize <= bits_end)
        }) && self.decision_base + self.decisions.len() < self.slots;
        let near_ok = self.near.is_empty()
            || (self.near.len() == n
                && self.near.iter().zip(&self.nodes).enumerate().all(|(i, (p, node))| {
                    node.slot & (REFERENCE | CATEGORICAL) != 0
                        || (p.slot() == node.slot as usize
                            && i + p.delta() == node.left as usize
                            && (p.delta() != 0 || node.slot == leaf_slot)
                            && p.threshold.to_bits() == node.threshold.to_bits())
                }));
        nodes_ok
            && near_ok
            && decisions_ok
            && groups_ok
            && self.chunks.iter().all(|c| c.trees as usize <= CHUNK)
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
            let largest = f.leaf_value[start..end].iter().fold(0.0f64, |a, &v| a.max(f64::from(v).abs()));
            bound += largest;
        }
        // Relative rounding error of `bound` is below trees * 2^-53 <= 2^-23.
        let limit = (2.0f64).powi(q + 53);
        bound.is_finite() && bound * (1.0 + 2f64.powi(-20)) < limit
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
    let (m, e) = if exponent == 0 { (mantissa, -149) } else { (mantissa | 0x80_0000, exponent - 150) };
    Some(e + m.trailing_zeros() as i32)
}
