//! `pipec log --format parquet`: a shadow-mode server's audit log (champion and challenger,
//! missing ages, failed checks, merged batches) exported as Parquet reads back in pandas equal
//! to `pipec log`'s JSON, value for value and f32 bit for bit; `pipec log` and `pipec replay`
//! read the export as they read the log, and replay catches a changed bit in it.

mod support;

use pipec_tests::repo_root;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{Server, build_server, post, python_venv, target_dir};

fn pipe(name: &str) -> PathBuf {
    repo_root().join("examples/titanic").join(name)
}

fn python() -> PathBuf {
    python_venv("venv-audit-export", &["pyarrow==26.0.1", "pandas==2.3.3"])
}

fn pipec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipec")).args(args).output().expect("pipec runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Requests of 1 to 40 rows of the monitor's reference rows (ages missing for some), every
/// fifth with a `sibsp` of 12 that fails `sibsp_ok`; four clients at once, so that batches
/// are merged.
fn send_requests(server: &Server) {
    let csv = std::fs::read_to_string(pipe("monitor_reference.csv")).expect("monitor_reference.csv");
    let rows: Vec<Vec<String>> = csv.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    let url = server.url("/v2/models/titanic_ops/infer");
    std::thread::scope(|scope| {
        for client in 0..4usize {
            let (rows, url) = (&rows, &url);
            scope.spawn(move || {
                for request in 0..10usize {
                    let n = 1 + (client * 10 + request) % 40;
                    let start = (client * 97 + request * 13) % (rows.len() - n);
                    let chunk = &rows[start..start + n];
                    let age: Vec<Value> =
                        chunk.iter().map(|r| r[0].parse::<f64>().map_or(Value::Null, Value::from)).collect();
                    let sibsp: Vec<f64> = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, r)| if (start + i) % 5 == 0 { 12.0 } else { r[1].parse().expect("sibsp") })
                        .collect();
                    let number =
                        |k: usize| chunk.iter().map(|r| r[k].parse::<f64>().expect("number")).collect::<Vec<_>>();
                    let string = |k: usize| chunk.iter().map(|r| r[k].clone()).collect::<Vec<_>>();
                    let body = json!({
                        "id": format!("c{client}-r{request}"),
                        "inputs": [
                            { "name": "age", "shape": [n], "datatype": "FP32", "data": age },
                            { "name": "sibsp", "shape": [n], "datatype": "FP32", "data": sibsp },
                            { "name": "parch", "shape": [n], "datatype": "FP32", "data": number(2) },
                            { "name": "sex", "shape": [n], "datatype": "BYTES", "data": string(3) },
                            { "name": "pclass", "shape": [n], "datatype": "BYTES", "data": string(4) },
                        ],
                    });
                    let (status, _, answer) = post(url, &serde_json::to_vec(&body).expect("request"), &[]);
                    assert_eq!(status, 200, "{}", text(&answer));
                }
            });
        }
    });
}

fn replay(log: &Path, binary: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args =
        vec!["replay", log.to_str().expect("utf-8"), "--build", binary.to_str().expect("utf-8"), "--", "--json"];
    args.extend_from_slice(extra);
    let out = pipec(&args);
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("replay printed no JSON: {}\n{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code(), summary)
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    let mut records: Vec<Value> = text(bytes).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    records.sort_by_key(|r| r["seq"].as_u64().expect("seq"));
    records
}

#[test]
fn a_parquet_export_equals_the_json_log_and_replays_bit_for_bit() {
    let challenger = pipe("titanic_ops_challenger.pipe");
    let binary = build_server(
        &pipe("titanic_ops.pipe"),
        "titanic-ops-batch",
        &["--batch", "--challenger", challenger.to_str().expect("utf-8")],
    );
    let dir = target_dir().join("pipec-e2e").join("audit-export");
    let _ = std::fs::remove_dir_all(&dir);
    let log = dir.join("log");
    std::fs::create_dir_all(&log).expect("log folder");
    let mut server = Server::start(
        &binary,
        &["--challenger-mode", "shadow", "--audit-dir", log.to_str().expect("utf-8"), "--audit-durability", "durable"],
    );
    send_requests(&server);
    assert!(server.terminate().success());

    let logged = pipec(&["log", log.to_str().expect("utf-8")]);
    assert!(logged.status.success(), "{}", text(&logged.stderr));
    let jsonl = dir.join("log.jsonl");
    std::fs::write(&jsonl, &logged.stdout).expect("write the JSON lines");

    let export = dir.join("export");
    let out =
        pipec(&["log", log.to_str().expect("utf-8"), "--format", "parquet", "-o", export.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("wrote 80 records"), "{}", text(&out.stderr));

    // pandas reads the export as the JSON says, bit for bit.
    let compared = Command::new(python())
        .arg(repo_root().join("tests/clients/audit_export.py"))
        .args(["compare", export.to_str().expect("utf-8"), jsonl.to_str().expect("utf-8")])
        .output()
        .expect("python runs");
    assert!(compared.status.success(), "audit_export.py: {}", text(&compared.stderr));
    let report: Value = serde_json::from_slice(&compared.stdout).expect("one JSON object");
    assert_eq!(report["mismatches"], json!([]), "{report}");
    assert_eq!(report["records"], 80, "{report}");
    assert_eq!(report["rows"], report["exported_rows"], "{report}");
    assert_eq!(report["models"], json!(["challenger", "champion"]), "{report}");
    assert_eq!(report["footer"]["pipec.audit_export"], "1", "{report}");
    let records = json_lines(&logged.stdout);
    assert!(records.iter().any(|r| !r["failed_checks"].as_array().expect("list").is_empty()), "some rows fail a check");
    assert!(
        records.iter().any(|r| r["inputs"]["age"].as_array().expect("ages").contains(&Value::Null)),
        "some ages are missing"
    );

    // `pipec log` reads the export back to the same JSON.
    let back = pipec(&["log", export.to_str().expect("utf-8")]);
    assert!(back.status.success(), "{}", text(&back.stderr));
    assert_eq!(json_lines(&back.stdout), records);

    // Replay from the export: both models reproduced bit for bit.
    for model in ["champion", "challenger"] {
        let (code, summary) = replay(&export, &binary, &["--model", model]);
        assert_eq!(code, Some(0), "{model}: {summary}");
        assert_eq!(summary["records"], 40, "{model}: {summary}");
        assert_eq!(summary["identical"], true, "{summary}");
    }

    // One changed bit in the export is found and named.
    let tampered = dir.join("tampered");
    let changed = Command::new(python())
        .arg(repo_root().join("tests/clients/audit_export.py"))
        .args(["tamper", export.to_str().expect("utf-8"), tampered.to_str().expect("utf-8")])
        .output()
        .expect("python runs");
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    let changed: Value = serde_json::from_slice(&changed.stdout).expect("one JSON object");
    let (code, summary) = replay(&tampered, &binary, &[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["differing_records"], 1, "{summary}");
    assert_eq!(summary["first_difference"]["output"], "p_survived", "{summary}");
    assert_eq!(summary["first_difference"]["seq"], changed["seq"], "{summary}");

    // An export is never written over; parquet needs a folder.
    let again =
        pipec(&["log", log.to_str().expect("utf-8"), "--format", "parquet", "-o", export.to_str().expect("utf-8")]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));
    let no_output = pipec(&["log", log.to_str().expect("utf-8"), "--format", "parquet"]);
    assert!(!no_output.status.success());
    assert!(text(&no_output.stderr).contains("--output"), "{}", text(&no_output.stderr));
}
