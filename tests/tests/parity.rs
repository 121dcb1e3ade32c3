//! Parity with scikit-learn (and XGBoost for credit): each example's generated code, on held-out rows, matches the
//! reference outputs that scikit-learn computed (examples/*/reference.json), within 1e-5
//! (absolute for values up to 1 such as probabilities, relative above), on burn's CPU backend
//! (flex) and on wgpu (lavapipe in CI). The IR interpreter is held to the same references,
//! before and after the optimisation passes.

use pipec_runtime::CompiledPipeline;
use pipec_runtime::burn_api::Device;
use pipec_tests::{Reference, assert_close, check_file, repo_root, run};

const TOLERANCE: f64 = 1e-5;

fn check_example<P: CompiledPipeline>(example: &str, device: &Device, device_name: &str) {
    let dir = repo_root().join("examples").join(example);
    let reference = Reference::load(&dir.join("reference.json"));
    assert!(reference.rows >= 100, "{example}: too few reference rows");
    let batch = reference.batch(P::spec());
    let outputs = run::<P>(device, &batch);
    for (spec, actual) in P::spec().outputs.iter().zip(&outputs) {
        let expected = reference.output(spec.name);
        assert_close(&format!("{example}/{}/{device_name}", spec.name), actual, &expected, TOLERANCE);
    }
}

#[test]
fn titanic_matches_scikit_learn_on_cpu() {
    check_example::<pipec_gen_titanic::Pipeline>("titanic", &Device::flex(), "flex");
}

#[test]
fn chain_matches_scikit_learn_on_cpu() {
    check_example::<pipec_gen_chain::Pipeline>("chain", &Device::flex(), "flex");
}

#[test]
fn titanic_matches_scikit_learn_on_wgpu() {
    check_example::<pipec_gen_titanic::Pipeline>("titanic", &Device::wgpu(Default::default()), "wgpu");
}

#[test]
fn chain_matches_scikit_learn_on_wgpu() {
    check_example::<pipec_gen_chain::Pipeline>("chain", &Device::wgpu(Default::default()), "wgpu");
}

#[test]
fn credit_matches_xgboost_and_scikit_learn_on_cpu() {
    check_example::<pipec_gen_credit::Pipeline>("credit", &Device::flex(), "flex");
}

#[test]
fn credit_matches_xgboost_and_scikit_learn_on_wgpu() {
    check_example::<pipec_gen_credit::Pipeline>("credit", &Device::wgpu(Default::default()), "wgpu");
}

#[test]
fn interpreter_matches_scikit_learn_before_and_after_passes() {
    for example in ["titanic", "chain", "credit"] {
        let dir = repo_root().join("examples").join(example);
        let checked = check_file(&dir.join(format!("{example}.pipe")));
        let reference = Reference::load(&dir.join("reference.json"));
        for (stage, graph) in
            [("unoptimised", checked.graph().clone()), ("optimised", checked.optimised(&[]).graph().clone())]
        {
            let columns = reference.interp_columns(&graph);
            let outputs = pipec_compiler::interp::eval_outputs(&graph, &columns, reference.rows).expect("evaluates");
            for (spec, actual) in graph.outputs().iter().zip(outputs) {
                let actual: Vec<f64> = actual.into_iter().map(f64::from).collect();
                assert_close(
                    &format!("{example}/{}/{stage}", spec.name),
                    &actual,
                    &reference.output(&spec.name),
                    TOLERANCE,
                );
            }
        }
    }
}
