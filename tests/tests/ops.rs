//! Every operation of the language (tests/fixtures/ops/ops.pipe) through the generated burn
//! code, on the CPU (flex) and on wgpu, against the IR interpreter before and after the
//! passes, on random rows that include missing values and unknown categories.

use pipec_compiler::interp;
use pipec_runtime::burn_api::Device;
use pipec_runtime::{Batch, Column, CompiledPipeline};
use pipec_tests::{assert_close, check_file, random_columns, repo_root, run};

const ROWS: usize = 300;
const TOLERANCE: f64 = 1e-5;

fn check_on(device: &Device, name: &str) {
    let checked = check_file(&repo_root().join("tests/fixtures/ops/ops.pipe"));
    let spec = <pipec_gen_ops::Pipeline as CompiledPipeline>::spec();
    for seed in [3, 11] {
        let columns = random_columns(spec, seed, ROWS);
        let batch = Batch::new(spec, ROWS, columns.clone()).expect("valid batch");
        let burn = run::<pipec_gen_ops::Pipeline>(device, &batch);
        for (stage, graph) in
            [("unoptimised", checked.graph().clone()), ("optimised", checked.optimised(&[]).graph().clone())]
        {
            let expected = interp::eval_outputs(&graph, &columns, ROWS).expect("evaluates");
            for ((output, actual), expected) in spec.outputs.iter().zip(&burn).zip(expected) {
                let expected: Vec<f64> = expected.into_iter().map(f64::from).collect();
                assert_close(&format!("ops/{}/{name}/{stage}/seed {seed}", output.name), actual, &expected, TOLERANCE);
            }
        }
    }
}

#[test]
fn every_op_matches_the_interpreter_on_cpu() {
    check_on(&Device::flex(), "flex");
}

#[test]
fn every_op_matches_the_interpreter_on_wgpu() {
    check_on(&Device::wgpu(Default::default()), "wgpu");
}

#[test]
fn batch_rejects_missing_value_in_non_nullable_input() {
    let spec = <pipec_gen_ops::Pipeline as CompiledPipeline>::spec();
    let mut columns = random_columns(spec, 5, ROWS);
    let fare = spec.inputs.iter().position(|i| i.name == "fare").expect("fare");
    if let Column::F32(v) = &mut columns[fare] {
        v[7] = f32::NAN;
    }
    let err = Batch::new(spec, ROWS, columns).expect_err("NaN in a non-nullable input");
    assert!(err.to_string().contains("fare") && err.to_string().contains("row 7"), "{err}");
}
