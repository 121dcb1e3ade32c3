//! Helpers for pass tests: compile small sources, compare graphs numerically.

use crate::interp::{Column, eval_outputs};
use crate::ir::{CategoryMap, Graph, InputKind, Op};
use std::path::{Path, PathBuf};

pub fn graph_in(source: &str, dir: &Path) -> Graph {
    let outcome = crate::check_source(source, dir);
    match outcome.checked {
        Some(c) => c.graph().clone(),
        None => panic!("test source does not check: {:#?}", outcome.diagnostics),
    }
}

pub fn graph_from(source: &str) -> Graph {
    graph_in(source, Path::new("."))
}

pub fn ir_text(graph: &Graph) -> String {
    crate::ir::render_text(graph)
}

/// How many nodes' descriptions start with `name`.
pub fn count_ops(graph: &Graph, name: &str) -> usize {
    graph.nodes().iter().filter(|n| crate::ir::display_op(graph, &n.op).starts_with(&format!("{name} "))).count()
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }
}

/// Random input columns for `graph`: numbers in [-3, 3] (NaN now and then when nullable),
/// strings from the graph's vocabularies plus an unknown one (and missing when nullable).
pub fn random_columns(graph: &Graph, rows: usize, seed: u64) -> Vec<Column> {
    let mut rng = Rng::new(seed);
    let mut words: Vec<String> = vec!["<unknown>".into()];
    for node in graph.nodes() {
        if let Op::Category { map: CategoryMap::Vocab(v), .. } = &node.op {
            words.extend(v.iter().cloned());
        }
    }
    graph
        .inputs
        .iter()
        .map(|input| {
            let n = rows * input.width;
            match input.kind {
                InputKind::Str => Column::Str(
                    (0..rows)
                        .map(|_| {
                            if input.nullable && rng.next_u64().is_multiple_of(5) {
                                None
                            } else {
                                Some(words[(rng.next_u64() % words.len() as u64) as usize].as_str().into())
                            }
                        })
                        .collect(),
                ),
                InputKind::Bool => Column::Bool((0..n).map(|_| rng.next_u64().is_multiple_of(2)).collect()),
                _ => Column::F32(
                    (0..n)
                        .map(|_| {
                            if input.nullable && rng.next_u64().is_multiple_of(5) {
                                f32::NAN
                            } else {
                                rng.uniform(-3.0, 3.0)
                            }
                        })
                        .collect(),
                ),
            }
        })
        .collect()
}

/// Asserts both graphs compute the same outputs on random rows, within 1e-5 relative.
pub fn assert_equivalent(before: &Graph, after: &Graph) {
    for seed in 1..=5 {
        let columns = random_columns(before, 64, seed);
        let a = eval_outputs(before, &columns, 64).expect("before evaluates");
        let b = eval_outputs(after, &columns, 64).expect("after evaluates");
        assert_eq!(a.len(), b.len());
        for (out, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x.len(), y.len(), "output {out} length");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                let ok = (p.is_nan() && q.is_nan()) || (p - q).abs() <= 1e-5 * p.abs().max(1.0);
                assert!(ok, "output {out} element {i}: {p} before, {q} after (seed {seed})");
            }
        }
    }
}

/// A temporary folder for test artifacts.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new() -> Self {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("pipec-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TestDir(dir)
    }

    /// Writes a linear model file with deterministic pseudo-random weights `[out, inp]`.
    pub fn linear(&self, name: &str, inp: usize, out: usize) {
        let mut rng = Rng::new((inp * 31 + out) as u64);
        let weight: Vec<f32> = (0..inp * out).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let bias: Vec<f32> = (0..out).map(|_| rng.uniform(-1.0, 1.0)).collect();
        write_safetensors(&self.0.join(name), &[("weight", vec![out, inp], weight), ("bias", vec![out], bias)]);
    }

    pub fn graph(&self, source: &str) -> Graph {
        graph_in(source, &self.0)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write_safetensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, d)| d.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            (
                name.to_string(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b).expect("view"),
            )
        })
        .collect();
    let out = safetensors::serialize(views, None).expect("serialize");
    std::fs::write(path, out).expect("write");
}
