//! The burn and fused-kernel routes of a server built with the feature `gpu`: the
//! pipeline loaded on each device a worker uses, and which one runs a batch of a given
//! size: batches of up to `--native-max-rows` rows take the native one-row path; on wgpu,
//! batches under the GPU threshold stay on the CPU, where a row costs nanoseconds to
//! microseconds instead of a GPU round trip of about a millisecond. On the GPU the pipeline's
//! fused kernel runs (`src/fused.rs`), or burn's tensor code where it could not be fused.
//!
//! The threshold is `--gpu-min-rows` when given; otherwise it is measured at start-up for
//! this pipeline on this machine ([`calibrate`]): the native path's cost per row against the
//! GPU's fixed cost per batch and its cost per row, so a heavy pipeline (a thousand trees)
//! goes to the GPU at far fewer rows than a light one.

use super::engines::{Scorer, guarded, zero_rows};
use super::route::Route;
use crate::batch::Batch;
use crate::device::open_wgpu;
use crate::fused::FusedEngine;
use crate::output::OutputColumn;
use crate::server::config::{DeviceFlag, ServerConfig};
use crate::spec::PipelineSpec;
use crate::{CompiledPipeline, RowPipeline};
use burn::tensor::Device;
use std::time::{Duration, Instant};

pub struct Engines<P: CompiledPipeline> {
    native: P::Rows,
    native_max_rows: usize,
    cpu: P,
    gpu: Option<Gpu<P>>,
}

/// The code that runs a batch on its route.
pub enum Runner<'a, P: CompiledPipeline> {
    Native(&'a P::Rows),
    Burn(&'a P),
    Fused(&'a FusedEngine),
}

impl<P: CompiledPipeline> Runner<'_, P> {
    pub fn forward(&self, batch: &Batch) -> Result<Vec<crate::OutputColumn>, crate::RuntimeError> {
        match self {
            Runner::Native(rows) => rows.forward_rows(batch),
            Runner::Burn(pipeline) => pipeline.forward(batch),
            Runner::Fused(engine) => engine.forward(batch),
        }
    }
}

struct Gpu<P: CompiledPipeline> {
    pipeline: P,
    /// The fused kernel, when the pipeline could be fused.
    fused: Option<FusedEngine>,
    adapter: String,
    is_software: bool,
    min_rows: usize,
}

impl<P: CompiledPipeline> Engines<P> {
    pub fn open(config: &ServerConfig) -> Result<Engines<P>, String> {
        let native = P::Rows::load().map_err(|e| format!("loading the native pipeline: {e}"))?;
        let cpu = P::load(&Device::flex()).map_err(|e| format!("loading the pipeline on the CPU: {e}"))?;
        warm_up(&cpu).map_err(|e| format!("a first row on the CPU failed: {e}"))?;
        let gpu = match config.device {
            DeviceFlag::Cpu => None,
            DeviceFlag::Wgpu => Some(open_gpu(config.gpu_min_rows, &native)?),
            DeviceFlag::Auto => match open_gpu(config.gpu_min_rows, &native) {
                Ok(gpu) if !gpu.is_software => Some(gpu),
                Ok(gpu) => {
                    tracing::info!(adapter = %gpu.adapter, "--device auto: only a software adapter; using the CPU");
                    None
                }
                Err(e) => {
                    tracing::info!(error = %e, "--device auto: no wgpu adapter; using the CPU");
                    None
                }
            },
        };
        Ok(Engines { native, native_max_rows: config.native_max_rows.unwrap_or(usize::MAX), cpu, gpu })
    }

    /// The route and the code that run a batch of `rows` rows.
    pub fn route(&self, rows: usize) -> (Route, Runner<'_, P>) {
        match &self.gpu {
            Some(gpu) if rows >= gpu.min_rows => (Route::Wgpu, gpu.runner()),
            _ if rows <= self.native_max_rows => (Route::Native, Runner::Native(&self.native)),
            _ => (Route::Cpu, Runner::Burn(&self.cpu)),
        }
    }

    pub fn describe(&self) -> String {
        let cpu = match self.native_max_rows {
            usize::MAX => "cpu, native one-row path".to_string(),
            0 => "cpu, burn flex".to_string(),
            n => format!("cpu, native one-row path up to {n} rows, burn flex above"),
        };
        match &self.gpu {
            None => cpu,
            Some(gpu) => {
                let how = if gpu.fused.is_some() { "fused kernel" } else { "burn (not fused)" };
                format!("wgpu ({how}) on {} for batches of {}+ rows; below: {cpu}", gpu.adapter, gpu.min_rows)
            }
        }
    }
}

impl<P: CompiledPipeline> Gpu<P> {
    fn runner(&self) -> Runner<'_, P> {
        match &self.fused {
            Some(engine) => Runner::Fused(engine),
            None => Runner::Burn(&self.pipeline),
        }
    }
}

