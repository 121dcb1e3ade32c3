//! The reference evaluation of the tables, one row at a time, and their invariants.
//!
//! Every other evaluation (the compiler's interpreter, the generated native code, the
//! runtime's tensors) must reproduce these semantics exactly:
//!
//! 1. At a split node with feature value `x` (f32), first the missing rule:
//!    - [`Missing::Nan`]: NaN goes the default direction (`default_left`);
//!    - [`Missing::Zero`]: NaN is replaced by 0.0, then a value with `|x| <= 1e-35f32`
//!      ([`ZERO_THRESHOLD`]) goes the default direction;
//!    - [`Missing::None`]: NaN is replaced by 0.0.
//! 2. Then a [`NodeKind::Numeric`] node goes left when `x <= threshold` (f32 comparison; a NaN
//!    threshold sends everything right). A [`NodeKind::Categorical`] node goes left when
//!    `x > -1.0 && x < 2147483648.0` (else right) and the category `c = trunc(x)` (as u32)
//!    has its bit set: `c / 32 < cat_len` and bit `c % 32` of
//!    `cat_bits[cat_offset + c / 32]`; otherwise right. (This is LightGBM's
//!    `CategoricalDecision`: `(int)x`, negative goes right, beyond the bitset goes right.)
//! 3. Margins: each tree's leaf value (f32, widened to f64) is added to its output's f64 sum,
//!    trees in table order; the output's `base` (widened) is added last, and the sum is
//!    rounded to f32 once.
//! 4. [`apply_objective`] maps the f32 margins: identity; sigmoid `1 / (1 + exp(-m))`; or
//!    softmax `exp(m_k - max) / sum_j exp(m_j - max)` (sum in output order) — each computed
//!    in f64 from the f32 margins and rounded to f32 once.

use crate::forest::{Forest, Missing, NodeKind, Objective};

/// LightGBM's `kZeroThreshold` (`1e-35f`, a float literal widened to double).
pub const ZERO_THRESHOLD: f32 = 1e-35;

/// Applies an objective to one row's f32 margins in place (see the module documentation).
pub fn apply_objective(objective: Objective, margins: &mut [f32]) {
    match objective {
        Objective::Identity => {}
        Objective::Sigmoid => {
            for m in margins.iter_mut() {
                *m = (1.0 / (1.0 + (-f64::from(*m)).exp())) as f32;
            }
        }
        Objective::Softmax => {
            let max = margins.iter().fold(f64::NEG_INFINITY, |a, &m| a.max(f64::from(m)));
            let mut sum = 0.0f64;
            for &m in margins.iter() {
                sum += (f64::from(m) - max).exp();
            }
            for m in margins.iter_mut() {
                *m = ((f64::from(*m) - max).exp() / sum) as f32;
            }
        }
    }
}

impl Forest {
    /// Whether node `node` sends value `x` left (a leaf answers false).
    #[inline]
    pub fn goes_left(&self, node: usize, x: f32) -> bool {
        let mut x = x;
        match self.missing[node] {
            Missing::Nan => {
                if x.is_nan() {
                    return self.default_left[node];
                }
            }
            Missing::Zero => {
                if x.is_nan() {
                    x = 0.0;
                }
                if x.abs() <= ZERO_THRESHOLD {
                    return self.default_left[node];
                }
            }
            Missing::None => {
                if x.is_nan() {
                    x = 0.0;
                }
            }
        }
        match self.kind[node] {
            NodeKind::Leaf => false,
            NodeKind::Numeric => x <= self.threshold[node],
            NodeKind::Categorical => {
                if !(x > -1.0 && x < 2_147_483_648.0) {
                    return false;
                }
                let c = x as u32; // truncation toward zero; in range by the test above
                let word = (c / 32) as usize;
                if word >= self.cat_len[node] as usize {
                    return false;
                }
                let bits = self.cat_bits[self.cat_offset[node] as usize + word];
                (bits >> (c % 32)) & 1 == 1
            }
        }
    }

    /// The leaf of tree `tree` that row `x` reaches (an absolute node index).
    #[inline]
    pub fn leaf(&self, tree: usize, x: &[f32]) -> usize {
        let mut node = self.roots[tree] as usize;
        // Bounded even on tables that were never validated.
        for _ in 0..=self.max_depth {
            if self.kind[node] == NodeKind::Leaf {
                break;
            }
            let v = x[self.feature[node] as usize];
            node = if self.goes_left(node, v) { self.left[node] } else { self.right[node] } as usize;
        }
        node
    }

    /// One row's margins (see the module documentation for the exact arithmetic).
    ///
    /// Panics when `x.len() != features` or `out.len() != outputs`; never otherwise on a
    /// forest that passes [`Forest::validate`].
    pub fn predict_margins(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(x.len(), self.features as usize, "row width differs from the forest's features");
        assert_eq!(out.len(), self.outputs as usize, "output width differs from the forest's outputs");
        let mut small = [0.0f64; 16];
        let mut large = Vec::new();
        let sums: &mut [f64] = if out.len() <= small.len() {
            &mut small[..out.len()]
        } else {
            large.resize(out.len(), 0.0);
            &mut large
        };
        for tree in 0..self.roots.len() {
            let leaf = self.leaf(tree, x);
            sums[self.tree_output[tree] as usize] += f64::from(self.leaf_value[leaf]);
        }
        for ((o, s), b) in out.iter_mut().zip(sums.iter()).zip(&self.base) {
            *o = (s + f64::from(*b)) as f32;
        }
    }

