//! The fused GPU path's host side: a generated pipeline's one kernel ([`FusedKernel`]) run
//! over a [`Batch`] by a [`FusedEngine`].
//!
//! A batch is cut into chunks of [`CHUNK_ROWS`] rows. Worker threads pack the chunks (each a
//! slot-major f32 buffer: slot `s` of row `r` at `s * rows + r`; a width-1 numeric column is
//! one copy, a category is the generated `match`), while this thread uploads each packed
//! chunk as it arrives and enqueues the kernel on it, so packing, upload and compute overlap.
//! Every chunk's output buffer is read back in one call at the end, and unpacked into
//! [`OutputColumn`]s. The weight blob is uploaded once, when the engine is made.

use crate::batch::{Batch, Column};
use crate::error::RuntimeError;
use crate::output::OutputColumn;
use crate::spec::{OutputKind, PipelineSpec};
use cubecl::prelude::*;
use cubecl::server::Handle;
use std::sync::mpsc;

/// Rows per chunk: large enough that a launch is worth its fixed cost, small enough that the
/// first upload starts early.
pub const CHUNK_ROWS: usize = 131_072;

/// Threads in a workgroup.
const WORKGROUP: u32 = 256;

/// Launches a generated fused kernel: `(client, cubes, cube size, input, weights, output,
/// rows)`. Unsafe: the buffers must hold what [`FusedKernel`] describes for `rows` rows.
pub type FusedLaunch = unsafe fn(&Client, CubeCount, CubeDim, BufferArg, BufferArg, BufferArg, usize);

/// One f32 slot of the packed input.
#[derive(Clone, Copy, Debug)]
pub enum InputSlot {
    /// Element `element` of numeric input `input`, whose rows are `width` wide.
    F32 { input: usize, element: usize, width: usize },
    /// Element `element` of boolean input `input`, as 0.0 or 1.0.
    Bool { input: usize, element: usize, width: usize },
    /// The category code of string input `input` (as the native path computes it).
    Code { input: usize, encode: fn(Option<&str>) -> f32 },
}

/// What a generated crate's `src/fused.rs` provides: its input layout, how many f32 slots
/// its outputs take (every computed column of the spec, in order, `width` slots each), and
/// the launcher of its kernel.
#[derive(Debug)]
pub struct FusedKernel {
    pub slots: &'static [InputSlot],
    pub output_slots: usize,
    pub launch: FusedLaunch,
}

/// A fused kernel ready to run on one device: its client and the uploaded weight blob.
pub struct FusedEngine {
    kernel: &'static FusedKernel,
    spec: &'static PipelineSpec,
    client: Client,
    weights: Handle,
    weight_words: usize,
}

impl FusedEngine {
    /// Uploads `weights` (the crate's blob, little-endian f32) to the cubecl device behind
    /// `device`. Fails on a device that is not a cubecl one (burn's `flex` CPU backend).
    pub fn new(
        kernel: &'static FusedKernel,
        spec: &'static PipelineSpec,
        weights: &[u8],
        device: &burn::tensor::Device,
    ) -> Result<FusedEngine, RuntimeError> {
        let client = cube_client(device)?;
        let expected: usize = spec.outputs.iter().map(|o| o.width).sum();
        if expected != kernel.output_slots {
            return Err(RuntimeError::Fused(format!(
                "the kernel writes {} output slots, the spec has {expected}",
                kernel.output_slots
            )));
        }
        // A binding may not be empty: a pipeline without constants gets one zero word.
        let mut words: Vec<f32> =
            weights.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if words.is_empty() {
            words.push(0.0);
        }
        let weight_words = words.len();
        let weights = client.create_from_slice(f32::as_bytes(&words));
        Ok(FusedEngine { kernel, spec, client, weights, weight_words })
    }

