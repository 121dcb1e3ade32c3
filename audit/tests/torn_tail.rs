mod common;

use common::*;
use pipec_audit::{AuditError, Durability, Filter, read_records};
use std::path::Path;

const N: u64 = 5;

/// Writes N records (seqs 1..=N) into a fresh log and returns the segment and its last frame.
fn log_of_n(dir: &Path) -> (std::path::PathBuf, (u64, u64)) {
    let (log, _) = open(dir);
    write(&log, 0, N);
    log.close().unwrap();
    let segment = segments(dir).pop().unwrap();
    let frames = frames(&segment);
    assert_eq!(frames.len() as u64, N);
    (segment, *frames.last().unwrap())
}

/// After damage to the last record: the reader stops quietly before it, open cuts it off,
/// appending resumes with seq N and the file is valid again.
fn assert_cut_and_resumed(dir: &Path, segment: &Path, last_start: u64, removed: u64, reason: &str) {
    let mut reader = read_records(dir, Filter::default()).unwrap();
    assert_eq!(reader.by_ref().map(|r| r.unwrap().seq).collect::<Vec<_>>(), (1..N).collect::<Vec<_>>());
    let tail = reader.torn_tail().expect("reader reports the torn tail");
    assert_eq!((tail.segment.as_path(), tail.offset, tail.bytes_removed), (segment, last_start, removed));

    let (log, recovery) = open(dir);
    let cut = recovery.truncated.clone().expect("truncation reported");
    assert_eq!((cut.segment.as_path(), cut.offset, cut.bytes_removed), (segment, last_start, removed));
    assert!(cut.reason.contains(reason), "reason {:?} lacks {reason:?}", cut.reason);
    assert_eq!((recovery.records, recovery.next_seq), (N - 1, N));
    assert_eq!(std::fs::metadata(segment).unwrap().len(), last_start);
    assert_eq!(read_all(dir).len() as u64, N - 1);

    log.submit_wait(vec![record(100)]).unwrap();
    log.close().unwrap();
    let back = read_all(dir);
    assert_eq!(back.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=N).collect::<Vec<_>>());
    let mut want = record(100);
    want.seq = N;
    assert_same_bits(back.last().unwrap(), &want);
    let mut reader = read_records(dir, Filter::default()).unwrap();
    assert_eq!(reader.by_ref().count() as u64, N);
    assert_eq!(reader.torn_tail(), None);
    let (_, recovery) = open(dir);
    assert_eq!((recovery.truncated, recovery.next_seq), (None, N + 1));
}

#[test]
fn a_torn_last_record_is_cut_off_and_logging_resumes() {
    // Bytes chopped off the end: inside the payload (1, half, all of it: only the frame header
    // is left)
    // and inside the frame header (payload + 1, payload + 7).
    let probe = tempfile::tempdir().unwrap();
    let (_, (_, frame_len)) = log_of_n(probe.path());
    let payload = frame_len - 8;
    let expected = [
        (1, "payload cut short"),
        (payload / 2, "payload cut short"),
        (payload, "payload cut short (0 of"),
        (payload + 1, "frame header cut short"),
        (payload + 7, "frame header cut short"),
    ];
    for (k, reason) in expected {
        let dir = tempfile::tempdir().unwrap();
        let (segment, (last_start, frame_len)) = log_of_n(dir.path());
        chop(&segment, k);
        assert_cut_and_resumed(dir.path(), &segment, last_start, frame_len - k, reason);
    }
}

#[test]
fn chopping_a_whole_record_leaves_a_clean_log() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, (_, frame_len)) = log_of_n(dir.path());
    chop(&segment, frame_len);
    let (log, recovery) = open(dir.path());
    assert_eq!((recovery.truncated, recovery.next_seq), (None, N));
    log.close().unwrap();
}

#[test]
fn a_flipped_byte_in_the_last_record_fails_its_checksum_and_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, (last_start, frame_len)) = log_of_n(dir.path());
    flip_byte(&segment, last_start + 8 + (frame_len - 8) / 2);
    assert_cut_and_resumed(dir.path(), &segment, last_start, frame_len, "checksum mismatch");
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, (last_start, frame_len)) = log_of_n(dir.path());
    // A zero-filled tail, as a machine crash can leave: an empty frame.
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(&[0u8; 40]);
    std::fs::write(&segment, bytes).unwrap();
    let (log, recovery) = open(dir.path());
    let cut = recovery.truncated.expect("truncation");
    assert_eq!((cut.offset, cut.bytes_removed), (last_start + frame_len, 40));
    assert!(cut.reason.contains("empty payload"), "{}", cut.reason);
    assert_eq!(recovery.next_seq, N + 1);
    log.close().unwrap();
    assert_eq!(read_all(dir.path()).len() as u64, N);
}

#[test]
fn a_flipped_byte_in_an_earlier_segment_is_a_corrupt_error() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = pipec_audit::AuditLog::open(options(dir.path(), 500, Durability::Durable)).unwrap();
    write(&log, 0, 12);
    log.close().unwrap();
    let all = segments(dir.path());
    assert!(all.len() >= 3, "{} segments", all.len());
    let first = &all[0];
    let frames = frames(first);
    assert!(frames.len() >= 2);
    let (second_start, second_len) = frames[1];
    flip_byte(first, second_start + 8 + second_len / 3);

    let mut reader = read_records(dir.path(), Filter::default()).unwrap();
    assert_eq!(reader.next().unwrap().unwrap().seq, 1);
    match reader.next() {
        Some(Err(AuditError::Corrupt { segment, offset, reason })) => {
            assert_eq!((segment.as_path(), offset), (first.as_path(), second_start));
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected a corrupt record, got {other:?}"),
    }
    assert!(reader.next().is_none());
    // The message names the file and the offset.
    let message = read_records(dir.path(), Filter::default()).unwrap().find_map(|r| r.err()).unwrap().to_string();
    assert!(message.contains(&first.display().to_string()) && message.contains(&second_start.to_string()), "{message}");
    // Opening for writing only looks at the last segment: it still works, and seqs go on.
    let (log, recovery) = open(dir.path());
    assert_eq!((recovery.truncated, recovery.next_seq), (None, 13));
    log.close().unwrap();
}

#[test]
fn a_segment_torn_while_being_created_gets_its_header_back() {
    let dir = tempfile::tempdir().unwrap();
    log_of_n(dir.path());
    // A crash right after creating the next segment: only 5 header bytes made it.
    let next = dir.path().join(pipec_audit::segment_file_name(N + 1));
    std::fs::write(&next, b"PIPEC").unwrap();
    let mut reader = read_records(dir.path(), Filter::default()).unwrap();
    assert_eq!(reader.by_ref().count() as u64, N);
    assert_eq!(reader.torn_tail().map(|t| (t.offset, t.bytes_removed)), Some((0, 5)));

    let (log, recovery) = open(dir.path());
    let cut = recovery.truncated.clone().expect("repair reported");
    assert_eq!((cut.segment, cut.offset), (next.clone(), 0));
    assert_eq!((recovery.segments, recovery.records, recovery.next_seq), (2, N, N + 1));
    log.submit_wait(vec![record(7)]).unwrap();
    log.close().unwrap();
    assert_eq!(frames(&next).len(), 1);
    assert_eq!(read_all(dir.path()).iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=N + 1).collect::<Vec<_>>());
}
