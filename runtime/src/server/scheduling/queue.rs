//! Queueing: the bounded queue requests wait in (a full queue is reported at once, and the
//! server answers 429), taking the next batch's requests off it, merging them into one batch,
//! and splitting the batch's outcome back, each request receiving exactly its own rows. What
//! is done with a merged batch is `worker.rs`'s.

use super::models::Role;
use super::outcome::BatchOutcome;
use crate::batch::Batch;
use crate::server::metrics::Metrics;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What a request receives: the outcome of its own rows, or why scoring (or, when durable,
/// logging) failed.
pub type Reply = Result<BatchOutcome, String>;

/// A queued request.
pub struct Job {
    batch: Batch,
    request_id: String,
    role: Role,
    reply: oneshot::Sender<Reply>,
    /// When the request entered the queue.
    queued: Instant,
}

impl Job {
    /// Which pipeline is to score the request.
    pub fn role(&self) -> Role {
        self.role
    }
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
pub struct Queue {
    sender: Arc<Mutex<Option<SyncSender<Job>>>>,
    metrics: Arc<Metrics>,
}

impl Queue {
    pub fn new(sender: SyncSender<Job>, metrics: Arc<Metrics>) -> Queue {
        Queue { sender: Arc::new(Mutex::new(Some(sender))), metrics }
    }

    /// Queues `batch`, to be scored by `role` and logged under `request_id`.
    pub fn submit(
        &self,
        batch: Batch,
        request_id: String,
        role: Role,
    ) -> Result<oneshot::Receiver<Reply>, SubmitError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sender = sender.as_ref().ok_or(SubmitError::Closed)?;
        match sender.try_send(Job { batch, request_id, role, reply, queued: Instant::now() }) {
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

/// How large a batch grows, and how long its first request waits for others.
#[derive(Clone, Copy)]
pub struct Limits {
    pub max_rows: usize,
    pub delay: Duration,
}

/// Takes the next batch's jobs: the first waiting request, then more until the batch is
/// full, the queue is empty, or the delay after the first has passed. `None` once the queue
/// is closed and empty.
pub fn collect(
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
        None => match receiver.try_recv() {
            Ok(job) => take(job),
            Err(_) => {
                // Nothing waits: a request arriving now would not queue.
                metrics.queue_wait.set(0.0);
                take(receiver.recv().ok()?)
            }
        },
    };
    let deadline = Instant::now() + limits.delay;
    let mut rows = first.batch.rows();
    let mut jobs = vec![first];
    while rows < limits.max_rows {
        let now = Instant::now();
        let next = if now >= deadline { receiver.try_recv().ok() } else { receiver.recv_timeout(deadline - now).ok() };
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
    let started = Instant::now();
    if !jobs.is_empty() {
        let waited: f64 = jobs.iter().map(|job| started.duration_since(job.queued).as_secs_f64()).sum();
        metrics.queue_wait.set(waited / jobs.len() as f64);
    }
    Some(jobs)
}

/// One request's part of a merged batch.
pub struct Part {
    pub request_id: String,
    /// First row of the request in the merged batch.
    pub start: usize,
    pub rows: usize,
}

/// Requests merged into one batch.
pub struct Merged {
    pub batch: Batch,
    /// Each request's rows, in the order of `replies`.
    pub parts: Vec<Part>,
    pub replies: Replies,
}

impl Merged {
    pub fn merge(jobs: Vec<Job>) -> Merged {
        let mut parts = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut batches = Vec::with_capacity(jobs.len());
        let mut start = 0;
        for job in jobs {
            let rows = job.batch.rows();
            parts.push(Part { request_id: job.request_id, start, rows });
            start += rows;
            replies.push(job.reply);
            batches.push(job.batch);
        }
        Merged { batch: Batch::concat(batches), parts, replies: Replies(replies) }
    }
}

/// Where the requests of a merged batch wait for their answers.
pub struct Replies(Vec<oneshot::Sender<Reply>>);

impl Replies {
    /// Answers every request with `error`.
    pub fn fail(self, error: &str) {
        for reply in self.0 {
            let _ = reply.send(Err(error.to_string()));
        }
    }

    /// Each request's rows of the batch's `outcome`. A batch of one request hands its outcome
    /// over whole, without a copy, unless `keep` asks for it back (to compare with the shadow).
    pub fn split(self, parts: &[Part], outcome: BatchOutcome, keep: bool) -> (Answers, Option<BatchOutcome>) {
        let mut replies = self.0;
        if replies.len() == 1 && !keep {
            return (Answers(replies.pop().map(|reply| (reply, outcome)).into_iter().collect()), None);
        }
        let answers =
            replies.into_iter().zip(parts).map(|(reply, part)| (reply, outcome.rows(part.start, part.rows))).collect();
        (Answers(answers), keep.then_some(outcome))
    }
}

/// Each request's outcome, ready to be sent.
pub struct Answers(Vec<(oneshot::Sender<Reply>, BatchOutcome)>);

impl Answers {
    /// Sends each request its outcome, or, when the audit log could not record the batch
    /// (`logged` is an error), that error.
    pub fn send(self, logged: Result<(), String>) {
        for (reply, outcome) in self.0 {
            let answer = match &logged {
                Ok(()) => Ok(outcome),
                Err(e) => Err(format!("the request was scored, but the audit log could not record it: {e}")),
            };
            let _ = reply.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Column;
    use crate::output::OutputColumn;
    use crate::server::scheduling::Route;
    use crate::spec::{InputKind, InputSpec, OutputKind, OutputRole, OutputSpec, PipelineSpec};

    static SPEC: PipelineSpec = PipelineSpec {
        name: "t",
        version: "1",
        identity: "0",
        monitor: None,
        inputs: &[InputSpec { name: "x", kind: InputKind::F32, width: 1, is_vector: false, nullable: false }],
        outputs: &[
            OutputSpec { name: "p", kind: OutputKind::F32, width: 1, role: OutputRole::Output },
            OutputSpec { name: "ok", kind: OutputKind::Bool, width: 1, role: OutputRole::Check },
        ],
    };

    fn job(values: Vec<f32>, id: &str) -> (Job, oneshot::Receiver<Reply>) {
        let (reply, answer) = oneshot::channel();
        let batch = Batch::new(&SPEC, values.len(), vec![Column::F32(values)]).expect("a batch");
        (Job { batch, request_id: id.into(), role: Role::Champion, reply, queued: Instant::now() }, answer)
    }

    fn merged_outcome() -> (Merged, BatchOutcome, Vec<oneshot::Receiver<Reply>>) {
        let (a, answer_a) = job(vec![1.0, 2.0], "a");
        let (b, answer_b) = job(vec![3.0], "b");
        let merged = Merged::merge(vec![a, b]);
        let columns = vec![
            OutputColumn::F32 { width: 1, values: vec![10.0, 20.0, 30.0] },
            OutputColumn::Bool { width: 1, values: vec![true, false, false] },
        ];
        (merged, BatchOutcome::new(Role::Champion, &SPEC, Route::Native, columns), vec![answer_a, answer_b])
    }

    #[test]
    fn each_request_receives_exactly_its_rows_of_the_merged_outcome() {
        let (merged, outcome, answers) = merged_outcome();
        assert_eq!(merged.batch.rows(), 3);
        let parts: Vec<_> = merged.parts.iter().map(|p| (p.request_id.as_str(), p.start, p.rows)).collect();
        assert_eq!(parts, [("a", 0, 2), ("b", 2, 1)]);
        let (split, kept) = merged.replies.split(&merged.parts, outcome, true);
        assert_eq!(kept.map(|outcome| outcome.columns.len()), Some(2));
        split.send(Ok(()));
        let received: Vec<BatchOutcome> =
            answers.into_iter().map(|mut answer| answer.try_recv().expect("answered").expect("scored")).collect();
        assert_eq!(received[0].columns[0], OutputColumn::F32 { width: 1, values: vec![10.0, 20.0] });
        assert_eq!(received[0].failed_checks.names_per_row(2), ["", "ok"]);
        assert_eq!(received[1].columns[0], OutputColumn::F32 { width: 1, values: vec![30.0] });
        assert_eq!(received[1].failed_checks.names_per_row(1), ["ok"]);
    }

    #[test]
    fn a_failed_audit_write_fails_every_request_of_the_batch() {
        let (merged, outcome, answers) = merged_outcome();
        let (split, kept) = merged.replies.split(&merged.parts, outcome, false);
        assert!(kept.is_none());
        split.send(Err("disk full".into()));
        for mut answer in answers {
            let error = answer.try_recv().expect("answered").expect_err("failed");
            assert_eq!(error, "the request was scored, but the audit log could not record it: disk full");
        }
    }
}
