//! ONNX models (tests/fixtures/onnx/): scikit-learn pipelines converted by skl2onnx and
//! PyTorch MLPs exported by torch.onnx (train.py), scored on 100 held-out rows per data set
//! (with missing cells where the model replaces or routes them). Every path is held to
//! onnxruntime's outputs on the same file (reference_pipe.json) within 1e-5 (absolute up to
//! 1, relative above): the interpreter before and after the passes, the native path (also
//! bit for bit against the interpreter), burn's CPU backend, and wgpu.

use pipec_compiler::interp;
use pipec_runtime::burn_api::Device;
use pipec_runtime::{CompiledPipeline, RowPipeline};
use pipec_tests::{assert_close, check_file, outputs_as_f64, repo_root, run, Reference};
use std::path::PathBuf;

type Onnx = pipec_gen_onnx::Pipeline;

const TOLERANCE: f64 = 1e-5;

fn dir() -> PathBuf {
    repo_root().join("tests/fixtures/onnx")
}

fn reference() -> Reference {
    let reference = Reference::load(&dir().join("reference_pipe.json"));
    assert_eq!(reference.rows, 100);
    reference
}

fn check_outputs(what: &str, outputs: &[Vec<f64>]) {
    let reference = reference();
    let spec = Onnx::spec();
    assert_eq!(outputs.len(), spec.outputs.len());
    for (output, actual) in spec.outputs.iter().zip(outputs) {
        assert_close(&format!("{}/{what}", output.name), actual, &reference.output(output.name), TOLERANCE);
    }
}

#[test]
fn the_interpreter_matches_onnxruntime_before_and_after_passes() {
    let checked = check_file(&dir().join("onnx.pipe"));
    let reference = reference();
    for (stage, graph) in [("unoptimised", checked.graph().clone()), ("optimised", checked.optimised(&[]).graph().clone())] {
        let columns = reference.interp_columns(&graph);
        let outputs = interp::eval_outputs(&graph, &columns, reference.rows).expect("evaluates");
        let outputs: Vec<Vec<f64>> = outputs.into_iter().map(|o| o.into_iter().map(f64::from).collect()).collect();
        check_outputs(stage, &outputs);
    }
}

#[test]
fn the_native_path_matches_onnxruntime_and_the_interpreter_bit_for_bit() {
    let reference = reference();
    let batch = reference.batch(Onnx::spec());
    let native = <Onnx as CompiledPipeline>::Rows::load().expect("weights load");
    let native = outputs_as_f64(native.forward_rows(&batch).expect("scores"));
    check_outputs("native", &native);

    let graph = check_file(&dir().join("onnx.pipe")).optimised(&[]).graph().clone();
    let interpreted = interp::eval_outputs(&graph, &reference.interp_columns(&graph), reference.rows).expect("evaluates");
    for ((output, a), b) in Onnx::spec().outputs.iter().zip(&native).zip(&interpreted) {
        let same = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f32).to_bits() == y.to_bits());
        assert!(same, "{}: the native path differs from the interpreter", output.name);
    }
}

#[test]
fn burn_on_the_cpu_matches_onnxruntime() {
    let batch = reference().batch(Onnx::spec());
    check_outputs("flex", &run::<Onnx>(&Device::flex(), &batch));
}

#[test]
fn burn_on_wgpu_matches_onnxruntime() {
    let batch = reference().batch(Onnx::spec());
    check_outputs("wgpu", &run::<Onnx>(&Device::wgpu(Default::default()), &batch));
}
