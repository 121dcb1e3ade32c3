mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

#[test]
fn concurrent_durable_submissions_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    let threads = 8;
    let per_thread = 25;
    let barrier = Arc::new(Barrier::new(threads));
    let (done, results) = std::sync::mpsc::channel();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            let barrier = barrier.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for k in 0..per_thread {
                    let done = done.clone();
                    let i = (t * per_thread + k) as u64;
                    log.submit(vec![record(i)], Some(Box::new(move |result| done.send(result).unwrap())));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    drop(done);
    let results: Vec<_> = results.iter().collect();
    assert_eq!(results.len(), threads * per_thread);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");

    let stats = log.stats();
    assert_eq!(stats.records, 200);
    assert_eq!(stats.submissions, 200);
    assert!(stats.syncs < 200, "{stats:?}: no group commit");
    assert!(stats.groups < 200 && stats.syncs == stats.groups, "{stats:?}");
    log.close().unwrap();

    let back = read_all(dir.path());
    assert_eq!(back.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>());
    let ids: BTreeSet<_> = back.iter().map(|r| r.request_id.clone()).collect();
    assert_eq!(ids, (0..200).map(|i| format!("req-{i}")).collect());
}
