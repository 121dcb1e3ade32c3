//! End to end, the production duties (docs/operations.md): build identity, checks, the audit
//! log through SIGKILL and a torn record, `pipec log`, `pipec replay`, drift, live accuracy,
//! and champion/challenger. The servers are built from examples/titanic/titanic_ops.pipe
//! (with titanic_ops_challenger.pipe as the challenger) and talked to over HTTP.

mod support;

use pipec_tests::{Reference, assert_close, repo_root};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use support::{Server, build_server, get, post, target_dir};

const MODEL: &str = "titanic_ops";

fn pipe(name: &str) -> PathBuf {
    repo_root().join("examples/titanic").join(name)
}

/// The champion with its challenger compiled in; `--challenger-mode off` makes it a plain
/// titanic_ops server.
fn ops_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let challenger = pipe("titanic_ops_challenger.pipe");
        // For the GPU: the replay test also runs burn's CPU route (`--native-max-rows 0`).
        build_server(
            &pipe("titanic_ops.pipe"),
            "titanic-ops-server",
            &["--device", "gpu", "--challenger", challenger.to_str().unwrap()],
        )
    })
}

/// The challenger alone: the same pipeline with another threshold, a changed build.
fn changed_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // Built after the champion, so the two builds do not race for the shared crate folder.
        let _ = ops_binary();
        build_server(&pipe("titanic_ops_challenger.pipe"), "titanic-ops-changed", &["--device", "gpu"])
    })
}

/// One binary build at a time: both write the `titanic_ops` crate under the target directory.
fn binaries() -> (&'static Path, &'static Path) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    (ops_binary(), changed_binary())
}

fn start(args: &[&str]) -> Server {
    Server::start(binaries().0, args)
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("pipec-e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn reference() -> Reference {
    Reference::load(&repo_root().join("examples/titanic/reference.json"))
}

/// Rows of the named inputs as request tensors.
struct Rows {
    age: Vec<Value>,
    sibsp: Vec<f64>,
    parch: Vec<f64>,
    sex: Vec<String>,
    pclass: Vec<String>,
}

impl Rows {
    fn len(&self) -> usize {
        self.sibsp.len()
    }

    fn request(&self, id: &str, range: std::ops::Range<usize>) -> Value {
        json!({
            "id": id,
            "inputs": [
                { "name": "age", "shape": [range.len()], "datatype": "FP32", "data": self.age[range.clone()] },
                { "name": "sibsp", "shape": [range.len()], "datatype": "FP32", "data": self.sibsp[range.clone()] },
                { "name": "parch", "shape": [range.len()], "datatype": "FP32", "data": self.parch[range.clone()] },
                { "name": "sex", "shape": [range.len()], "datatype": "BYTES", "data": self.sex[range.clone()] },
                { "name": "pclass", "shape": [range.len()], "datatype": "BYTES", "data": self.pclass[range] },
            ],
        })
    }

    fn reference() -> Rows {
        let r = reference();
        let column = |name: &str| r.inputs[name].as_array().unwrap().clone();
        let numbers = |name: &str| column(name).iter().map(|v| v.as_f64().unwrap()).collect();
        let strings = |name: &str| column(name).iter().map(|v| v.as_str().unwrap().to_string()).collect();
        Rows {
            age: column("age"),
            sibsp: numbers("sibsp"),
            parch: numbers("parch"),
            sex: strings("sex"),
            pclass: strings("pclass"),
        }
    }

    /// The training rows the drift baseline was computed from (monitor_reference.csv).
    fn training() -> Rows {
        let text = std::fs::read_to_string(pipe("monitor_reference.csv")).unwrap();
        let mut rows = Rows { age: vec![], sibsp: vec![], parch: vec![], sex: vec![], pclass: vec![] };
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            rows.age.push(cells[0].parse::<f64>().map_or(Value::Null, Value::from));
            rows.sibsp.push(cells[1].parse().unwrap());
            rows.parch.push(cells[2].parse().unwrap());
            rows.sex.push(cells[3].to_string());
            rows.pclass.push(cells[4].to_string());
        }
        rows
    }
}

