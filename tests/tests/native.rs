//! The native one-row path (`src/native.rs` of each generated crate) against scikit-learn's
//! references and, for every operation, against the IR interpreter bit for bit (the native
//! code performs the interpreter's f32 operations in the interpreter's order).

use pipec_compiler::interp;
use pipec_runtime::{Batch, Column, CompiledPipeline, RowPipeline};
use pipec_tests::{Fixture, Reference, assert_close, check_file, outputs_as_f64, random_columns, repo_root};

const TOLERANCE: f64 = 1e-5;

fn check_example<P: CompiledPipeline>(example: &str) {
    let reference = Reference::load(&repo_root().join(format!("examples/{example}/reference.json")));
    let spec = P::spec();
    let batch = reference.batch(spec);
    let native = P::Rows::load().expect("weights load");
    let outputs = outputs_as_f64(native.forward_rows(&batch).expect("scores"));
    for (output, actual) in spec.outputs.iter().zip(&outputs) {
        let expected = reference.output(output.name);
        assert_close(&format!("{example}/{}/native", output.name), actual, &expected, TOLERANCE);
    }
}

#[test]
fn titanic_native_matches_scikit_learn() {
    check_example::<pipec_gen_titanic::Pipeline>("titanic");
}

#[test]
fn chain_native_matches_scikit_learn() {
    check_example::<pipec_gen_chain::Pipeline>("chain");
}

#[test]
fn credit_native_matches_xgboost_and_scikit_learn() {
    check_example::<pipec_gen_credit::Pipeline>("credit");
}

/// The MLP benchmark fixtures, hidden layers 8, 64 and 256 wide, each ending in a one-output
/// layer summed in 8 lanes (`pipec_compiler::ir::dense_lanes`): scikit-learn's predict_proba,
/// and the interpreter bit for bit.
#[test]
fn mlps_8_to_256_wide_match_scikit_learn_and_the_interpreter() {
    let fixture =
        |name: &str| Fixture::new(repo_root().join(format!("tests/fixtures/{name}/{name}.pipe")), 100, TOLERANCE);
    fixture("mlp8").check_native::<pipec_gen_mlp8::Pipeline>();
    fixture("mlp64").check_native::<pipec_gen_mlp64::Pipeline>();
    fixture("mlp256").check_native::<pipec_gen_mlp256::Pipeline>();
}

#[test]
fn typed_rows_score_as_the_batch_path_does() {
    use pipec_gen_titanic::native::{NativePipeline, Row};
    let native = NativePipeline::load().expect("loads");
    let row = Row { age: f32::NAN, sibsp: 1.0, parch: 0.0, sex: Some("female"), pclass: Some("2nd") };
    let scores = native.score(&row);
    let spec = <pipec_gen_titanic::Pipeline as CompiledPipeline>::spec();
    let columns = vec![
        Column::F32(vec![f32::NAN]),
        Column::F32(vec![1.0]),
        Column::F32(vec![0.0]),
        Column::Str(vec![Some("female".into())]),
        Column::Str(vec![Some("2nd".into())]),
    ];
    let batch = Batch::new(spec, 1, columns).expect("valid");
    let burn = pipec_tests::run::<pipec_gen_titanic::Pipeline>(&pipec_runtime::burn_api::Device::flex(), &batch);
    assert!((f64::from(scores.p_survived) - burn[0][0]).abs() < 1e-6, "{scores:?} vs {burn:?}");
    assert_eq!(scores.survived, scores.p_survived > 0.5);
}

#[test]
fn every_op_matches_the_interpreter_bit_for_bit() {
    const ROWS: usize = 300;
    let checked = check_file(&repo_root().join("tests/fixtures/ops/ops.pipe"));
    let graph = checked.optimised(&[]).graph().clone();
    let spec = <pipec_gen_ops::Pipeline as CompiledPipeline>::spec();
    let native = <pipec_gen_ops::Pipeline as CompiledPipeline>::Rows::load().expect("loads");
    for seed in [3, 11, 29] {
        let columns = random_columns(spec, seed, ROWS);
        let batch = Batch::new(spec, ROWS, columns.clone()).expect("valid batch");
        let actual = outputs_as_f64(native.forward_rows(&batch).expect("scores"));
        let expected = interp::eval_outputs(&graph, &columns, ROWS).expect("evaluates");
        for ((output, actual), expected) in spec.outputs.iter().zip(&actual).zip(&expected) {
            assert_eq!(actual.len(), expected.len(), "{}", output.name);
            for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
                let e = f64::from(*e);
                assert!(
                    a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()),
                    "ops/{}[{i}] seed {seed}: native {a}, interpreter {e}",
                    output.name
                );
            }
        }
    }
}
