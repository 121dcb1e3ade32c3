//! Request batching: concurrent requests are merged into one batch, run on a worker thread
//! that owns the pipeline, and the results are split back, each request receiving exactly its
//! own rows. The queue is bounded; a full queue is reported at once (the server answers 429).

use super::config::ServerConfig;
use super::engines::Engines;
use super::metrics::{DeviceLabels, Metrics};
use crate::batch::Batch;
use crate::output::OutputColumn;
use crate::CompiledPipeline;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What a request receives: its output columns, or why the pipeline failed.
pub type Reply = Result<Vec<OutputColumn>, String>;

struct Job {
    batch: Batch,
    reply: oneshot::Sender<Reply>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds `--queue-capacity` requests already.
    Full,
    /// The server is shutting down.
    Closed,
}

/// The handle requests are submitted through; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    sender: Arc<Mutex<Option<SyncSender<Job>>>>,
    metrics: Arc<Metrics>,
}

impl Batcher {
    pub fn submit(&self, batch: Batch) -> Result<oneshot::Receiver<Reply>, SubmitError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sender = sender.as_ref().ok_or(SubmitError::Closed)?;
        match sender.try_send(Job { batch, reply }) {
            Ok(()) => {
                self.metrics.queue_depth.inc();
                Ok(answer)
            }
            Err(TrySendError::Full(_)) => Err(SubmitError::Full),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// Stops taking requests; workers finish what is queued and stop.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    }
}

/// The worker threads, to be joined after [`Batcher::close`].
pub struct Workers(Vec<JoinHandle<()>>);

impl Workers {
    pub fn join(self) {
        for handle in self.0 {
            let _ = handle.join();
        }
    }
}

/// Starts `--workers` threads, each loading the pipeline onto its devices, and waits until
/// all are ready. Returns a description of the devices for the log.
pub fn start<P: CompiledPipeline + 'static>(
    config: &ServerConfig,
    metrics: Arc<Metrics>,
) -> Result<(Batcher, Workers, String), String> {
    let (sender, receiver) = mpsc::sync_channel(config.queue_capacity.max(1));
    let receiver = Arc::new(Mutex::new(receiver));
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut handles = Vec::new();
    for worker in 0..config.workers.max(1) {
        let receiver = receiver.clone();
        let metrics = metrics.clone();
        let ready = ready_tx.clone();
        let config = config.clone();
        let handle = std::thread::Builder::new()
            .name(format!("pipec-worker-{worker}"))
            // The native path keeps a row's values in fixed-size arrays on the stack.
            .stack_size(64 << 20)
            .spawn(move || {
                let engines = match Engines::<P>::open(&config) {
                    Ok(engines) => engines,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(engines.describe()));
                drop(ready);
                let limits = Limits { max_rows: config.max_batch_rows.max(1), delay: config.max_batch_delay() };
                work(&engines, &receiver, &metrics, limits);
            })
            .map_err(|e| format!("cannot start a worker thread: {e}"))?;
        handles.push(handle);
    }
    drop(ready_tx);
    let mut description = String::new();
    for _ in 0..handles.len() {
        match ready_rx.recv() {
            Ok(Ok(devices)) => description = devices,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a worker thread stopped while loading the pipeline".into()),
        }
    }
    let batcher = Batcher { sender: Arc::new(Mutex::new(Some(sender))), metrics };
    Ok((batcher, Workers(handles), description))
}

#[derive(Clone, Copy)]
struct Limits {
    max_rows: usize,
    delay: Duration,
}

fn work<P: CompiledPipeline>(engines: &Engines<P>, receiver: &Mutex<Receiver<Job>>, metrics: &Metrics, limits: Limits) {
    let mut carried: Option<Job> = None;
    loop {
        let Some(jobs) = collect(receiver, &mut carried, metrics, limits) else { return };
        if jobs.is_empty() {
            continue;
        }
        run(engines, jobs, metrics);
    }
}

/// Takes the next batch's jobs: the first waiting request, then more until the batch is
/// full, the queue is empty, or the delay after the first has passed. `None` once the queue
/// is closed and empty.
fn collect(
    receiver: &Mutex<Receiver<Job>>,
    carried: &mut Option<Job>,
    metrics: &Metrics,
    limits: Limits,
) -> Option<Vec<Job>> {
    let receiver = receiver.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let take = |job: Job| {
        metrics.queue_depth.dec();
        job
    };
    let first = match carried.take() {
        Some(job) => job,
        None => take(receiver.recv().ok()?),
    };
    let deadline = Instant::now() + limits.delay;
    let mut rows = first.batch.rows();
    let mut jobs = vec![first];
    while rows < limits.max_rows {
        let now = Instant::now();
        let next = if now >= deadline {
            receiver.try_recv().ok()
        } else {
            match receiver.recv_timeout(deadline - now) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
            }
        };
        let Some(job) = next.map(take) else { break };
        if rows + job.batch.rows() > limits.max_rows {
            *carried = Some(job);
            break;
        }
        rows += job.batch.rows();
        jobs.push(job);
    }
    // A client that went away no longer needs its rows scored.
    jobs.retain(|job| !job.reply.is_closed());
    Some(jobs)
}

fn run<P: CompiledPipeline>(engines: &Engines<P>, jobs: Vec<Job>, metrics: &Metrics) {
    let sizes: Vec<usize> = jobs.iter().map(|job| job.batch.rows()).collect();
    let (batches, replies): (Vec<Batch>, Vec<oneshot::Sender<Reply>>) =
        jobs.into_iter().map(|job| (job.batch, job.reply)).unzip();
    let merged = Batch::concat(batches);
    let rows = merged.rows();
    let (device, route) = engines.route(rows);
    metrics.batch_rows.get_or_create(&DeviceLabels { device }).observe(rows as f64);
    metrics.rows.inc_by(rows as u64);
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| route.forward(&merged)))
        .map_err(|_| "the pipeline panicked; see the server log".to_string())
        .and_then(|result| result.map_err(|e| e.to_string()));
    match result {
        Ok(columns) if replies.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Ok(columns));
            }
        }
        Ok(columns) => {
            let mut start = 0;
            for (reply, n) in replies.into_iter().zip(sizes) {
                let part = columns.iter().map(|c| c.rows(start, start + n)).collect();
                let _ = reply.send(Ok(part));
                start += n;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, rows, "the pipeline failed on a batch");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
