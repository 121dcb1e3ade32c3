mod common;

use common::*;
use pipec_audit::{Filter, read_records};

fn ids(dir: &std::path::Path, filter: Filter) -> Vec<String> {
    read_records(dir, filter).unwrap().map(|r| r.unwrap().request_id).collect()
}

#[test]
fn the_reader_filters_by_time_request_id_and_model() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = pipec_audit::AuditLog::open(options(dir.path(), 600, pipec_audit::Durability::Buffered)).unwrap();
    write(&log, 0, 10); // record(i) is scored at T0 + 1000 i; even i: champion
    log.close().unwrap();
    assert!(segments(dir.path()).len() > 1);

    let names = |v: &[u64]| v.iter().map(|i| format!("req-{i}")).collect::<Vec<_>>();
    let time = Filter { since_unix_nanos: Some(T0 + 3000), until_unix_nanos: Some(T0 + 7000), ..Filter::default() };
    assert_eq!(ids(dir.path(), time), names(&[3, 4, 5, 6]));
    let since = Filter { since_unix_nanos: Some(T0 + 8500), ..Filter::default() };
    assert_eq!(ids(dir.path(), since), names(&[9]));
    let id = Filter { request_id: Some("req-7".into()), ..Filter::default() };
    assert_eq!(ids(dir.path(), id), names(&[7]));
    let model = Filter { model: Some("challenger".into()), ..Filter::default() };
    assert_eq!(ids(dir.path(), model), names(&[1, 3, 5, 7, 9]));
    let both = Filter { model: Some("champion".into()), until_unix_nanos: Some(T0 + 4000), ..Filter::default() };
    assert_eq!(ids(dir.path(), both), names(&[0, 2]));
    let none = Filter { request_id: Some("req-7".into()), model: Some("champion".into()), ..Filter::default() };
    assert!(ids(dir.path(), none).is_empty());
}

#[test]
fn an_empty_folder_reads_as_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut reader = read_records(dir.path(), Filter::default()).unwrap();
    assert!(reader.next().is_none());
    assert!(reader.torn_tail().is_none());
}
