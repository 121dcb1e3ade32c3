mod common;

use common::*;
use pipec_audit::{AuditError, AuditLog, Durability, Values};

#[test]
fn records_round_trip_bit_for_bit_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (log, recovery) = open(dir.path());
    assert_eq!((recovery.segments, recovery.records, recovery.next_seq, recovery.truncated), (1, 0, 1, None));
    write(&log, 0, 3);
    log.close().unwrap();

    let (log, recovery) = open(dir.path());
    assert_eq!((recovery.records, recovery.next_seq, recovery.truncated), (3, 4, None));
    let mut overwritten = record(3);
    overwritten.seq = 999; // the writer assigns seqs
    log.submit_wait(vec![overwritten, record(4)]).unwrap();
    log.close().unwrap();

    let back = read_all(dir.path());
    assert_eq!(back.len(), 5);
    for (i, got) in back.iter().enumerate() {
        let mut want = record(i as u64);
        want.seq = i as u64 + 1;
        assert_same_bits(got, &want);
    }
    // The awkward values really are what the comparison claims.
    let Values::F32(score) = &back[0].outputs[0].values else { panic!("score is f32") };
    assert_eq!(score[0].to_bits(), (-0.0f32).to_bits());
    assert_eq!(score[2].to_bits(), 0x7fc0_1234);
    assert_eq!(score[3].to_bits(), 1);
    let Values::Str(country) = &back[0].inputs[1].values else { panic!("country is str") };
    assert_eq!(country[1], None);
}

#[test]
fn bit_comparison_sees_sign_of_zero_and_nan_payload() {
    let a = record(1);
    let mut b = record(1);
    if let Values::F32(v) = &mut b.outputs[0].values {
        v[0] = 0.0;
    }
    assert_ne!(bits(&a), bits(&b));
    let mut c = record(1);
    if let Values::F32(v) = &mut c.outputs[0].values {
        v[2] = f32::NAN;
    }
    assert_ne!(bits(&a), bits(&c));
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    let second = AuditLog::open(options(dir.path(), 1 << 20, Durability::Durable));
    assert!(matches!(second, Err(AuditError::Locked { .. })), "got {:?}", second.err());
    log.close().unwrap();
    let (log, _) = open(dir.path());
    log.close().unwrap();
}

#[test]
fn submissions_after_close_are_refused_through_on_done() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    let clone = log.clone();
    write(&log, 0, 1);
    log.close().unwrap();
    let refused = clone.submit_wait(vec![record(1)]);
    assert!(refused.is_err());
    clone.close().unwrap();
    assert_eq!(read_all(dir.path()).len(), 1);
}

#[test]
fn buffered_mode_acknowledges_without_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = AuditLog::open(options(dir.path(), 64 << 20, Durability::Buffered)).unwrap();
    write(&log, 0, 20);
    let stats = log.stats();
    assert_eq!((stats.records, stats.syncs, stats.failed_submissions), (20, 0, 0));
    // Acknowledged records are already visible to a reader, before close.
    assert_eq!(read_all(dir.path()).len(), 20);
    let watcher = log.clone();
    log.close().unwrap();
    assert_eq!(watcher.stats().syncs, 1);
}

#[test]
fn durable_mode_acknowledges_after_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    let (done, results) = std::sync::mpsc::channel();
    for i in 0..10 {
        let done = done.clone();
        let watcher = log.clone();
        log.submit(vec![record(i)], Some(Box::new(move |result| done.send((result, watcher.stats())).unwrap())));
    }
    for _ in 0..10 {
        let (result, stats) = results.recv().unwrap();
        result.unwrap();
        assert!(stats.syncs >= 1 && stats.records >= 1, "{stats:?}");
    }
    log.close().unwrap();
}

#[test]
fn a_file_that_is_not_a_segment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(pipec_audit::segment_file_name(1)), b"hello, world: not a log").unwrap();
    let opened = AuditLog::open(options(dir.path(), 1 << 20, Durability::Durable));
    assert!(matches!(opened, Err(AuditError::NotALog { .. })), "got {:?}", opened.err());
    let mut read = pipec_audit::read_records(dir.path(), Default::default()).unwrap();
    assert!(matches!(read.next(), Some(Err(AuditError::NotALog { .. }))));
    assert!(read.next().is_none());
}

#[test]
fn a_missing_folder_is_an_io_error_for_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = pipec_audit::read_records(&missing, Default::default()).err().expect("error");
    assert!(matches!(err, AuditError::Io { .. }));
    assert!(err.to_string().contains("nope"), "{err}");
}
