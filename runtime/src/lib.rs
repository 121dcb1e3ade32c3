//! The runtime that pipec's generated crates link.
//!
//! Everything that does not depend on a particular pipeline lives here, not in generated
//! code: the columnar [`Batch`] of input rows and its validation against a pipeline's
//! [`PipelineSpec`], category lookup (vocabularies and hash buckets) on the host, loading the
//! weight blob a generated crate embeds into burn tensors on a [`Device`], reading outputs
//! back, and device choice. Generated code implements [`CompiledPipeline`].
//!
//! [`server`] is the inference server a generated crate's binary runs (Open Inference
//! Protocol over HTTP, batching, metrics, shutdown).
//!
//! This crate depends on none of pipec's compiler crates; what it shares with the compiler
//! (input kinds and specs, output roles, [`Column`], the category lookup and [`fnv1a64`]) is
//! defined once in `pipec-interface` and re-exported here.
//!
//! The feature `gpu` adds everything that runs on burn (the tensor path on the CPU's `flex`
//! backend and on wgpu, [`CompiledPipeline`]) and the fused GPU kernel ([`FusedEngine`]).
//! Without it, the runtime and the server it builds hold only the native one-row path
//! ([`RowPipeline`]): that is what `pipec build --device cpu` links.

mod batch;
mod category;
#[cfg(feature = "gpu")]
mod device;
mod error;
#[cfg(feature = "gpu")]
mod fused;
#[cfg(feature = "gpu")]
mod fused_forest;
/// The request decoder as the fuzzers drive it (`fuzz/`); not part of the API.
#[doc(hidden)]
pub mod fuzzing;
mod output;
pub mod server;
mod spec;
#[cfg(feature = "gpu")]
mod tensor_forest;
mod weights;

pub use batch::{Batch, Column};
pub use category::{CategoryTable, fnv1a64};
#[cfg(feature = "gpu")]
pub use device::{DeviceChoice, WgpuDevice, open_wgpu};
pub use error::RuntimeError;
#[cfg(feature = "gpu")]
pub use fused::{CHUNK_ROWS, FusedEngine, FusedKernel, FusedLaunch, InputSlot, UploadedBatch};
#[cfg(feature = "gpu")]
pub use fused_forest::fused_forest_margins;
pub use output::OutputColumn;
#[cfg(feature = "gpu")]
pub use output::{bool_output, f32_output};
/// The tree ensemble the generated native path holds: the node tables with their compact
/// walk built at load (`pipec_forest::CompiledForest`, dereferencing to the tables;
/// `Weights::forest` gives it, or the plain tables where `TensorForest::new` wants them).
pub use pipec_forest::CompiledForest as Forest;
pub use spec::{InputKind, InputSpec, OutputKind, OutputRole, OutputSpec, PipelineSpec};
#[cfg(feature = "gpu")]
pub use tensor_forest::TensorForest;
pub use weights::Weights;

/// The pipeline as a Python extension module: what the `#[pymodule]` of a wheel that `pipec
/// build --python` writes calls (feature `python`).
#[cfg(feature = "python")]
pub use server::python;

/// CubeCL, as generated fused kernels use it (`use pipec_runtime::cubecl;` makes the
/// `#[cube]` macro's paths resolve; the version is burn's, so nothing is built twice).
#[cfg(feature = "gpu")]
pub use cubecl;

/// burn's tensor API as generated code uses it.
#[cfg(feature = "gpu")]
pub mod burn_api {
    pub use burn::tensor::activation;
    pub use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
}

/// What every generated pipeline implements with the feature `gpu`: the batch path over
/// burn tensors.
#[cfg(feature = "gpu")]
pub trait CompiledPipeline: Sized {
    /// The same pipeline's native one-row path.
    type Rows: RowPipeline;
    /// Names, kinds and shapes of the inputs and outputs.
    fn spec() -> &'static PipelineSpec;
    /// Loads the embedded weights onto `device`.
    fn load(device: &burn::tensor::Device) -> Result<Self, RuntimeError>;
    /// Scores a batch of rows; one output column per declared output, in order.
    fn forward(&self, batch: &Batch) -> Result<Vec<OutputColumn>, RuntimeError>;
    /// The pipeline as one GPU kernel with the weight blob it reads, when it could be fused
    /// (`src/fused.rs`); the GPU then runs it through a [`FusedEngine`] instead of [`forward`].
    ///
    /// [`forward`]: CompiledPipeline::forward
    fn fused() -> Option<(&'static FusedKernel, &'static [u8])> {
        None
    }
}

/// A generated pipeline's native one-row path: straight-line Rust over fixed-size arrays, no
/// allocation per row, on the CPU. The server uses it for small batches.
pub trait RowPipeline: Sized {
    /// Names, kinds and shapes of the inputs and outputs.
    fn spec() -> &'static PipelineSpec;
    /// Loads the embedded weights into host arrays.
    fn load() -> Result<Self, RuntimeError>;
    /// Scores a batch row by row; one output column per declared output, in order.
    fn forward_rows(&self, batch: &Batch) -> Result<Vec<OutputColumn>, RuntimeError>;
}
