//! The compact walk against the reference walk on fixture models, one row per call on 1,000
//! rows cycled from the held-out inputs (a quick check while working on `compiled/`; the
//! full comparison with the libraries is `bench/trees/run.sh`):
//!
//! `cargo build --release --workspace --example walk_timing &&
//! target/release/examples/walk_timing xgb_large lgb_binary`

use pipec_forest::{CompiledForest, import_lightgbm, import_xgboost};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/trees");
    let text = std::fs::read_to_string(dir.join("reference.json")).map_err(|e| e.to_string())?;
    let reference: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    for name in std::env::args().skip(1) {
        let model = &reference["models"][&name];
        let file = model["file"].as_str().ok_or(format!("{name}: no such fixture model"))?;
        let text = std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())?;
        let imported = if file.ends_with(".json") { import_xgboost(&text) } else { import_lightgbm(&text) };
        let forest = imported.map_err(|e| format!("{name}: {e}"))?.forest;
        let compiled = CompiledForest::new(forest.clone());
        let (f, o) = (forest.features as usize, forest.outputs as usize);
        let held = model["inputs"].as_array().ok_or("inputs")?;
        let rows = 1000;
        let x: Vec<f32> = (0..rows)
            .flat_map(|r| {
                let row = &held[r % held.len()];
                (0..f).map(move |k| row[k].as_f64().map_or(f32::NAN, |v| v as f32))
            })
            .collect();
        let time = |g: &dyn Fn(&[f32], &mut [f32])| {
            let mut best = f64::MAX;
            let mut out = vec![0.0f32; o];
            for _ in 0..7 {
                let start = Instant::now();
                for row in x.chunks_exact(f) {
                    g(black_box(row), &mut out);
                    black_box(&out);
                }
                best = best.min(start.elapsed().as_secs_f64() / rows as f64);
            }
            best * 1e9
        };
        let reference = time(&|x, out| forest.predict_margins(x, out));
        let compact = time(&|x, out| compiled.predict_margins(x, out));
        println!(
            "{name}: compact {compact:.1} ns/row, reference {reference:.1} ns/row ({:.2}x); {:?}",
            reference / compact,
            compiled.layout()
        );
    }
    Ok(())
}
