//! pipec's benchmark harness (the Rust side of `bench/run.sh`): timing, batches cycled from an
//! example's reference rows, and one JSON line per measurement. `hand_port` holds the
//! hand-written Rust versions of the examples, the stand-in for a hand-port to C++; `mlp` the
//! one-row MLP benchmark against hand-written ports.
//!
//! Timings are medians of several rounds in one process; compare ratios, not absolute
//! figures, on shared machines.

pub mod hand_port;
pub mod mlp;
pub mod trees;

use pipec_runtime::burn_api::Device;
use pipec_runtime::{Batch, Column, CompiledPipeline, FusedEngine, InputKind, PipelineSpec, RowPipeline};
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// Median seconds per call of `f`, over 5 rounds sized to take about `budget` in all.
pub fn seconds_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut calls = 1u64;
    loop {
        let start = Instant::now();
        (0..calls).for_each(|_| f());
        let took = start.elapsed();
        if took >= budget / 20 || calls >= 1 << 32 {
            let per_round = ((budget.as_secs_f64() / 5.0) / (took.as_secs_f64() / calls as f64)).max(1.0) as u64;
            let mut rounds: Vec<f64> = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    (0..per_round).for_each(|_| f());
                    start.elapsed().as_secs_f64() / per_round as f64
                })
                .collect();
            rounds.sort_by(f64::total_cmp);
            return rounds[2];
        }
        calls *= 2;
    }
}

/// The reference rows of an example (`examples/<name>/reference.json`), as JSON columns: its
/// inputs, then its outputs (so that a stage run alone can take an earlier stage's output).
pub fn reference_inputs(example_dir: &Path) -> Result<serde_json::Map<String, Value>, String> {
    reference_columns(&example_dir.join("reference.json"))
}

/// The columns of a reference file: its inputs, then its outputs.
pub fn reference_columns(path: &Path) -> Result<serde_json::Map<String, Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut columns = json["outputs"].as_object().cloned().unwrap_or_default();
    columns.extend(json["inputs"].as_object().cloned().ok_or_else(|| format!("{}: no inputs", path.display()))?);
    Ok(columns)
}