fn open_gpu<P: CompiledPipeline>(min_rows: Option<usize>, native: &P::Rows) -> Result<Gpu<P>, String> {
    let device = open_wgpu().map_err(|e| e.to_string())?;
    let pipeline = P::load(&device.device).map_err(|e| format!("loading the pipeline on wgpu: {e}"))?;
    warm_up(&pipeline).map_err(|e| format!("a first row on wgpu failed: {e}"))?;
    let fused = match P::fused() {
        Some((kernel, weights)) => {
            let engine = FusedEngine::new(kernel, P::spec(), weights, &device.device)
                .map_err(|e| format!("loading the fused kernel on wgpu: {e}"))?;
            engine
                .forward(&zero_rows(P::spec(), 1).map_err(|e| e.to_string())?)
                .map_err(|e| format!("a first row of the fused kernel failed: {e}"))?;
            Some(engine)
        }
        None => None,
    };
    let mut gpu = Gpu { pipeline, fused, adapter: device.adapter, is_software: device.is_software, min_rows: 0 };
    gpu.min_rows = match min_rows {
        Some(rows) => rows,
        None => {
            let rows = calibrate::<P>(native, &gpu)?;
            tracing::info!(gpu_min_rows = rows, "measured where the GPU starts to pay for this pipeline");
            rows
        }
    };
    Ok(gpu)
}

/// The smallest batch for which the GPU route is expected to beat the native path, from
/// timings of both on rows of zeros: the native path's time per row `c`, and the GPU's time
/// for a small and a large batch, giving its fixed cost `a` and its cost per row `b`. The
/// break-even is `a / (c - b)` rows; if the GPU is no faster per row, never (`usize::MAX`).
fn calibrate<P: CompiledPipeline>(native: &P::Rows, gpu: &Gpu<P>) -> Result<usize, String> {
    let spec = P::spec();
    let (small, large) = (256, 16_384);
    let small_batch = zero_rows(spec, small).map_err(|e| e.to_string())?;
    let large_batch = zero_rows(spec, large).map_err(|e| e.to_string())?;
    let runner = gpu.runner();
    let best = |f: &dyn Fn() -> Result<(), crate::RuntimeError>| -> Result<f64, String> {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            f().map_err(|e| format!("timing the routes: {e}"))?;
            best = best.min(start.elapsed());
        }
        Ok(best.as_secs_f64())
    };
    let native_per_row = best(&|| native.forward_rows(&large_batch).map(|_| ()))? / large as f64;
    let gpu_small = best(&|| runner.forward(&small_batch).map(|_| ()))?;
    let gpu_large = best(&|| runner.forward(&large_batch).map(|_| ()))?;
    let gpu_per_row = ((gpu_large - gpu_small) / (large - small) as f64).max(0.0);
    let fixed = (gpu_small - gpu_per_row * small as f64).max(0.0);
    Ok(break_even(fixed, gpu_per_row, native_per_row))
}

/// Rows from which `fixed + rows * gpu_per_row < rows * native_per_row`.
fn break_even(fixed: f64, gpu_per_row: f64, native_per_row: f64) -> usize {
    if gpu_per_row >= native_per_row {
        return usize::MAX;
    }
    let rows = (fixed / (native_per_row - gpu_per_row)).ceil();
    if rows.is_finite() && rows < usize::MAX as f64 { (rows as usize).max(1) } else { usize::MAX }
}

/// Runs one row of zeros and empty strings, so that the first request does not pay for
/// kernel compilation.
fn warm_up<P: CompiledPipeline>(pipeline: &P) -> Result<(), crate::RuntimeError> {
    pipeline.forward(&zero_rows(P::spec(), 1)?).map(|_| ())
}

impl<P: CompiledPipeline> Scorer for Engines<P> {
    fn spec(&self) -> &'static PipelineSpec {
        P::spec()
    }

    fn score(&self, batch: &Batch) -> (Route, Result<Vec<OutputColumn>, String>) {
        let (route, runner) = self.route(batch.rows());
        (route, guarded(|| runner.forward(batch)))
    }

    fn score_on(&self, route: Route, batch: &Batch) -> Result<Vec<OutputColumn>, String> {
        let chosen = match (route, &self.gpu) {
            (Route::Native, _) => Runner::Native(&self.native),
            (Route::Cpu, _) => Runner::Burn(&self.cpu),
            (Route::Wgpu, Some(gpu)) => gpu.runner(),
            (Route::Wgpu, None) => return Err("the record ran on wgpu; run replay with --device wgpu".into()),
        };
        guarded(|| chosen.forward(batch))
    }

    fn describe(&self) -> String {
        Engines::describe(self)
    }
}

#[cfg(test)]
mod tests {
    use super::break_even;

    #[test]
    fn break_even_weighs_the_fixed_cost_against_the_saving_per_row() {
        // 1 ms per batch on the GPU, 10 ns per row there, 60 ns per row natively: 20,000 rows.
        assert_eq!(break_even(1e-3, 10e-9, 60e-9), 20_000);
        // A heavy pipeline (10 us per row natively) pays from 101 rows.
        assert_eq!(break_even(1e-3, 10e-9, 10e-6), 101);
        // A GPU that is no faster per row is never chosen.
        assert_eq!(break_even(1e-3, 60e-9, 60e-9), usize::MAX);
        assert_eq!(break_even(0.0, 1e-9, 2e-9), 1);
    }
}
