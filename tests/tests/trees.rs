//! Tree ensembles (tests/fixtures/trees/): XGBoost and LightGBM models trained by the real
//! libraries (train.py) scored on 100 held-out rows per data set, about 10% of the cells
//! missing and, for the categorical model, unseen and missing categories. Every path is held
//! to the libraries' own predictions and margins (reference_pipe.json) within 1e-5 (absolute
//! up to 1, relative above): the interpreter before and after the passes, the native path
//! (also bit for bit against the interpreter), burn's CPU backend, and wgpu.

use pipec_compiler::interp;
use pipec_runtime::burn_api::Device;
use pipec_runtime::{CompiledPipeline, RowPipeline};
use pipec_tests::{assert_close, check_file, outputs_as_f64, repo_root, run, Reference};
use std::path::PathBuf;

type Trees = pipec_gen_trees::Pipeline;

const TOLERANCE: f64 = 1e-5;

fn dir() -> PathBuf {
    repo_root().join("tests/fixtures/trees")
}

fn reference() -> Reference {
    let reference = Reference::load(&dir().join("reference_pipe.json"));
    assert_eq!(reference.rows, 100);
    reference
}

fn check_outputs(what: &str, outputs: &[Vec<f64>]) {
    let reference = reference();
    let spec = Trees::spec();
    assert_eq!(outputs.len(), spec.outputs.len());
    for (output, actual) in spec.outputs.iter().zip(outputs) {
        assert_close(&format!("{}/{what}", output.name), actual, &reference.output(output.name), TOLERANCE);
    }
}

#[test]
fn the_interpreter_matches_xgboost_and_lightgbm_before_and_after_passes() {
    let checked = check_file(&dir().join("trees.pipe"));
    let reference = reference();
    for (stage, graph) in [("unoptimised", checked.graph().clone()), ("optimised", checked.optimised(&[]).graph().clone())] {
        let columns = reference.interp_columns(&graph);
        let outputs = interp::eval_outputs(&graph, &columns, reference.rows).expect("evaluates");
        let outputs: Vec<Vec<f64>> = outputs.into_iter().map(|o| o.into_iter().map(f64::from).collect()).collect();
        check_outputs(stage, &outputs);
    }
}

#[test]
fn the_native_path_matches_the_libraries_and_the_interpreter_bit_for_bit() {
    let reference = reference();
    let batch = reference.batch(Trees::spec());
    let native = <Trees as CompiledPipeline>::Rows::load().expect("weights load");
    let outputs = native.forward_rows(&batch).expect("scores");
    let native = outputs_as_f64(outputs);
    check_outputs("native", &native);

    let graph = check_file(&dir().join("trees.pipe")).optimised(&[]).graph().clone();
    let interpreted = interp::eval_outputs(&graph, &reference.interp_columns(&graph), reference.rows).expect("evaluates");
    for ((output, a), b) in Trees::spec().outputs.iter().zip(&native).zip(&interpreted) {
        let same = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f32).to_bits() == y.to_bits());
        assert!(same, "{}: the native path differs from the interpreter", output.name);
    }
}

#[test]
fn burn_on_the_cpu_matches_the_libraries() {
    let batch = reference().batch(Trees::spec());
    check_outputs("flex", &run::<Trees>(&Device::flex(), &batch));
}

#[test]
fn burn_on_wgpu_matches_the_libraries() {
    let batch = reference().batch(Trees::spec());
    check_outputs("wgpu", &run::<Trees>(&Device::wgpu(Default::default()), &batch));
}

/// A 1,000-tree XGBoost model (depth 6, about 30,000 nodes) is data, not code: the generated
/// Rust is as small as for a single tree, so compiling it costs what a small model costs.
#[test]
fn a_thousand_tree_model_generates_no_more_code_than_a_small_one() {
    let source = |model: &str| {
        format!(
            "pipeline big {{ version \"1.0.0\" input {{ x: f32[30]? }} models {{ m = xgboost(\"{model}\") }} output {{ p = m(x)[0] }} }}"
        )
    };
    let generated = |model: &str| {
        let outcome = pipec_compiler::check_source(&source(model), &dir());
        let checked = outcome.checked.unwrap_or_else(|| panic!("{model}: {:?}", outcome.diagnostics));
        let options = pipec_codegen::CrateOptions {
            runtime_path: "../runtime".into(),
            standalone: true,
            source_name: "big.pipe".into(),
            role: pipec_codegen::CrateRole::Server { challenger: None },
        };
        let files = pipec_codegen::generate(&checked.optimised(&[]), &options).files;
        let code: usize = files.iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "rs")).map(|(_, b)| b.len()).sum();
        let blob = files.iter().find(|(p, _)| p.ends_with("weights.bin")).map_or(0, |(_, b)| b.len());
        (checked.graph().clone(), code, blob)
    };
    let (small_graph, small_code, small_blob) = generated("xgb_binary.json");
    let (large_graph, large_code, large_blob) = generated("xgb_large.json");
    let trees = |graph: &pipec_compiler::ir::Graph| {
        graph
            .ids()
            .find_map(|id| match &graph.node(id).op {
                pipec_compiler::ir::Op::Trees { forest, .. } => Some(forest.trees()),
                _ => None,
            })
            .expect("a Trees op")
    };
    assert_eq!((trees(&small_graph), trees(&large_graph)), (100, 1000));
    assert!(large_blob > 10 * small_blob, "the tables grow with the trees: {small_blob} -> {large_blob} bytes");
    assert!(
        large_code <= small_code + 64,
        "generated code grew from {small_code} to {large_code} bytes with 10x the trees"
    );
}