fn infer(server: &Server, request: &Value) -> (u16, Value) {
    let (status, _, body) =
        post(&server.url(&format!("/v2/models/{MODEL}/infer")), &serde_json::to_vec(request).unwrap(), &[]);
    (status, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())))
}

fn output<'a>(response: &'a Value, name: &str) -> &'a Value {
    let outputs = response["outputs"].as_array().unwrap_or_else(|| panic!("no outputs in {response}"));
    outputs.iter().find(|o| o["name"] == name).unwrap_or_else(|| panic!("no output `{name}` in {response}"))
}

fn monitor(server: &Server) -> Value {
    let (status, report) = get(&server.url(&format!("/v2/models/{MODEL}/monitor")));
    assert_eq!(status, 200, "{report}");
    report
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn pipec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipec")).args(args).output().expect("pipec runs")
}

fn log_lines(dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["log", dir.to_str().unwrap()];
    args.extend(extra);
    let out = pipec(&args);
    assert!(out.status.success(), "pipec log failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn identity_and_checks_reach_metadata_responses_metrics_and_the_audit_log() {
    let dir = fresh_dir("checks");
    let mut server =
        start(&["--challenger-mode", "off", "--audit-dir", dir.to_str().unwrap(), "--audit-durability", "buffered"]);
    let (status, metadata) = get(&server.url(&format!("/v2/models/{MODEL}")));
    assert_eq!(status, 200);
    let identity = metadata["parameters"]["pipeline"].as_str().expect("identity in metadata").to_string();
    assert_eq!(identity.len(), 64, "a SHA-256 in hex: {identity}");
    let challenger = metadata["parameters"]["challenger_pipeline"].as_str().expect("challenger identity");
    assert_ne!(challenger, identity, "a changed pipeline has another identity");
    let names: Vec<&str> =
        metadata["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["p_survived", "survived", "failed_checks"], "checks and watched features stay internal");
    assert_eq!(metadata["outputs"][2]["parameters"]["checks"], json!(["sibsp_ok", "parch_ok", "age_ok"]), "{metadata}");
    assert_eq!(metadata["inputs"][0]["parameters"]["nullable"], true, "age accepts missing values: {metadata}");
    assert_eq!(metadata["inputs"][1]["parameters"]["nullable"], false, "{metadata}");

    // The reference rows pass every check and score as scikit-learn does.
    let rows = Rows::reference();
    let (status, response) = infer(&server, &rows.request("reference", 0..rows.len()));
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["id"], "reference");
    assert_eq!(response["parameters"]["pipeline"], identity.as_str());
    assert_eq!(response["parameters"]["model"], "champion");
    assert_eq!(response["parameters"]["failed_check_rows"], 0);
    let p: Vec<f64> =
        output(&response, "p_survived")["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_close("p_survived", &p, &reference().output("p_survived"), 1e-5);

    // Bad rows are still scored, and flagged.
    let bad = json!({
        "inputs": [
            { "name": "age", "shape": [3], "datatype": "FP32", "data": [150.0, null, 30.0] },
            { "name": "sibsp", "shape": [3], "datatype": "FP32", "data": [50.0, 1.0, 0.0] },
            { "name": "parch", "shape": [3], "datatype": "FP32", "data": [0.0, 0.0, -1.0] },
            { "name": "sex", "shape": [3], "datatype": "BYTES", "data": ["male", "female", "female"] },
            { "name": "pclass", "shape": [3], "datatype": "BYTES", "data": ["1st", "2nd", "3rd"] },
        ],
    });
    let (status, response) = infer(&server, &bad);
    assert_eq!(status, 200, "{response}");
    assert!(response["id"].as_str().is_some_and(|id| !id.is_empty()), "the server names requests without an id");
    assert_eq!(output(&response, "failed_checks")["data"], json!(["sibsp_ok,age_ok", "", "parch_ok"]));
    assert_eq!(response["parameters"]["failed_check_rows"], 2);
    assert_eq!(output(&response, "p_survived")["data"].as_array().unwrap().len(), 3);

    let (_, metrics) = get(&server.url("/metrics"));
    let metrics = metrics.as_str().unwrap().to_string();
    for (check, failed) in [("sibsp_ok", 1.0), ("parch_ok", 1.0), ("age_ok", 1.0)] {
        assert_eq!(
            metric(&metrics, &format!("pipec_check_failures_total{{check=\"{check}\"}}")),
            Some(failed),
            "{check}"
        );
    }
    assert_eq!(monitor(&server)["checks"]["age_ok"]["failed_rows"], 1);

    // The audit record of the bad rows marks the failures, with their rows.
    assert!(server.terminate().success());
    let id = response["id"].as_str().unwrap();
    let logged = log_lines(&dir, &["--id", id]);
    assert_eq!(logged.len(), 1);
    let failed = &logged[0]["failed_checks"];
    assert_eq!(
        *failed,
        json!([{ "check": "sibsp_ok", "rows": [0] }, { "check": "parch_ok", "rows": [2] }, { "check": "age_ok", "rows": [0] }]),
        "{}",
        logged[0]
    );
    assert_eq!(logged[0]["pipeline"], identity.as_str());
}

/// Sends requests from `threads` threads until `stop`, each with its own id; returns the ids
/// answered 200.
fn load(server: &Server, rows: &Rows, threads: usize, stop: &AtomicBool) -> Vec<String> {
    let acknowledged = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let acknowledged = &acknowledged;
            scope.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("t{thread}-{i}");
                    let start = (thread * 7 + i) % (rows.len() - 3);
                    let url = server.url(&format!("/v2/models/{MODEL}/infer"));
                    let body = serde_json::to_vec(&rows.request(&id, start..start + 1 + i % 3)).unwrap();
                    let answered =
                        support::agent().post(&url).header("content-type", "application/json").send(&body[..]);
                    if answered.is_ok_and(|r| r.status() == 200) {
                        acknowledged.lock().unwrap().push(id);
                    }
                    i += 1;
                }
            });
        }
    });
    acknowledged.into_inner().unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segments.sort();
    segments
}

