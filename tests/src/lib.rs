//! Shared helpers of pipec's end-to-end tests (the tests themselves are in `tests/`).
//!
//! They load an example's `reference.json` into a runtime [`Batch`] and into the IR
//! interpreter's columns, run a generated pipeline on a device, and compare outputs within
//! a stated tolerance; [`Fixture`] holds a fixture pipeline to its reference on every path.

mod fixture;

pub use fixture::Fixture;

use pipec_runtime::{Batch, Column, CompiledPipeline, InputKind, OutputColumn, PipelineSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Checks a `.pipe` file, panicking with rendered diagnostics if it has errors.
pub fn check_file(path: &Path) -> pipec_compiler::Checked {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let outcome = pipec_compiler::check_source(&text, path.parent().unwrap_or(Path::new(".")));
    match outcome.checked {
        Some(c) => c,
        None => panic!("{}", pipec_dsl::render(&outcome.diagnostics, &path.display().to_string(), &text, false)),
    }
}

/// An example's reference: held-out inputs and the outputs scikit-learn computed for them.
pub struct Reference {
    pub rows: usize,
    pub inputs: serde_json::Map<String, Value>,
    pub outputs: serde_json::Map<String, Value>,
}

impl Reference {
    pub fn load(path: &Path) -> Reference {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json: Value = serde_json::from_str(&text).expect("reference.json is JSON");
        let inputs = json["inputs"].as_object().expect("inputs").clone();
        let outputs = json["outputs"].as_object().expect("outputs").clone();
        let rows = inputs.values().next().and_then(Value::as_array).map_or(0, Vec::len);
        Reference { rows, inputs, outputs }
    }

    /// The inputs as runtime columns in the order of `spec`.
    pub fn batch(&self, spec: &PipelineSpec) -> Batch {
        let columns = spec.inputs.iter().map(|input| json_column(&self.inputs[input.name], input.kind)).collect();
        Batch::new(spec, self.rows, columns).expect("reference inputs fit the spec")
    }

    /// The inputs as interpreter columns in the order of the graph's inputs.
    pub fn interp_columns(&self, graph: &pipec_compiler::ir::Graph) -> Vec<Column> {
        graph.inputs.iter().map(|input| json_column(&self.inputs[&input.name], input.kind)).collect()
    }

    /// A reference output as f32 values (booleans as 0/1), row-major.
    pub fn output(&self, name: &str) -> Vec<f64> {
        let list = self.outputs[name].as_array().unwrap_or_else(|| panic!("output {name}"));
        list.iter().flat_map(flatten).collect()
    }
}

fn flatten(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(flatten).collect(),
        Value::Bool(b) => vec![f64::from(u8::from(*b))],
        other => vec![other.as_f64().unwrap_or(f64::NAN)],
    }
}

fn json_column(values: &Value, kind: InputKind) -> Column {
    let list = values.as_array().expect("an input is a list");
    match kind {
        InputKind::Str => Column::Str(list.iter().map(|v| v.as_str().map(std::sync::Arc::from)).collect()),
        InputKind::Bool => Column::Bool(list.iter().flat_map(flatten).map(|v| v != 0.0).collect()),
        _ => Column::F32(list.iter().flat_map(flatten).map(|v| v as f32).collect()),
    }
}

/// Runs pipeline `P` on `device`, returning each output as f64 values (booleans as 0/1).
pub fn run<P: CompiledPipeline>(device: &pipec_runtime::burn_api::Device, batch: &Batch) -> Vec<Vec<f64>> {
    let pipeline = P::load(device).expect("weights load");
    outputs_as_f64(pipeline.forward(batch).expect("forward runs"))
}

/// Runs pipeline `P`'s fused kernel on wgpu, returning each output as f64 values (booleans
/// as 0/1). Panics if the pipeline has no fused kernel.
pub fn run_fused<P: CompiledPipeline>(batch: &Batch) -> Vec<Vec<f64>> {
    outputs_as_f64(fused_engine::<P>().forward(batch).expect("the fused kernel runs"))
}

