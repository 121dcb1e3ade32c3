//! ONNX models (tests/fixtures/onnx/): scikit-learn pipelines converted by skl2onnx and
//! PyTorch MLPs exported by torch.onnx (train.py), scored on 100 held-out rows per data set
//! (with missing cells where the model replaces or routes them). Every path is held to
//! onnxruntime's outputs on the same files (reference_pipe.json) within 1e-5 (absolute up to
//! 1, relative above): the interpreter before and after the passes, the native path (also
//! bit for bit against the interpreter), burn's CPU backend, and wgpu.

use pipec_runtime::burn_api::Device;
use pipec_tests::{Fixture, repo_root};

type Onnx = pipec_gen_onnx::Pipeline;

fn fixture() -> Fixture {
    Fixture::new(repo_root().join("tests/fixtures/onnx/onnx.pipe"), 100, 1e-5)
}

#[test]
fn the_interpreter_matches_onnxruntime_before_and_after_passes() {
    fixture().check_interpreter::<Onnx>();
}

#[test]
fn the_native_path_matches_onnxruntime_and_the_interpreter_bit_for_bit() {
    fixture().check_native::<Onnx>();
}

#[test]
fn burn_on_the_cpu_matches_onnxruntime() {
    fixture().check_burn::<Onnx>("flex", &Device::flex());
}

#[test]
fn burn_on_wgpu_matches_onnxruntime() {
    fixture().check_burn::<Onnx>("wgpu", &Device::wgpu(Default::default()));
}