#[test]
fn durable_audit_log_keeps_every_acknowledged_request_through_sigkill_and_a_torn_record() {
    let dir = fresh_dir("audit-sigkill");
    let dir_arg = dir.to_str().unwrap();
    let rows = Rows::reference();
    let mut server = start(&[
        "--challenger-mode",
        "off",
        "--audit-dir",
        dir_arg,
        "--audit-durability",
        "durable",
        "--audit-segment-bytes",
        "65536",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let pid = server.child.id();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            // SIGKILL while requests are in flight: no chance to flush or sync anything.
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            stop.store(true, Ordering::Relaxed);
        })
    };
    let acknowledged = load(&server, &rows, 8, &stop);
    killer.join().unwrap();
    let _ = server.child.wait();
    assert!(acknowledged.len() > 50, "only {} requests were answered before the kill", acknowledged.len());

    // A write the kill interrupted: half a frame at the end of the last segment.
    let segment = segments(&dir).pop().expect("a segment file");
    let before = std::fs::metadata(&segment).unwrap().len();
    let mut file = std::fs::OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    drop(file);

    let logged = log_lines(&dir, &[]);
    let ids: std::collections::HashSet<&str> = logged.iter().map(|r| r["request_id"].as_str().unwrap()).collect();
    let missing: Vec<&String> = acknowledged.iter().filter(|id| !ids.contains(id.as_str())).collect();
    assert!(missing.is_empty(), "acknowledged but not logged: {missing:?}");
    assert!(segments(&dir).len() > 1, "64 KiB segments rotate");

    // The restarted server cuts the torn record off and logs on.
    let server = start(&["--challenger-mode", "off", "--audit-dir", dir_arg, "--audit-segment-bytes", "65536"]);
    assert!(server.log().contains("torn record"), "the recovery is reported: {}", server.log());
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), before, "exactly the torn bytes were removed");
    let (status, _) = infer(&server, &rows.request("after-restart", 0..2));
    assert_eq!(status, 200);
    let last_seq = logged.iter().map(|r| r["seq"].as_u64().unwrap()).max().unwrap();
    let after = log_lines(&dir, &["--id", "after-restart"]);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["seq"].as_u64(), Some(last_seq + 1), "numbering continues after the last good record");
    assert_eq!(after[0]["rows"], 2);
    let (_, metadata) = get(&server.url(&format!("/v2/models/{MODEL}")));
    assert_eq!(after[0]["pipeline"], metadata["parameters"]["pipeline"]);

    // Filtering by time: everything logged before the restart is before `after`'s time.
    let time = after[0]["time"].as_str().unwrap();
    let until = log_lines(&dir, &["--until", time]);
    assert!(until.len() >= logged.len() && until.len() <= logged.len() + 1, "{} records until {time}", until.len());
    assert_eq!(log_lines(&dir, &["--since", time]).len(), 1);
}

