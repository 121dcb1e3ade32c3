//! End to end, payload events (`--log-url`, docs/operations.md): servers built by `pipec build
//! -o` send each request and response as CloudEvents to a real receiver, the CloudEvents
//! Python SDK (`tests/clients/cloudevents_receiver.py`) on loopback, which parses and
//! validates every event. Then: a receiver killed mid-run and one that never answers cost no
//! request anything and are counted in `/metrics`; the shadow challenger's pairs arrive as
//! their own endpoint.

mod support;

use pipec_tests::{Reference, repo_root};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use support::{Server, build_server, get, post, target_dir};

const REQUEST: &str = "org.kubeflow.serving.inference.request";
const RESPONSE: &str = "org.kubeflow.serving.inference.response";

/// One `pipec build` at a time.
static BUILDS: Mutex<()> = Mutex::new(());

/// The titanic server (the default CPU build, as `serve.rs` builds it).
fn titanic_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    let _guard = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    BINARY.get_or_init(|| build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-server", &[]))
}

/// titanic_ops with its challenger compiled in.
fn champion_challenger_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    let _guard = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    BINARY.get_or_init(|| {
        let dir = repo_root().join("examples/titanic");
        let challenger = dir.join("titanic_ops_challenger.pipe");
        build_server(
            &dir.join("titanic_ops.pipe"),
            "titanic-ops-payload",
            &["--challenger", challenger.to_str().unwrap()],
        )
    })
}

/// A Python with the CloudEvents SDK, in a venv under the target directory (created on first
/// use with pip).
fn cloudevents_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| support::python_venv("cloudevents-venv", &["cloudevents==2.2.0"])).clone()
}

/// The receiver script on a free loopback port, writing one JSON line per event.
struct Receiver {
    child: Child,
    port: u16,
    file: PathBuf,
}

impl Receiver {
    fn start(name: &str) -> Receiver {
        let dir = target_dir().join("pipec-e2e").join("payload-events");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.jsonl"));
        let _ = std::fs::remove_file(&file);
        let mut child = Command::new(cloudevents_python())
            .arg(repo_root().join("tests/clients/cloudevents_receiver.py"))
            .arg(&file)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the receiver reports its port");
        let port = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok());
        let port = port.unwrap_or_else(|| panic!("the receiver said {line:?}"));
        Receiver { child, port, file }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/events", self.port)
    }

    fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        // Only complete lines: the receiver may be writing the last one right now.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        let events: Vec<Value> = complete
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect();
        let errors: Vec<&Value> = events.iter().filter(|e| e.get("error").is_some()).collect();
        assert!(errors.is_empty(), "the CloudEvents SDK rejected events: {errors:#?}");
        events
    }

    /// Waits until `n` events arrived, then a little longer to catch any extra ones.
    fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let events = self.events();
            if events.len() >= n {
                std::thread::sleep(Duration::from_millis(300));
                return self.events();
            }
            assert!(Instant::now() < deadline, "{} of {n} events arrived", events.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
    }
}

fn reference() -> Reference {
    Reference::load(&repo_root().join("examples/titanic/reference.json"))
}

/// A request for `rows` reference rows (wrapping around), as the bytes sent.
fn request(reference: &Reference, id: &str, first: usize, rows: usize) -> Value {
    let inputs: Vec<Value> = ["age", "sibsp", "parch", "sex", "pclass"]
        .iter()
        .map(|&name| {
            let column = reference.inputs[name].as_array().unwrap();
            let data: Vec<Value> = (first..first + rows).map(|row| column[row % column.len()].clone()).collect();
            let datatype = if matches!(name, "sex" | "pclass") { "BYTES" } else { "FP32" };
            json!({ "name": name, "shape": [rows], "datatype": datatype, "data": data })
        })
        .collect();
    json!({ "id": id, "inputs": inputs })
}

struct Exchange {
    id: String,
    status: u16,
    sent: Vec<u8>,
    answer: Vec<u8>,
    seconds: f64,
}

