//! The scoring run: worker threads, each with its own copy of the pipeline, take the next
//! record batch from the shared reader (reading it while the others score), convert and score
//! it and lay out its output columns; this thread puts the answers back in input order and
//! writes them. The first error stops the run and the output file is not created.

use super::ScoreArgs;
use super::columns::InputColumns;
use super::csv_source::CsvKind;
use super::error::ScoreError;
use super::outputs::OutputLayout;
use super::progress::{Progress, per_second};
use super::sink::{CompressionFlag, Encoded, Encoder, OutputFormat, Sink};
use super::source::{InputFormat, Source};
use crate::server::config::ServerConfig;
use crate::server::scheduling::engines::{NATIVE_STACK_BYTES, Scorer};
use crate::server::scheduling::{Opener, Role};
use crate::spec::{InputKind, PipelineSpec};
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use clap::Parser;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::{Duration, Instant};

/// What to score and how.
pub struct Plan<'a> {
    pub spec: &'static PipelineSpec,
    pub role: Role,
    pub input: &'a Path,
    pub input_format: InputFormat,
    pub output: &'a Path,
    pub output_format: OutputFormat,
    pub keys: &'a [String],
    pub threads: usize,
    pub batch_rows: usize,
    pub compression: CompressionFlag,
    pub quiet: bool,
}

/// What a finished run did.
pub struct Summary {
    rows: u64,
    seconds: f64,
    threads: usize,
    /// Time the workers spent in the pipeline itself, summed over workers: `rows /
    /// pipeline_seconds` is the native path's rows per second on one core.
    pipeline_seconds: f64,
    identity: &'static str,
    output: String,
}

impl Summary {
    pub fn print(&self, args: &ScoreArgs) {
        let rate = self.rows as f64 / self.seconds.max(1e-9);
        if args.json {
            let summary = serde_json::json!({
                "rows": self.rows,
                "seconds": self.seconds,
                "rows_per_second": rate,
                "threads": self.threads,
                "pipeline_seconds": self.pipeline_seconds,
                "pipeline": self.identity,
                "output": self.output,
            });
            println!("{summary}");
        } else if !args.quiet {
            eprintln!(
                "scored {} rows in {:.2} s ({}, {} threads) into {}",
                self.rows,
                self.seconds,
                per_second(rate),
                self.threads,
                self.output
            );
        }
    }
}

/// One scored batch on its way to the writer: its place in the input, or the error that ends
/// the run.
type Scored = (u64, Result<Encoded, ScoreError>);

/// The shared reader, with the number of the next batch and of its first row.
struct Reader {
    source: Source,
    next_batch: u64,
    next_row: u64,
}

pub fn run(plan: &Plan, open: Opener) -> Result<Summary, ScoreError> {
    let spec = plan.spec;
    let select = |schema: &Schema| select(plan, schema);
    let csv_kind = |name: &str| csv_kind(spec, name);
    let source = Source::open(plan.input, plan.input_format, plan.batch_rows, &select, &csv_kind)?;
    let schema = source.schema();
    let inputs = InputColumns::new(spec, &schema, plan.input)?;
    let metadata = metadata(plan);
    let layout = OutputLayout::new(spec, &schema, plan.keys, metadata.iter().cloned().collect())?;
    let (mut sink, encoder) =
        Sink::create(plan.output, plan.output_format, layout.schema(), &metadata, plan.compression)?;
    let mut progress = Progress::new(source.total_rows(), plan.quiet);
    let reader = Mutex::new(Reader { source, next_batch: 0, next_row: 0 });
    let stop = AtomicBool::new(false);
    let pipeline_nanos = AtomicU64::new(0);
    let config =
        ServerConfig::try_parse_from(["score", "--device", "cpu"]).map_err(|e| ScoreError::Setup(e.to_string()))?;

    let (sender, receiver) = sync_channel::<Scored>(plan.threads * 2);
    let written = std::thread::scope(|scope| -> Result<u64, ScoreError> {
        for _ in 0..plan.threads {
            let sender = sender.clone();
            let shared =
                Shared { reader: &reader, stop: &stop, pipeline_nanos: &pipeline_nanos, open: &open, config: &config };
            let output = Output { inputs: &inputs, layout: &layout, encoder: &encoder, path: plan.output };
            let role = plan.role;
            let spawned = std::thread::Builder::new().stack_size(NATIVE_STACK_BYTES).spawn_scoped(scope, move || {
                work(&shared, role, &output, &sender);
            });
            if let Err(e) = spawned {
                stop.store(true, Ordering::Relaxed);
                return Err(ScoreError::Setup(format!("cannot start a worker thread: {e}")));
            }
        }
        drop(sender);
        let mut pending: BTreeMap<u64, Encoded> = BTreeMap::new();
        let (mut next, mut written) = (0u64, 0u64);
        for (index, scored) in receiver.iter() {
            let batch = match scored {
                Ok(batch) => batch,
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            };
            pending.insert(index, batch);
            while let Some(batch) = pending.remove(&next) {
                let rows = batch.rows() as u64;
                if let Err(e) = sink.write(batch) {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                written += rows;
                next += 1;
                progress.update(written);
            }
        }
        Ok(written)
    });
    progress.finish();
    let written = written?;
    sink.finish()?;
    Ok(Summary {
        rows: written,
        seconds: progress.elapsed().as_secs_f64(),
        threads: plan.threads,
        pipeline_seconds: pipeline_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        identity: spec.identity,
        output: plan.output.display().to_string(),
    })
}

/// What the workers share.
struct Shared<'a> {
    reader: &'a Mutex<Reader>,
    stop: &'a AtomicBool,
    pipeline_nanos: &'a AtomicU64,
    open: &'a Opener,
    config: &'a ServerConfig,
}