/// `rows` rows for `spec`, cycling through the reference rows.
pub fn cycled_batch(
    spec: &PipelineSpec,
    inputs: &serde_json::Map<String, Value>,
    rows: usize,
) -> Result<Batch, String> {
    let columns = spec
        .inputs
        .iter()
        .map(|input| {
            let values = inputs
                .get(input.name)
                .and_then(Value::as_array)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("no reference rows for input {}", input.name))?;
            // Element `e` of row `r` (a vector input's rows are lists).
            let at = |r: usize, e: usize| {
                let row = &values[r % values.len()];
                row.as_array().map_or(row, |list| list.get(e).unwrap_or(&Value::Null))
            };
            let w = input.width;
            Ok(match input.kind {
                InputKind::Str => Column::Str((0..rows).map(|r| at(r, 0).as_str().map(std::sync::Arc::from)).collect()),
                InputKind::Bool => {
                    Column::Bool((0..rows * w).map(|i| at(i / w, i % w).as_bool().unwrap_or(false)).collect())
                }
                _ => Column::F32(
                    (0..rows * w).map(|i| at(i / w, i % w).as_f64().map_or(f32::NAN, |v| v as f32)).collect(),
                ),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Batch::new(spec, rows, columns).map_err(|e| e.to_string())
}

/// One measurement as a JSON line.
pub fn record(example: &str, config: &str, engine: &str, batch: usize, seconds: f64) -> Value {
    json!({
        "example": example,
        "config": config,
        "engine": engine,
        "batch": batch,
        "latency_s_median": seconds,
        "rows_per_s": batch as f64 / seconds,
    })
}

/// The time budget of one measurement: shorter for the largest batches, whose calls are few.
pub fn budget_for(rows: usize, base: Duration) -> Duration {
    if rows >= 1_000_000 { base * 3 } else { base }
}

/// Measures pipeline `P` (native path and burn on the CPU) at each batch size, printing and
/// returning one JSON line per measurement.
pub fn measure_pipeline<P: CompiledPipeline>(
    example_dir: &Path,
    config: &str,
    sizes: &[usize],
    base: Duration,
) -> Result<Vec<Value>, String> {
    let example = P::spec().name;
    let inputs = reference_inputs(example_dir)?;
    let native = P::Rows::load().map_err(|e| e.to_string())?;
    let burn = P::load(&Device::flex()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for &rows in sizes {
        let batch = cycled_batch(P::spec(), &inputs, rows)?;
        let budget = budget_for(rows, base);
        let native_s = seconds_per_call(budget, || {
            black_box(native.forward_rows(black_box(&batch)).ok());
        });
        out.push(record(example, config, "pipec-native", rows, native_s));
        let burn_s = seconds_per_call(budget, || {
            black_box(burn.forward(black_box(&batch)).ok());
        });
        out.push(record(example, config, "pipec-burn-flex", rows, burn_s));
    }
    for line in &out {
        println!("{line}");
    }
    Ok(out)
}

/// The command line of a benchmark runner: `--sizes 1,64,... --budget-ms N --config NAME
/// --example-dir DIR`; with `--device wgpu` also `--only NAME` and `--single-call true`;
/// `--mlps true [--rounds N]` the one-row MLP comparison.
pub struct Args {
    pub sizes: Vec<usize>,
    pub base: Duration,
    pub config: String,
    pub example_dir: Option<std::path::PathBuf>,
    /// `cpu` (native path and burn flex) or `wgpu` (burn on the GPU only).
    pub device: String,
    /// `--trees FILE`: the tree-ensemble benchmark on that model instead.
    pub trees: Option<std::path::PathBuf>,
    /// `--only NAME`: with `--device wgpu`, only that pipeline.
    pub only: Option<String>,
    /// `--single-call true`: with `--device wgpu`, one warm-up call and one timed call per
    /// engine (for engines too slow for repeated rounds, such as burn's trees on lavapipe).
    pub single_call: bool,
    /// `--mlps true`: only the one-row comparison of the typed `score` with the hand ports
    /// (the MLP fixtures and the examples), `--rounds` alternations (default 5).
    pub mlps: bool,
    pub rounds: usize,
}

impl Args {
    pub fn parse() -> Result<Args, String> {
        let mut args = Args {
            sizes: vec![1, 64, 4096, 1_000_000],
            base: Duration::from_millis(1000),
            config: "all-passes".into(),
            example_dir: None,
            device: "cpu".into(),
            trees: None,
            only: None,
            single_call: false,
            mlps: false,
            rounds: 5,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--sizes" => {
                    args.sizes = value
                        .split(',')
                        .map(|s| s.trim().parse().map_err(|e| format!("--sizes {s}: {e}")))
                        .collect::<Result<_, _>>()?
                }
                "--budget-ms" => {
                    args.base = Duration::from_millis(value.parse().map_err(|e| format!("--budget-ms: {e}"))?)
                }
                "--config" => args.config = value,
                "--example-dir" => args.example_dir = Some(value.into()),
                "--device" => args.device = value,
                "--trees" => args.trees = Some(value.into()),
                "--only" => args.only = Some(value),
                "--single-call" => args.single_call = value.parse().map_err(|e| format!("--single-call: {e}"))?,
                "--mlps" => args.mlps = value.parse().map_err(|e| format!("--mlps: {e}"))?,
                "--rounds" => args.rounds = value.parse().map_err(|e| format!("--rounds: {e}"))?,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(args)
    }
}

/// `main` of a runner for one build of one pipeline (the pass-variant runners `bench/bench.py`
/// generates call this).
pub fn runner_main<P: CompiledPipeline>() -> std::process::ExitCode {
    let result = Args::parse().and_then(|args| {
        let dir = args.example_dir.clone().ok_or("--example-dir is required")?;
        measure_pipeline::<P>(&dir, &args.config, &args.sizes, args.base)
    });
    match result {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Bytes a batch moves between host and device per row for pipeline `P` on burn: every input
/// as the f32 (or one-hot) tensor it is uploaded as, every output read back as 4 bytes per
/// value.
pub fn bytes_per_row<P: CompiledPipeline>(one_hot_widths: &[usize]) -> usize {
    let spec = P::spec();
    let numeric: usize = spec.inputs.iter().filter(|i| i.kind != InputKind::Str).map(|i| 4 * i.width).sum();
    let categorical: usize = one_hot_widths.iter().map(|w| 4 * w).sum();
    let outputs: usize = spec.outputs.iter().map(|o| 4 * o.width).sum();
    numeric + categorical + outputs
}

/// Measures pipeline `P` on the GPU at each batch size, with the reference rows of
/// `reference` (a `reference.json` or `reference_pipe.json`) cycled: burn's tensor code on
/// wgpu (what the GPU ran before the fused kernel), the fused kernel end to end (host rows in,
/// columns out) and the fused kernel alone (inputs already on the device, nothing read
/// back), and the native path on one CPU thread. Prints one JSON line per measurement and
/// the ratios on stderr.
pub fn measure_gpu<P: CompiledPipeline>(
    reference: &Path,
    args: &Args,
    burn_bytes_per_row: usize,
) -> Result<Vec<Value>, String> {
    let example = P::spec().name;
    if args.only.as_deref().is_some_and(|only| only != example) {
        return Ok(Vec::new());
    }
    let (sizes, base) = (&args.sizes, args.base);
    let timed = |budget: Duration, f: &mut dyn FnMut()| -> f64 {
        if args.single_call {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        } else {
            seconds_per_call(budget, f)
        }
    };
    let warm_ups = if args.single_call { 1 } else { 3 };
    let inputs = reference_columns(reference)?;
    let device = pipec_runtime::open_wgpu().map_err(|e| e.to_string())?;
    let burn = P::load(&device.device).map_err(|e| e.to_string())?;
    let (kernel, weights) = P::fused().ok_or_else(|| format!("{example}: no fused kernel"))?;
    let fused = FusedEngine::new(kernel, P::spec(), weights, &device.device).map_err(|e| e.to_string())?;
    let native = P::Rows::load().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for &rows in sizes {
        let batch = cycled_batch(P::spec(), &inputs, rows)?;
        let budget = budget_for(rows, base);
        // Warm up: kernel compilation and autotuning happen on the first calls of a shape.
        for _ in 0..warm_ups {
            burn.forward(&batch).map_err(|e| e.to_string())?;
            fused.forward(&batch).map_err(|e| e.to_string())?;
        }
        let uploaded = fused.upload(&batch).map_err(|e| e.to_string())?;
        let mut line = |engine: &str, seconds: f64, bytes_per_row: usize| {
            let mut line = record(example, "all-passes", engine, rows, seconds);
            line["adapter"] = json!(device.adapter);
            line["bytes_per_row"] = json!(bytes_per_row);
            line["bytes_per_s"] = json!((bytes_per_row * rows) as f64 / seconds);
            println!("{line}");
            out.push(line);
        };
        let burn_s = timed(budget, &mut || {
            black_box(burn.forward(black_box(&batch)).ok());
        });
        line("pipec-burn-wgpu", burn_s, burn_bytes_per_row);
        let fused_s = timed(budget, &mut || {
            black_box(fused.forward(black_box(&batch)).ok());
        });
        line("pipec-fused-wgpu", fused_s, fused.bytes_per_row());
        let kernel_s = timed(budget, &mut || {
            black_box(fused.compute(black_box(&uploaded)).ok());
        });
        line("pipec-fused-kernel", kernel_s, fused.bytes_per_row());
        let native_s = timed(budget, &mut || {
            black_box(native.forward_rows(black_box(&batch)).ok());
        });
        line("pipec-native", native_s, 0);
        eprintln!(
            "{example} {rows} rows: burn-wgpu {:.3} ms, fused {:.3} ms (kernel alone {:.3} ms), native 1 thread {:.3} ms; fused vs burn-wgpu {:.2}x, fused vs native {:.2}x",
            burn_s * 1e3,
            fused_s * 1e3,
            kernel_s * 1e3,
            native_s * 1e3,
            burn_s / fused_s,
            native_s / fused_s
        );
    }
    Ok(out)
}