/// Pipeline `P`'s fused kernel, loaded on burn's default wgpu device.
pub fn fused_engine<P: CompiledPipeline>() -> pipec_runtime::FusedEngine {
    let (kernel, weights) = P::fused().expect("the pipeline has a fused kernel");
    let device = pipec_runtime::burn_api::Device::wgpu(Default::default());
    pipec_runtime::FusedEngine::new(kernel, P::spec(), weights, &device).expect("the fused kernel loads")
}

/// The rows of `batch` repeated, in order, to `rows` rows.
pub fn cycled(batch: &Batch, spec: &PipelineSpec, rows: usize) -> Batch {
    let n = batch.rows();
    let columns = batch
        .columns()
        .iter()
        .zip(spec.inputs)
        .map(|(column, input)| {
            let w = input.width;
            let at = |i: usize| ((i / w) % n) * w + i % w;
            match column {
                Column::F32(v) => Column::F32((0..rows * w).map(|i| v[at(i)]).collect()),
                Column::Bool(v) => Column::Bool((0..rows * w).map(|i| v[at(i)]).collect()),
                Column::Str(v) => Column::Str((0..rows).map(|r| v[r % n].clone()).collect()),
            }
        })
        .collect();
    Batch::new(spec, rows, columns).expect("valid batch")
}

/// Output columns as f64 values (booleans as 0/1).
pub fn outputs_as_f64(outputs: Vec<OutputColumn>) -> Vec<Vec<f64>> {
    outputs
        .into_iter()
        .map(|o| match o {
            OutputColumn::F32 { values, .. } => values.into_iter().map(f64::from).collect(),
            OutputColumn::Bool { values, .. } => values.into_iter().map(|b| f64::from(u8::from(b))).collect(),
        })
        .collect()
}

/// `rows` random rows for the ops fixture's inputs (tests/fixtures/ops/ops.pipe), with missing
/// values in nullable inputs and strings outside the vocabularies.
pub fn random_columns(spec: &PipelineSpec, seed: u64, rows: usize) -> Vec<Column> {
    let mut rng = Rng(seed);
    spec.inputs
        .iter()
        .map(|input| {
            let n = rows * input.width;
            match (input.kind, input.name) {
                (InputKind::Str, _) => {
                    let words = ["female", "male", "other", "S", "C", "Q", ""];
                    Column::Str(
                        (0..rows)
                            .map(|_| {
                                let r = rng.next_u64();
                                (!(input.nullable && r.is_multiple_of(5)))
                                    .then(|| std::sync::Arc::from(words[(r % 7) as usize]))
                            })
                            .collect(),
                    )
                }
                (InputKind::Bool, _) => Column::Bool((0..n).map(|_| rng.next_u64().is_multiple_of(2)).collect()),
                (InputKind::I64, _) => Column::F32((0..n).map(|_| (rng.next_u64() % 21) as f32 - 10.0).collect()),
                (_, "fare") => Column::F32((0..n).map(|_| rng.uniform(0.0, 200.0)).collect()),
                (_, "age") => Column::F32(
                    (0..n)
                        .map(|_| if rng.next_u64().is_multiple_of(5) { f32::NAN } else { rng.uniform(0.0, 90.0) })
                        .collect(),
                ),
                _ => Column::F32((0..n).map(|_| rng.uniform(-4.0, 4.0)).collect()),
            }
        })
        .collect()
}

/// Asserts `actual` matches `expected` within `tol`: absolute for values of magnitude up to 1
/// (probabilities), relative above. Booleans must match exactly, except where the reference
/// probability behind them is within `tol` of the threshold (reported by the caller).
#[allow(clippy::neg_cmp_op_on_partial_ord)] // see the comparison below
pub fn assert_close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: {} values, expected {}", actual.len(), expected.len());
    let mut worst = (0.0f64, 0usize);
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let err = if a.is_nan() && e.is_nan() { 0.0 } else { (a - e).abs() / e.abs().max(1.0) };
        // `!(err <= tol)` rather than `err > tol`: a NaN error (one side NaN) must fail too.
        if !(err <= tol) {
            panic!("{what}[{i}]: got {a}, expected {e} (error {err:e} > {tol:e})");
        }
        if err > worst.0 {
            worst = (err, i);
        }
    }
    eprintln!("{what}: {} values, worst error {:e} at {}", actual.len(), worst.0, worst.1);
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
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
