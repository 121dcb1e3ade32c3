//! Scheduling: from queued requests to scored batches. `queue.rs` is the queueing (the bounded
//! queue, merging requests into one batch, splitting its outcome back per request);
//! `worker.rs` is the working (each worker thread scores a merged batch once, hands the
//! [`BatchOutcome`] (`outcome.rs`) to the duties, then answers). A worker scores with the
//! pipelines of `models.rs` (a champion and maybe a challenger), each a [`Scorer`]: the native
//! engine of a CPU-only server (`engines.rs`), or the native, burn and wgpu routes of a server
//! built with the feature `gpu` (`gpu_engines.rs`). Which one ran is a typed [`Route`]
//! (`route.rs`).

pub mod engines;
#[cfg(feature = "gpu")]
mod gpu_engines;
pub mod models;
mod outcome;
mod queue;
mod route;
mod worker;

pub use engines::NATIVE_STACK_BYTES;
pub use models::{Opener, Role, Specs};
pub use outcome::BatchOutcome;
pub use queue::{Part, Queue, SubmitError};
pub use route::Route;
pub use worker::start;