/// Sends the requests from `threads` threads; returns every exchange.
fn send_all(url: &str, requests: Vec<(String, Value)>, threads: usize) -> Vec<Exchange> {
    let queue = Arc::new(Mutex::new(requests));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let queue = queue.clone();
            let url = url.to_string();
            std::thread::spawn(move || {
                let mut done = Vec::new();
                loop {
                    let Some((id, request)) = queue.lock().unwrap().pop() else { return done };
                    let sent = serde_json::to_vec(&request).unwrap();
                    let start = Instant::now();
                    let (status, _, answer) = post(&url, &sent, &[]);
                    done.push(Exchange { id, status, sent, answer, seconds: start.elapsed().as_secs_f64() });
                }
            })
        })
        .collect();
    workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
}

fn metrics(server: &Server) -> String {
    let (status, text) = get(&server.url("/metrics"));
    assert_eq!(status, 200);
    text.as_str().expect("text").to_string()
}

/// The sum of a metric's series whose labels include every one of `labels`.
fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `/metrics` until `done` holds of it.
fn wait_metrics(server: &Server, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = metrics(server);
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} did not happen; /metrics:\n{text}\nlog:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn attribute<'a>(event: &'a Value, name: &str) -> &'a str {
    event["attributes"][name].as_str().unwrap_or_else(|| panic!("no attribute {name} in {event}"))
}

/// The events by `ce-id`.
fn by_id(events: &[Value]) -> HashMap<String, Vec<&Value>> {
    let mut map: HashMap<String, Vec<&Value>> = HashMap::new();
    for event in events {
        map.entry(attribute(event, "id").to_string()).or_default().push(event);
    }
    map
}

/// The one event of `events` of this type and endpoint.
fn find<'a>(events: &[&'a Value], ce_type: &str, endpoint: &str) -> &'a Value {
    let found: Vec<&&Value> =
        events.iter().filter(|e| attribute(e, "type") == ce_type && attribute(e, "endpoint") == endpoint).collect();
    assert_eq!(found.len(), 1, "expected one {ce_type} event of endpoint {endpoint} in {events:#?}");
    found[0]
}

/// An RFC 3339 time as Python writes it, comparable as text (microseconds always present).
fn time_key(time: &str) -> String {
    match time.split_once('+') {
        Some((clock, zone)) if !clock.contains('.') => format!("{clock}.000000+{zone}"),
        _ => time.to_string(),
    }
}