    /// One row's prediction: [`Forest::predict_margins`], then [`apply_objective`].
    pub fn predict(&self, objective: Objective, x: &[f32], out: &mut [f32]) {
        self.predict_margins(x, out);
        apply_objective(objective, out);
    }

    /// Checks every invariant evaluation relies on: consistent lengths; `base` finite, one
    /// per output; trees contiguous from their roots (`roots[0] == 0`, increasing); within a
    /// tree every split's children lie after it and inside the tree, every node but the root
    /// has exactly one parent; leaves point at themselves, have finite values and no
    /// bitset; splits have leaf value 0, `feature < features`, numeric splits no bitset,
    /// categorical bitsets inside `cat_bits`; `tree_output < outputs`; `max_depth` is the
    /// longest root-to-leaf path.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.kind.len();
        let lengths = [
            ("feature", self.feature.len()),
            ("threshold", self.threshold.len()),
            ("default_left", self.default_left.len()),
            ("missing", self.missing.len()),
            ("left", self.left.len()),
            ("right", self.right.len()),
            ("leaf_value", self.leaf_value.len()),
            ("cat_offset", self.cat_offset.len()),
            ("cat_len", self.cat_len.len()),
        ];
        for (name, len) in lengths {
            if len != n {
                return Err(format!("`{name}` has {len} entries, `kind` {n}"));
            }
        }
        if n > u32::MAX as usize || self.cat_bits.len() > u32::MAX as usize {
            return Err("more than 2^32 - 1 nodes or bitset words".into());
        }
        if self.outputs == 0 {
            return Err("`outputs` is 0".into());
        }
        if self.base.len() != self.outputs as usize {
            return Err(format!("`base` has {} entries, `outputs` is {}", self.base.len(), self.outputs));
        }
        if let Some(b) = self.base.iter().find(|b| !b.is_finite()) {
            return Err(format!("`base` holds {b}"));
        }
        if self.tree_output.len() != self.roots.len() {
            return Err(format!("`tree_output` has {} entries, `roots` {}", self.tree_output.len(), self.roots.len()));
        }
        if self.roots.is_empty() {
            if n != 0 {
                return Err(format!("no trees but {n} nodes"));
            }
            if self.max_depth != 0 {
                return Err(format!("no trees but `max_depth` is {}", self.max_depth));
            }
            return Ok(());
        }
        if self.roots[0] != 0 {
            return Err(format!("the first tree's root is node {}, not 0", self.roots[0]));
        }
        let mut parents = vec![0u8; n];
        let mut depth = vec![0u32; n];
        let mut max_depth = 0;
        for t in 0..self.roots.len() {
            let start = self.roots[t] as usize;
            let end = match self.roots.get(t + 1) {
                Some(&r) => r as usize,
                None => n,
            };
            if start >= end {
                return Err(format!("tree {t}: root {start} is not before the next tree's start {end}"));
            }
            if self.tree_output[t] >= self.outputs {
                return Err(format!("tree {t}: output {} (outputs: {})", self.tree_output[t], self.outputs));
            }
            for i in start..end {
                let at = |m: &str| format!("tree {t}, node {i}: {m}");
                if i != start && parents[i] != 1 {
                    return Err(at(&format!("{} parents (a tree node has exactly one)", parents[i])));
                }
                max_depth = max_depth.max(depth[i]);
                let (l, r) = (self.left[i] as usize, self.right[i] as usize);
                match self.kind[i] {
                    NodeKind::Leaf => {
                        if l != i || r != i {
                            return Err(at(&format!("a leaf's children must be itself, found {l} and {r}")));
                        }
                        if !self.leaf_value[i].is_finite() {
                            return Err(at(&format!("leaf value {}", self.leaf_value[i])));
                        }
                        if self.cat_offset[i] != 0 || self.cat_len[i] != 0 {
                            return Err(at("a leaf has a category bitset"));
                        }
                    }
                    kind => {
                        for c in [l, r] {
                            if c <= i || c >= end {
                                return Err(at(&format!(
                                    "child {c} is not after the node inside its tree (nodes {start}..{end})"
                                )));
                            }
                        }
                        if l == r {
                            return Err(at("both children are the same node"));
                        }
                        if self.feature[i] >= self.features {
                            return Err(at(&format!("feature {} (features: {})", self.feature[i], self.features)));
                        }
                        if self.leaf_value[i] != 0.0 {
                            return Err(at("a split has a nonzero leaf value"));
                        }
                        let (off, len) = (self.cat_offset[i] as u64, self.cat_len[i] as u64);
                        if kind == NodeKind::Numeric {
                            if off != 0 || len != 0 {
                                return Err(at("a numeric split has a category bitset"));
                            }
                        } else if off + len > self.cat_bits.len() as u64 {
                            return Err(at(&format!(
                                "bitset {off}..{} is outside `cat_bits` ({} words)",
                                off + len,
                                self.cat_bits.len()
                            )));
                        }
                        for c in [l, r] {
                            parents[c] = parents[c].saturating_add(1);
                            depth[c] = depth[i] + 1;
                        }
                    }
                }
            }
        }
        if max_depth != self.max_depth {
            return Err(format!("`max_depth` is {}, the longest path has {max_depth} splits", self.max_depth));
        }
        Ok(())
    }
}
