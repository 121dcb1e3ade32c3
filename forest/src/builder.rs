//! Building the tables one tree at a time, from nodes that point at each other by index.

use crate::forest::{Forest, Missing, NodeKind};

/// One node of a tree handed to [`ForestBuilder::add_tree`]; children are indices into the
/// same slice, and the root is the slice's first node. Thresholds are already in the
/// tables' form (`x <= threshold`).
#[derive(Clone, Debug, PartialEq)]
pub enum TreeNode {
    Leaf {
        value: f32,
    },
    Numeric {
        feature: u32,
        threshold: f32,
        default_left: bool,
        missing: Missing,
        left: usize,
        right: usize,
    },
    Categorical {
        feature: u32,
        /// Bit `c % 32` of word `c / 32` set: category `c` goes left.
        bits: Vec<u32>,
        default_left: bool,
        missing: Missing,
        left: usize,
        right: usize,
    },
}

/// Accumulates trees into a [`Forest`]. Each tree is laid out in preorder from its root
/// (so children always follow their parent); nodes the root does not reach are dropped.
#[derive(Clone, Debug)]
pub struct ForestBuilder {
    forest: Forest,
}

impl ForestBuilder {
    /// An empty forest over `features` inputs with one margin per `base` value.
    pub fn new(features: u32, base: Vec<f32>) -> Self {
        let outputs = u32::try_from(base.len()).unwrap_or(u32::MAX);
        ForestBuilder {
            forest: Forest {
                features,
                outputs,
                base,
                roots: Vec::new(),
                tree_output: Vec::new(),
                kind: Vec::new(),
                feature: Vec::new(),
                threshold: Vec::new(),
                default_left: Vec::new(),
                missing: Vec::new(),
                left: Vec::new(),
                right: Vec::new(),
                leaf_value: Vec::new(),
                cat_offset: Vec::new(),
                cat_len: Vec::new(),
                cat_bits: Vec::new(),
                max_depth: 0,
            },
        }
    }

    /// Trees added so far.
    pub fn trees(&self) -> usize {
        self.forest.roots.len()
    }

    /// Appends one tree whose leaf values add to margin `output`. Fails (adding nothing)
    /// when a child index is out of range or a node is reached twice (a cycle or a shared
    /// subtree), or when the tables would outgrow u32 indices.
    pub fn add_tree(&mut self, output: u32, nodes: &[TreeNode]) -> Result<(), String> {
        if nodes.is_empty() {
            return Err("a tree needs at least one node".into());
        }
        let f = &mut self.forest;
        let start = f.kind.len();
        let cat_start = f.cat_bits.len();
        let result = Self::push_tree(f, nodes);
        match result {
            Ok(depth) => {
                f.roots.push(start as u32);
                f.tree_output.push(output);
                f.max_depth = f.max_depth.max(depth);
                Ok(())
            }
            Err(e) => {
                Self::truncate(f, start, cat_start);
                Err(e)
            }
        }
    }

    /// The forest; checked with [`Forest::validate`].
    pub fn finish(self) -> Result<Forest, String> {
        self.forest.validate()?;
        Ok(self.forest)
    }

    fn truncate(f: &mut Forest, nodes: usize, cats: usize) {
        f.kind.truncate(nodes);
        f.feature.truncate(nodes);
        f.threshold.truncate(nodes);
        f.default_left.truncate(nodes);
        f.missing.truncate(nodes);
        f.left.truncate(nodes);
        f.right.truncate(nodes);
        f.leaf_value.truncate(nodes);
        f.cat_offset.truncate(nodes);
        f.cat_len.truncate(nodes);
        f.cat_bits.truncate(cats);
    }

    /// Preorder layout with an explicit stack; returns the tree's depth in splits.
    fn push_tree(f: &mut Forest, nodes: &[TreeNode]) -> Result<u32, String> {
        let index = |i: usize| -> Result<u32, String> {
            u32::try_from(i).map_err(|_| "the forest has more than 2^32 - 1 nodes".to_string())
        };
        let mut seen = vec![false; nodes.len()];
        // (source node, destination of the parent and which side, depth)
        type Pending = (usize, Option<(usize, bool)>, u32);
        let mut stack: Vec<Pending> = vec![(0, None, 0)];
        let mut depth_max = 0;
        while let Some((src, parent, depth)) = stack.pop() {
            let Some(node) = nodes.get(src) else {
                return Err(format!("node {src} does not exist (the tree has {} nodes)", nodes.len()));
            };
            if std::mem::replace(&mut seen[src], true) {
                return Err(format!("node {src} is reached twice (a cycle or a shared subtree)"));
            }
            let dst = f.kind.len();
            let dst32 = index(dst)?;
            if let Some((p, is_left)) = parent {
                if is_left { f.left[p] = dst32 } else { f.right[p] = dst32 }
            }
            depth_max = depth_max.max(depth);
            match node {
                TreeNode::Leaf { value } => {
                    Self::push_node(f, NodeKind::Leaf, 0, 0.0, false, Missing::Nan, dst32, *value, 0, 0);
                }
                TreeNode::Numeric { feature, threshold, default_left, missing, left, right } => {
                    Self::push_node(
                        f,
                        NodeKind::Numeric,
                        *feature,
                        *threshold,
                        *default_left,
                        *missing,
                        dst32,
                        0.0,
                        0,
                        0,
                    );
                    stack.push((*right, Some((dst, false)), depth + 1));
                    stack.push((*left, Some((dst, true)), depth + 1));
                }
                TreeNode::Categorical { feature, bits, default_left, missing, left, right } => {
                    let offset = index(f.cat_bits.len())?;
                    let len = index(bits.len())?;
                    index(f.cat_bits.len() + bits.len())?;
                    f.cat_bits.extend_from_slice(bits);
                    Self::push_node(
                        f,
                        NodeKind::Categorical,
                        *feature,
                        0.0,
                        *default_left,
                        *missing,
                        dst32,
                        0.0,
                        offset,
                        len,
                    );
                    stack.push((*right, Some((dst, false)), depth + 1));
                    stack.push((*left, Some((dst, true)), depth + 1));
                }
            }
        }
        Ok(depth_max)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_node(
        f: &mut Forest,
        kind: NodeKind,
        feature: u32,
        threshold: f32,
        default_left: bool,
        missing: Missing,
        own: u32,
        leaf_value: f32,
        cat_offset: u32,
        cat_len: u32,
    ) {
        f.kind.push(kind);
        f.feature.push(feature);
        f.threshold.push(threshold);
        f.default_left.push(default_left);
        f.missing.push(missing);
        // A split's children are patched in when they are laid out.
        f.left.push(own);
        f.right.push(own);
        f.leaf_value.push(leaf_value);
        f.cat_offset.push(cat_offset);
        f.cat_len.push(cat_len);
    }
}
