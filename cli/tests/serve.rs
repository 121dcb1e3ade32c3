//! End to end: `pipec build -o` builds the titanic example's server; each test starts it on a
//! free loopback port and talks to it over HTTP as Open Inference Protocol clients do, checking
//! answers against the example's scikit-learn reference.

use pipec_tests::{Reference, assert_close, repo_root};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// scikit-learn computes in f64, the server in f32.
const TOLERANCE: f64 = 1e-5;

mod support;

use support::{Server, build_server, get, post, target_dir};

/// Builds the titanic server for the CPU (the default, `--device cpu`) once for all tests in
/// this file.
fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-server", &[]))
}

/// The titanic server built with `--device gpu`: burn's CPU backend, wgpu and the fused kernel.
fn gpu_server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // After the CPU build: both write the titanic crate under the target directory.
        server_binary();
        build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-server-gpu", &["--device", "gpu"])
    })
}

fn titanic_server(args: &[&str]) -> Server {
    Server::start(server_binary(), args)
}

fn reference() -> Reference {
    Reference::load(&repo_root().join("examples/titanic/reference.json"))
}

fn infer(server: &Server, request: &Value) -> (u16, Value) {
    let (status, _, body) = post(&server.url("/v2/models/titanic/infer"), &serde_json::to_vec(request).unwrap(), &[]);
    (status, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())))
}

fn datatype(name: &str) -> &'static str {
    if matches!(name, "sex" | "pclass") { "BYTES" } else { "FP32" }
}

/// An inference request for reference rows `rows`, as JSON.
fn json_request(reference: &Reference, rows: std::ops::Range<usize>) -> Value {
    let inputs: Vec<Value> = ["age", "sibsp", "parch", "sex", "pclass"]
        .iter()
        .map(|&name| {
            let data = &reference.inputs[name].as_array().unwrap()[rows.clone()];
            json!({ "name": name, "shape": [rows.len()], "datatype": datatype(name), "data": data })
        })
        .collect();
    json!({ "id": format!("rows-{}-{}", rows.start, rows.end), "inputs": inputs })
}

fn f32_data(output: &Value) -> Vec<f64> {
    output["data"].as_array().expect("data").iter().map(|v| v.as_f64().expect("number")).collect()
}

fn output<'a>(response: &'a Value, name: &str) -> &'a Value {
    response["outputs"].as_array().expect("outputs").iter().find(|o| o["name"] == name).expect("output present")
}

