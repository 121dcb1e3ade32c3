//! A writer process killed with SIGKILL under concurrent load loses no acknowledged record,
//! and the log opens again and goes on. The test binary runs itself as the writer.

mod common;

use common::*;
use pipec_audit::{AuditLog, Durability};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CHILD_DIR: &str = "PIPEC_AUDIT_CRASH_DIR";
const CHILD_ROUND: &str = "PIPEC_AUDIT_CRASH_ROUND";
const TEST_NAME: &str = "acknowledged_records_survive_sigkill";

#[test]
fn acknowledged_records_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return write_until_killed(&dir, std::env::var(CHILD_ROUND).unwrap_or_default());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = BTreeSet::new();
    let mut torn_tails = 0;
    for round in 0..4 {
        let mut child = KillOnDrop(
            Command::new(std::env::current_exe().unwrap())
                .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_ROUND, round.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut this_round = 0;
        while this_round < 300 {
            let line = lines.next().expect("the writer stopped early").unwrap();
            if let Some(id) = line.strip_prefix("ACK ") {
                acknowledged.insert(id.to_string());
                this_round += 1;
            }
        }
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        // Acknowledgements printed between the last read and the kill count too.
        for line in lines.map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("ACK ") {
                acknowledged.insert(id.to_string());
            }
        }

        let (log, recovery) = open(dir.path());
        torn_tails += usize::from(recovery.truncated.is_some());
        log.close().unwrap();
        let back = read_all(dir.path());
        let seqs: Vec<u64> = back.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=back.len() as u64).collect::<Vec<_>>(), "seqs run on without gaps");
        assert_eq!(recovery.next_seq, back.len() as u64 + 1);
        let logged: BTreeSet<String> = back.into_iter().map(|r| r.request_id).collect();
        let lost: Vec<_> = acknowledged.difference(&logged).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged but not logged: {lost:?}");
    }
    eprintln!("{} acknowledged records survived 4 kills; {torn_tails} torn tails were cut off", acknowledged.len());
}

/// Kills the writer if an assertion fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child: four threads submit records as fast as they are acknowledged, printing each
/// acknowledged request id, until the parent kills the process.
fn write_until_killed(dir: &str, round: String) {
    let options = options(std::path::Path::new(dir), 16 << 10, Durability::Durable);
    let (log, _) = AuditLog::open(options).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            let round = round.clone();
            std::thread::spawn(move || {
                for k in 0u64.. {
                    let mut r = record(k);
                    r.request_id = format!("r{round}-t{t}-{k}");
                    let id = r.request_id.clone();
                    let (done, wait) = std::sync::mpsc::channel();
                    log.submit(vec![r], Some(Box::new(move |result| done.send(result).unwrap())));
                    if wait.recv().unwrap().is_ok() {
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ACK {id}").unwrap();
                        out.flush().unwrap();
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
