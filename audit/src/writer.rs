//! The writer: [`AuditLog`] handles queue submissions on a channel; one thread appends them,
//! rotates segments, syncs (group commit) and calls the acknowledgements.

use crate::error::AuditError;
use crate::frame;
use crate::record::AuditRecord;
use crate::recover::{self, OpenSegment, Recovery};
use crate::segment;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// When a submission is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledge after the record is on disk (fdatasync). Group commit: the writer thread
    /// takes every pending submission, writes them all, syncs once, then calls their
    /// acknowledgements.
    #[default]
    Durable,
    /// Acknowledge before: the writer hands each group of submissions to the operating system
    /// as soon as it takes them (well within 100 ms) and acknowledges; it syncs only when it
    /// rotates a segment and when the log is closed.
    Buffered,
}

/// Where and how to write the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// The log folder (created if missing).
    pub dir: PathBuf,
    /// A segment is closed and a new one started before a record would make it larger than
    /// this (a segment always takes at least one record).
    pub max_segment_bytes: u64,
    pub durability: Durability,
}

impl LogOptions {
    /// 64 MiB segments, durable.
    pub fn new(dir: impl Into<PathBuf>) -> LogOptions {
        LogOptions { dir: dir.into(), max_segment_bytes: 64 << 20, durability: Durability::Durable }
    }
}

/// Called once per submission from the writer thread, with `Ok` once its records are written
/// (after the sync when durable) or with the error's text. It should return quickly (send on a
/// channel, complete a oneshot): the writer waits for it before taking the next group.
pub type Acknowledge = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Counters of the writer's work since the log was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Submissions taken from the queue.
    pub submissions: u64,
    /// Records written (handed to the operating system).
    pub records: u64,
    /// Groups of submissions written together.
    pub groups: u64,
    /// fdatasync calls on segments (group commits, rotations, close).
    pub syncs: u64,
    /// Segments started after open.
    pub rotations: u64,
    /// Submissions acknowledged with an error.
    pub failed_submissions: u64,
}

