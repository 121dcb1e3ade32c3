mod common;

use common::*;
use pipec_audit::{AuditLog, Durability};

#[test]
fn small_segments_rotate_and_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let max = 1000;
    let (log, _) = AuditLog::open(options(dir.path(), max, Durability::Durable)).unwrap();
    // Mixed submission sizes, so some submissions span a rotation.
    let mut i = 0;
    for size in [1, 5, 2, 7, 1, 1, 9, 4, 10, 10] {
        log.submit_wait((i..i + size).map(record).collect()).unwrap();
        i += size;
    }
    let stats = log.stats();
    log.close().unwrap();
    assert_eq!(i, 50);

    let all = segments(dir.path());
    assert!(all.len() >= 5, "{} segments", all.len());
    assert_eq!(stats.rotations as usize, all.len() - 1);
    let mut expected_first = 1;
    for path in &all {
        let len = std::fs::metadata(path).unwrap().len();
        assert!(len <= max, "{} is {len} bytes", path.display());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, pipec_audit::segment_file_name(expected_first));
        expected_first += frames(path).len() as u64;
    }
    let back = read_all(dir.path());
    assert_eq!(back.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=50).collect::<Vec<_>>());
    for (k, got) in back.iter().enumerate() {
        let mut want = record(k as u64);
        want.seq = k as u64 + 1;
        assert_same_bits(got, &want);
    }

    let (log, recovery) = open(dir.path());
    assert_eq!((recovery.segments, recovery.records, recovery.next_seq), (all.len(), 50, 51));
    log.close().unwrap();
}

#[test]
fn a_record_larger_than_a_segment_gets_a_segment_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = AuditLog::open(options(dir.path(), 100, Durability::Buffered)).unwrap();
    write(&log, 0, 3);
    log.close().unwrap();
    let all = segments(dir.path());
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|p| frames(p).len() == 1));
    assert_eq!(read_all(dir.path()).len(), 3);
}

#[test]
fn reopening_a_full_segment_rotates_on_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = AuditLog::open(options(dir.path(), 100, Durability::Durable)).unwrap();
    write(&log, 0, 1);
    log.close().unwrap();
    let (log, recovery) = AuditLog::open(options(dir.path(), 100, Durability::Durable)).unwrap();
    assert_eq!(recovery.next_seq, 2);
    write(&log, 1, 2);
    log.close().unwrap();
    let all = segments(dir.path());
    assert_eq!(all.len(), 2);
    assert!(all[1].ends_with(pipec_audit::segment_file_name(2)));
}
