//! Tree ensembles (tests/fixtures/trees/): XGBoost and LightGBM models trained by the real
//! libraries (train.py) scored on 100 held-out rows per data set, about 10% of the cells
//! missing and, for the categorical model, unseen and missing categories. Every path is held
//! to the libraries' own predictions and margins (reference_pipe.json) within 1e-5 (absolute
//! up to 1, relative above): the interpreter before and after the passes, the native path
//! (also bit for bit against the interpreter), burn's CPU backend, and wgpu.

use pipec_runtime::burn_api::Device;
use pipec_tests::{Fixture, repo_root};
use std::path::PathBuf;

type Trees = pipec_gen_trees::Pipeline;

fn dir() -> PathBuf {
    repo_root().join("tests/fixtures/trees")
}

fn fixture() -> Fixture {
    Fixture::new(dir().join("trees.pipe"), 100, 1e-5)
}

#[test]
fn the_interpreter_matches_xgboost_and_lightgbm_before_and_after_passes() {
    fixture().check_interpreter::<Trees>();
}

#[test]
fn the_native_path_matches_the_libraries_and_the_interpreter_bit_for_bit() {
    fixture().check_native::<Trees>();
}

#[test]
fn burn_on_the_cpu_matches_the_libraries() {
    fixture().check_burn::<Trees>("flex", &Device::flex());
}

#[test]
fn burn_on_wgpu_matches_the_libraries() {
    fixture().check_burn::<Trees>("wgpu", &Device::wgpu(Default::default()));
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
        let code: usize =
            files.iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "rs")).map(|(_, b)| b.len()).sum();
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
