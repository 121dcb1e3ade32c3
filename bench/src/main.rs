//! `pipec-bench`: the examples' pipelines as pipec generated them (all passes on), on the
//! native one-row path and on burn's CPU backend, at each batch size; the typed one-row call;
//! and the hand-written Rust ports at batch size 1. One JSON line per measurement on stdout.
//! `bench/run.sh` runs it together with the Python references and prints the ratios.
//! `--device wgpu` measures the GPU instead (the GPU part, `bench/gpu/`; also runs on
//! lavapipe): burn's tensor code, the fused kernel end to end and alone, and the native path,
//! for titanic, chain, the 30-64-32-1 MLP fixture and the 1,000-tree fixture;
//! `--trees tests/fixtures/trees/xgb_large.json` a tree ensemble, tables against wgpu;
//! `--mlps true` the one-row MLP benchmark (`pipec_bench::mlp`): the typed `score` of the MLP
//! fixtures (hidden layers 8 to 256 wide) and of the examples against their hand ports, with
//! a Markdown table of ns/row and ratios on stderr.

use pipec_bench::hand_port::{Chain, Titanic};
use pipec_bench::mlp::{Mlp, compare, reference_rows, table};
use pipec_bench::{Args, measure_pipeline, record, seconds_per_call};
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
        let rows = json["models"][&stem]["inputs"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("no held-out rows for {stem}"))?;
        return pipec_bench::trees::measure_trees(&root.join(model), &rows, &args.sizes, args.base);
    }
    if args.mlps {
        return mlps(&root, &args);
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

/// `--mlps true`: each MLP fixture and example, its generated typed `score` against its hand
/// port, on its held-out rows in turn.
fn mlps(root: &Path, args: &Args) -> Result<(), String> {
    let fixtures = root.join("tests/fixtures");
    let (budget, rounds) = (args.base, args.rounds);
    let mut results = Vec::new();
    macro_rules! mlp {
        ($krate:ident, $label:expr, $h1:literal, $h2:literal) => {{
            let dir = fixtures.join(stringify!($krate).trim_start_matches("pipec_gen_"));
            let xs = reference_rows::<30>(&dir)?;
            let generated = $krate::native::NativePipeline::load().map_err(|e| e.to_string())?;
            let rows: Vec<$krate::native::Row> = xs.iter().map(|x| $krate::native::Row { x: *x }).collect();
            let hand = Mlp::<30, $h1, $h2>::load(&dir)?;
            results.push(compare(
                $label,
                xs.len(),
                budget,
                rounds,
                |r| generated.score(&rows[r]).p,
                |r| hand.predict(&xs[r]),
            )?);
        }};
    }
    mlp!(pipec_gen_mlp8, "mlp8 (30-8-8-1)", 8, 8);
    mlp!(pipec_gen_mlp30, "mlp30 (30-64-32-1)", 64, 32);
    mlp!(pipec_gen_mlp64, "mlp64 (30-64-64-1)", 64, 64);
    mlp!(pipec_gen_mlp256, "mlp256 (30-256-256-1)", 256, 256);

    // The examples, on a few rows covering their categories and a missing age.
    let titanic = titanic_native::NativePipeline::load().map_err(|e| e.to_string())?;
    let hand = Titanic::load(&root.join("examples/titanic"))?;
    let rows = [
        titanic_native::Row { age: f32::NAN, sibsp: 1.0, parch: 2.0, sex: Some("female"), pclass: Some("3rd") },
        titanic_native::Row { age: 38.0, sibsp: 0.0, parch: 0.0, sex: Some("male"), pclass: Some("1st") },
        titanic_native::Row { age: 4.0, sibsp: 3.0, parch: 1.0, sex: Some("female"), pclass: Some("2nd") },
    ];
    results.push(compare(
        "titanic",
        rows.len(),
        budget,
        rounds,
        |r| titanic.score(&rows[r]).p_survived,
        |r| {
            let row = &rows[r];
            hand.predict(row.age, row.sibsp, row.parch, row.sex.unwrap_or(""), row.pclass.unwrap_or(""))
        },
    )?);
    let chain = chain_native::NativePipeline::load().map_err(|e| e.to_string())?;
    let hand = Chain::load(&root.join("examples/chain"))?;
    let rows = [
        chain_native::Row { balance: 1500.0, income: 30000.0, student: Some("Yes") },
        chain_native::Row { balance: 400.0, income: 52000.0, student: Some("No") },
    ];
    results.push(compare(
        "chain",
        rows.len(),
        budget,
        rounds,
        |r| chain.score(&rows[r]).p_default,
        |r| {
            let row = &rows[r];
            hand.predict(row.balance, row.income, row.student.unwrap_or("")).1
        },
    )?);
    eprint!("{}", table(&results));
    Ok(())
}