fn replay(log: &Path, build: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["replay", log.to_str().unwrap(), "--build", build.to_str().unwrap(), "--", "--json"];
    args.extend(extra);
    let out = pipec(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = serde_json::from_str(text.trim())
        .unwrap_or_else(|_| panic!("replay printed no JSON: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), summary)
}

#[test]
fn replay_proves_a_log_identical_and_names_the_first_difference_of_a_changed_build() {
    let rows = Rows::training();
    for (name, route_args) in [("replay-native", vec![]), ("replay-burn", vec!["--native-max-rows", "0"])] {
        let dir = fresh_dir(name);
        let mut args =
            vec!["--challenger-mode", "off", "--audit-dir", dir.to_str().unwrap(), "--audit-durability", "buffered"];
        args.extend(route_args.iter().copied());
        let mut server = start(&args);
        // Concurrent requests of several sizes, so that batches are merged.
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(1500));
                stop.store(true, Ordering::Relaxed);
            });
            load(&server, &rows, 6, &stop);
        });
        let (status, _) = infer(&server, &rows.request("whole", 0..rows.len()));
        assert_eq!(status, 200);
        assert!(server.terminate().success());

        let (code, summary) = replay(&dir, binaries().0, &[]);
        assert_eq!(code, 0, "{name}: {summary}");
        assert_eq!(summary["identical"], true);
        assert!(summary["records"].as_u64().unwrap() > 20, "{summary}");
        assert_eq!(summary["records_from_other_builds"], 0);

        let (code, summary) = replay(&dir, binaries().1, &[]);
        assert_eq!(code, 1, "{name}: the changed build must differ: {summary}");
        let first = &summary["first_difference"];
        assert_eq!(first["output"], "survived", "{summary}");
        assert!(first["detail"].as_str().unwrap().contains("logged true, replayed false"), "{summary}");
        assert_eq!(summary["records_from_other_builds"], summary["records"]);
    }
}