#[test]
fn serves_the_protocol_and_scores_reference_rows_as_scikit_learn_does() {
    let server = titanic_server(&[]);
    let (status, meta) = get(&server.url("/v2"));
    assert_eq!(status, 200);
    assert_eq!(meta["name"], "pipec");
    assert!(meta["extensions"].as_array().unwrap().contains(&json!("binary_tensor_data")));
    assert_eq!(get(&server.url("/v2/health/live")).0, 200);
    assert_eq!(get(&server.url("/v2/health/ready")).0, 200);
    assert_eq!(get(&server.url("/v2/models/titanic/ready")).0, 200);
    assert_eq!(get(&server.url("/v2/models/titanic/versions/1.0.0/ready")).0, 200);
    for path in ["/v2/models/titanic", "/v2/models/titanic/versions/1.0.0"] {
        let (status, model) = get(&server.url(path));
        assert_eq!(status, 200, "{path}: {model}");
        assert_eq!(model["name"], "titanic");
        assert_eq!(model["versions"], json!(["1.0.0"]));
        assert_eq!(
            model["inputs"],
            json!([
                { "name": "age", "datatype": "FP32", "shape": [-1], "parameters": { "nullable": true } },
                { "name": "sibsp", "datatype": "FP32", "shape": [-1], "parameters": { "nullable": false } },
                { "name": "parch", "datatype": "FP32", "shape": [-1], "parameters": { "nullable": false } },
                { "name": "sex", "datatype": "BYTES", "shape": [-1], "parameters": { "nullable": false } },
                { "name": "pclass", "datatype": "BYTES", "shape": [-1], "parameters": { "nullable": false } },
            ])
        );
        assert_eq!(
            model["outputs"],
            json!([
                { "name": "p_survived", "datatype": "FP32", "shape": [-1] },
                { "name": "survived", "datatype": "BOOL", "shape": [-1] },
            ])
        );
    }

    let reference = reference();
    let request = json_request(&reference, 0..reference.rows);
    for path in ["/v2/models/titanic/infer", "/v2/models/titanic/versions/1.0.0/infer"] {
        let (status, _, body) = post(&server.url(path), &serde_json::to_vec(&request).unwrap(), &[]);
        let response: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 200, "{response}");
        assert_eq!(response["model_name"], "titanic");
        assert_eq!(response["model_version"], "1.0.0");
        assert_eq!(response["id"], format!("rows-0-{}", reference.rows));
        let p = output(&response, "p_survived");
        assert_eq!(p["datatype"], "FP32");
        assert_eq!(p["shape"], json!([reference.rows]));
        assert_close("served p_survived", &f32_data(p), &reference.output("p_survived"), TOLERANCE);
        let survived = output(&response, "survived");
        assert_eq!(survived["datatype"], "BOOL");
        let served: Vec<bool> = survived["data"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
        let expected = reference.output("p_survived");
        for (row, (&s, &p)) in served.iter().zip(&expected).enumerate() {
            if (p - 0.5).abs() > TOLERANCE {
                assert_eq!(s, p > 0.5, "survived[{row}] with reference probability {p}");
            }
        }
    }

    // Only the outputs asked for, in the order asked.
    let mut only = request.clone();
    only["outputs"] = json!([{ "name": "survived" }]);
    let (status, response) = infer(&server, &only);
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(response["outputs"][0]["name"], "survived");

    let (status, metrics) = get(&server.url("/metrics"));
    assert_eq!(status, 200);
    let metrics = metrics.as_str().expect("text").to_string();
    for name in ["pipec_http_requests_total", "pipec_http_request_duration_seconds_bucket", "pipec_batch_rows_bucket"] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    assert!(
        metrics.contains(r#"pipec_http_requests_total{endpoint="/v2/models/{name}/infer",code="200"} 2"#),
        "{metrics}"
    );
}

/// Reads a metric's value from the Prometheus text.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[test]
fn concurrent_requests_are_merged_and_each_gets_exactly_its_own_rows() {
    let server = titanic_server(&["--max-batch-delay-us", "20000", "--max-batch-rows", "64"]);
    let reference = reference();
    // Each row alone, one request at a time: the answers merged requests must reproduce.
    let alone: Vec<Value> = (0..reference.rows)
        .map(|row| {
            let (status, response) = infer(&server, &json_request(&reference, row..row + 1));
            assert_eq!(status, 200, "{response}");
            response["outputs"].clone()
        })
        .collect();
    let (_, before) = get(&server.url("/metrics"));
    let batches_before = metric(before.as_str().unwrap(), r#"pipec_batch_rows_count{device="native"}"#);

    let reference = Arc::new(reference);
    let threads: Vec<_> = (0..reference.rows)
        .map(|row| {
            let reference = reference.clone();
            let url = server.url("/v2/models/titanic/infer");
            std::thread::spawn(move || {
                let request = json_request(&reference, row..row + 1);
                let (status, _, body) = post(&url, &serde_json::to_vec(&request).unwrap(), &[]);
                (row, status, serde_json::from_slice::<Value>(&body).unwrap())
            })
        })
        .collect();
    for thread in threads {
        let (row, status, response) = thread.join().unwrap();
        assert_eq!(status, 200, "{response}");
        assert_eq!(response["id"], format!("rows-{row}-{}", row + 1));
        assert_eq!(response["outputs"], alone[row], "row {row} batched differs from row {row} alone");
    }
    let (_, after) = get(&server.url("/metrics"));
    let after = after.as_str().unwrap().to_string();
    let batches = metric(&after, r#"pipec_batch_rows_count{device="native"}"#) - batches_before;
    assert!(
        batches < reference.rows as f64 / 2.0,
        "{} concurrent one-row requests ran in {batches} batches; expected them merged",
        reference.rows
    );
}

/// `len` as a little-endian u32, then the bytes: the protocol's binary BYTES element.
fn bytes_element(text: &str, into: &mut Vec<u8>) {
    into.extend((text.len() as u32).to_le_bytes());
    into.extend(text.as_bytes());
}

#[test]
fn binary_tensor_data_matches_json_bit_for_bit() {
    let server = titanic_server(&[]);
    let reference = reference();
    let n = reference.rows;
    let (status, json_answer) = infer(&server, &json_request(&reference, 0..n));
    assert_eq!(status, 200);

    let mut binary = Vec::new();
    let mut inputs = Vec::new();
    for name in ["age", "sibsp", "parch", "sex", "pclass"] {
        let before = binary.len();
        for value in reference.inputs[name].as_array().unwrap() {
            match value {
                Value::String(s) => bytes_element(s, &mut binary),
                // A missing age travels as NaN.
                Value::Null => binary.extend(f32::NAN.to_le_bytes()),
                v => binary.extend((v.as_f64().unwrap() as f32).to_le_bytes()),
            }
        }
        let size = binary.len() - before;
        inputs.push(json!({ "name": name, "shape": [n], "datatype": datatype(name), "parameters": { "binary_data_size": size } }));
    }
    let header =
        serde_json::to_vec(&json!({ "inputs": inputs, "parameters": { "binary_data_output": true } })).unwrap();
    let mut body = header.clone();
    body.extend(&binary);
    let (status, json_length, answer) = post(
        &server.url("/v2/models/titanic/infer"),
        &body,
        &[("inference-header-content-length", header.len().to_string())],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let json_length = json_length.expect("Inference-Header-Content-Length in the answer");
    let head: Value = serde_json::from_slice(&answer[..json_length]).unwrap();
    let mut at = json_length;
    for output in head["outputs"].as_array().unwrap() {
        let size = output["parameters"]["binary_data_size"].as_u64().expect("binary_data_size") as usize;
        let bytes = &answer[at..at + size];
        at += size;
        let expected = &output_of(&json_answer, output["name"].as_str().unwrap())["data"];
        match output["datatype"].as_str().unwrap() {
            "FP32" => {
                let values: Vec<f32> =
                    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
                let from_json: Vec<f32> =
                    expected.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
                assert_eq!(values, from_json, "binary FP32 answer differs from JSON");
            }
            "BOOL" => {
                let values: Vec<bool> = bytes.iter().map(|&b| b != 0).collect();
                let from_json: Vec<bool> = expected.as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
                assert_eq!(values, from_json, "binary BOOL answer differs from JSON");
            }
            other => panic!("unexpected datatype {other}"),
        }
    }
    assert_eq!(at, answer.len(), "binary section length");
}

fn output_of<'a>(response: &'a Value, name: &str) -> &'a Value {
    output(response, name)
}

#[test]
fn bad_requests_get_a_4xx_that_names_the_problem_and_the_server_goes_on() {
    let server =
        titanic_server(&["--max-body-bytes", "65536", "--body-timeout-ms", "500", "--header-timeout-ms", "500"]);
    let reference = reference();
    let good = json_request(&reference, 0..3);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut request = good.clone();
        edit(&mut request);
        serde_json::to_vec(&request).unwrap()
    };
    let url = server.url("/v2/models/titanic/infer");
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", url.clone(), b"{\"inputs\": [".to_vec(), 400, "not a valid inference request"),
        ("not an object", url.clone(), b"[1, 2]".to_vec(), 400, "not a valid inference request"),
        ("unknown input", url.clone(), with(&|r| r["inputs"][0]["name"] = json!("agee")), 400, "unknown input `agee`"),
        (
            "missing input",
            url.clone(),
            with(&|r| {
                r["inputs"].as_array_mut().unwrap().pop();
            }),
            400,
            "input `pclass` is missing",
        ),
        (
            "input twice",
            url.clone(),
            with(&|r| {
                let first = r["inputs"][1].clone();
                r["inputs"].as_array_mut().unwrap().push(first);
            }),
            400,
            "input `sibsp` is sent twice",
        ),
        (
            "wrong datatype",
            url.clone(),
            with(&|r| r["inputs"][0]["datatype"] = json!("BYTES")),
            400,
            "input `age`: datatype BYTES",
        ),
        (
            "bytes as FP32",
            url.clone(),
            with(&|r| r["inputs"][3]["datatype"] = json!("FP32")),
            400,
            "input `sex`: datatype FP32",
        ),
        (
            "wrong shape",
            url.clone(),
            with(&|r| r["inputs"][1]["shape"] = json!([3, 2])),
            400,
            "input `sibsp`: shape [3, 2]",
        ),
        (
            "rows disagree",
            url.clone(),
            with(&|r| {
                r["inputs"][2]["shape"] = json!([2]);
                r["inputs"][2]["data"] = json!([0, 1]);
            }),
            400,
            "disagree on the number of rows",
        ),
        (
            "too few values",
            url.clone(),
            with(&|r| r["inputs"][1]["data"] = json!([0, 1])),
            400,
            "input `sibsp`: the shape holds 3 values, but 2 were sent",
        ),
        (
            "null where not nullable",
            url.clone(),
            with(&|r| r["inputs"][1]["data"][1] = Value::Null),
            400,
            "input `sibsp`: row 1: null, but the input is not nullable",
        ),
        (
            "string for a number",
            url.clone(),
            with(&|r| r["inputs"][1]["data"][2] = json!("two")),
            400,
            "input `sibsp`: row 2: \"two\" is not a number",
        ),
        (
            "number for a string",
            url.clone(),
            with(&|r| r["inputs"][3]["data"][0] = json!(1)),
            400,
            "input `sex`: row 0: 1 is not a string",
        ),
        (
            "number beyond f32",
            url.clone(),
            with(&|r| r["inputs"][1]["data"][0] = json!(1e300)),
            400,
            "is not a finite 32-bit float",
        ),
        (
            "fraction as INT64",
            url.clone(),
            with(&|r| {
                r["inputs"][1]["datatype"] = json!("INT64");
                r["inputs"][1]["data"] = json!([0.5, 1, 2]);
            }),
            400,
            "is not an integer",
        ),
        (
            "no rows",
            url.clone(),
            with(&|r| {
                for i in 0..5 {
                    r["inputs"][i]["shape"] = json!([0]);
                    r["inputs"][i]["data"] = json!([]);
                }
            }),
            400,
            "has no rows",
        ),
        (
            "unknown output",
            url.clone(),
            with(&|r| r["outputs"] = json!([{ "name": "p_died" }])),
            400,
            "unknown output `p_died`",
        ),
        (
            "unknown model",
            server.url("/v2/models/lusitania/infer"),
            with(&|_| {}),
            404,
            "model `lusitania` is not served here",
        ),
        (
            "unknown version",
            server.url("/v2/models/titanic/versions/9.9.9/infer"),
            with(&|_| {}),
            404,
            "has no version `9.9.9`",
        ),
        ("body too large", url.clone(), vec![b' '; 70_000], 413, "larger than this server's limit of 65536 bytes"),
        ("unknown endpoint", server.url("/v1/models/titanic:predict"), with(&|_| {}), 404, "no endpoint"),
    ];
    for (what, url, body, status, message) in cases {
        let (got, _, answer) = post(&url, &body, &[]);
        let answer: Value =
            serde_json::from_slice(&answer).unwrap_or_else(|_| panic!("{what}: the answer is not JSON"));
        let error = answer["error"].as_str().unwrap_or_else(|| panic!("{what}: no error field in {answer}"));
        assert_eq!(got, status, "{what}: {error}");
        assert!(error.contains(message), "{what}: `{error}` does not contain `{message}`");
    }

    // Binary data that does not add up.
    let header = br#"{"inputs":[{"name":"age","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}"#;
    let (status, _, answer) =
        post(&url, header, &[("inference-header-content-length", (header.len() + 10).to_string())]);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&answer));
    let mut body = header.to_vec();
    body.extend([0u8; 2]);
    let (status, _, answer) = post(&url, &body, &[("inference-header-content-length", header.len().to_string())]);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&answer).contains("only 2 bytes of the binary section are left"));

    // An unknown category is scored as documented: its one-hot columns are all zero.
    let (status, response) =
        infer(&server, &serde_json::from_slice(&with(&|r| r["inputs"][4]["data"][0] = json!("4th"))).unwrap());
    assert_eq!(status, 200, "{response}");

    // A client that sends half a body and stalls gets 408.
    let mut stream = TcpStream::connect(server.address()).unwrap();
    write!(stream, "POST /v2/models/titanic/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"inputs\"").unwrap();
    let mut answer = String::new();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "a stalled body got: {answer}");

    // A client that never finishes its headers is disconnected.
    let mut stream = TcpStream::connect(server.address()).unwrap();
    write!(stream, "POST /v2/models/titanic/infer HTTP/1.1\r\nHost: x\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(20), "a stalled header was not cut off");

    // Still serving, and the rejections were counted.
    let (status, response) = infer(&server, &good);
    assert_eq!(status, 200, "{response}");
    let (_, metrics) = get(&server.url("/metrics"));
    let errors =
        metric(metrics.as_str().unwrap(), r#"pipec_http_errors_total{endpoint="/v2/models/{name}/infer",code="400"}"#);
    assert!(errors >= 17.0, "{errors} 400s counted");
}

/// A request of `rows` copies of reference row 0, in binary, to keep the worker busy.
fn big_binary_request(reference: &Reference, rows: usize) -> (Vec<u8>, usize) {
    let mut binary = Vec::new();
    let mut inputs = Vec::new();
    for name in ["age", "sibsp", "parch", "sex", "pclass"] {
        let before = binary.len();
        let value = &reference.inputs[name][1];
        for _ in 0..rows {
            match value {
                Value::String(s) => bytes_element(s, &mut binary),
                v => binary.extend((v.as_f64().unwrap() as f32).to_le_bytes()),
            }
        }
        let size = binary.len() - before;
        inputs.push(json!({ "name": name, "shape": [rows], "datatype": datatype(name), "parameters": { "binary_data_size": size } }));
    }
    let header = serde_json::to_vec(&json!({ "inputs": inputs, "outputs": [{ "name": "survived" }] })).unwrap();
    let length = header.len();
    let mut body = header;
    body.extend(binary);
    (body, length)
}

/// Waits until the server has started scoring `rows` more rows than at its start (the
/// counter rises when a batch begins).
fn wait_until_scoring(server: &Server, rows: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, metrics) = get(&server.url("/metrics"));
        if metric(metrics.as_str().unwrap(), "pipec_scored_rows_total") >= rows as f64 {
            return;
        }
        assert!(Instant::now() < deadline, "the big request never started; log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_full_queue_is_answered_429_at_once() {
    let server = titanic_server(&["--queue-capacity", "1", "--max-batch-rows", "1"]);
    let reference = reference();
    let (big, length) = big_binary_request(&reference, 2_000_000);
    let url = server.url("/v2/models/titanic/infer");
    let busy = {
        let url = url.clone();
        std::thread::spawn(move || post(&url, &big, &[("inference-header-content-length", length.to_string())]).0)
    };
    wait_until_scoring(&server, 2_000_000);
    let small = serde_json::to_vec(&json_request(&reference, 0..1)).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            let small = small.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let (status, _, body) = post(&url, &small, &[]);
                (status, started.elapsed(), String::from_utf8_lossy(&body).into_owned())
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(busy.join().unwrap(), 200);
    let rejected: Vec<_> = answers.iter().filter(|(status, ..)| *status == 429).collect();
    assert!(!rejected.is_empty(), "no 429 while the queue was full: {answers:?}");
    for (_, took, body) in &rejected {
        assert!(body.contains("at capacity"), "{body}");
        assert!(*took < Duration::from_secs(2), "a 429 took {took:?}");
    }
    assert!(answers.iter().all(|(status, ..)| matches!(status, 200 | 429)), "{answers:?}");
    assert_eq!(infer(&server, &json_request(&reference, 0..1)).0, 200);
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits_0() {
    let mut server = titanic_server(&[]);
    let reference = reference();
    let (big, length) = big_binary_request(&reference, 1_000_000);
    let url = server.url("/v2/models/titanic/infer");
    let in_flight =
        std::thread::spawn(move || post(&url, &big, &[("inference-header-content-length", length.to_string())]));
    wait_until_scoring(&server, 1_000_000);
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}; log:\n{}", server.log());
    let (code, _, body) = in_flight.join().unwrap();
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body[..body.len().min(300)]));
    assert!(server.log().contains("shutting down"), "{}", server.log());
    assert!(TcpStream::connect(server.address()).is_err(), "still accepting connections after exit");
}

