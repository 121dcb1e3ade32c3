//! The f32 blob: exact round trips, and errors (never panics) on anything else.

use pipec_forest::{BLOB_MAGIC, Forest, ForestBuilder, Missing, Objective, TreeNode};

fn sample() -> Forest {
    let mut b = ForestBuilder::new(3, vec![0.25, -1.5]);
    b.add_tree(
        0,
        &[
            TreeNode::Numeric {
                feature: 0,
                threshold: f32::NAN,
                default_left: true,
                missing: Missing::Zero,
                left: 1,
                right: 2,
            },
            TreeNode::Leaf { value: 1.0 },
            TreeNode::Categorical {
                feature: 2,
                bits: vec![0xFFFF_FFFF, 0x7F80_0001],
                default_left: false,
                missing: Missing::Nan,
                left: 3,
                right: 4,
            },
            TreeNode::Leaf { value: -f32::from_bits(1) },
            TreeNode::Leaf { value: f32::MAX },
        ],
    )
    .unwrap();
    b.add_tree(1, &[TreeNode::Leaf { value: 3.5 }]).unwrap();
    b.add_tree(
        1,
        &[
            TreeNode::Numeric {
                feature: 1,
                threshold: -0.0,
                default_left: false,
                missing: Missing::None,
                left: 2,
                right: 1,
            },
            TreeNode::Leaf { value: 2.0 },
            TreeNode::Leaf { value: -2.0 },
        ],
    )
    .unwrap();
    b.finish().unwrap()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn round_trip_is_exact() {
    let f = sample();
    let blob = f.encode();
    assert_eq!(blob[0].to_bits(), BLOB_MAGIC);
    assert_eq!(blob.len(), 8 + 2 + 2 * 3 + 8 * f.kind.len() + f.cat_bits.len());
    let back = Forest::decode(&blob).unwrap();
    assert_eq!(bits(&back.encode()), bits(&blob));
    assert_eq!(back.cat_bits, vec![0xFFFF_FFFF, 0x7F80_0001]); // a signalling-NaN pattern survives
    assert!(back.threshold[0].is_nan());
    assert_eq!(back.threshold[6].to_bits(), (-0.0f32).to_bits());
    for x in [[0.0f32, 1.0, 33.0], [5.0, -1.0, 3.0], [f32::NAN; 3]] {
        let (mut a, mut b) = ([0.0f32; 2], [0.0f32; 2]);
        f.predict(Objective::Softmax, &x, &mut a);
        back.predict(Objective::Softmax, &x, &mut b);
        assert_eq!(bits(&a), bits(&b));
    }
}

#[test]
fn the_sample_evaluates_as_written() {
    let f = sample();
    let mut m = [0.0f32; 2];
    // Tree 0: NaN threshold sends f0 = 5 right; category 3 is in the first word: left.
    // Tree 2: 1.0 <= -0.0 is false: right (the source's node 1, 2.0).
    f.predict_margins(&[5.0, 1.0, 3.0], &mut m);
    assert_eq!(m, [(0.25f64 - f64::from(f32::from_bits(1))) as f32, -1.5 + 3.5 + 2.0]);
    // Zero rule: f0 = 0 goes default (left) despite the NaN threshold; -0.0 <= -0.0: left.
    f.predict_margins(&[0.0, -0.0, 3.0], &mut m);
    assert_eq!(m, [1.25, -1.5 + 3.5 - 2.0]);
    // Category 32: bit 0 of word 1 is set (0x7F80_0001).
    f.predict_margins(&[1.0, f32::NAN, 32.0], &mut m);
    assert_eq!(m[0], 0.25 - f32::from_bits(1));
    f.predict_margins(&[1.0, f32::NAN, 33.0], &mut m);
    assert_eq!(m[0], (0.25f64 + f64::from(f32::MAX)) as f32);
}

#[test]
fn garbage_is_an_error() {
    let blob = sample().encode();
    assert!(Forest::decode(&[]).is_err());
    assert!(Forest::decode(&blob[..7]).is_err());
    assert!(Forest::decode(&blob[..blob.len() - 1]).is_err());
    let mut longer = blob.clone();
    longer.push(0.0);
    assert!(Forest::decode(&longer).is_err());
    let mut wrong = blob.clone();
    wrong[0] = 1.0;
    assert!(Forest::decode(&wrong).unwrap_err().to_string().contains("magic"));
    let mut wrong = blob.clone();
    wrong[1] = f32::from_bits(2);
    assert!(Forest::decode(&wrong).unwrap_err().to_string().contains("version"));
    // Header counts claiming huge tables.
    for i in 3..8 {
        let mut wrong = blob.clone();
        wrong[i] = f32::from_bits(u32::MAX);
        assert!(Forest::decode(&wrong).is_err(), "word {i}");
    }
    // Every word replaced by a handful of values: decoding never panics, and whatever
    // decodes also evaluates without panicking.
    let mut state = 0x1234_5678u32;
    let mut accepted = 0;
    for i in 0..blob.len() {
        for v in [0u32, 1, 2, 3, 7, 31, 0xFFFF_FFFF, 0x8000_0000, 0x7FC0_0000, 0x3F80_0000] {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let mut g = blob.clone();
            g[i] = f32::from_bits(v ^ (state & 1));
            if let Ok(f) = Forest::decode(&g) {
                accepted += 1;
                if f.features > 1000 {
                    continue;
                }
                let mut out = vec![0.0f32; f.outputs as usize];
                let x = vec![1.0f32; f.features as usize];
                f.predict(Objective::Sigmoid, &x, &mut out);
            }
        }
    }
    assert!(accepted > 0);
    // Pure noise.
    for n in 0..200u32 {
        let noise: Vec<f32> = (0..n).map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761) ^ n)).collect();
        assert!(Forest::decode(&noise).is_err());
    }
}

#[test]
fn validate_catches_broken_tables() {
    let good = sample();
    let mut f = good.clone();
    f.left[0] = 0;
    assert!(f.validate().unwrap_err().contains("child 0"));
    let mut f = good.clone();
    f.feature[0] = 3;
    assert!(f.validate().unwrap_err().contains("feature 3"));
    let mut f = good.clone();
    f.max_depth = 5;
    assert!(f.validate().unwrap_err().contains("max_depth"));
    let mut f = good.clone();
    f.cat_len[2] = 3;
    assert!(f.validate().unwrap_err().contains("cat_bits"));
    let mut f = good.clone();
    f.right[2] = 3; // both children the same node
    assert!(f.validate().is_err());
    let mut f = good.clone();
    f.roots[1] = 7; // tree 1 would start inside tree 2
    assert!(f.validate().is_err());
    let mut f = good.clone();
    f.base.pop();
    assert!(f.validate().unwrap_err().contains("base"));
    let mut f = good.clone();
    f.tree_output[0] = 2;
    assert!(f.validate().unwrap_err().contains("output 2"));
    let mut f = good;
    f.leaf_value[1] = f32::INFINITY;
    assert!(f.validate().is_err());
}
