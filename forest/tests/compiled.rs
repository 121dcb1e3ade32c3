//! The compact walk ([`CompiledForest`]) against the reference walk ([`Forest`]'s
//! `predict_margins`, `eval.rs`): the same bits on every fixture model, on the held-out rows
//! and on rows of edge values (NaN, ±0, values around LightGBM's zero threshold, categorical
//! edges), and on random forests using every missing rule, categorical splits, NaN
//! thresholds, multiclass outputs and leaf values whose f64 sums round.

use std::path::PathBuf;

use pipec_forest::{CompiledForest, Forest, ForestBuilder, Missing, TreeNode, import_lightgbm, import_xgboost};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/trees")
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Values that sit on every rule's edges.
const EDGES: [f32; 22] = [
    f32::NAN,
    0.0,
    -0.0,
    1e-35,
    -1e-35,
    1.1e-35,
    -1.1e-35,
    1e-45,
    -0.5,
    -0.999_999_9,
    -1.0,
    0.5,
    1.0,
    2.0,
    31.0,
    32.0,
    33.5,
    1e9,
    2_147_483_648.0,
    2_147_483_520.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
];

/// Rows: the given ones, each with every feature in turn set to each edge value, and random
/// mixes of edge values and the rows' own values.
fn edge_rows(base: &[Vec<f32>], features: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = base.to_vec();
    for row in base.iter().take(3) {
        for f in 0..features {
            for &e in &EDGES {
                let mut r = row.clone();
                r[f] = e;
                out.push(r);
            }
        }
    }
    for _ in 0..300 {
        let donor = &base[rng.below(base.len() as u64) as usize];
        let r = (0..features)
            .map(|f| match rng.below(3) {
                0 => EDGES[rng.below(EDGES.len() as u64) as usize],
                _ => donor[f],
            })
            .collect();
        out.push(r);
    }
    out
}

fn assert_same_bits(name: &str, forest: &Forest, rows: &[Vec<f32>]) {
    let compiled = CompiledForest::new(forest.clone());
    assert!(compiled.is_compiled(), "{name}: the compact walk was not built");
    let outputs = forest.outputs as usize;
    let (mut want, mut got) = (vec![0.0f32; outputs], vec![0.0f32; outputs]);
    for (r, x) in rows.iter().enumerate() {
        forest.predict_margins(x, &mut want);
        got.iter_mut().for_each(|g| *g = f32::NAN);
        compiled.predict_margins(x, &mut got);
        let (w, g): (Vec<u32>, Vec<u32>) =
            (want.iter().map(|v| v.to_bits()).collect(), got.iter().map(|v| v.to_bits()).collect());
        assert_eq!(w, g, "{name} row {r} {x:?}: reference {want:?}, compact {got:?}");
    }
    // The several-rows call agrees too.
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let mut many = vec![0.0f32; rows.len() * outputs];
    compiled.predict_margins_rows(&flat, &mut many);
    for (r, x) in rows.iter().enumerate() {
        forest.predict_margins(x, &mut want);
        let w: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
        let g: Vec<u32> = many[r * outputs..(r + 1) * outputs].iter().map(|v| v.to_bits()).collect();
        assert_eq!(w, g, "{name} row {r} (several rows)");
    }
}