#[test]
fn wgpu_and_burn_cpu_score_reference_rows_and_auto_falls_back_to_the_cpu_without_a_gpu() {
    // Two workers share the one wgpu device a process can open.
    let server = Server::start(gpu_server_binary(), &["--device", "wgpu", "--gpu-min-rows", "0", "--workers", "2"]);
    let reference = reference();
    let (status, response) = infer(&server, &json_request(&reference, 0..reference.rows));
    assert_eq!(status, 200, "{response}");
    assert_close(
        "p_survived on wgpu",
        &f32_data(output(&response, "p_survived")),
        &reference.output("p_survived"),
        TOLERANCE,
    );
    let (_, metrics) = get(&server.url("/metrics"));
    assert!(metric(metrics.as_str().unwrap(), r#"pipec_batch_rows_count{device="wgpu"}"#) >= 1.0);
    drop(server);

    // burn's CPU backend, which the native path otherwise replaces on the CPU.
    let server = Server::start(gpu_server_binary(), &["--native-max-rows", "0"]);
    let (status, response) = infer(&server, &json_request(&reference, 0..reference.rows));
    assert_eq!(status, 200, "{response}");
    assert_close(
        "p_survived on burn flex",
        &f32_data(output(&response, "p_survived")),
        &reference.output("p_survived"),
        TOLERANCE,
    );
    let (_, metrics) = get(&server.url("/metrics"));
    assert!(metric(metrics.as_str().unwrap(), r#"pipec_batch_rows_count{device="cpu"}"#) >= 1.0);
    drop(server);

    let server = Server::start(gpu_server_binary(), &["--device", "auto"]);
    let (status, _) = infer(&server, &json_request(&reference, 0..3));
    assert_eq!(status, 200);
    let has_gpu = server.log().contains("wgpu on");
    let fell_back = server.log().contains("using the CPU");
    assert!(has_gpu || fell_back, "--device auto chose nothing visible:\n{}", server.log());
}

/// Cargo's unit graph for a build (`--unit-graph`, a stable cargo's unstable flag, hence
/// `RUSTC_BOOTSTRAP`): every compilation unit with its features, profile and dependencies.
fn unit_graph(dir: &Path, args: &[&str]) -> Vec<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(args)
        .args(["--release", "--offline", "--unit-graph", "-Z", "unstable-options"])
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo --unit-graph: {}", String::from_utf8_lossy(&output.stderr));
    let graph: Value = serde_json::from_slice(&output.stdout).expect("a unit graph");
    graph["units"].as_array().expect("units").clone()
}

/// A unit's identity as cargo hashes it: package, target, mode, platform, features, profile,
/// and the identities of its dependencies.
fn unit_identities(units: &[Value]) -> Vec<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    fn identity(units: &[Value], i: usize, memo: &mut Vec<Option<u64>>) -> u64 {
        if let Some(id) = memo[i] {
            return id;
        }
        let unit = &units[i];
        let mut deps: Vec<(String, u64)> = unit["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                (d["extern_crate_name"].to_string(), identity(units, d["index"].as_u64().unwrap_or(0) as usize, memo))
            })
            .collect();
        deps.sort();
        let mut hasher = DefaultHasher::new();
        for field in ["pkg_id", "target", "mode", "platform", "features", "profile"] {
            unit[field].to_string().hash(&mut hasher);
        }
        deps.hash(&mut hasher);
        let id = hasher.finish();
        memo[i] = Some(id);
        id
    }
    let mut memo = vec![None; units.len()];
    (0..units.len()).map(|i| identity(units, i, &mut memo)).collect()
}

/// Every unit the standalone server crate compiles, except the generated crate itself, must be
/// one the workspace's test build compiles too; otherwise each `pipec build` would compile burn
/// again (15 minutes). The fix is to pin features in runtime/Cargo.toml.
#[test]
fn a_standalone_server_crate_reuses_the_workspace_build_of_burn() {
    gpu_server_binary();
    let standalone = target_dir().join("pipec/crates/pipec-gen-titanic");
    let alone = unit_graph(&standalone, &["build", "--bin", "titanic-server"]);
    let workspace = unit_graph(&repo_root(), &["test", "--workspace", "--no-run"]);
    let built: std::collections::HashSet<u64> = unit_identities(&workspace).into_iter().collect();
    assert!(
        alone.iter().any(|u| u["pkg_id"].as_str().is_some_and(|p| p.contains("#burn@"))),
        "burn is not in the build"
    );
    let extra: Vec<String> = alone
        .iter()
        .zip(unit_identities(&alone))
        .filter(|(unit, id)| {
            !built.contains(id) && !unit["pkg_id"].as_str().is_some_and(|p| p.contains("pipec-gen-titanic"))
        })
        .map(|(unit, _)| format!("{} {} features {}", unit["pkg_id"], unit["mode"], unit["features"]))
        .collect();
    assert!(extra.is_empty(), "compiled again for the standalone crate:\n{}", extra.join("\n"));
}

/// The host's target triple, as `pipec build --device cpu` passes it to cargo.
fn host_triple() -> String {
    let output = Command::new("rustc").arg("-vV").output().expect("rustc runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").trim().to_string()
}

/// `pipec build --device cpu` (the default) compiles no burn, wgpu or cubecl code, gives a
/// small static binary, and that binary refuses `--device wgpu` with a message saying how to
/// get one that runs there.
#[test]
fn a_cpu_server_holds_no_gpu_code_and_says_how_to_get_one() {
    let binary = server_binary();
    let standalone = target_dir().join("pipec/crates/pipec-gen-titanic");
    let triple = host_triple();
    let units =
        unit_graph(&standalone, &["build", "--bin", "titanic-server", "--no-default-features", "--target", &triple]);
    assert!(units.iter().any(|u| u["pkg_id"].as_str().is_some_and(|p| p.contains("pipec-runtime"))), "no runtime unit");
    let gpu: Vec<&str> = units
        .iter()
        .filter_map(|u| u["pkg_id"].as_str())
        .filter(|p| ["#burn", "#wgpu", "#cubecl", "/burn", "/wgpu", "/cubecl"].iter().any(|name| p.contains(name)))
        .collect();
    assert!(gpu.is_empty(), "the CPU server compiles GPU crates: {gpu:?}");

    let size = std::fs::metadata(binary).expect("the binary").len();
    assert!(
        size <= 15 << 20,
        "the CPU server is {:.1} MiB; the goal is at most 15 MiB",
        size as f64 / (1 << 20) as f64
    );
    if triple.ends_with("-linux-gnu") {
        let file = Command::new("file").arg(binary).output();
        if let Ok(file) = file {
            let text = String::from_utf8_lossy(&file.stdout);
            assert!(text.contains("static"), "not statically linked: {text}");
        }
    }

    let output = Command::new(binary).args(["--device", "wgpu", "--port", "0"]).output().expect("the server runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--device gpu"), "{stderr}");
}