#[test]
fn drift_is_flagged_for_shifted_data_and_not_for_training_like_data() {
    let server = start(&["--challenger-mode", "off"]);
    let rows = Rows::training();
    let (status, _) = infer(&server, &rows.request("unshifted", 0..400));
    assert_eq!(status, 200);
    let report = monitor(&server);
    assert_eq!(report["drift"]["drifted"], false, "{report}");
    for feature in report["drift"]["features"].as_array().unwrap() {
        assert_eq!(feature["observed"], 200, "the window holds 200 rows: {feature}");
        assert!(feature["psi"].as_f64().unwrap() < 0.2, "{feature}");
    }

    // Older, larger families, all men: age, sibsp and sex move, and with them p_survived.
    let shifted = Rows {
        age: rows.age.iter().map(|a| a.as_f64().map_or(Value::Null, |a| json!(a + 25.0))).collect(),
        sibsp: rows.sibsp.iter().map(|s| s + 3.0).collect(),
        parch: rows.parch.clone(),
        sex: vec!["male".to_string(); rows.len()],
        pclass: rows.pclass.clone(),
    };
    let (status, _) = infer(&server, &shifted.request("shifted", 0..400));
    assert_eq!(status, 200);
    let report = monitor(&server);
    assert_eq!(report["drift"]["drifted"], true, "{report}");
    let feature = |name: &str| {
        report["drift"]["features"].as_array().unwrap().iter().find(|f| f["name"] == name).cloned().unwrap()
    };
    for name in ["age", "sibsp", "sex"] {
        assert_eq!(feature(name)["drifted"], true, "{name}: {report}");
    }
    assert_eq!(feature("age")["statistic"]["kind"], "kolmogorov_smirnov");
    assert!(feature("age")["statistic"]["d"].as_f64().unwrap() > 0.3, "{report}");
    assert_eq!(feature("sex")["statistic"]["kind"], "chi_square");
    let (_, metrics) = get(&server.url("/metrics"));
    let metrics = metrics.as_str().unwrap();
    assert_eq!(metric(metrics, "pipec_drift_flag{feature=\"sex\"}"), Some(1.0), "{metrics}");
    assert!(metric(metrics, "pipec_drift_psi{feature=\"age\"}").unwrap() > 0.2);
}

