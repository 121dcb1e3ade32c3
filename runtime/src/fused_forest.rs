//! A tree ensemble walked by one GPU thread for its row: the `#[cube]` function that every
//! generated fused kernel with a `Trees` node calls.
//!
//! It reads the forest's blob (the `pipec_forest::blob` layout, u32 words stored as f32 bits)
//! where code generation put it in the weight buffer, and follows `pipec_forest::eval`'s rules
//! for missing values, numeric and categorical splits exactly. One difference: leaf values
//! are summed in f32 (GPUs have no portable f64), so margins agree with the reference within
//! f32 rounding of the sum rather than bit for bit.

use cubecl::prelude::*;

/// Reads the u32 stored at word `at` of the blob.
#[cube]
fn word(weights: &[f32], at: usize) -> usize {
    usize::cast_from(u32::reinterpret(weights[at]))
}

/// The margins of the forest whose blob starts at word `blob` of `weights`, for the row
/// `x` (`features` values), added into `margins` (`outputs` values, zero on entry).
#[cube]
pub fn fused_forest_margins(weights: &[f32], blob: usize, x: &Array<f32>, margins: &mut Array<f32>) {
    let outputs = word(weights, blob + 3);
    let trees = word(weights, blob + 4);
    let nodes = word(weights, blob + 5);
    let max_depth = word(weights, blob + 7);
    let base = blob + 8;
    let roots = base + outputs;
    let tree_output = roots + trees;
    let flags = tree_output + trees;
    let feature = flags + nodes;
    let threshold = feature + nodes;
    let left = threshold + nodes;
    let right = left + nodes;
    let leaf_value = right + nodes;
    let cat_offset = leaf_value + nodes;
    let cat_len = cat_offset + nodes;
    let cat_bits = cat_len + nodes;

    for t in 0..trees {
        let mut node = word(weights, roots + t);
        for _ in 0..max_depth {
            let f = u32::reinterpret(weights[flags + node]);
            let kind = f & 3u32;
            if kind != 0u32 {
                let default_left = (f >> 2u32) & 1u32 == 1u32;
                let missing = (f >> 3u32) & 3u32;
                let raw = x[word(weights, feature + node)];
                let is_missing = raw.is_nan();
                let v = select(is_missing, 0.0f32, raw);
                // Missing::Nan (0): NaN takes the default; Missing::Zero (1): NaN becomes 0,
                // then |v| <= 1e-35 takes the default; Missing::None (2): NaN becomes 0.
                let take_default = (missing == 0u32 && is_missing) || (missing == 1u32 && v.abs() <= 1e-35f32);
                let mut go_left = false;
                if kind == 1u32 {
                    go_left = v <= weights[threshold + node];
                } else if v > -1.0f32 && v < 2147483648.0f32 {
                    let c = u32::cast_from(v);
                    let w = usize::cast_from(c / 32u32);
                    if w < word(weights, cat_len + node) {
                        let bits = u32::reinterpret(weights[cat_bits + word(weights, cat_offset + node) + w]);
                        go_left = (bits >> (c % 32u32)) & 1u32 == 1u32;
                    }
                }
                go_left = select(take_default, default_left, go_left);
                node = select(go_left, word(weights, left + node), word(weights, right + node));
            }
        }
        let o = word(weights, tree_output + t);
        margins[o] += weights[leaf_value + node];
    }
    for o in 0..outputs {
        margins[o] += weights[base + o];
    }
}