#[derive(Default)]
struct Counters {
    submissions: AtomicU64,
    records: AtomicU64,
    groups: AtomicU64,
    syncs: AtomicU64,
    rotations: AtomicU64,
    failed_submissions: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> AuditStats {
        AuditStats {
            submissions: self.submissions.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            groups: self.groups.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            rotations: self.rotations.load(Ordering::Relaxed),
            failed_submissions: self.failed_submissions.load(Ordering::Relaxed),
        }
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

enum Message {
    Submit(Submission),
    Close,
}

struct Submission {
    records: Vec<AuditRecord>,
    on_done: Option<Acknowledge>,
}

/// A handle on an open audit log. Cheap to clone and usable from many threads; every clone
/// feeds the same writer thread.
#[derive(Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

struct Shared {
    /// `None` once closed. Sends happen under the lock, so nothing is queued after `Close`.
    sender: Mutex<Option<Sender<Message>>>,
    thread: Mutex<Option<JoinHandle<Result<(), AuditError>>>>,
    counters: Arc<Counters>,
    dir: PathBuf,
}

const _: () = {
    const fn shareable<T: Send + Sync + Clone>() {}
    shareable::<AuditLog>();
};

/// Most submissions written as one group (bounds the latency of a group commit).
const MAX_GROUP: usize = 4096;

const LOCK_FILE: &str = "audit.lock";

impl AuditLog {
    /// Opens (creating the folder if needed) and recovers the log: the last segment is scanned
    /// frame by frame and, at the first frame that is torn, fails its checksum or does not
    /// decode, cut to the end of the last good frame (and synced). Then the writer thread
    /// starts appending to that segment, or to a new one when it is full.
    ///
    /// The folder's `audit.lock` file is locked while the log is open, so a second writer (in
    /// this process or another) gets [`AuditError::Locked`]. Close the log with
    /// [`AuditLog::close`]; dropping every handle also stops the writer, but without waiting.
    pub fn open(options: LogOptions) -> Result<(AuditLog, Recovery), AuditError> {
        std::fs::create_dir_all(&options.dir).map_err(|e| AuditError::io(&options.dir, e))?;
        let lock = lock_folder(&options.dir)?;
        let (segment, recovery) = recover::recover(&options.dir)?;
        let counters = Arc::new(Counters::default());
        let (sender, receiver) = std::sync::mpsc::channel();
        let writer = Writer {
            dir: options.dir.clone(),
            max_segment_bytes: options.max_segment_bytes,
            durability: options.durability,
            segment: Some(segment),
            next_seq: recovery.next_seq,
            counters: counters.clone(),
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("pipec-audit-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| AuditError::io(&options.dir, e))?;
        let shared =
            Shared { sender: Mutex::new(Some(sender)), thread: Mutex::new(Some(thread)), counters, dir: options.dir };
        Ok((AuditLog { shared: Arc::new(shared) }, recovery))
    }

    /// Queues records for appending, in order, without waiting for any I/O. The writer assigns
    /// their `seq`. `on_done` is called from the writer thread once they are written (durable:
    /// after the sync; buffered: after the write), or with the error's text; after the log is
    /// closed it is called at once with an error.
    pub fn submit(&self, records: Vec<AuditRecord>, on_done: Option<Acknowledge>) {
        let message = Message::Submit(Submission { records, on_done });
        let refused = match self.shared.sender.lock() {
            Ok(sender) => match sender.as_ref() {
                Some(sender) => sender.send(message).err().map(|e| e.0),
                None => Some(message),
            },
            Err(_) => Some(message),
        };
        if let Some(Message::Submit(Submission { on_done: Some(on_done), .. })) = refused {
            acknowledge(on_done, Err("the audit log is closed".into()));
        }
    }

    /// Submits and waits for the acknowledgement.
    pub fn submit_wait(&self, records: Vec<AuditRecord>) -> Result<(), String> {
        let (done, wait) = std::sync::mpsc::channel();
        self.submit(
            records,
            Some(Box::new(move |result| {
                let _ = done.send(result);
            })),
        );
        wait.recv().unwrap_or_else(|_| Err("the audit log writer stopped".into()))
    }

    /// Counters of the writer's work so far.
    pub fn stats(&self) -> AuditStats {
        self.shared.counters.snapshot()
    }

    /// The log folder.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Stops accepting submissions (on every clone), writes and syncs everything queued before,
    /// and joins the writer thread. Closing an already closed log does nothing.
    pub fn close(self) -> Result<(), AuditError> {
        let sender = self.shared.sender.lock().map(|mut s| s.take()).unwrap_or(None);
        if let Some(sender) = sender {
            // The writer stops only on this message or when every sender is gone.
            let _ = sender.send(Message::Close);
        }
        let thread = self.shared.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        match thread {
            Some(thread) => thread.join().unwrap_or(Err(AuditError::WriterStopped)),
            None => Ok(()),
        }
    }
}

fn lock_folder(dir: &Path) -> Result<File, AuditError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| AuditError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(AuditError::Locked { path }),
        Err(std::fs::TryLockError::Error(e)) => Err(AuditError::io(&path, e)),
    }
}

/// Calls an acknowledgement; a panic in it must not stop the writer.
fn acknowledge(on_done: Acknowledge, result: Result<(), String>) {
    let _ = catch_unwind(AssertUnwindSafe(move || on_done(result)));
}

/// The writer thread's state.
struct Writer {
    dir: PathBuf,
    max_segment_bytes: u64,
    durability: Durability,
    /// `None` after an I/O error left the segment's state unknown; the next group reopens it
    /// through recovery.
    segment: Option<OpenSegment>,
    next_seq: u64,
    counters: Arc<Counters>,
    _lock: File,
}

/// Where a submission of the current group stands.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    /// Some of its records are not written yet.
    Pending,
    /// Written to the current segment, not synced.
    Written,
    /// Written and synced (or written, when buffered).
    Done,
    Failed(String),
}

/// Frames waiting to be written to the current segment in one `write`.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    records: u64,
    /// Submissions whose last record is in this chunk.
    completes: Vec<usize>,
}