/// The container contract: the port comes from `$PORT` (Knative), `--port` overrides it, and
/// `--model-name` serves the model under a second name (KServe's InferenceService name).
#[test]
fn the_port_comes_from_port_and_the_model_answers_to_model_name() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = free.local_addr().expect("address").port().to_string();
    drop(free);
    let server = Server::start_with(
        server_binary(),
        &["--host", "127.0.0.1", "--model-name", "titanic-isvc"],
        &[("PORT", port.as_str())],
    );
    assert!(server.address().ends_with(&format!(":{port}")), "{} does not use PORT={port}", server.address());
    let reference = reference();
    let request = json_request(&reference, 0..2);
    let (status, own) = infer(&server, &request);
    assert_eq!(status, 200, "{own}");
    let url = server.url("/v2/models/titanic-isvc/infer");
    let (status, _, body) = post(&url, request.to_string().as_bytes(), &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let aliased: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(aliased["model_name"], "titanic-isvc");
    assert_eq!(own["model_name"], "titanic");
    assert_eq!(output(&aliased, "p_survived")["data"], output(&own, "p_survived")["data"]);
    let (status, metadata) = get(&server.url("/v2/models/titanic-isvc"));
    assert_eq!((status, metadata["name"].as_str()), (200, Some("titanic-isvc")));
    let (status, ready) = get(&server.url("/v2/models/titanic-isvc/ready"));
    assert_eq!(status, 200, "{ready}");
    let (status, missing) = get(&server.url("/v2/models/other"));
    assert_eq!(status, 404);
    assert!(missing["error"].as_str().unwrap_or_default().contains("titanic-isvc"), "{missing}");

    let bad = Command::new(server_binary()).env("PORT", "eighty").env_remove("PIPEC_PORT").output().expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("PORT"), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// A Python with NVIDIA's Triton HTTP client, in a venv under the target directory (created
/// on first use with pip).
fn triton_python() -> PathBuf {
    support::python_venv("venv", &["tritonclient[http]==2.73.0", "numpy"])
}

#[test]
fn the_triton_python_client_works_unchanged() {
    let python = triton_python();
    let server = titanic_server(&[]);
    let output = Command::new(python)
        .arg(repo_root().join("tests/clients/triton_http_client.py"))
        .arg(server.address())
        .arg(repo_root().join("examples/titanic/reference.json"))
        .output()
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Triton client failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["rows"], 150);
}