#[test]
fn fixture_models_give_the_reference_bits() {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("reference.json")).expect("reference.json"))
            .expect("JSON");
    let models = reference["models"].as_object().expect("models");
    assert!(models.len() >= 8, "expected the 8 fixture models");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (name, model) in models {
        let file = model["file"].as_str().expect("file");
        let text = std::fs::read_to_string(dir().join(file)).expect("model file");
        let imported = match model["library"].as_str() {
            Some("xgboost") => import_xgboost(&text),
            _ => import_lightgbm(&text),
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let forest = imported.forest;
        let features = forest.features as usize;
        let base: Vec<Vec<f32>> = model["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|r| (0..features).map(|f| r[f].as_f64().map_or(f32::NAN, |v| v as f32)).collect())
            .collect();
        let rows = edge_rows(&base, features, &mut rng);
        assert_same_bits(name, &forest, &rows);
        let compiled = CompiledForest::new(forest.clone());
        eprintln!(
            "{name}: {} trees, {} nodes, exact sums: {}, {} compact bytes",
            forest.roots.len(),
            forest.kind.len(),
            compiled.sums_exactly(),
            compiled.compiled_bytes()
        );
    }
}

/// A random tree of up to `depth` splits over `features` features.
fn random_tree(rng: &mut Rng, features: u32, depth: u32, leaf_scale: f32) -> Vec<TreeNode> {
    let mut nodes = Vec::new();
    grow(rng, features, depth, leaf_scale, &mut nodes);
    nodes
}

fn grow(rng: &mut Rng, features: u32, depth: u32, scale: f32, nodes: &mut Vec<TreeNode>) -> usize {
    let at = nodes.len();
    if depth == 0 || rng.below(5) == 0 {
        let value = match rng.below(6) {
            0 => 0.0,
            1 => -0.0,
            _ => (rng.unit() - 0.5) * scale,
        };
        nodes.push(TreeNode::Leaf { value });
        return at;
    }
    nodes.push(TreeNode::Leaf { value: 0.0 }); // replaced below
    let left = grow(rng, features, depth - 1, scale, nodes);
    let right = grow(rng, features, depth - 1, scale, nodes);
    let feature = rng.below(u64::from(features)) as u32;
    let missing = [Missing::Nan, Missing::Zero, Missing::None][rng.below(3) as usize];
    let default_left = rng.below(2) == 0;
    nodes[at] = if rng.below(4) == 0 {
        let bits = (0..rng.below(3)).map(|_| rng.next() as u32).collect();
        TreeNode::Categorical { feature, bits, default_left, missing, left, right }
    } else {
        let threshold = match rng.below(12) {
            0 => f32::NAN,
            1 => 0.0,
            2 => -0.0,
            3 => 1e-35,
            4 => f32::INFINITY,
            5 => f32::NEG_INFINITY,
            6 => 31.0,
            _ => (rng.unit() - 0.5) * 4.0,
        };
        TreeNode::Numeric { feature, threshold, default_left, missing, left, right }
    };
    at
}

fn random_forest(seed: u64, trees: usize, outputs: usize, depth: u32, scale: f32) -> Forest {
    let mut rng = Rng(seed);
    let features = 1 + rng.below(12) as u32;
    let base = (0..outputs).map(|_| rng.unit() - 0.5).collect();
    let mut b = ForestBuilder::new(features, base);
    for t in 0..trees {
        let tree = random_tree(&mut rng, features, depth, scale);
        b.add_tree((t % outputs) as u32, &tree).expect("tree");
    }
    b.finish().expect("valid forest")
}

fn random_rows(seed: u64, features: usize, n: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            (0..features)
                .map(|_| match rng.below(3) {
                    0 => EDGES[rng.below(EDGES.len() as u64) as usize],
                    1 => (rng.unit() - 0.5) * 4.0,
                    _ => (rng.below(70) as f32) - 2.0,
                })
                .collect()
        })
        .collect()
}

