//! `pipec-bench`: the examples' pipelines as pipec generated them (all passes on), on the
//! native one-row path and on burn's CPU backend, at each batch size; the typed one-row call;
//! and the hand-written Rust ports at batch size 1. One JSON line per measurement on stdout.
//! `bench/run.sh` runs it together with the Python references and prints the ratios.
//! `--device wgpu` measures the GPU instead (the GPU part, `bench/gpu/`; also runs on
//! lavapipe): burn's tensor code, the fused kernel end to end and alone, and the native path,
//! for titanic, chain, the 30-64-32-1 MLP fixture and the 1,000-tree fixture;
//! `--trees tests/fixtures/trees/xgb_large.json` a tree ensemble, tables against wgpu.

use pipec_bench::hand_port::{Chain, Titanic};
use pipec_bench::{measure_pipeline, record, seconds_per_call, Args};
use pipec_gen_chain::native as chain_native;
use pipec_gen_titanic::native as titanic_native;
use pipec_runtime::RowPipeline;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse()?;
    // The sources this was built from, or (on a machine with only the binary and a copy of the
    // repository, as on the GPU machine) the current folder.
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = if built_from.join("examples").is_dir() { built_from } else { Path::new(".").to_path_buf() };
    let titanic_dir = root.join("examples/titanic");
    let chain_dir = root.join("examples/chain");
    if let Some(model) = &args.trees {
        // Held-out rows of the fixtures' reference for that model (the 1,000-tree one by default).
        let reference = root.join("tests/fixtures/trees/reference.json");
        let text = std::fs::read_to_string(&reference).map_err(|e| format!("{}: {e}", reference.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let stem = model.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let rows = json["models"][&stem]["inputs"].as_array().cloned().ok_or_else(|| format!("no held-out rows for {stem}"))?;
        return pipec_bench::trees::measure_trees(&root.join(model), &rows, &args.sizes, args.base);
    }
    if args.device == "wgpu" {
        // One-hot widths of the categorical inputs as uploaded: sex 2 + class 3; student 2.
        let titanic_bytes = pipec_bench::bytes_per_row::<pipec_gen_titanic::Pipeline>(&[2, 3]);
        let titanic_reference = titanic_dir.join("reference.json");
        pipec_bench::measure_gpu::<pipec_gen_titanic::Pipeline>(&titanic_reference, &args, titanic_bytes)?;
        let chain_bytes = pipec_bench::bytes_per_row::<pipec_gen_chain::Pipeline>(&[2]);
        let chain_reference = chain_dir.join("reference.json");
        pipec_bench::measure_gpu::<pipec_gen_chain::Pipeline>(&chain_reference, &args, chain_bytes)?;
        let mlp_bytes = pipec_bench::bytes_per_row::<pipec_gen_mlp30::Pipeline>(&[]);
        let mlp_reference = root.join("tests/fixtures/mlp30/reference_pipe.json");
        pipec_bench::measure_gpu::<pipec_gen_mlp30::Pipeline>(&mlp_reference, &args, mlp_bytes)?;
        let forest_bytes = pipec_bench::bytes_per_row::<pipec_gen_forest1000::Pipeline>(&[]);
        let forest_reference = root.join("tests/fixtures/forest1000/reference_pipe.json");
        pipec_bench::measure_gpu::<pipec_gen_forest1000::Pipeline>(&forest_reference, &args, forest_bytes)?;
        return Ok(());
    }
    measure_pipeline::<pipec_gen_titanic::Pipeline>(&titanic_dir, &args.config, &args.sizes, args.base)?;
    measure_pipeline::<pipec_gen_chain::Pipeline>(&chain_dir, &args.config, &args.sizes, args.base)?;

    // Batch size 1 without a Batch: the typed row API against the hand-port.
    let titanic = titanic_native::NativePipeline::load().map_err(|e| e.to_string())?;
    let hand = Titanic::load(&titanic_dir)?;
    let row = titanic_native::Row { age: f32::NAN, sibsp: 1.0, parch: 2.0, sex: Some("female"), pclass: Some("3rd") };
    let (a, b) = (titanic.score(&row).p_survived, hand.predict(f32::NAN, 1.0, 2.0, "female", "3rd"));
    if (a - b).abs() > 1e-5 {
        return Err(format!("titanic: the hand-port gives {b}, pipec {a}"));
    }
    let s = seconds_per_call(args.base, || {
        black_box(titanic.score(black_box(&row)));
    });
    println!("{}", record("titanic", &args.config, "pipec-native-row", 1, s));
    let s = seconds_per_call(args.base, || {
        let r = black_box(&row);
        black_box(hand.predict(r.age, r.sibsp, r.parch, r.sex.unwrap_or(""), r.pclass.unwrap_or("")));
    });
    println!("{}", record("titanic", "hand-written", "hand-port-rust", 1, s));

    let chain = chain_native::NativePipeline::load().map_err(|e| e.to_string())?;
    let hand = Chain::load(&chain_dir)?;
    let row = chain_native::Row { balance: 1500.0, income: 30000.0, student: Some("Yes") };
    let scores = chain.score(&row);
    let (risk, p) = hand.predict(1500.0, 30000.0, "Yes");
    if (scores.risk - risk).abs() > 1e-5 || (scores.p_default - p).abs() > 1e-5 {
        return Err(format!("chain: the hand-port gives {risk}, {p}; pipec {scores:?}"));
    }
    let s = seconds_per_call(args.base, || {
        black_box(chain.score(black_box(&row)));
    });
    println!("{}", record("chain", &args.config, "pipec-native-row", 1, s));
    let s = seconds_per_call(args.base, || {
        let r = black_box(&row);
        black_box(hand.predict(r.balance, r.income, r.student.unwrap_or("")));
    });
    println!("{}", record("chain", "hand-written", "hand-port-rust", 1, s));
    Ok(())
}