    /// Scores `batch`: one output column per computed column of the spec, in order.
    pub fn forward(&self, batch: &Batch) -> Result<Vec<OutputColumn>, RuntimeError> {
        let rows = batch.rows();
        let chunks: Vec<(usize, usize)> =
            (0..rows.div_ceil(CHUNK_ROWS)).map(|c| (c * CHUNK_ROWS, ((c + 1) * CHUNK_ROWS).min(rows))).collect();
        if chunks.is_empty() {
            return self.unpack(0, &[]);
        }
        let outputs = if chunks.len() == 1 {
            let (start, end) = chunks[0];
            vec![self.launch(&pack(self.kernel, batch, start, end)?, end - start)]
        } else {
            self.pipelined(batch, &chunks)?
        };
        let bytes =
            self.client.read(outputs).map_err(|e| RuntimeError::Fused(format!("reading the outputs back: {e:?}")))?;
        let parts: Vec<&[f32]> = bytes.iter().map(|b| f32::from_bytes(b)).collect();
        self.unpack(rows, &parts)
    }

    /// Bytes one row moves between host and device: its packed input slots in, its output
    /// slots out (4 bytes each).
    pub fn bytes_per_row(&self) -> usize {
        4 * (self.kernel.slots.len() + self.kernel.output_slots)
    }

    /// For benchmarks: `batch` packed and uploaded once, chunk by chunk, so that
    /// [`FusedEngine::compute`] times the kernel alone.
    pub fn upload(&self, batch: &Batch) -> Result<UploadedBatch, RuntimeError> {
        let rows = batch.rows();
        let mut chunks = Vec::new();
        for start in (0..rows).step_by(CHUNK_ROWS) {
            let end = (start + CHUNK_ROWS).min(rows);
            let packed = pack(self.kernel, batch, start, end)?;
            chunks.push((self.client.create_from_slice(f32::as_bytes(&packed)), packed.len(), end - start));
        }
        Ok(UploadedBatch { chunks })
    }

    /// For benchmarks: runs the kernel over an uploaded batch and waits for it, reading
    /// nothing back.
    pub fn compute(&self, uploaded: &UploadedBatch) -> Result<(), RuntimeError> {
        for (input, len, rows) in &uploaded.chunks {
            let out_len = (self.kernel.output_slots * rows).max(1);
            let output = self.client.empty(out_len * 4);
            self.enqueue(input.clone(), *len, output, out_len, *rows);
        }
        cubecl::future::block_on(self.client.sync())
            .map_err(|e| RuntimeError::Fused(format!("waiting for the kernel: {e:?}")))
    }

