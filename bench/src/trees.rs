//! The tree-ensemble benchmark: one XGBoost or LightGBM model file (by default the fixtures'
//! 1,000-tree `xgb_large.json`) on rows cycled from its held-out inputs, walked row by row on
//! one CPU thread, both with the compact walk the native path runs
//! (`pipec_runtime::Forest`, i.e. `pipec_forest::CompiledForest`) and with the reference walk
//! over the node tables (`pipec_forest::Forest::predict_margins`, what the interpreter runs),
//! and as tensor operations (`TensorForest`) on burn's wgpu device, including the upload of
//! the rows and the read-back of the margins. `pipec-bench --trees FILE` prints one JSON line
//! per measurement.
//!
//! Before timing, the compact walk must give the reference's bits on every held-out row.
//! Environment: `PIPEC_TREES_ROWS=mixed` times [`mixed_rows`] instead of cycled ones;
//! `PIPEC_TREES_WGPU=0` skips wgpu (it is also skipped, with a message, when no
//! adapter opens); `PIPEC_TREES_MARGINS=FILE` writes the held-out rows' margins there as JSON
//! (`{"model", "outputs", "margins": [[...], ...]}`), for `bench/trees/compare.py` to check
//! against the libraries.

use crate::{budget_for, record, seconds_per_call};
use pipec_runtime::burn_api::{Tensor, TensorData};
use pipec_runtime::{Forest, TensorForest};
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// Imports the model at `path` (`.json`: XGBoost, otherwise LightGBM text) as node tables.
pub fn load_tables(path: &Path) -> Result<pipec_forest::Forest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let imported = if path.extension().is_some_and(|e| e == "json") {
        pipec_forest::import_xgboost(&text)
    } else {
        pipec_forest::import_lightgbm(&text)
    };
    Ok(imported.map_err(|e| format!("{}: {e}", path.display()))?.forest)
}

/// Imports the model at `path` with its compact walk, as the native path holds it.
pub fn load_forest(path: &Path) -> Result<Forest, String> {
    Ok(Forest::new(load_tables(path)?))
}

/// `rows` rows of `features` values, cycling through `held_out` (a list of rows, null for a
/// missing value), row-major.
pub fn cycled_rows(held_out: &[Value], features: usize, rows: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * features);
    for r in 0..rows {
        let row = held_out[r % held_out.len()].as_array().map(Vec::as_slice).unwrap_or(&[]);
        out.extend((0..features).map(|f| row.get(f).and_then(Value::as_f64).map_or(f32::NAN, |v| v as f32)));
    }
    out
}

/// `rows` rows of `features` values, each value taken from a held-out row chosen per cell by
/// a hash (splitmix64 of `row * features + feature`, modulo the held-out count): rows with
/// the held-out rows' distribution per feature that do not repeat, so a branchy walk cannot
/// learn their paths as it can those of 100 cycled rows. `bench/trees/compare.py` builds the
/// same rows.
pub fn mixed_rows(held_out: &[Value], features: usize, rows: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * features);
    for r in 0..rows {
        for f in 0..features {
            let mut z = ((r * features + f) as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let row = held_out[(z % held_out.len() as u64) as usize].as_array().map(Vec::as_slice).unwrap_or(&[]);
            out.push(row.get(f).and_then(Value::as_f64).map_or(f32::NAN, |v| v as f32));
        }
    }
    out
}

/// The compact walk against the reference on the held-out rows, bit for bit; writes their
/// margins where `PIPEC_TREES_MARGINS` says.
fn check_compact(
    name: &str,
    tables: &pipec_forest::Forest,
    compact: &Forest,
    held_out: &[Value],
) -> Result<(), String> {
    let (features, outputs) = (tables.features as usize, tables.outputs as usize);
    let x = cycled_rows(held_out, features, held_out.len());
    let mut all = Vec::with_capacity(held_out.len());
    let (mut want, mut got) = (vec![0.0f32; outputs], vec![0.0f32; outputs]);
    for (r, row) in x.chunks_exact(features).enumerate() {
        tables.predict_margins(row, &mut want);
        compact.predict_margins(row, &mut got);
        if want.iter().zip(&got).any(|(a, b)| a.to_bits() != b.to_bits()) {
            return Err(format!("{name} row {r}: the compact walk gives {got:?}, the reference {want:?}"));
        }
        all.push(got.clone());
    }
    if let Some(path) = std::env::var_os("PIPEC_TREES_MARGINS") {
        let doc = json!({"model": name, "outputs": outputs, "margins": all});
        std::fs::write(&path, doc.to_string()).map_err(|e| format!("{}: {e}", Path::new(&path).display()))?;
    }
    Ok(())
}