#[test]
fn build_stops_at_diagnostics_without_running_cargo() {
    let dir = target_dir().join("pipec-e2e").join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.pipe");
    std::fs::write(&file, "pipeline broken {\n  input { x: f32 }\n  output { y = x + z }\n}\n").unwrap();
    let out = dir.join("broken-server");
    let output = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .arg("--color")
        .arg("never")
        .arg("build")
        .arg(&file)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("pipec runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.pipe:3:"), "no located diagnostic:\n{stderr}");
    assert!(!stderr.contains("compiling"), "cargo ran on a broken pipeline:\n{stderr}");
    assert!(!out.exists());
}

/// The credit example (an XGBoost model and an MLP side by side, averaged) served by its
/// generated server, at parity with XGBoost and scikit-learn.
#[test]
fn the_credit_example_with_trees_and_an_mlp_is_served_at_reference_parity() {
    let binary = build_server(&repo_root().join("examples/credit/credit.pipe"), "credit-server", &[]);
    let server = Server::start(&binary, &[]);
    let reference = Reference::load(&repo_root().join("examples/credit/reference.json"));
    let column = |name: &str| reference.inputs[name].as_array().unwrap().clone();
    let request = json!({
        "inputs": [
            { "name": "student", "shape": [reference.rows], "datatype": "BYTES", "data": column("student") },
            { "name": "balance", "shape": [reference.rows], "datatype": "FP32", "data": column("balance") },
            { "name": "income", "shape": [reference.rows], "datatype": "FP32", "data": column("income") },
        ],
    });
    let (status, _, body) = post(&server.url("/v2/models/credit/infer"), &serde_json::to_vec(&request).unwrap(), &[]);
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{response}");
    for name in ["p_trees", "p_mlp", "p_default"] {
        assert_close(&format!("served {name}"), &f32_data(output(&response, name)), &reference.output(name), TOLERANCE);
    }
}