    /// Packs chunks on worker threads while this thread uploads and launches each as it
    /// arrives; returns the output buffers in chunk order.
    fn pipelined(&self, batch: &Batch, chunks: &[(usize, usize)]) -> Result<Vec<Handle>, RuntimeError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks.len());
        let mut outputs: Vec<Option<Handle>> = vec![None; chunks.len()];
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<(usize, Result<Vec<f32>, RuntimeError>)>(threads * 2);
            for t in 0..threads {
                let tx = tx.clone();
                scope.spawn(move || {
                    for (c, (start, end)) in chunks.iter().enumerate().skip(t).step_by(threads) {
                        if tx.send((c, pack(self.kernel, batch, *start, *end))).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            for (c, packed) in rx {
                let (start, end) = chunks[c];
                outputs[c] = Some(self.launch(&packed?, end - start));
            }
            Ok::<(), RuntimeError>(())
        })?;
        outputs.into_iter().map(|o| o.ok_or_else(|| RuntimeError::Fused("a chunk was never packed".into()))).collect()
    }

    /// Uploads one packed chunk and enqueues the kernel on it; returns its output buffer.
    fn launch(&self, packed: &[f32], rows: usize) -> Handle {
        let input = self.client.create_from_slice(f32::as_bytes(packed));
        let out_len = (self.kernel.output_slots * rows).max(1);
        let output = self.client.empty(out_len * 4);
        self.enqueue(input, packed.len(), output.clone(), out_len, rows);
        output
    }

    /// Enqueues the kernel on an uploaded input of `input_len` words and an output buffer.
    fn enqueue(&self, input: Handle, input_len: usize, output: Handle, out_len: usize, rows: usize) {
        let dim = CubeDim::new_1d(WORKGROUP);
        let count = cubecl::calculate_cube_count_elemwise(&self.client, rows, dim);
        // SAFETY: `pack` wrote every slot of `rows` rows, the output has room for every output
        // slot of `rows` rows, and the weights are the crate's whole blob: what the generated
        // kernel reads and writes, at most.
        unsafe {
            (self.kernel.launch)(
                &self.client,
                count,
                dim,
                BufferArg::from_raw_parts(input, input_len.max(1)),
                BufferArg::from_raw_parts(self.weights.clone(), self.weight_words),
                BufferArg::from_raw_parts(output, out_len),
                rows,
            );
        }
    }

    /// The chunks' slot-major outputs as row-major output columns.
    fn unpack(&self, rows: usize, parts: &[&[f32]]) -> Result<Vec<OutputColumn>, RuntimeError> {
        let mut columns = Vec::with_capacity(self.spec.outputs.len());
        let mut slot = 0;
        for output in self.spec.outputs {
            let width = output.width;
            let mut values = vec![0.0f32; rows * width];
            let mut row0 = 0;
            for part in parts {
                let n = if rows == 0 { 0 } else { part.len() / self.kernel.output_slots };
                for e in 0..width {
                    let from = part
                        .get((slot + e) * n..(slot + e + 1) * n)
                        .ok_or_else(|| RuntimeError::Fused(format!("output `{}`: short read", output.name)))?;
                    if width == 1 {
                        values[row0..row0 + n].copy_from_slice(from);
                    } else {
                        for (r, v) in from.iter().enumerate() {
                            values[(row0 + r) * width + e] = *v;
                        }
                    }
                }
                row0 += n;
            }
            slot += width;
            columns.push(match output.kind {
                OutputKind::Bool => OutputColumn::Bool { width, values: values.iter().map(|v| *v != 0.0).collect() },
                OutputKind::F32 => OutputColumn::F32 { width, values },
            });
        }
        Ok(columns)
    }
}

/// The cubecl client behind a burn device.
fn cube_client(device: &burn::tensor::Device) -> Result<Client, RuntimeError> {
    match device.as_dispatch() {
        burn_dispatch::DispatchDevice::Cube(cube) => Ok(cube.client()),
        #[allow(unreachable_patterns)]
        _ => Err(RuntimeError::Fused("the fused kernel runs on a cubecl device (wgpu), not on this one".into())),
    }
}

/// A batch packed and uploaded, chunk by chunk (input buffer, its words, its rows).
pub struct UploadedBatch {
    chunks: Vec<(Handle, usize, usize)>,
}

/// Rows `start..end` of `batch`, slot-major, as the kernel reads them.
fn pack(kernel: &FusedKernel, batch: &Batch, start: usize, end: usize) -> Result<Vec<f32>, RuntimeError> {
    let n = end - start;
    let mut packed = vec![0.0f32; (kernel.slots.len() * n).max(1)];
    for (s, slot) in kernel.slots.iter().enumerate() {
        let dst = &mut packed[s * n..(s + 1) * n];
        match *slot {
            InputSlot::F32 { input, element, width } => {
                let column = batch.f32_column(input)?;
                if width == 1 {
                    dst.copy_from_slice(&column[start..end]);
                } else {
                    for (r, d) in dst.iter_mut().enumerate() {
                        *d = column[(start + r) * width + element];
                    }
                }
            }
            InputSlot::Bool { input, element, width } => {
                let column = batch.bool_column(input)?;
                for (r, d) in dst.iter_mut().enumerate() {
                    *d = f32::from(u8::from(column[(start + r) * width + element]));
                }
            }
            InputSlot::Code { input, encode } => match batch.columns().get(input) {
                Some(Column::Str(values)) => {
                    for (d, v) in dst.iter_mut().zip(&values[start..end]) {
                        *d = encode(v.as_deref());
                    }
                }
                _ => {
                    return Err(RuntimeError::BadColumn {
                        name: format!("#{input}"),
                        expected: "a column of strings".into(),
                    });
                }
            },
        }
    }
    Ok(packed)
}
