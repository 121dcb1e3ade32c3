//! What a worker scores with: the [`Scorer`] trait object (one pipeline on its devices), and
//! the native engine of a server built for the CPU only (`pipec build --device cpu`), where
//! every batch takes the native one-row path. A server built with the feature `gpu` uses
//! `gpu_engines.rs` instead, which adds burn's CPU backend, wgpu and the fused kernel.

use super::route::Route;
use crate::RowPipeline;
use crate::batch::{Batch, Column};
use crate::output::OutputColumn;
use crate::server::config::{DeviceFlag, ServerConfig};
use crate::spec::{InputKind, PipelineSpec};

/// One pipeline on its devices, as a worker sees it: a trait object, so that a worker can hold
/// a champion and a challenger of different generated types.
pub trait Scorer {
    fn spec(&self) -> &'static PipelineSpec;
    /// Scores `batch` where its size routes it; returns the route and the columns. A panic in
    /// the pipeline is caught and reported as an error.
    fn score(&self, batch: &Batch) -> (Route, Result<Vec<OutputColumn>, String>);
    /// Scores `batch` on `route`, as `replay` re-runs a logged batch.
    fn score_on(&self, route: Route, batch: &Batch) -> Result<Vec<OutputColumn>, String>;
    fn describe(&self) -> String;
}

pub(super) fn guarded(
    forward: impl FnOnce() -> Result<Vec<OutputColumn>, crate::RuntimeError>,
) -> Result<Vec<OutputColumn>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(forward))
        .map_err(|_| "the pipeline panicked; see the server log".to_string())
        .and_then(|result| result.map_err(|e| e.to_string()))
}

/// A pipeline's native one-row path, the only route of a server built for the CPU only.
/// The stack of every thread that runs the native path, which keeps a row's values in
/// fixed-size arrays on the stack: server workers, `score` workers, `replay` and the Python
/// module's scoring.
pub const NATIVE_STACK_BYTES: usize = 64 << 20;

pub struct NativeEngine<R: RowPipeline> {
    rows: R,
}

impl<R: RowPipeline> NativeEngine<R> {
    pub fn open(config: &ServerConfig) -> Result<NativeEngine<R>, String> {
        match config.device {
            DeviceFlag::Cpu => {}
            DeviceFlag::Auto => tracing::info!("--device auto: this server was built for the CPU only; using the CPU"),
            DeviceFlag::Wgpu => {
                return Err("--device wgpu: this server was built for the CPU only (`pipec build --device cpu`); \
                     build it with `pipec build --device gpu` to run on wgpu"
                    .into());
            }
        }
        if config.native_max_rows.is_some() {
            tracing::warn!(
                "--native-max-rows has no effect: this server was built for the CPU only and runs every batch on the native path"
            );
        }
        let rows = R::load().map_err(|e| format!("loading the native pipeline: {e}"))?;
        rows.forward_rows(&zero_rows(R::spec(), 1).map_err(|e| e.to_string())?)
            .map_err(|e| format!("a first row on the native path failed: {e}"))?;
        Ok(NativeEngine { rows })
    }
}

impl<R: RowPipeline> Scorer for NativeEngine<R> {
    fn spec(&self) -> &'static PipelineSpec {
        R::spec()
    }

    fn score(&self, batch: &Batch) -> (Route, Result<Vec<OutputColumn>, String>) {
        (Route::Native, guarded(|| self.rows.forward_rows(batch)))
    }

    fn score_on(&self, route: Route, batch: &Batch) -> Result<Vec<OutputColumn>, String> {
        match route {
            Route::Native => guarded(|| self.rows.forward_rows(batch)),
            Route::Cpu | Route::Wgpu => Err(format!(
                "the record ran on the `{route}` route, which this server (built with `pipec build --device cpu`) \
                 does not have; replay it with a server built with `--device gpu`"
            )),
        }
    }

    fn describe(&self) -> String {
        "cpu, native one-row path (built for the CPU only)".into()
    }
}

/// `rows` rows of zeros, false and empty strings.
pub(super) fn zero_rows(spec: &PipelineSpec, rows: usize) -> Result<Batch, crate::RuntimeError> {
    let columns = spec
        .inputs
        .iter()
        .map(|input| match input.kind {
            InputKind::Str => Column::Str(vec![Some(std::sync::Arc::from("")); rows]),
            InputKind::Bool => Column::Bool(vec![false; rows * input.width]),
            _ => Column::F32(vec![0.0; rows * input.width]),
        })
        .collect();
    Batch::new(spec, rows, columns)
}
