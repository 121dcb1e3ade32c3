//! The pipeline loaded on each device a worker uses, and which one runs a batch of a given
//! size: batches of up to `--native-max-rows` rows take the native one-row path; on wgpu,
//! batches under `--gpu-min-rows` stay on the CPU, where a row costs microseconds instead of a
//! GPU round trip of about a millisecond.

use super::config::{DeviceFlag, ServerConfig};
use crate::batch::{Batch, Column};
use crate::device::open_wgpu;
use crate::output::OutputColumn;
use crate::spec::{InputKind, PipelineSpec};
use crate::{CompiledPipeline, RowPipeline};
use burn::tensor::Device;

pub struct Engines<P: CompiledPipeline> {
    native: P::Rows,
    native_max_rows: usize,
    cpu: P,
    gpu: Option<Gpu<P>>,
}

/// What runs a batch.
pub enum Route<'a, P: CompiledPipeline> {
    Native(&'a P::Rows),
    Burn(&'a P),
}

impl<P: CompiledPipeline> Route<'_, P> {
    pub fn forward(&self, batch: &Batch) -> Result<Vec<crate::OutputColumn>, crate::RuntimeError> {
        match self {
            Route::Native(rows) => rows.forward_rows(batch),
            Route::Burn(pipeline) => pipeline.forward(batch),
        }
    }
}

struct Gpu<P: CompiledPipeline> {
    pipeline: P,
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
            DeviceFlag::Wgpu => Some(open_gpu(config.gpu_min_rows)?),
            DeviceFlag::Auto => match open_gpu(config.gpu_min_rows) {
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

    /// The label and the code that run a batch of `rows` rows.
    pub fn route(&self, rows: usize) -> (&'static str, Route<'_, P>) {
        match &self.gpu {
            Some(gpu) if rows >= gpu.min_rows => ("wgpu", Route::Burn(&gpu.pipeline)),
            _ if rows <= self.native_max_rows => ("native", Route::Native(&self.native)),
            _ => ("cpu", Route::Burn(&self.cpu)),
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
            Some(gpu) => format!("wgpu on {} for batches of {}+ rows; below: {cpu}", gpu.adapter, gpu.min_rows),
        }
    }
}

fn open_gpu<P: CompiledPipeline>(min_rows: usize) -> Result<Gpu<P>, String> {
    let device = open_wgpu().map_err(|e| e.to_string())?;
    let pipeline = P::load(&device.device).map_err(|e| format!("loading the pipeline on wgpu: {e}"))?;
    warm_up(&pipeline).map_err(|e| format!("a first row on wgpu failed: {e}"))?;
    Ok(Gpu { pipeline, adapter: device.adapter, is_software: device.is_software, min_rows })
}

/// Runs one row of zeros and empty strings, so that the first request does not pay for
/// kernel compilation.
fn warm_up<P: CompiledPipeline>(pipeline: &P) -> Result<(), crate::RuntimeError> {
    let spec = P::spec();
    let columns = spec
        .inputs
        .iter()
        .map(|input| match input.kind {
            InputKind::Str => Column::Str(vec![Some(String::new())]),
            InputKind::Bool => Column::Bool(vec![false; input.width]),
            _ => Column::F32(vec![0.0; input.width]),
        })
        .collect();
    pipeline.forward(&Batch::new(spec, 1, columns)?).map(|_| ())
}

/// One pipeline on its devices, as a worker sees it: a trait object, so that a worker can hold
/// a champion and a challenger of different generated types.
pub trait Scorer {
    fn spec(&self) -> &'static PipelineSpec;
    /// Scores `batch` where its size routes it; returns the route's label (`native`, `cpu`,
    /// `wgpu`) and the columns. A panic in the pipeline is caught and reported as an error.
    fn score(&self, batch: &Batch) -> (&'static str, Result<Vec<OutputColumn>, String>);
    /// Scores `batch` on the named route, as `replay` re-runs a logged batch.
    fn score_on(&self, route: &str, batch: &Batch) -> Result<Vec<OutputColumn>, String>;
    fn describe(&self) -> String;
}

impl<P: CompiledPipeline> Scorer for Engines<P> {
    fn spec(&self) -> &'static PipelineSpec {
        P::spec()
    }

    fn score(&self, batch: &Batch) -> (&'static str, Result<Vec<OutputColumn>, String>) {
        let (label, route) = self.route(batch.rows());
        (label, guarded(|| route.forward(batch)))
    }

    fn score_on(&self, route: &str, batch: &Batch) -> Result<Vec<OutputColumn>, String> {
        let chosen = match (route, &self.gpu) {
            ("native", _) => Route::Native(&self.native),
            ("cpu", _) => Route::Burn(&self.cpu),
            ("wgpu", Some(gpu)) => Route::Burn(&gpu.pipeline),
            ("wgpu", None) => return Err("the record ran on wgpu; run replay with --device wgpu".into()),
            (other, _) => return Err(format!("unknown route `{other}`")),
        };
        guarded(|| chosen.forward(batch))
    }

    fn describe(&self) -> String {
        Engines::describe(self)
    }
}

fn guarded(forward: impl FnOnce() -> Result<Vec<OutputColumn>, crate::RuntimeError>) -> Result<Vec<OutputColumn>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(forward))
        .map_err(|_| "the pipeline panicked; see the server log".to_string())
        .and_then(|result| result.map_err(|e| e.to_string()))
}