#[test]
fn a_thousand_pairs_arrive_as_kserve_cloudevents_with_their_bodies() {
    let receiver = Receiver::start("pairs");
    let url = receiver.url();
    let server = Server::start(
        titanic_binary(),
        &["--log-url", &url, "--model-name", "passengers", "--log-namespace", "models", "--max-batch-delay-us", "500"],
    );
    let (_, model) = get(&server.url("/v2/models/titanic"));
    let identity = model["parameters"]["pipeline"].as_str().expect("the pipeline identity").to_string();
    let reference = reference();
    let requests: Vec<(String, Value)> = (0..1000)
        .map(|i| {
            let id = format!("pair-{i}");
            let request = request(&reference, &id, i, 1 + i % 3);
            (id, request)
        })
        .collect();
    let exchanges = send_all(&server.url("/v2/models/passengers/infer"), requests, 4);
    for exchange in &exchanges {
        assert_eq!(exchange.status, 200, "{}", String::from_utf8_lossy(&exchange.answer));
    }

    let events = receiver.wait_for(2000);
    assert_eq!(events.len(), 2000, "each request and each response once");
    let events = by_id(&events);
    assert_eq!(events.len(), 1000, "one ce-id per pair");
    let source = format!("http://localhost:{}/", server.address().rsplit(':').next().unwrap());
    for exchange in &exchanges {
        let pair = events.get(&exchange.id).unwrap_or_else(|| panic!("no events for {}", exchange.id));
        assert_eq!(pair.len(), 2, "{pair:#?}");
        let request = find(pair, REQUEST, "champion");
        let response = find(pair, RESPONSE, "champion");
        for event in [request, response] {
            assert_eq!(attribute(event, "specversion"), "1.0");
            assert_eq!(attribute(event, "source"), source);
            assert_eq!(attribute(event, "inferenceservicename"), "passengers");
            assert_eq!(attribute(event, "namespace"), "models");
            assert_eq!(attribute(event, "component"), "predictor");
            assert_eq!(attribute(event, "pipeline"), identity);
            assert_eq!(attribute(event, "datacontenttype"), "application/json");
            assert!(attribute(event, "recordedtime").starts_with("20"), "{event}");
        }
        assert!(time_key(attribute(request, "time")) <= time_key(attribute(response, "time")), "{pair:#?}");
        // The bodies, byte for byte, as the client sent and received them.
        assert_eq!(request["body"].as_str().unwrap().as_bytes(), exchange.sent.as_slice());
        assert_eq!(response["body"].as_str().unwrap().as_bytes(), exchange.answer.as_slice());
        assert_eq!(request["data"]["id"], exchange.id.as_str());
        assert_eq!(response["data"]["id"], exchange.id.as_str());
        assert_eq!(response["data"]["model_name"], "passengers");
    }
    let text = wait_metrics(&server, "1,000 events of each type counted as sent", |text| {
        metric_sum(text, "pipec_payload_events_sent_total", &[r#"type="request""#]) == 1000.0
            && metric_sum(text, "pipec_payload_events_sent_total", &[r#"type="response""#]) == 1000.0
    });
    assert_eq!(metric_sum(&text, "pipec_payload_events_dropped_total", &[]), 0.0, "{text}");
    drop(server);

    // --log-mode request: the requests only.
    let receiver = Receiver::start("requests-only");
    let server = Server::start(titanic_binary(), &["--log-url", &receiver.url(), "--log-mode", "request"]);
    let requests = (0..20).map(|i| (format!("only-{i}"), request(&reference, &format!("only-{i}"), i, 1))).collect();
    assert!(send_all(&server.url("/v2/models/titanic/infer"), requests, 2).iter().all(|e| e.status == 200));
    let events = receiver.wait_for(20);
    assert_eq!(events.len(), 20);
    assert!(events.iter().all(|e| attribute(e, "type") == REQUEST), "{events:#?}");
    assert_eq!(attribute(&events[0], "inferenceservicename"), "titanic", "the pipeline's name without --model-name");
    assert!(events[0]["attributes"].get("namespace").is_none(), "no namespace unless given: {}", events[0]);
}

#[test]
fn a_receiver_killed_mid_run_fails_no_request_and_its_events_are_counted_as_dropped() {
    let mut receiver = Receiver::start("killed");
    let server = Server::start(titanic_binary(), &["--log-url", &receiver.url(), "--log-timeout-ms", "1000"]);
    let reference = reference();
    let batch = |from: usize, n: usize| -> Vec<(String, Value)> {
        (from..from + n).map(|i| (format!("k-{i}"), request(&reference, &format!("k-{i}"), i, 2))).collect()
    };
    let url = server.url("/v2/models/titanic/infer");
    assert!(send_all(&url, batch(0, 50), 2).iter().all(|e| e.status == 200));
    assert_eq!(receiver.wait_for(100).len(), 100);
    wait_metrics(&server, "the first 100 events counted as sent", |text| {
        metric_sum(text, "pipec_payload_events_sent_total", &[]) == 100.0
    });

    receiver.kill();
    let exchanges = send_all(&url, batch(50, 200), 2);
    for exchange in &exchanges {
        assert_eq!(exchange.status, 200, "{}", String::from_utf8_lossy(&exchange.answer));
    }
    let text = wait_metrics(&server, "400 events dropped as send_failed", |text| {
        metric_sum(text, "pipec_payload_events_dropped_total", &[r#"reason="send_failed""#]) == 400.0
    });
    for kind in ["request", "response"] {
        let labels = [format!(r#"type="{kind}""#), r#"reason="send_failed""#.to_string()];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        assert_eq!(metric_sum(&text, "pipec_payload_events_dropped_total", &labels), 200.0, "{text}");
    }
    assert_eq!(metric_sum(&text, "pipec_payload_events_sent_total", &[]), 100.0, "{text}");
    assert_eq!(metric_sum(&text, "pipec_payload_events_queued", &[]), 0.0, "nothing waits for a dead receiver: {text}");
    assert!(server.log().contains("sending a payload event failed"), "{}", server.log());
    assert_eq!(get(&server.url("/v2/health/ready")).0, 200);
}

#[test]
fn a_receiver_that_never_answers_delays_no_request_fills_the_queue_and_shutdown_is_bounded() {
    // Connections are accepted by the kernel (the backlog) but never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap());
    let mut server = Server::start(
        titanic_binary(),
        &[
            "--log-url",
            &url,
            "--log-timeout-ms",
            "60000",
            "--log-queue-capacity",
            "10",
            "--shutdown-timeout-ms",
            "2000",
        ],
    );
    let reference = reference();
    let requests = (0..100).map(|i| (format!("s-{i}"), request(&reference, &format!("s-{i}"), i, 1))).collect();
    let exchanges = send_all(&server.url("/v2/models/titanic/infer"), requests, 1);
    let slowest = exchanges.iter().map(|e| e.seconds).fold(0.0, f64::max);
    assert!(exchanges.iter().all(|e| e.status == 200));
    // Sends wait up to a minute each; requests never wait for them.
    assert!(slowest < 5.0, "the slowest request took {slowest} s");
    // 200 events: 8 being sent (for a minute each), at most 10 in the queue, the rest dropped
    // as they came (more than 182 only if the sender was slow to take the first ones).
    let full = |text: &str| metric_sum(text, "pipec_payload_events_dropped_total", &[r#"reason="queue_full""#]);
    let queued = |text: &str| metric_sum(text, "pipec_payload_events_queued", &[]);
    let text = wait_metrics(&server, "8 events being sent, the others queued or dropped", |text| {
        full(text) + queued(text) == 192.0
    });
    assert!(queued(&text) <= 10.0 && full(&text) >= 182.0, "{text}");
    assert_eq!(metric_sum(&text, "pipec_payload_events_dropped_total", &[]), full(&text), "only queue_full: {text}");
    assert_eq!(metric_sum(&text, "pipec_payload_events_sent_total", &[]), 0.0, "{text}");

    let stopping = Instant::now();
    let status = server.terminate();
    let took = stopping.elapsed().as_secs_f64();
    assert!(status.success(), "{}", server.log());
    assert!(took < 20.0, "shutdown took {took} s with a 2 s flush limit");
    assert!(
        server.log().contains("payload events still unsent after the shutdown timeout were dropped"),
        "{}",
        server.log()
    );
    drop(silent);
}

#[test]
fn the_shadow_challenger_has_its_own_endpoint_and_split_traffic_is_logged_by_who_answered() {
    let receiver = Receiver::start("shadow");
    let binary = champion_challenger_binary();
    let server = Server::start(
        binary,
        &["--challenger-mode", "shadow", "--log-url", &receiver.url(), "--max-batch-delay-us", "2000"],
    );
    let (_, model) = get(&server.url("/v2/models/titanic_ops"));
    let champion = model["parameters"]["pipeline"].as_str().unwrap().to_string();
    let challenger = model["parameters"]["challenger_pipeline"].as_str().unwrap().to_string();
    let outputs: Vec<&str> = model["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert!(outputs.contains(&"failed_checks"), "{model}");
    let reference = reference();
    let mut requests: Vec<(String, Value)> =
        (0..40).map(|i| (format!("shadow-{i}"), request(&reference, &format!("shadow-{i}"), 3 * i, 3))).collect();
    // Only one output asked for: the challenger's event still carries them all.
    let mut only = request(&reference, "shadow-only", 7, 2);
    only["outputs"] = json!([{ "name": "survived" }]);
    requests.push(("shadow-only".into(), only));
    // Concurrent, so that batches merge and the challenger's answer is split per request.
    let exchanges = send_all(&server.url("/v2/models/titanic_ops/infer"), requests, 6);
    assert!(exchanges.iter().all(|e| e.status == 200));

    let events = receiver.wait_for(4 * 41);
    assert_eq!(events.len(), 4 * 41);
    let events = by_id(&events);
    for exchange in &exchanges {
        let pair = &events[&exchange.id];
        assert_eq!(pair.len(), 4, "{pair:#?}");
        let champion_request = find(pair, REQUEST, "champion");
        let champion_response = find(pair, RESPONSE, "champion");
        let challenger_request = find(pair, REQUEST, "challenger");
        let challenger_response = find(pair, RESPONSE, "challenger");
        assert_eq!(attribute(champion_request, "pipeline"), champion);
        assert_eq!(attribute(champion_response, "pipeline"), champion);
        assert_eq!(attribute(challenger_request, "pipeline"), challenger);
        assert_eq!(attribute(challenger_response, "pipeline"), challenger);
        assert_eq!(champion_request["body"].as_str().unwrap().as_bytes(), exchange.sent.as_slice());
        assert_eq!(challenger_request["body"], champion_request["body"]);
        assert_eq!(champion_response["body"].as_str().unwrap().as_bytes(), exchange.answer.as_slice());
        let answer = &challenger_response["data"];
        assert_eq!(answer["id"], exchange.id.as_str());
        assert_eq!(answer["parameters"]["model"], "challenger");
        assert_eq!(answer["parameters"]["pipeline"], challenger.as_str());
        let names: Vec<&str> =
            answer["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(names, outputs, "{answer}");
        let sent: Value = serde_json::from_slice(&exchange.sent).unwrap();
        let n = sent["inputs"][0]["shape"][0].as_u64().unwrap();
        for output in answer["outputs"].as_array().unwrap() {
            assert_eq!(output["shape"][0], n, "{answer}");
        }
        if exchange.id != "shadow-only" {
            // The challenger differs from the champion only in its threshold: the same
            // probabilities, so each request got its own rows of the shadow batch.
            let champion: Value = serde_json::from_slice(&exchange.answer).unwrap();
            let p = |answer: &Value| {
                answer["outputs"].as_array().unwrap().iter().find(|o| o["name"] == "p_survived").unwrap()["data"]
                    .clone()
            };
            assert_eq!(p(answer), p(&champion), "{}", exchange.id);
        }
    }
    drop(server);

    let receiver = Receiver::start("split");
    let server = Server::start(
        binary,
        &["--challenger-mode", "split", "--challenger-share", "0.5", "--log-url", &receiver.url()],
    );
    let requests: Vec<(String, Value)> = (0..40)
        .map(|i| {
            let mut request = request(&reference, &format!("split-{i}"), i, 1);
            request["parameters"] = json!({ "routing_key": format!("customer-{i}") });
            (format!("split-{i}"), request)
        })
        .collect();
    let exchanges = send_all(&server.url("/v2/models/titanic_ops/infer"), requests, 2);
    let events = receiver.wait_for(80);
    assert_eq!(events.len(), 80);
    let events = by_id(&events);
    let mut endpoints = HashMap::new();
    for exchange in &exchanges {
        assert_eq!(exchange.status, 200);
        let answer: Value = serde_json::from_slice(&exchange.answer).unwrap();
        let model = answer["parameters"]["model"].as_str().unwrap();
        let pair = &events[&exchange.id];
        find(pair, REQUEST, model);
        find(pair, RESPONSE, model);
        *endpoints.entry(model.to_string()).or_insert(0) += 1;
    }
    assert_eq!(endpoints.len(), 2, "both models answered some of 40 keys at share 0.5: {endpoints:?}");
}
