//! The tables as one slice of f32 words, for code generation to embed and decode.
//!
//! Layout (every word an f32; a "u32" word holds the integer's bits, written with
//! `f32::from_bits` and read with `f32::to_bits` — never a numeric conversion, so every u32
//! survives; consumers must copy these words bit for bit and never do arithmetic on them):
//!
//! | words            | content                                                        |
//! |------------------|----------------------------------------------------------------|
//! | 0                | u32 [`BLOB_MAGIC`] (`"PFT1"` little-endian)                    |
//! | 1                | u32 layout version, 1                                          |
//! | 2                | u32 `features`                                                 |
//! | 3                | u32 `outputs` (O)                                              |
//! | 4                | u32 tree count (T)                                             |
//! | 5                | u32 node count (N)                                             |
//! | 6                | u32 bitset word count (C)                                      |
//! | 7                | u32 `max_depth`                                                |
//! | next O           | f32 `base`                                                     |
//! | next T           | u32 `roots`                                                    |
//! | next T           | u32 `tree_output`                                              |
//! | next N           | u32 flags: bits 0-1 kind (0 leaf, 1 numeric, 2 categorical), bit 2 `default_left`, bits 3-4 missing (0 `Nan`, 1 `Zero`, 2 `None`), other bits 0 |
//! | next N           | u32 `feature`                                                  |
//! | next N           | f32 `threshold`                                                |
//! | next N           | u32 `left`                                                     |
//! | next N           | u32 `right`                                                    |
//! | next N           | f32 `leaf_value`                                               |
//! | next N           | u32 `cat_offset`                                               |
//! | next N           | u32 `cat_len`                                                  |
//! | next C           | u32 `cat_bits`                                                 |
//!
//! The blob is exactly `8 + O + 2T + 8N + C` words long.

use crate::error::ImportError;
use crate::forest::{Forest, Missing, NodeKind};

/// The first word of a blob, as u32 bits: `"PFT1"` read little-endian.
pub const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"PFT1");
const VERSION: u32 = 1;
const HEADER: usize = 8;

fn word(v: u32) -> f32 {
    f32::from_bits(v)
}

fn flags(kind: NodeKind, default_left: bool, missing: Missing) -> u32 {
    let k = match kind {
        NodeKind::Leaf => 0,
        NodeKind::Numeric => 1,
        NodeKind::Categorical => 2,
    };
    let m = match missing {
        Missing::Nan => 0,
        Missing::Zero => 1,
        Missing::None => 2,
    };
    k | (u32::from(default_left) << 2) | (m << 3)
}

fn unflags(v: u32) -> Option<(NodeKind, bool, Missing)> {
    if v >> 5 != 0 {
        return None;
    }
    let kind = match v & 3 {
        0 => NodeKind::Leaf,
        1 => NodeKind::Numeric,
        2 => NodeKind::Categorical,
        _ => return None,
    };
    let missing = match (v >> 3) & 3 {
        0 => Missing::Nan,
        1 => Missing::Zero,
        2 => Missing::None,
        _ => return None,
    };
    Some((kind, (v >> 2) & 1 == 1, missing))
}

impl Forest {
    /// The blob (layout in the module documentation). Tables larger than u32 counts can
    /// describe are not representable; [`Forest::validate`] rejects them.
    pub fn encode(&self) -> Vec<f32> {
        let n = self.kind.len();
        let mut out = Vec::with_capacity(HEADER + self.base.len() + 2 * self.roots.len() + 8 * n + self.cat_bits.len());
        for v in [
            BLOB_MAGIC,
            VERSION,
            self.features,
            self.outputs,
            self.roots.len() as u32,
            n as u32,
            self.cat_bits.len() as u32,
            self.max_depth,
        ] {
            out.push(word(v));
        }
        out.extend_from_slice(&self.base);
        out.extend(self.roots.iter().map(|&v| word(v)));
        out.extend(self.tree_output.iter().map(|&v| word(v)));
        out.extend((0..n).map(|i| word(flags(self.kind[i], self.default_left[i], self.missing[i]))));
        out.extend(self.feature.iter().map(|&v| word(v)));
        out.extend_from_slice(&self.threshold);
        out.extend(self.left.iter().map(|&v| word(v)));
        out.extend(self.right.iter().map(|&v| word(v)));
        out.extend_from_slice(&self.leaf_value);
        out.extend(self.cat_offset.iter().map(|&v| word(v)));
        out.extend(self.cat_len.iter().map(|&v| word(v)));
        out.extend(self.cat_bits.iter().map(|&v| word(v)));
        out
    }

    /// Reads a blob back; fails (never panics) on anything that is not a valid forest.
    pub fn decode(values: &[f32]) -> Result<Forest, ImportError> {
        let err = |m: String| ImportError::Blob(m);
        if values.len() < HEADER {
            return Err(err(format!("{} words, shorter than the {HEADER}-word header", values.len())));
        }
        let h: Vec<u32> = values[..HEADER].iter().map(|v| v.to_bits()).collect();
        if h[0] != BLOB_MAGIC {
            return Err(err(format!("first word {:#010x} is not the forest magic {BLOB_MAGIC:#010x}", h[0])));
        }
        if h[1] != VERSION {
            return Err(err(format!("layout version {} (this build reads {VERSION})", h[1])));
        }
        let (features, outputs, trees, nodes, cats, max_depth) =
            (h[2], h[3], h[4] as u64, h[5] as u64, h[6] as u64, h[7]);
        let expected = HEADER as u64 + outputs as u64 + 2 * trees + 8 * nodes + cats;
        if expected != values.len() as u64 {
            return Err(err(format!(
                "{} words, but the header ({outputs} outputs, {trees} trees, {nodes} nodes, {cats} bitset words) needs {expected}",
                values.len()
            )));
        }
        let mut rest = &values[HEADER..];
        let mut take = |len: u64| -> &[f32] {
            // In range: the lengths were checked against the total above.
            let (head, tail) = rest.split_at(len as usize);
            rest = tail;
            head
        };
        let u32s = |w: &[f32]| -> Vec<u32> { w.iter().map(|v| v.to_bits()).collect() };
        let base = take(outputs as u64).to_vec();
        let roots = u32s(take(trees));
        let tree_output = u32s(take(trees));
        let flag_words = u32s(take(nodes));
        let mut kind = Vec::with_capacity(nodes as usize);
        let mut default_left = Vec::with_capacity(nodes as usize);
        let mut missing = Vec::with_capacity(nodes as usize);
        for (i, &f) in flag_words.iter().enumerate() {
            let (k, d, m) = unflags(f)
                .ok_or_else(|| err(format!("node {i}: flags {f:#x} are not a node kind and missing rule")))?;
            kind.push(k);
            default_left.push(d);
            missing.push(m);
        }
        let feature = u32s(take(nodes));
        let threshold = take(nodes).to_vec();
        let left = u32s(take(nodes));
        let right = u32s(take(nodes));
        let leaf_value = take(nodes).to_vec();
        let cat_offset = u32s(take(nodes));
        let cat_len = u32s(take(nodes));
        let cat_bits = u32s(take(cats));
        let forest = Forest {
            features,
            outputs,
            base,
            roots,
            tree_output,
            kind,
            feature,
            threshold,
            default_left,
            missing,
            left,
            right,
            leaf_value,
            cat_offset,
            cat_len,
            cat_bits,
            max_depth,
        };
        forest.validate().map_err(err)?;
        Ok(forest)
    }
}
