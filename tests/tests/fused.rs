//! The fused GPU path: each generated crate's one CubeCL kernel (`src/fused.rs`), run on wgpu
//! (lavapipe in CI) through the runtime's `FusedEngine`, against the IR interpreter and the
//! libraries' references, within 1e-5 (absolute up to 1, relative above):
//! - every op of the language (`tests/fixtures/ops`), on random rows with missing values and
//!   unknown categories;
//! - the tree, ONNX and MLP fixtures (unrolled and looped dense layers), and every example, on their reference rows;
//! - batches of several chunks (packed on worker threads, launched as they arrive), whose
//!   rows must come back in order, equal to the native path's answers for the same rows;
//! - and every route against the native path (the CPU default) on the same 700 rows: burn's
//!   CPU backend (which blocks matrix products differently above 256 rows), burn on wgpu and
//!   the fused kernel agree within the tolerance docs/serving.md states.

use pipec_compiler::interp;
use pipec_runtime::burn_api::Device;
use pipec_runtime::{Batch, CHUNK_ROWS, CompiledPipeline, RowPipeline};
use pipec_tests::{
    Fixture, Reference, assert_close, check_file, cycled, outputs_as_f64, random_columns, repo_root, run, run_fused,
};

const TOLERANCE: f64 = 1e-5;

#[test]
fn every_op_matches_the_interpreter() {
    type Ops = pipec_gen_ops::Pipeline;
    let checked = check_file(&repo_root().join("tests/fixtures/ops/ops.pipe"));
    let spec = Ops::spec();
    let rows = 300;
    for seed in [3, 11] {
        let columns = random_columns(spec, seed, rows);
        let batch = Batch::new(spec, rows, columns.clone()).expect("valid batch");
        let fused = run_fused::<Ops>(&batch);
        for (stage, graph) in
            [("unoptimised", checked.graph().clone()), ("optimised", checked.optimised(&[]).graph().clone())]
        {
            let expected = interp::eval_outputs(&graph, &columns, rows).expect("evaluates");
            for ((output, actual), expected) in spec.outputs.iter().zip(&fused).zip(expected) {
                let expected: Vec<f64> = expected.into_iter().map(f64::from).collect();
                assert_close(&format!("ops/{}/fused/{stage}/seed {seed}", output.name), actual, &expected, TOLERANCE);
            }
        }
    }
}

#[test]
fn tree_models_match_xgboost_lightgbm_and_the_interpreter() {
    Fixture::new(repo_root().join("tests/fixtures/trees/trees.pipe"), 100, TOLERANCE)
        .check_fused::<pipec_gen_trees::Pipeline>();
}

/// 1,000 trees summed in f32 on the GPU, against XGBoost's own predictions and margins.
#[test]
fn a_thousand_tree_model_matches_xgboost_and_the_interpreter() {
    let fixture = Fixture::new(repo_root().join("tests/fixtures/forest1000/forest1000.pipe"), 100, TOLERANCE);
    fixture.check_native::<pipec_gen_forest1000::Pipeline>();
    fixture.check_fused::<pipec_gen_forest1000::Pipeline>();
}

/// A 30-64-32-1 MLP (layers of 1,920 and 2,048 weights, looped; the last one unrolled),
/// against scikit-learn's predict_proba.
#[test]
fn an_mlp_matches_scikit_learn_and_the_interpreter() {
    let fixture = Fixture::new(repo_root().join("tests/fixtures/mlp30/mlp30.pipe"), 100, TOLERANCE);
    fixture.check_native::<pipec_gen_mlp30::Pipeline>();
    fixture.check_fused::<pipec_gen_mlp30::Pipeline>();
}

/// A 30-160-1 MLP whose first layer (4,800 weights) takes the kernel's loop over inputs with
/// the weights read from the blob and whose last one is a 160-term unrolled sum, against
/// scikit-learn's predict_proba.
#[test]
fn a_wide_mlp_matches_scikit_learn_and_the_interpreter() {
    let fixture = Fixture::new(repo_root().join("tests/fixtures/mlpwide/mlpwide.pipe"), 100, TOLERANCE);
    fixture.check_native::<pipec_gen_mlpwide::Pipeline>();
    fixture.check_fused::<pipec_gen_mlpwide::Pipeline>();
}

#[test]
fn onnx_models_match_onnxruntime_and_the_interpreter() {
    Fixture::new(repo_root().join("tests/fixtures/onnx/onnx.pipe"), 100, TOLERANCE)
        .check_fused::<pipec_gen_onnx::Pipeline>();
}

