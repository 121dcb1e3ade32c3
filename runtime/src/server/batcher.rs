//! Request batching: concurrent requests are merged into one batch, run on a worker thread
//! that owns the pipeline, and the results are split back, each request receiving exactly its
//! own rows. The queue is bounded; a full queue is reported at once (the server answers 429).

use super::audit_sink::{Part, Scoring};
use super::config::ServerConfig;
use super::duties::Duties;
use super::metrics::DeviceLabels;
use super::models::{Models, Opener, Role};
use crate::batch::Batch;
use crate::output::OutputColumn;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A request's answer: its rows of every computed column, and who computed them.
#[derive(Debug)]
pub struct Scored {
    pub columns: Vec<OutputColumn>,
    pub role: Role,
    /// The identity of the build that answered.
    pub identity: &'static str,
}

/// What a request receives: its scores, or why scoring (or, when durable, logging) failed.
pub type Reply = Result<Scored, String>;

struct Job {
    batch: Batch,
    request_id: String,
    role: Role,
    reply: oneshot::Sender<Reply>,
    /// When the request entered the queue.
    queued: Instant,
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
    duties: Arc<Duties>,
}

impl Batcher {
    /// Queues `batch`, to be scored by `role` and logged under `request_id`.
    pub fn submit(&self, batch: Batch, request_id: String, role: Role) -> Result<oneshot::Receiver<Reply>, SubmitError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sender = sender.as_ref().ok_or(SubmitError::Closed)?;
        match sender.try_send(Job { batch, request_id, role, reply, queued: Instant::now() }) {
            Ok(()) => {
                self.duties.metrics.queue_depth.inc();
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

/// Starts `--workers` threads, each loading the pipelines onto its devices, and waits until
/// all are ready. Returns a description of the devices for the log.
pub fn start(config: &ServerConfig, open: Opener, duties: Arc<Duties>) -> Result<(Batcher, Workers, String), String> {
    let (sender, receiver) = mpsc::sync_channel(config.queue_capacity.max(1));
    let receiver = Arc::new(Mutex::new(receiver));
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut handles = Vec::new();
    for worker in 0..config.workers.max(1) {
        let receiver = receiver.clone();
        let duties = duties.clone();
        let open = open.clone();
        let ready = ready_tx.clone();
        let config = config.clone();
        let handle = std::thread::Builder::new()
            .name(format!("pipec-worker-{worker}"))
            .stack_size(super::engines::NATIVE_STACK_BYTES)
            .spawn(move || {
                let models = match open(&config) {
                    Ok(models) => models,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(models.champion.describe()));
                drop(ready);
                let limits = Limits { max_rows: config.max_batch_rows.max(1), delay: config.max_batch_delay() };
                work(&models, &receiver, &duties, limits);
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
    let batcher = Batcher { sender: Arc::new(Mutex::new(Some(sender))), duties };
    Ok((batcher, Workers(handles), description))
}

#[derive(Clone, Copy)]
struct Limits {
    max_rows: usize,
    delay: Duration,
}

fn work(models: &Models, receiver: &Mutex<Receiver<Job>>, duties: &Duties, limits: Limits) {
    let mut carried: Option<Job> = None;
    loop {
        let Some(jobs) = collect(receiver, &mut carried, &duties.metrics, limits) else { return };
        let (champion, challenger): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|job| job.role == Role::Champion);
        for (role, jobs) in [(Role::Champion, champion), (Role::Challenger, challenger)] {
            if !jobs.is_empty() {
                run(models, role, jobs, duties);
            }
        }
    }
}

/// Takes the next batch's jobs: the first waiting request, then more until the batch is
/// full, the queue is empty, or the delay after the first has passed. `None` once the queue
/// is closed and empty.
fn collect(
    receiver: &Mutex<Receiver<Job>>,
    carried: &mut Option<Job>,
    metrics: &super::metrics::Metrics,
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
    let started = Instant::now();
    if !jobs.is_empty() {
        let waited: f64 = jobs.iter().map(|job| started.duration_since(job.queued).as_secs_f64()).sum();
        metrics.queue_wait.set(waited / jobs.len() as f64);
    }
    Some(jobs)
}

/// Scores one batch of jobs with `role`'s pipeline, performs the duties, and answers: after
/// the audit records are on disk when the log is durable, at once otherwise. With a shadow
/// challenger, the champion's batch is then scored again by the challenger.
fn run(models: &Models, role: Role, jobs: Vec<Job>, duties: &Duties) {
    let Some(scorer) = models.get(role) else {
        for job in jobs {
            let _ = job.reply.send(Err("this server has no challenger".into()));
        }
        return;
    };
    let mut ids = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    let mut batches = Vec::with_capacity(jobs.len());
    for job in jobs {
        ids.push(job.request_id);
        replies.push(job.reply);
        batches.push(job.batch);
    }
    let mut start = 0;
    let parts: Vec<Part> = ids
        .iter()
        .zip(&batches)
        .map(|(id, batch)| {
            let part = Part { request_id: id, start, rows: batch.rows() };
            start += batch.rows();
            part
        })
        .collect();
    let merged = Batch::concat(batches);
    let rows = merged.rows();
    let (device, result) = scorer.score(&merged);
    let metrics = &duties.metrics;
    metrics.batch_rows.get_or_create(&DeviceLabels { device }).observe(rows as f64);
    metrics.rows.inc_by(rows as u64);
    let columns = match result {
        Ok(columns) => columns,
        Err(e) => {
            tracing::error!(error = %e, rows, model = role.as_str(), "the pipeline failed on a batch");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
    };
    duties.observe_answered(role, &merged, &columns, &parts);
    let spec = scorer.spec();
    let batch_id = duties.audit.as_ref().map_or(0, |_| duties.next_batch_id());
    let scoring =
        Scoring { spec, model: role.as_str(), answered: true, route: device, batch_id, merged: &merged, columns: &columns };
    let records = duties.records(&scoring, &parts);
    let shadow_scorer = models.challenger.as_deref().filter(|_| role == Role::Champion && duties.shadow);
    let (answers, kept) = split_answers(replies, &parts, columns, role, spec.identity, shadow_scorer.is_some());
    match records {
        Some(records) if duties.durable => duties.log(
            records,
            Some(Box::new(move |logged: Result<(), String>| {
                for (reply, scored) in answers {
                    let answer = match &logged {
                        Ok(()) => Ok(scored),
                        Err(e) => Err(format!("the request was scored, but the audit log could not record it: {e}")),
                    };
                    let _ = reply.send(answer);
                }
            })),
        ),
        records => {
            for (reply, scored) in answers {
                let _ = reply.send(Ok(scored));
            }
            if let Some(records) = records {
                duties.log(records, None);
            }
        }
    }
    if let (Some(challenger), Some(champion)) = (shadow_scorer, kept) {
        shadow(challenger, &merged, &champion, &parts, batch_id, duties);
    }
}

/// Each request's rows of the batch's columns. A batch of one request hands its columns over
/// whole, without a copy, unless `keep` asks for them back (to compare with the shadow).
fn split_answers(
    replies: Vec<oneshot::Sender<Reply>>,
    parts: &[Part],
    columns: Vec<OutputColumn>,
    role: Role,
    identity: &'static str,
    keep: bool,
) -> (Vec<(oneshot::Sender<Reply>, Scored)>, Option<Vec<OutputColumn>>) {
    let scored = |columns| Scored { columns, role, identity };
    if replies.len() == 1 && !keep {
        return (replies.into_iter().next().map(|reply| (reply, scored(columns))).into_iter().collect(), None);
    }
    let answers = replies
        .into_iter()
        .zip(parts)
        .map(|(reply, part)| (reply, scored(columns.iter().map(|c| c.rows(part.start, part.start + part.rows)).collect())))
        .collect();
    (answers, keep.then_some(columns))
}

/// Scores the champion's batch with the challenger too: compared, kept for feedback, logged
/// as not answered.
fn shadow(
    challenger: &dyn super::engines::Scorer,
    merged: &Batch,
    champion: &[OutputColumn],
    parts: &[Part],
    batch_id: u64,
    duties: &Duties,
) {
    let (route, result) = challenger.score(merged);
    let columns = match result {
        Ok(columns) => columns,
        Err(e) => {
            tracing::error!(error = %e, rows = merged.rows(), "the shadow challenger failed on a batch");
            return;
        }
    };
    duties.compare(champion, &columns, merged.rows());
    let spec = challenger.spec();
    if let Some(log) = &duties.payload_log {
        log.record_shadow(spec, &columns, parts);
    }
    if let Some(feedback) = &duties.feedback {
        for part in parts {
            feedback.remember(Role::Challenger, spec, &columns, part.request_id, part.start, part.rows);
        }
    }
    let scoring = Scoring { spec, model: "challenger", answered: false, route, batch_id, merged, columns: &columns };
    if let Some(records) = duties.records(&scoring, parts) {
        duties.log(records, None);
    }
}