/// Measures the forest at each size on the CPU (compact and reference walks, one thread) and,
/// unless skipped or unavailable, on wgpu.
pub fn measure_trees(path: &Path, held_out: &[Value], sizes: &[usize], base: Duration) -> Result<(), String> {
    if held_out.is_empty() {
        return Err(format!("{}: no held-out rows", path.display()));
    }
    let tables = load_tables(path)?;
    let forest = Forest::new(tables.clone());
    let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let features = forest.features as usize;
    let outputs = forest.outputs as usize;
    check_compact(&name, &tables, &forest, held_out)?;
    let mixed = std::env::var("PIPEC_TREES_ROWS").is_ok_and(|v| v == "mixed");
    let wanted = std::env::var("PIPEC_TREES_WGPU").map_or(true, |v| v != "0");
    let device = if wanted {
        match pipec_runtime::open_wgpu() {
            Ok(device) => Some(device),
            Err(e) => {
                eprintln!("{name}: no wgpu adapter ({e}); wgpu not measured");
                None
            }
        }
    } else {
        eprintln!("{name}: PIPEC_TREES_WGPU=0, wgpu not measured");
        None
    };
    let on_gpu = match &device {
        Some(d) => Some(TensorForest::new(&tables, &d.device).map_err(|e| e.to_string())?),
        None => None,
    };
    let describe = |engine: &str, rows: usize, seconds: f64, adapter: Option<&str>| {
        let mut line = record(&name, if mixed { "trees-mixed-rows" } else { "trees" }, engine, rows, seconds);
        line["trees"] = json!(forest.roots.len());
        line["nodes"] = json!(forest.kind.len());
        line["max_depth"] = json!(forest.max_depth);
        if let Some(adapter) = adapter {
            line["adapter"] = json!(adapter);
        }
        println!("{line}");
    };
    for &rows in sizes {
        let x = if mixed { mixed_rows(held_out, features, rows) } else { cycled_rows(held_out, features, rows) };
        let budget = budget_for(rows, base);
        let mut margins = vec![0.0f32; outputs];
        let compact = seconds_per_call(budget, || {
            for row in x.chunks_exact(features) {
                forest.predict_margins(black_box(row), &mut margins);
                black_box(&margins);
            }
        });
        describe("pipec-forest-compact-1-thread", rows, compact, None);
        let reference = seconds_per_call(budget, || {
            for row in x.chunks_exact(features) {
                tables.predict_margins(black_box(row), &mut margins);
                black_box(&margins);
            }
        });
        describe("pipec-forest-reference-1-thread", rows, reference, None);
        eprintln!(
            "{name} {rows} rows: compact {:.1} ns/row, reference {:.1} ns/row ({:.2}x)",
            compact * 1e9 / rows as f64,
            reference * 1e9 / rows as f64,
            reference / compact
        );
        let (Some(d), Some(on_gpu)) = (&device, &on_gpu) else {
            continue;
        };
        let gpu_call = || -> Vec<f32> {
            let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, features]), &d.device);
            on_gpu.margins(input).into_data().try_to_vec::<f32>().unwrap_or_default()
        };
        // Kernel compilation and autotuning happen on the first calls of a shape.
        let first = gpu_call();
        let mut expected = vec![0.0f32; outputs];
        forest.predict_margins(&x[..features], &mut expected);
        if first.len() != rows * outputs || (first[0] - expected[0]).abs() > 1e-4 * expected[0].abs().max(1.0) {
            return Err(format!("{name}: wgpu gives {:?}, the tables {:?}", first.first(), expected.first()));
        }
        let gpu = seconds_per_call(budget, || {
            black_box(gpu_call());
        });
        describe("pipec-forest-burn-wgpu", rows, gpu, Some(&d.adapter));
        eprintln!("{name} {rows} rows: wgpu {:.3} ms, speed-up over the compact walk {:.2}", gpu * 1e3, compact / gpu);
    }
    Ok(())
}