#[test]
fn random_forests_with_every_rule_give_the_reference_bits() {
    // Which ways of walking and summing the forests took: (direct sums with several
    // outputs, buffered exact sums with several outputs, sums in table order, general groups).
    let mut seen = [0usize; 4];
    for seed in 1..120u64 {
        let outputs = 1 + (seed % 4) as usize;
        let trees = 1 + (seed * 37 % 700) as usize;
        let depth = (seed % 13) as u32;
        // Leaf scales whose sums are exact in f64, and ones that round (a 2^-60 leaf next
        // to a 2^10 one), so both summations are exercised.
        let scale = [1.0, 1e-12, 1e9][(seed % 3) as usize];
        let mut forest = random_forest(seed, trees, outputs, depth, scale);
        if seed % 3 == 2 {
            // Force rounding: a tiny leaf in the first tree that is a leaf.
            if let Some(i) = forest.kind.iter().position(|k| *k == pipec_forest::NodeKind::Leaf) {
                forest.leaf_value[i] = 2f32.powi(-60);
            }
        }
        let rows = random_rows(seed ^ 0xABCD, forest.features as usize, 200);
        assert_same_bits(&format!("random forest {seed}"), &forest, &rows);
        let layout = CompiledForest::new(forest.clone()).layout().expect("compiled");
        assert!(layout.near_nodes, "seed {seed}: {layout:?}");
        let several = forest.outputs > 1;
        seen[0] += usize::from(several && layout.direct_sums);
        seen[1] += usize::from(several && layout.exact_sums && !layout.direct_sums);
        seen[2] += usize::from(!layout.exact_sums);
        seen[3] += usize::from(layout.general_groups > 0);
        if seed % 3 == 2 && forest.kind.len() > 1 {
            assert!(
                !CompiledForest::new(forest.clone()).sums_exactly(),
                "seed {seed}: the 2^-60 leaf beside large ones must force the one running sum"
            );
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "every walk and sum is exercised: {seen:?}");
}

/// A multiclass forest sums its outputs directly when each output has enough trees to fill
/// its groups, and through the chunk buffer (exact, by output) when many outputs have few
/// trees each; both give the reference's bits. Single-leaf trees (which direct sums add as
/// a constant) with ±0 values, beside a -0.0 base, keep the sign of zero the reference
/// gives.
#[test]
fn multiclass_sums_direct_or_buffered_by_padding() {
    for (outputs, per_output, direct) in [(3usize, 100usize, true), (12, 2, false)] {
        let mut rng = Rng(outputs as u64 * 7919 + per_output as u64);
        let features = 6;
        let base = (0..outputs).map(|o| [-0.0, 0.0, 0.75][o % 3] - (o / 3) as f32).collect();
        let mut b = ForestBuilder::new(features, base);
        for t in 0..outputs * per_output {
            let o = t % outputs;
            let tree = match (o, t / outputs % 4) {
                // Output 0 is only single leaves, all -0.0 (its margin is +0.0 + base
                // -0.0: +0.0); output 1 has none.
                (0, _) => vec![TreeNode::Leaf { value: -0.0 }],
                (o, 1) if o > 1 => vec![TreeNode::Leaf { value: [0.0, -0.0, 0.5][t % 3] }],
                _ => random_tree(&mut rng, features, 1 + (t % 5) as u32, 1.0),
            };
            b.add_tree(o as u32, &tree).expect("tree");
        }
        let forest = b.finish().expect("forest");
        let layout = CompiledForest::new(forest.clone()).layout().expect("compiled");
        assert!(layout.exact_sums, "{layout:?}");
        assert_eq!(layout.direct_sums, direct, "{outputs} outputs: {layout:?}");
        let rows = random_rows(outputs as u64, features as usize, 300);
        assert_same_bits(&format!("{outputs} outputs"), &forest, &rows);
    }
}

/// A complete tree of `depth` splits, each on `feature`, thresholds spread over [-1, 1].
fn complete_tree(depth: u32, feature: u32, nodes: &mut Vec<TreeNode>, at: f32) -> usize {
    let index = nodes.len();
    if depth == 0 {
        nodes.push(TreeNode::Leaf { value: at });
        return index;
    }
    nodes.push(TreeNode::Leaf { value: 0.0 }); // replaced below
    let step = 2f32.powi(-(depth as i32));
    let left = complete_tree(depth - 1, feature, nodes, at - step);
    let right = complete_tree(depth - 1, feature, nodes, at + step);
    nodes[index] = TreeNode::Numeric {
        feature,
        threshold: at,
        default_left: depth.is_multiple_of(2),
        missing: Missing::Nan,
        left,
        right,
    };
    index
}

/// When the 8-byte nodes cannot hold a slot index (more than 2^16 slots) or a child's offset
/// (a tree wide enough that a node's left child lies 2^16 nodes further on), the 12-byte
/// nodes are walked instead, with the same bits.
#[test]
fn forests_too_wide_for_near_nodes_walk_the_wide_ones() {
    // 70,000 features, both NaN rules used: 140,001 slots.
    let features = 70_000u32;
    let mut b = ForestBuilder::new(features, vec![0.5]);
    for t in 0..20u32 {
        let mut nodes = Vec::new();
        complete_tree(3, (t * 6_997) % features, &mut nodes, 0.0);
        b.add_tree(0, &nodes).expect("tree");
    }
    let wide_rows = b.finish().expect("forest");
    // One complete tree of depth 17: its deepest splits' children lie 2^16 nodes on.
    let mut b = ForestBuilder::new(2, vec![0.0, 1.0]);
    let mut nodes = Vec::new();
    complete_tree(17, 1, &mut nodes, 0.0);
    b.add_tree(1, &nodes).expect("tree");
    let mut small = Vec::new();
    complete_tree(2, 0, &mut small, 0.0);
    b.add_tree(0, &small).expect("tree");
    let deep = b.finish().expect("forest");
    for (name, forest) in [("140,001 slots", wide_rows), ("a depth-17 tree", deep)] {
        let layout = CompiledForest::new(forest.clone()).layout().expect("compiled");
        assert!(!layout.near_nodes, "{name}: {layout:?}");
        let mut rows = random_rows(3, forest.features as usize, 40);
        for r in &mut rows {
            for v in r.iter_mut() {
                *v *= 0.25;
            }
        }
        assert_same_bits(name, &forest, &rows);
    }
}

/// The rounding case the exact check exists for: four running sums would give other bits.
#[test]
fn sums_that_round_keep_the_table_order() {
    let leaf = |value| vec![TreeNode::Leaf { value }];
    let mut b = ForestBuilder::new(1, vec![0.0]);
    for v in [1.0f32, 2f32.powi(-53), 2f32.powi(-53), -1.0, 2f32.powi(-53)] {
        b.add_tree(0, &leaf(v)).expect("tree");
    }
    let forest = b.finish().expect("forest");
    let compiled = CompiledForest::new(forest.clone());
    assert!(!compiled.sums_exactly());
    let (mut want, mut got) = ([0.0f32], [0.0f32]);
    forest.predict_margins(&[0.0], &mut want);
    compiled.predict_margins(&[0.0], &mut got);
    assert_eq!(want[0].to_bits(), got[0].to_bits());
    // In table order: 1 + 2^-53 rounds to 1 twice, minus 1 leaves 0, plus 2^-53.
    assert_eq!(want[0], 2f32.powi(-53));
}

/// A forest the compact walk evaluates must also keep dereferencing to its tables.
#[test]
fn compiled_forest_dereferences_to_its_tables() {
    let forest = random_forest(7, 20, 2, 4, 1.0);
    let bits = |f: &Forest| -> Vec<u32> { f.encode().iter().map(|v| v.to_bits()).collect() };
    let compiled = CompiledForest::from(forest.clone());
    assert_eq!(compiled.roots, forest.roots);
    assert_eq!(bits(compiled.forest()), bits(&forest));
    assert_eq!(bits(&compiled.into_forest()), bits(&forest));
}

/// A categorical test per row when they are few, in the walk when they are many: both give
/// the reference's bits (and the layout says which ran).
#[test]
fn categorical_tests_per_row_and_in_the_walk() {
    for (distinct, per_row) in [(4u32, true), (2000, false)] {
        let mut b = ForestBuilder::new(3, vec![0.25]);
        for t in 0..20u32 {
            // A chain of 100 categorical splits on feature t % 3, bitsets from a small or a
            // large family, each right child a leaf.
            let mut nodes = Vec::new();
            for k in 0..100u32 {
                let family = (t * 100 + k) % distinct;
                nodes.push(TreeNode::Categorical {
                    feature: t % 3,
                    bits: vec![family.wrapping_mul(2_654_435_761) | 1, family],
                    default_left: false,
                    missing: [Missing::Nan, Missing::None, Missing::Zero][(k % 3) as usize],
                    left: nodes.len() + 2,
                    right: nodes.len() + 1,
                });
                nodes.push(TreeNode::Leaf { value: (k as f32 - 50.0) / 64.0 });
            }
            nodes.push(TreeNode::Leaf { value: 1.5 });
            b.add_tree(0, &nodes).expect("tree");
        }
        let forest = b.finish().expect("forest");
        let layout = CompiledForest::new(forest.clone()).layout().expect("compiled");
        assert_eq!(layout.decisions > 0, per_row, "{layout:?}");
        assert_eq!(layout.general_groups > 0, !per_row, "{layout:?}");
        let mut rows = random_rows(distinct as u64, 3, 300);
        for c in 0..70 {
            rows.push(vec![c as f32, c as f32 + 0.5, -(c as f32) * 0.01]);
        }
        assert_same_bits(&format!("{distinct} distinct bitsets"), &forest, &rows);
    }
}
