//! Helpers shared by the audit log tests.
#![allow(dead_code)]

use pipec_audit::{
    AuditLog, AuditRecord, BatchPosition, Durability, FailedCheck, Filter, LogOptions, NamedValues, Recovery, Values,
    read_records,
};
use std::path::{Path, PathBuf};

pub const T0: u64 = 1_700_000_000_000_000_000;

/// A record with awkward values: NaN with a payload, -0.0, the smallest subnormal, missing
/// strings, a multi-column output.
pub fn record(i: u64) -> AuditRecord {
    AuditRecord {
        seq: 0,
        request_id: format!("req-{i}"),
        time_unix_nanos: T0 + i * 1000,
        model: if i.is_multiple_of(2) { "champion" } else { "challenger" }.into(),
        pipeline: "9f2c4e1a".into(),
        answered: i.is_multiple_of(2),
        route: "native".into(),
        batch: BatchPosition { id: i / 4, offset: (i % 4) as u32 * 2, rows: 8 },
        rows: 2,
        inputs: vec![
            NamedValues { name: "amount".into(), width: 1, values: Values::F32(vec![i as f32 + 0.1, f32::NAN]) },
            NamedValues { name: "country".into(), width: 1, values: Values::Str(vec![Some(format!("FR{i}")), None]) },
        ],
        outputs: vec![
            NamedValues {
                name: "score".into(),
                width: 2,
                values: Values::F32(vec![-0.0, 0.0, f32::from_bits(0x7fc0_1234), f32::from_bits(1)]),
            },
            NamedValues { name: "amount_ok".into(), width: 1, values: Values::Bool(vec![true, false]) },
        ],
        failed_checks: vec![FailedCheck { check: "amount_ok".into(), rows: vec![1] }],
    }
}

/// A record with its f32 values taken out as bits, so that `==` compares them exactly.
pub fn bits(record: &AuditRecord) -> (AuditRecord, Vec<Vec<u32>>) {
    let mut stripped = record.clone();
    let mut all = Vec::new();
    for column in stripped.inputs.iter_mut().chain(stripped.outputs.iter_mut()) {
        if let Values::F32(values) = &mut column.values {
            all.push(values.iter().map(|v| v.to_bits()).collect());
            values.clear();
        }
    }
    (stripped, all)
}

/// Asserts two records are equal bit for bit.
pub fn assert_same_bits(a: &AuditRecord, b: &AuditRecord) {
    assert_eq!(bits(a), bits(b));
}

pub fn options(dir: &Path, max_segment_bytes: u64, durability: Durability) -> LogOptions {
    LogOptions { dir: dir.to_path_buf(), max_segment_bytes, durability }
}

pub fn open(dir: &Path) -> (AuditLog, Recovery) {
    AuditLog::open(options(dir, 64 << 20, Durability::Durable)).expect("open")
}

/// Writes records `from..to` (request ids `req-{i}`), one submission each, waiting for each.
pub fn write(log: &AuditLog, from: u64, to: u64) {
    for i in from..to {
        log.submit_wait(vec![record(i)]).expect("append");
    }
}

pub fn read_all(dir: &Path) -> Vec<AuditRecord> {
    read_records(dir, Filter::default()).expect("read").map(|r| r.expect("record")).collect()
}

pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    paths.sort();
    paths
}

/// Start offsets of the frames of a segment and their total lengths (header included).
pub fn frames(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).expect("read segment");
    let mut frames = Vec::new();
    let mut at = 12usize;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        frames.push((at as u64, 8 + len as u64));
        at += 8 + len;
    }
    frames
}

pub fn chop(path: &Path, bytes: u64) {
    let file = std::fs::OpenOptions::new().write(true).open(path).expect("open segment");
    let len = file.metadata().expect("metadata").len();
    file.set_len(len - bytes).expect("chop");
}

pub fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).expect("read segment");
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).expect("write segment");
}
