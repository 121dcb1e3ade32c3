//! The tree-ensemble benchmark: one XGBoost or LightGBM model file (by default the fixtures'
//! 1,000-tree `xgb_large.json`) on rows cycled from its held-out inputs, walked row by row
//! over the node tables on one CPU thread (what the native path and the interpreter run)
//! and as tensor operations (`TensorForest`) on burn's wgpu device, including the upload of
//! the rows and the read-back of the margins. `pipec-bench --trees FILE` prints one JSON line
//! per measurement; the ratio of the two at each size is the GPU's gain.

use crate::{budget_for, record, seconds_per_call};
use pipec_runtime::burn_api::{Tensor, TensorData};
use pipec_runtime::{Forest, TensorForest};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// Imports the model at `path` (`.json`: XGBoost, otherwise LightGBM text).
pub fn load_forest(path: &Path) -> Result<Forest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let imported = if path.extension().is_some_and(|e| e == "json") {
        pipec_forest::import_xgboost(&text)
    } else {
        pipec_forest::import_lightgbm(&text)
    };
    Ok(imported.map_err(|e| format!("{}: {e}", path.display()))?.forest)
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

/// Measures the forest at each size on the CPU (tables, one thread) and on wgpu.
pub fn measure_trees(path: &Path, held_out: &[Value], sizes: &[usize], base: Duration) -> Result<(), String> {
    let forest = load_forest(path)?;
    let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let features = forest.features as usize;
    let outputs = forest.outputs as usize;
    let device = pipec_runtime::open_wgpu().map_err(|e| e.to_string())?;
    let on_gpu = TensorForest::new(&forest, &device.device).map_err(|e| e.to_string())?;
    for &rows in sizes {
        let x = cycled_rows(held_out, features, rows);
        let budget = budget_for(rows, base);
        let mut margins = vec![0.0f32; outputs];
        let cpu = seconds_per_call(budget, || {
            for row in x.chunks_exact(features) {
                forest.predict_margins(black_box(row), &mut margins);
            }
            black_box(&margins);
        });
        let gpu_call = || -> Vec<f32> {
            let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, features]), &device.device);
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
        let describe = |engine: &str, seconds: f64| {
            let mut line = record(&name, "trees", engine, rows, seconds);
            line["trees"] = json!(forest.roots.len());
            line["max_depth"] = json!(forest.max_depth);
            line["adapter"] = json!(device.adapter);
            println!("{line}");
        };
        describe("pipec-forest-tables-1-thread", cpu);
        describe("pipec-forest-burn-wgpu", gpu);
        eprintln!("{name} {rows} rows: tables {:.3} ms, wgpu {:.3} ms, wgpu speed-up {:.2}", cpu * 1e3, gpu * 1e3, cpu / gpu);
    }
    Ok(())
}
