//! A fixture pipeline held to a library's reference outputs on every path: the interpreter
//! before and after the passes, the native path (also bit for bit against the interpreter),
//! and burn on a device. `tests/trees.rs` and `tests/onnx.rs` use it.

use crate::{Reference, assert_close, check_file, outputs_as_f64, run};
use pipec_compiler::interp;
use pipec_runtime::{CompiledPipeline, RowPipeline};
use std::path::PathBuf;

pub struct Fixture {
    /// The `.pipe` file; its folder holds `reference_pipe.json`.
    pub pipe: PathBuf,
    pub reference: Reference,
    /// Relative above 1, absolute below (see [`assert_close`]).
    pub tolerance: f64,
}

impl Fixture {
    /// `pipe` with the `reference_pipe.json` beside it, which must hold `rows` rows.
    pub fn new(pipe: PathBuf, rows: usize, tolerance: f64) -> Fixture {
        let folder = pipe.parent().expect("a folder").to_path_buf();
        let reference = Reference::load(&folder.join("reference_pipe.json"));
        assert_eq!(reference.rows, rows);
        Fixture { pipe, reference, tolerance }
    }

    /// Every output of `P` (in its spec's order) against the reference.
    pub fn check<P: CompiledPipeline>(&self, what: &str, outputs: &[Vec<f64>]) {
        let spec = P::spec();
        assert_eq!(outputs.len(), spec.outputs.len());
        for (output, actual) in spec.outputs.iter().zip(outputs) {
            assert_close(
                &format!("{}/{what}", output.name),
                actual,
                &self.reference.output(output.name),
                self.tolerance,
            );
        }
    }

    /// The interpreter's outputs of the graph, before or after the passes.
    fn interpret(&self, optimised: bool) -> Vec<Vec<f32>> {
        let checked = check_file(&self.pipe);
        let graph = if optimised { checked.optimised(&[]).graph().clone() } else { checked.graph().clone() };
        interp::eval_outputs(&graph, &self.reference.interp_columns(&graph), self.reference.rows).expect("evaluates")
    }

    pub fn check_interpreter<P: CompiledPipeline>(&self) {
        for (stage, optimised) in [("unoptimised", false), ("optimised", true)] {
            let outputs: Vec<Vec<f64>> =
                self.interpret(optimised).into_iter().map(|o| o.into_iter().map(f64::from).collect()).collect();
            self.check::<P>(stage, &outputs);
        }
    }

    /// The native path against the reference, and bit for bit against the interpreter.
    pub fn check_native<P: CompiledPipeline>(&self) {
        let batch = self.reference.batch(P::spec());
        let native = P::Rows::load().expect("weights load");
        let native = outputs_as_f64(native.forward_rows(&batch).expect("scores"));
        self.check::<P>("native", &native);
        for ((output, a), b) in P::spec().outputs.iter().zip(&native).zip(&self.interpret(true)) {
            let same = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f32).to_bits() == y.to_bits());
            assert!(same, "{}: the native path differs from the interpreter", output.name);
        }
    }

    /// The fused GPU kernel (on wgpu) against the reference and against the interpreter.
    pub fn check_fused<P: CompiledPipeline>(&self) {
        let batch = self.reference.batch(P::spec());
        let fused = crate::run_fused::<P>(&batch);
        self.check::<P>("fused", &fused);
        for ((output, actual), expected) in P::spec().outputs.iter().zip(&fused).zip(self.interpret(true)) {
            let expected: Vec<f64> = expected.into_iter().map(f64::from).collect();
            assert_close(&format!("{}/fused-vs-interpreter", output.name), actual, &expected, self.tolerance);
        }
    }

    /// burn on `device` against the reference.
    pub fn check_burn<P: CompiledPipeline>(&self, what: &str, device: &pipec_runtime::burn_api::Device) {
        let batch = self.reference.batch(P::spec());
        self.check::<P>(what, &run::<P>(device, &batch));
    }
}