#[test]
fn live_accuracy_is_computed_from_posted_ground_truth() {
    let server = start(&["--challenger-mode", "off"]);
    let rows = Rows::reference();
    let mut predictions = Vec::new();
    for i in 0..40 {
        let id = format!("feedback-{i}");
        let (status, response) = infer(&server, &rows.request(&id, i * 3..i * 3 + 3));
        assert_eq!(status, 200);
        let label: Vec<bool> =
            output(&response, "survived")["data"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
        let p: Vec<f64> =
            output(&response, "p_survived")["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        predictions.push((id, label, p));
    }
    // Ground truth: a fixed pattern, so that the model is right on some rows and wrong on others.
    let truth = |i: usize, row: usize| !(i * 3 + row).is_multiple_of(3);
    let url = server.url(&format!("/v2/models/{MODEL}/feedback"));
    let (mut tp, mut fp, mut fn_, mut right, mut loss, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, (id, label, p)) in predictions.iter().enumerate() {
        let t: Vec<bool> = (0..3).map(|row| truth(i, row)).collect();
        let (status, _, body) = post(&url, &serde_json::to_vec(&json!({ "id": id, "truth": t })).unwrap(), &[]);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        for row in 0..3 {
            let (y, yhat) = (t[row], label[row]);
            tp += f64::from(y && yhat);
            fp += f64::from(!y && yhat);
            fn_ += f64::from(y && !yhat);
            right += f64::from(y == yhat);
            let q = p[row].clamp(1e-15, 1.0 - 1e-15);
            loss -= if y { q.ln() } else { (1.0 - q).ln() };
            n += 1.0;
        }
    }
    let (precision, recall) = (tp / (tp + fp), tp / (tp + fn_));
    let report = monitor(&server);
    let champion = &report["accuracy"]["models"]["champion"];
    assert_eq!(champion["labelled"], 120, "{report}");
    for (name, expected) in [
        ("accuracy", right / n),
        ("precision", precision),
        ("recall", recall),
        ("f1", 2.0 * precision * recall / (precision + recall)),
        ("log_loss", loss / n),
    ] {
        let got = champion[name].as_f64().unwrap_or_else(|| panic!("{name} missing: {report}"));
        assert!((got - expected).abs() < 1e-6, "{name}: {got} against {expected}");
    }
    let (_, metrics) = get(&server.url("/metrics"));
    let f1 = metric(metrics.as_str().unwrap(), "pipec_live_accuracy{model=\"champion\",metric=\"f1\"}").unwrap();
    assert!((f1 - champion["f1"].as_f64().unwrap()).abs() < 1e-9);

    // Unknown, repeated and malformed feedback is refused with a reason.
    let send = |body: Value| {
        let (status, _, text) = post(&url, &serde_json::to_vec(&body).unwrap(), &[]);
        (status, String::from_utf8_lossy(&text).into_owned())
    };
    let (status, text) = send(json!({ "id": "feedback-0", "truth": [true, true, true] }));
    assert_eq!(status, 404, "labelled once already: {text}");
    let (_, response) = infer(&server, &rows.request("late", 0..2));
    assert_eq!(response["id"], "late");
    let (status, text) = send(json!({ "id": "late", "truth": [true] }));
    assert!(status == 400 && text.contains("had 2 rows"), "{status} {text}");
    let (status, text) = send(json!({ "id": "late", "truth": ["yes", false] }));
    assert!(status == 400 && text.contains("row 0"), "{status} {text}");
}

#[test]
fn shadow_challenger_is_scored_logged_and_compared_and_split_routes_by_key() {
    let dir = fresh_dir("shadow");
    let server = start(&["--challenger-mode", "shadow", "--audit-dir", dir.to_str().unwrap()]);
    let rows = Rows::reference();
    let (status, response) = infer(&server, &rows.request("shadowed", 0..rows.len()));
    assert_eq!(status, 200);
    assert_eq!(response["parameters"]["model"], "champion");
    let p: Vec<f64> =
        output(&response, "p_survived")["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    // The challenger answers `survived` at 0.6: the rows between the thresholds disagree.
    let expected = p.iter().filter(|p| **p > 0.5 && **p <= 0.6).count() as u64;
    assert!(expected > 0, "the reference rows must include some between the thresholds");
    let deadline = Instant::now() + Duration::from_secs(30);
    let shadow = loop {
        let report = monitor(&server);
        if report["challenger"]["shadow"]["rows"] == rows.len() as u64 || Instant::now() > deadline {
            break report["challenger"]["shadow"].clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(shadow["rows"], rows.len() as u64, "{shadow}");
    assert_eq!(shadow["disagreeing_rows"], expected, "{shadow}");
    assert_eq!(shadow["outputs"]["p_survived"]["mean_abs_difference"], 0.0, "{shadow}");
    let mut server = server;
    assert!(server.terminate().success(), "{}", server.log());
    let logged = log_lines(&dir, &["--id", "shadowed"]);
    let models: Vec<(&str, bool)> =
        logged.iter().map(|r| (r["model"].as_str().unwrap(), r["answered"].as_bool().unwrap())).collect();
    assert_eq!(models, [("champion", true), ("challenger", false)]);
    assert_ne!(logged[0]["pipeline"], logged[1]["pipeline"]);

    let server = start(&["--challenger-mode", "split", "--challenger-share", "0.5"]);
    let mut answered_by = std::collections::HashMap::new();
    for key in 0..60 {
        for attempt in 0..2 {
            let mut request = rows.request(&format!("split-{key}-{attempt}"), 0..1);
            request["parameters"] = json!({ "routing_key": format!("customer-{key}") });
            let (status, response) = infer(&server, &request);
            assert_eq!(status, 200);
            let model = response["parameters"]["model"].as_str().unwrap().to_string();
            let first = answered_by.entry(key).or_insert_with(|| model.clone());
            assert_eq!(*first, model, "key {key} must always reach the same model");
        }
    }
    let challenger = answered_by.values().filter(|m| *m == "challenger").count();
    assert!((15..=45).contains(&challenger), "{challenger} of 60 keys went to the challenger at share 0.5");
    let report = monitor(&server);
    assert_eq!(report["challenger"]["answered_rows"], 2 * challenger as u64, "{report}");
}