/// How a worker turns input rows into output.
struct Output<'a> {
    inputs: &'a InputColumns,
    layout: &'a OutputLayout,
    encoder: &'a Encoder,
    path: &'a Path,
}

/// One worker: loads the pipeline, then scores batches until the input ends or the run stops.
fn work(shared: &Shared, role: Role, output: &Output, sender: &SyncSender<Scored>) {
    let Output { inputs, layout, encoder, path: output_path } = *output;
    let Shared { reader, stop, pipeline_nanos, open, config } = *shared;
    let models = match open(config) {
        Ok(models) => models,
        Err(e) => {
            let _ = sender.send((0, Err(ScoreError::Setup(format!("loading the pipeline: {e}")))));
            return;
        }
    };
    let Some(scorer) = models.get(role) else {
        let _ = sender.send((0, Err(ScoreError::Setup("this binary has no challenger".into()))));
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let (index, first_row, record) = {
            let Ok(mut reader) = reader.lock() else { return };
            match reader.source.next_batch() {
                None => return,
                Some(Err(e)) => {
                    let index = reader.next_batch;
                    let _ = sender.send((index, Err(e)));
                    return;
                }
                Some(Ok(record)) => {
                    let place = (reader.next_batch, reader.next_row, record);
                    reader.next_batch += 1;
                    reader.next_row += place.2.num_rows() as u64;
                    place
                }
            }
        };
        let scored = score_record(inputs, layout, scorer, &record, first_row).and_then(|(out, in_pipeline)| {
            pipeline_nanos.fetch_add(in_pipeline.as_nanos() as u64, Ordering::Relaxed);
            encoder.encode(out).map_err(|reason| ScoreError::Write { path: output_path.to_path_buf(), reason })
        });
        let failed = scored.is_err();
        if sender.send((index, scored)).is_err() || failed {
            return;
        }
    }
}

/// The columns to read: every column, or the `--key` ones and the pipeline's inputs. Checks
/// that the inputs are there first, so that the error lists every column of the file.
fn select(plan: &Plan, schema: &Schema) -> Result<Vec<usize>, ScoreError> {
    InputColumns::new(plan.spec, schema, plan.input)?;
    if plan.keys.is_empty() {
        return Ok((0..schema.fields().len()).collect());
    }
    let names = plan.keys.iter().map(String::as_str).chain(plan.spec.inputs.iter().map(|i| i.name));
    let mut wanted = Vec::new();
    for name in names {
        let index = schema.index_of(name).map_err(|_| ScoreError::UnknownKey {
            column: name.to_string(),
            columns: super::columns::column_names(schema),
        })?;
        wanted.push(index);
    }
    wanted.sort_unstable();
    wanted.dedup();
    Ok(wanted)
}

/// How a CSV column is parsed: as the pipeline's input of that name takes it.
fn csv_kind(spec: &PipelineSpec, name: &str) -> CsvKind {
    match spec.inputs.iter().find(|i| i.name == name).map(|i| i.kind) {
        Some(InputKind::F32 | InputKind::F64 | InputKind::I64) => CsvKind::Number,
        Some(InputKind::Bool) => CsvKind::Bool,
        Some(InputKind::Str) | None => CsvKind::Text,
    }
}

/// What the output file says about how it was made.
fn metadata(plan: &Plan) -> Vec<(String, String)> {
    let mut metadata = super::outputs::metadata(plan.spec, plan.role.as_str());
    metadata.push(("pipec.input".into(), plan.input.display().to_string()));
    metadata
}

/// Scores one record batch of the input, whose first row is `first_row` of the whole input:
/// converts it, runs the pipeline and lays out the output rows. Also gives the time spent in
/// the pipeline itself.
pub fn score_record(
    inputs: &InputColumns,
    layout: &OutputLayout,
    scorer: &dyn Scorer,
    record: &RecordBatch,
    first_row: u64,
) -> Result<(RecordBatch, Duration), ScoreError> {
    let batch = inputs.batch(record, first_row)?;
    let end = first_row + record.num_rows() as u64;
    let started = Instant::now();
    let (_, columns) = scorer.score(&batch);
    let in_pipeline = started.elapsed();
    let columns = columns.map_err(|reason| ScoreError::Pipeline { first: first_row, end, reason })?;
    let out = layout.record_batch(record, columns).map_err(|reason| ScoreError::Pipeline {
        first: first_row,
        end,
        reason,
    })?;
    Ok((out, in_pipeline))
}