impl Writer {
    fn run(mut self, receiver: Receiver<Message>) -> Result<(), AuditError> {
        loop {
            let Ok(first) = receiver.recv() else { return self.finish() };
            let mut group = Vec::new();
            let mut closing = false;
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Submit(submission) => group.push(submission),
                    Message::Close => {
                        closing = true;
                        break;
                    }
                }
                if group.len() < MAX_GROUP {
                    next = match receiver.try_recv() {
                        Ok(message) => Some(message),
                        Err(TryRecvError::Empty) => None,
                        Err(TryRecvError::Disconnected) => {
                            closing = true;
                            None
                        }
                    };
                }
            }
            if !group.is_empty() {
                self.write_group(group);
            }
            if closing {
                return self.finish();
            }
        }
    }

    /// Final sync of the current segment.
    fn finish(&mut self) -> Result<(), AuditError> {
        match self.segment.as_ref() {
            Some(segment) => {
                bump(&self.counters.syncs, 1);
                segment.file.sync_data().map_err(|e| AuditError::io(&segment.path, e))
            }
            None => Ok(()),
        }
    }

    fn write_group(&mut self, mut group: Vec<Submission>) {
        bump(&self.counters.groups, 1);
        bump(&self.counters.submissions, group.len() as u64);
        let mut status = vec![Status::Pending; group.len()];
        if let Err(error) = self.append_group(&mut group, &mut status) {
            for s in status.iter_mut().filter(|s| **s == Status::Pending) {
                *s = Status::Failed(error.clone());
            }
        }
        if status.contains(&Status::Written) {
            let synced = match self.durability {
                Durability::Buffered => Ok(()),
                Durability::Durable => self.sync_current(),
            };
            for s in status.iter_mut().filter(|s| **s == Status::Written) {
                *s = match &synced {
                    Ok(()) => Status::Done,
                    Err(e) => Status::Failed(e.clone()),
                };
            }
        }
        for (submission, status) in group.into_iter().zip(status) {
            let result = match status {
                Status::Done => Ok(()),
                Status::Failed(e) => Err(e),
                Status::Pending | Status::Written => Err("not written (internal error)".into()),
            };
            if result.is_err() {
                bump(&self.counters.failed_submissions, 1);
            }
            if let Some(on_done) = submission.on_done {
                acknowledge(on_done, result);
            }
        }
    }

    /// Writes the group's records, rotating as needed. Submissions end `Written` (or `Done`
    /// once a rotation synced them), `Failed` when they cannot be encoded, or stay `Pending`
    /// when an I/O error (returned) stopped the group.
    fn append_group(&mut self, group: &mut [Submission], status: &mut [Status]) -> Result<(), String> {
        if self.segment.is_none() {
            let (segment, _) = recover::recover(&self.dir).map_err(|e| e.to_string())?;
            self.next_seq = segment.first_seq + segment.records;
            self.segment = Some(segment);
        }
        let mut chunk = Chunk::default();
        for (index, submission) in group.iter_mut().enumerate() {
            let first_seq = self.next_seq + chunk.records;
            let mut frames = Vec::with_capacity(submission.records.len());
            for (i, record) in submission.records.iter_mut().enumerate() {
                record.seq = first_seq + i as u64;
                match frame::encode(record) {
                    Ok(frame) => frames.push(frame),
                    Err(e) => {
                        status[index] = Status::Failed(e);
                        break;
                    }
                }
            }
            if status[index] != Status::Pending {
                continue;
            }
            for frame in frames {
                let (len, records) = self.segment.as_ref().map_or((0, 0), |s| (s.len, s.records));
                let full = len + (chunk.bytes.len() + frame.len()) as u64 > self.max_segment_bytes;
                if full && records + chunk.records > 0 {
                    self.flush(&mut chunk, status)?;
                    self.rotate(status)?;
                }
                chunk.bytes.extend_from_slice(&frame);
                chunk.records += 1;
            }
            chunk.completes.push(index);
        }
        self.flush(&mut chunk, status)
    }

    /// Writes the chunk to the current segment. On an error the segment is cut back to its
    /// last good length, or dropped (to be recovered) if even that fails.
    fn flush(&mut self, chunk: &mut Chunk, status: &mut [Status]) -> Result<(), String> {
        let chunk = std::mem::take(chunk);
        let Some(segment) = self.segment.as_mut() else {
            return Err("no open segment".into());
        };
        if !chunk.bytes.is_empty() {
            if let Err(e) = segment.file.write_all(&chunk.bytes) {
                let error = format!("writing {}: {e}", segment.path.display());
                let restored =
                    segment.file.set_len(segment.len).and_then(|()| segment.file.seek(SeekFrom::Start(segment.len)));
                if restored.is_err() {
                    self.segment = None;
                }
                return Err(error);
            }
            segment.len += chunk.bytes.len() as u64;
            segment.records += chunk.records;
            self.next_seq += chunk.records;
            bump(&self.counters.records, chunk.records);
        }
        for index in chunk.completes {
            status[index] = Status::Written;
        }
        Ok(())
    }

    /// Syncs the current segment. After a failure its state is unknown, so it is dropped and
    /// the next group recovers it.
    fn sync_current(&mut self) -> Result<(), String> {
        let Some(segment) = self.segment.as_ref() else {
            return Err("no open segment".into());
        };
        bump(&self.counters.syncs, 1);
        match segment.file.sync_data() {
            Ok(()) => Ok(()),
            Err(e) => {
                let error = format!("syncing {}: {e}", segment.path.display());
                self.segment = None;
                Err(error)
            }
        }
    }

    /// Syncs and closes the current segment and starts `audit-{next_seq:020}.log`. Written
    /// submissions are done once the old segment is synced.
    fn rotate(&mut self, status: &mut [Status]) -> Result<(), String> {
        let synced = self.sync_current();
        for s in status.iter_mut().filter(|s| **s == Status::Written) {
            *s = match &synced {
                Ok(()) => Status::Done,
                Err(e) => Status::Failed(e.clone()),
            };
        }
        synced?;
        self.segment = None;
        let (file, path) = segment::create(&self.dir, self.next_seq).map_err(|e| e.to_string())?;
        bump(&self.counters.rotations, 1);
        self.segment =
            Some(OpenSegment { file, path, first_seq: self.next_seq, len: segment::HEADER_BYTES, records: 0 });
        Ok(())
    }
}