fn check_example<P: CompiledPipeline>(example: &str) {
    let dir = repo_root().join("examples").join(example);
    let reference = Reference::load(&dir.join("reference.json"));
    let batch = reference.batch(P::spec());
    let fused = run_fused::<P>(&batch);
    for (spec, actual) in P::spec().outputs.iter().zip(&fused) {
        assert_close(&format!("{example}/{}/fused", spec.name), actual, &reference.output(spec.name), TOLERANCE);
    }
}

#[test]
fn titanic_matches_scikit_learn() {
    check_example::<pipec_gen_titanic::Pipeline>("titanic");
}

#[test]
fn chain_matches_scikit_learn() {
    check_example::<pipec_gen_chain::Pipeline>("chain");
}

#[test]
fn credit_matches_xgboost_and_scikit_learn() {
    check_example::<pipec_gen_credit::Pipeline>("credit");
}

#[test]
fn a_batch_of_several_chunks_comes_back_whole_and_in_order() {
    type Titanic = pipec_gen_titanic::Pipeline;
    let spec = Titanic::spec();
    let reference = Reference::load(&repo_root().join("examples/titanic/reference.json"));
    // Two full chunks and a short third: packed on worker threads, launched as they arrive.
    let rows = 2 * CHUNK_ROWS + 77;
    let batch = cycled(&reference.batch(spec), spec, rows);
    let fused = run_fused::<Titanic>(&batch);
    let native = <Titanic as CompiledPipeline>::Rows::load().expect("loads");
    let native = outputs_as_f64(native.forward_rows(&batch).expect("scores"));
    for ((output, actual), expected) in spec.outputs.iter().zip(&fused).zip(&native) {
        assert_close(&format!("titanic/{}/{rows} rows", output.name), actual, expected, TOLERANCE);
    }
}

#[test]
fn an_empty_batch_gives_empty_columns() {
    type Chain = pipec_gen_chain::Pipeline;
    let spec = Chain::spec();
    let batch = Batch::new(spec, 0, random_columns(spec, 1, 0)).expect("valid empty batch");
    let fused = run_fused::<Chain>(&batch);
    assert_eq!(fused.len(), spec.outputs.len());
    assert!(fused.iter().all(Vec::is_empty), "{fused:?}");
}

#[test]
fn every_checked_in_crate_has_a_fused_kernel() {
    assert!(pipec_gen_titanic::Pipeline::fused().is_some());
    assert!(pipec_gen_chain::Pipeline::fused().is_some());
    assert!(pipec_gen_credit::Pipeline::fused().is_some());
    assert!(pipec_gen_ops::Pipeline::fused().is_some());
    assert!(pipec_gen_trees::Pipeline::fused().is_some());
    assert!(pipec_gen_onnx::Pipeline::fused().is_some());
    assert!(pipec_gen_forest1000::Pipeline::fused().is_some());
    assert!(pipec_gen_mlp30::Pipeline::fused().is_some());
    assert!(pipec_gen_mlpwide::Pipeline::fused().is_some());
}

/// More than 256 rows, where burn's CPU backend blocks its matrix products differently.
const ROUTE_ROWS: usize = 700;

fn check_routes<P: CompiledPipeline>(what: &str, reference: &str) {
    let spec = P::spec();
    let reference = Reference::load(&repo_root().join(reference));
    let batch = cycled(&reference.batch(spec), spec, ROUTE_ROWS);
    let native = outputs_as_f64(P::Rows::load().expect("loads").forward_rows(&batch).expect("scores"));
    let routes = [
        ("burn-flex", run::<P>(&Device::flex(), &batch)),
        ("burn-wgpu", run::<P>(&Device::wgpu(Default::default()), &batch)),
        ("fused-wgpu", run_fused::<P>(&batch)),
    ];
    for (route, outputs) in routes {
        for ((output, actual), expected) in spec.outputs.iter().zip(&outputs).zip(&native) {
            assert_close(
                &format!("{what}/{}/{route} vs native, {ROUTE_ROWS} rows", output.name),
                actual,
                expected,
                TOLERANCE,
            );
        }
    }
}

#[test]
fn titanic_agrees_on_every_route() {
    check_routes::<pipec_gen_titanic::Pipeline>("titanic", "examples/titanic/reference.json");
}

#[test]
fn chain_agrees_on_every_route() {
    check_routes::<pipec_gen_chain::Pipeline>("chain", "examples/chain/reference.json");
}

#[test]
fn tree_models_agree_on_every_route() {
    check_routes::<pipec_gen_trees::Pipeline>("trees", "tests/fixtures/trees/reference_pipe.json");
}
