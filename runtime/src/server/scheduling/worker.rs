//! Working: the worker threads, each of which owns the pipelines on its devices and takes
//! merged batches off the queue (`queue.rs`). For each batch a worker scores it once into a
//! [`BatchOutcome`], hands that to the duties (`Duties::after_batch`), and answers: after the
//! audit records are on disk when the log is durable, at once otherwise. With a shadow
//! challenger, the champion's batch is then scored again by the challenger.

use super::engines::{NATIVE_STACK_BYTES, Scorer};
use super::models::{Models, Opener, Role};
use super::outcome::BatchOutcome;
use super::queue::{Job, Limits, Merged, Part, Queue, collect};
use crate::batch::Batch;
use crate::server::config::ServerConfig;
use crate::server::duties::{Duties, ScoredBatch};
use crate::server::metrics::DeviceLabels;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The worker threads, to be joined after [`Queue::close`].
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
pub fn start(config: &ServerConfig, open: Opener, duties: Arc<Duties>) -> Result<(Queue, Workers, String), String> {
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
            .stack_size(NATIVE_STACK_BYTES)
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
    Ok((Queue::new(sender, duties.metrics.clone()), Workers(handles), description))
}

fn work(models: &Models, receiver: &Mutex<Receiver<Job>>, duties: &Duties, limits: Limits) {
    let mut carried: Option<Job> = None;
    loop {
        let Some(jobs) = collect(receiver, &mut carried, &duties.metrics, limits) else { return };
        let (champion, challenger): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|job| job.role() == Role::Champion);
        for (role, jobs) in [(Role::Champion, champion), (Role::Challenger, challenger)] {
            if !jobs.is_empty() {
                run(models, role, Merged::merge(jobs), duties);
            }
        }
    }
}

/// Scores one merged batch with `role`'s pipeline, performs the duties, and answers.
fn run(models: &Models, role: Role, merged: Merged, duties: &Duties) {
    let Merged { batch, parts, replies } = merged;
    let Some(scorer) = models.get(role) else {
        replies.fail("this server has no challenger");
        return;
    };
    let outcome = match score(scorer, role, &batch, duties) {
        Ok(outcome) => outcome,
        Err(e) => {
            replies.fail(&e);
            return;
        }
    };
    let batch_id = duties.batch_id();
    let audit =
        duties.after_batch(&ScoredBatch { batch: &batch, parts: &parts, outcome: &outcome, batch_id, shadow_of: None });
    let shadow_scorer = models.challenger.as_deref().filter(|_| role == Role::Champion && duties.shadow);
    let (answers, kept) = replies.split(&parts, outcome, shadow_scorer.is_some());
    duties.write(audit, Some(Box::new(move |logged| answers.send(logged))));
    if let (Some(challenger), Some(champion)) = (shadow_scorer, kept) {
        shadow(challenger, &batch, &champion, &parts, batch_id, duties);
    }
}

/// Scores `batch` where its size routes it, counting its rows by route.
fn score(scorer: &dyn Scorer, role: Role, batch: &Batch, duties: &Duties) -> Result<BatchOutcome, String> {
    let rows = batch.rows();
    let (route, result) = scorer.score(batch);
    let metrics = &duties.metrics;
    metrics.batch_rows.get_or_create(&DeviceLabels { device: route.label() }).observe(rows as f64);
    metrics.rows.inc_by(rows as u64);
    match result {
        Ok(columns) => Ok(BatchOutcome::new(role, scorer.spec(), route, columns)),
        Err(e) => {
            tracing::error!(error = %e, rows, model = role.as_str(), "the pipeline failed on a batch");
            Err(e)
        }
    }
}

/// Scores the champion's batch with the challenger too, for the duties only: compared, kept
/// for feedback, logged as not answered.
fn shadow(
    challenger: &dyn Scorer,
    batch: &Batch,
    champion: &BatchOutcome,
    parts: &[Part],
    batch_id: u64,
    duties: &Duties,
) {
    let (route, result) = challenger.score(batch);
    let outcome = match result {
        Ok(columns) => BatchOutcome::new(Role::Challenger, challenger.spec(), route, columns),
        Err(e) => {
            tracing::error!(error = %e, rows = batch.rows(), "the shadow challenger failed on a batch");
            return;
        }
    };
    let audit =
        duties.after_batch(&ScoredBatch { batch, parts, outcome: &outcome, batch_id, shadow_of: Some(champion) });
    duties.write(audit, None);
}
