//! An export read back gives the logged records bit for bit (NaN payloads, -0.0, missing
//! strings, vectors, failed checks), partitioned by day and model, whatever the shapes and
//! row groups; a failed export leaves nothing behind, and damaged files are named.

#[path = "../../audit/tests/common/mod.rs"]
mod common;

use common::{T0, assert_same_bits, record};
use pipec_audit::{AuditRecord, Filter, NamedValues, Values};
use pipec_audit_parquet::{ExportError, Exporter, is_export, read_export};
use std::path::{Path, PathBuf};

const DAY: u64 = 86_400 * 1_000_000_000;

fn export(records: &[AuditRecord], out: &Path) -> pipec_audit_parquet::ExportSummary {
    let mut exporter = Exporter::create(out).expect("create");
    for r in records {
        exporter.push(r.clone()).expect("push");
    }
    exporter.finish().expect("finish")
}

fn read_all(path: &Path, filter: Filter) -> Vec<AuditRecord> {
    let mut records: Vec<AuditRecord> = read_export(path, filter).expect("open").map(|r| r.expect("record")).collect();
    records.sort_by_key(|r| r.seq);
    records
}

/// Records over three days, both models, a build with another input midway, and one large
/// record, each with its seq set.
fn log() -> Vec<AuditRecord> {
    let mut records = Vec::new();
    for i in 0..40u64 {
        let mut r = record(i);
        r.seq = i + 1;
        r.time_unix_nanos = T0 + (i / 15) * DAY + i;
        if i >= 20 {
            r.inputs.push(NamedValues {
                name: "extra".into(),
                width: 3,
                values: Values::F32(vec![1.5, f32::NAN, -0.0, 2.0, 3.0, 4.0]),
            });
        }
        records.push(r);
    }
    // 70,000 rows: more than one row group, never split.
    let rows = 70_000u32;
    let mut big = record(40);
    big.seq = 41;
    big.time_unix_nanos = T0 + 2 * DAY + 41;
    big.rows = rows;
    big.inputs = vec![
        NamedValues {
            name: "amount".into(),
            width: 1,
            values: Values::F32((0..rows).map(|i| i as f32 * 0.5).collect()),
        },
        NamedValues {
            name: "country".into(),
            width: 1,
            values: Values::Str((0..rows).map(|i| (!i.is_multiple_of(3)).then(|| format!("c{i}"))).collect()),
        },
    ];
    big.outputs = vec![
        NamedValues {
            name: "score".into(),
            width: 2,
            values: Values::F32((0..2 * rows).map(|i| (i as f32).sqrt()).collect()),
        },
        NamedValues {
            name: "amount_ok".into(),
            width: 1,
            values: Values::Bool((0..rows).map(|i| !i.is_multiple_of(7)).collect()),
        },
    ];
    big.failed_checks = vec![pipec_audit::FailedCheck {
        check: "amount_ok".into(),
        rows: (0..rows).filter(|i| i.is_multiple_of(7)).collect(),
    }];
    records.push(big);
    records
}

fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join(name);
    (dir, out)
}

#[test]
fn an_export_reads_back_bit_for_bit_partitioned_by_day_and_model() {
    let (_dir, out) = scratch("export");
    let records = log();
    let summary = export(&records, &out);
    assert_eq!(summary.records, 41);
    assert_eq!(summary.rows, 40 * 2 + 70_000);
    let mut files: Vec<String> = summary.files.iter().map(|f| f.display().to_string()).collect();
    files.sort();
    // Day 2 (records 15..29) changes shape at record 20: a second part for each model; the
    // large record on day 3 has the first shape again: a second champion part.
    assert_eq!(
        files,
        [
            "day=2023-11-14/model=challenger/part-00000.parquet",
            "day=2023-11-14/model=champion/part-00000.parquet",
            "day=2023-11-15/model=challenger/part-00000.parquet",
            "day=2023-11-15/model=challenger/part-00001.parquet",
            "day=2023-11-15/model=champion/part-00000.parquet",
            "day=2023-11-15/model=champion/part-00001.parquet",
            "day=2023-11-16/model=challenger/part-00000.parquet",
            "day=2023-11-16/model=champion/part-00000.parquet",
            "day=2023-11-16/model=champion/part-00001.parquet",
        ]
    );
    assert!(is_export(&out));
    let back = read_all(&out, Filter::default());
    assert_eq!(back.len(), records.len());
    for (a, b) in records.iter().zip(&back) {
        assert_same_bits(a, b);
    }
    let champion = read_all(&out, Filter { model: Some("champion".into()), ..Filter::default() });
    assert_eq!(champion.len(), records.iter().filter(|r| r.model == "champion").count());
    assert!(champion.iter().all(|r| r.model == "champion"));
    // One file on its own reads too.
    let one = out.join("day=2023-11-16/model=champion/part-00001.parquet");
    assert!(is_export(&one));
    assert!(read_all(&one, Filter::default()).iter().any(|r| r.rows == 70_000));
}

#[test]
fn an_export_is_never_written_over_and_a_failed_one_leaves_nothing() {
    let (dir, out) = scratch("export");
    std::fs::create_dir(&out).expect("mkdir");
    assert!(matches!(Exporter::create(&out), Err(ExportError::OutputExists { .. })));

    let failing = dir.path().join("failing");
    let mut exporter = Exporter::create(&failing).expect("create");
    let mut bad = record(1);
    bad.seq = u64::MAX;
    exporter.push(record(0)).expect("push");
    exporter.push(bad).expect("buffered");
    let error = exporter.finish().expect_err("seq over 2^63 cannot be written");
    assert!(error.to_string().contains("over 2^63"), "{error}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("export")], "no partial export is left");
}

#[test]
fn damaged_and_foreign_files_are_named() {
    let (dir, out) = scratch("export");
    export(&log()[..4], &out);
    let file = out.join("day=2023-11-14/model=champion/part-00000.parquet");
    let bytes = std::fs::read(&file).expect("read");
    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let error =
        read_export(&truncated, Filter::default()).expect("opens").next().expect("an item").expect_err("truncated");
    assert!(error.to_string().contains("truncated.parquet"), "{error}");

    let text = dir.path().join("notes.parquet");
    std::fs::write(&text, "not parquet").expect("write");
    let error =
        read_export(&text, Filter::default()).expect("opens").next().expect("an item").expect_err("not parquet");
    assert!(error.to_string().contains("notes.parquet"), "{error}");

    let missing = read_export(&dir.path().join("absent.parquet"), Filter::default());
    assert!(matches!(missing, Err(ExportError::Io { .. })));
    assert!(!is_export(dir.path().join("absent").as_path()));
}
