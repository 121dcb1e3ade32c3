//! The Open Inference Protocol's edge cases, after Triton's `qa/L0_http` and the OIP REST
//! spec, against the titanic example's server over raw TCP where the HTTP client would smooth
//! them over: a zero `Inference-Header-Content-Length`, chunked bodies, shapes whose product
//! overflows, binary and JSON inputs and outputs mixed, parameters of the wrong type,
//! pipelined requests, keep-alive connections held idle or used for thousands of requests,
//! and oversized headers. Each must get a definite answer (or a closed connection), and the
//! server must go on answering.

use pipec_tests::repo_root;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod support;

use support::{Server, build_server, post};

fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-edges", &[]))
}

fn server() -> Server {
    Server::start(server_binary(), &["--header-timeout-ms", "1000", "--max-body-bytes", "1048576"])
}

const INFER: &str = "/v2/models/titanic/infer";

/// One JSON request of `rows` rows (the same passenger), with id `id`.
fn request(rows: usize, id: &str) -> Value {
    let column = |v: Value| Value::Array(vec![v; rows]);
    json!({ "id": id, "inputs": [
        { "name": "age", "shape": [rows], "datatype": "FP32", "data": column(json!(29.0)) },
        { "name": "sibsp", "shape": [rows], "datatype": "FP32", "data": column(json!(1.0)) },
        { "name": "parch", "shape": [rows], "datatype": "FP32", "data": column(json!(0.0)) },
        { "name": "sex", "shape": [rows], "datatype": "BYTES", "data": column(json!("female")) },
        { "name": "pclass", "shape": [rows], "datatype": "BYTES", "data": column(json!("2nd")) }
    ] })
}

/// An HTTP/1.1 answer read off a raw connection.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one answer (with a Content-Length body) from `stream`, keeping what follows in
/// `buffer`; `None` when the server closed the connection first.
fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Answer> {
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))).collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some(Answer { status, headers, body })
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.address()).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    stream
}

fn http_post(path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn exchange(server: &Server, raw: &[u8]) -> Answer {
    let mut stream = connect(server);
    stream.write_all(raw).expect("write");
    read_answer(&mut stream, &mut Vec::new()).expect("an answer")
}

fn still_serving(server: &Server) {
    let answer = exchange(server, &http_post(INFER, &[], &serde_json::to_vec(&request(1, "after")).expect("json")));
    assert_eq!(answer.status, 200, "the server stopped answering: {}", answer.json());
}

fn f32_bits(value: &Value) -> Vec<u32> {
    value.as_array().expect("data").iter().map(|v| (v.as_f64().expect("number") as f32).to_bits()).collect()
}

#[test]
fn a_zero_header_length_and_a_bad_one_are_refused_with_the_reason() {
    let server = server();
    let binary = [0u8; 8];
    for (value, expected) in [
        ("0", "not a valid inference request"),
        ("-1", "must be a number of bytes"),
        ("lots", "must be a number of bytes"),
        ("100", "but the body has only 8 bytes"),
    ] {
        let answer =
            exchange(&server, &http_post(INFER, &[("Inference-Header-Content-Length", value.into())], &binary));
        let error = answer.json()["error"].as_str().unwrap_or_default().to_string();
        assert_eq!(answer.status, 400, "header length {value}: {error}");
        assert!(error.contains(expected), "header length {value}: `{error}` does not contain `{expected}`");
    }
    still_serving(&server);
}

#[test]
fn a_chunked_body_scores_like_a_sized_one() {
    let server = server();
    let body = serde_json::to_vec(&request(3, "chunked")).expect("json");
    let sized = exchange(&server, &http_post(INFER, &[], &body));
    let mut raw = format!(
        "POST {INFER} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for piece in body.chunks(7) {
        raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let chunked = exchange(&server, &raw);
    assert_eq!((sized.status, chunked.status), (200, 200), "{}", chunked.json());
    assert_eq!(sized.json()["outputs"], chunked.json()["outputs"]);
}

#[test]
fn shapes_that_overflow_or_lie_are_refused_without_allocating_them() {
    let server = server();
    let huge = 1u64 << 60;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("2^60 rows of JSON", json!([huge]), "holds more values than a request may send"),
        ("a million rows claimed, one sent", json!([1_000_000]), "the shape holds 1000000 values, but 1 were sent"),
        ("negative rows", json!([-1]), "does not fit"),
        ("2^63 - 1 rows", json!([i64::MAX]), "holds more values than a request may send"),
        ("three dimensions", json!([1, 1, 1]), "does not fit"),
    ];
    for (what, shape, expected) in cases {
        let mut body = request(1, what);
        body["inputs"][0]["shape"] = shape;
        let answer = exchange(&server, &http_post(INFER, &[], &serde_json::to_vec(&body).expect("json")));
        let error = answer.json()["error"].as_str().unwrap_or_default().to_string();
        assert_eq!(answer.status, 400, "{what}: {error}");
        assert!(error.contains(expected), "{what}: `{error}` does not contain `{expected}`");
    }
    // The same in binary: a size that a wrapped-around product would match.
    let header = serde_json::to_vec(&json!({ "inputs": [
        { "name": "age", "shape": [huge], "datatype": "FP32", "parameters": { "binary_data_size": 4 } }
    ] }))
    .expect("json");
    let mut body = header.clone();
    body.extend_from_slice(&29f32.to_le_bytes());
    let answer =
        exchange(&server, &http_post(INFER, &[("Inference-Header-Content-Length", header.len().to_string())], &body));
    assert_eq!(answer.status, 400, "{}", answer.json());
    still_serving(&server);
}

#[test]
fn binary_and_json_inputs_and_outputs_mix_and_agree_bit_for_bit() {
    let server = server();
    let json_only =
        exchange(&server, &http_post(INFER, &[], &serde_json::to_vec(&request(2, "json")).expect("json"))).json();
    let expected = f32_bits(&json_only["outputs"][0]["data"]);
    // age and sex in binary, the rest in JSON; p_survived asked for in binary by the
    // request-wide flag, survived kept in JSON by its own parameter.
    let mut head = request(2, "mixed");
    head["inputs"][0] =
        json!({ "name": "age", "shape": [2], "datatype": "FP32", "parameters": { "binary_data_size": 8 } });
    head["inputs"][3] =
        json!({ "name": "sex", "shape": [2], "datatype": "BYTES", "parameters": { "binary_data_size": 20 } });
    head["parameters"] = json!({ "binary_data_output": true });
    head["outputs"] = json!([{ "name": "p_survived" }, { "name": "survived", "parameters": { "binary_data": false } }]);
    let header = serde_json::to_vec(&head).expect("json");
    let mut body = header.clone();
    for _ in 0..2 {
        body.extend_from_slice(&29f32.to_le_bytes());
    }
    for _ in 0..2 {
        body.extend_from_slice(&6u32.to_le_bytes());
        body.extend_from_slice(b"female");
    }
    let answer =
        exchange(&server, &http_post(INFER, &[("Inference-Header-Content-Length", header.len().to_string())], &body));
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let json_length: usize =
        answer.header("inference-header-content-length").and_then(|v| v.parse().ok()).expect("a binary answer");
    let head: Value = serde_json::from_slice(&answer.body[..json_length]).expect("the JSON part");
    let outputs = head["outputs"].as_array().expect("outputs");
    assert_eq!(outputs[0]["parameters"]["binary_data_size"], 8, "{head}");
    let binary: Vec<u32> = answer.body[json_length..json_length + 8]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_bits())
        .collect();
    assert_eq!(binary, expected, "binary p_survived differs from the JSON answer");
    assert_eq!(outputs[1]["data"], json_only["outputs"][1]["data"], "{head}");
}

/// A case: what it is, how it changes a valid request, and the message the answer must hold.
type RequestEdit = (&'static str, Box<dyn Fn(&mut Value)>, &'static str);

#[test]
fn parameters_of_the_wrong_type_are_refused_by_name() {
    let server = server();
    let cases: Vec<RequestEdit> = vec![
        (
            "binary_data_output as a string",
            Box::new(|r| r["parameters"] = json!({ "binary_data_output": "yes" })),
            "parameter `binary_data_output` must be true or false",
        ),
        (
            "binary_data as a number",
            Box::new(|r| r["outputs"] = json!([{ "name": "survived", "parameters": { "binary_data": 1 } }])),
            "parameter `binary_data` must be true or false",
        ),
        (
            "binary_data_size as a string",
            Box::new(|r| r["inputs"][0]["parameters"] = json!({ "binary_data_size": "4" })),
            "binary_data_size",
        ),
        (
            "binary_data_size negative",
            Box::new(|r| r["inputs"][0]["parameters"] = json!({ "binary_data_size": -4 })),
            "binary_data_size",
        ),
        ("parameters as a list", Box::new(|r| r["parameters"] = json!([1, 2])), "not a valid inference request"),
        ("id as a number", Box::new(|r| r["id"] = json!(7)), "not a valid inference request"),
        ("shape as a string", Box::new(|r| r["inputs"][0]["shape"] = json!("1")), "not a valid inference request"),
    ];
    for (what, edit, expected) in cases {
        let mut body = request(1, "p");
        edit(&mut body);
        let answer = exchange(&server, &http_post(INFER, &[], &serde_json::to_vec(&body).expect("json")));
        let error = answer.json()["error"].as_str().unwrap_or_default().to_string();
        assert_eq!(answer.status, 400, "{what}: {error}");
        assert!(error.contains(expected), "{what}: `{error}` does not contain `{expected}`");
    }
    still_serving(&server);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server();
    let mut stream = connect(&server);
    let mut raw = Vec::new();
    for i in 0..5 {
        raw.extend(http_post(
            INFER,
            &[],
            &serde_json::to_vec(&request(i + 1, &format!("pipelined-{i}"))).expect("json"),
        ));
    }
    raw.extend(b"GET /v2/health/ready HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(&raw).expect("write all at once");
    let mut buffer = Vec::new();
    for i in 0..5 {
        let answer = read_answer(&mut stream, &mut buffer).unwrap_or_else(|| panic!("answer {i} missing"));
        assert_eq!(answer.status, 200);
        let body = answer.json();
        assert_eq!(body["id"], format!("pipelined-{i}"), "answers out of order");
        assert_eq!(body["outputs"][0]["shape"], json!([i + 1]), "{body}");
    }
    let ready = read_answer(&mut stream, &mut buffer).expect("the readiness answer");
    assert_eq!(ready.status, 200);
}

#[test]
fn server_metadata_answers_with_and_without_the_specs_trailing_slash() {
    let server = server();
    for path in ["/v2", "/v2/"] {
        let answer = exchange(&server, format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.json()["name"], "pipec", "{path}: {}", answer.json());
    }
}

#[test]
fn keep_alive_connections_serve_many_requests_and_idle_ones_are_closed() {
    let server = server();
    let mut stream = connect(&server);
    let mut buffer = Vec::new();
    let body = serde_json::to_vec(&request(1, "kept")).expect("json");
    for i in 0..2000 {
        stream.write_all(&http_post(INFER, &[], &body)).expect("write");
        let answer = read_answer(&mut stream, &mut buffer)
            .unwrap_or_else(|| panic!("request {i} on the kept connection got no answer"));
        assert_eq!(answer.status, 200);
    }
    // Held open and idle past --header-timeout-ms (1 s): the server closes it.
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(20), "an idle kept-alive connection stayed open for {waited:?}");
    // Many idle connections at once do not stop the server from answering others.
    let idle: Vec<TcpStream> = (0..200).map(|_| connect(&server)).collect();
    still_serving(&server);
    drop(idle);
}

#[test]
fn oversized_headers_are_refused_and_the_server_goes_on() {
    let server = server();
    let many: Vec<(&str, String)> = (0..300).map(|_| ("X-Padding", "a".repeat(100))).collect();
    let mut stream = connect(&server);
    stream.write_all(&http_post(INFER, &many, b"{}")).expect("write");
    // hyper may also close the connection without an answer.
    if let Some(answer) = read_answer(&mut stream, &mut Vec::new()) {
        assert!(answer.status == 431 || answer.status == 400, "300 headers got {}", answer.status);
    }
    let long_path = format!("/v2/models/{}/infer", "t".repeat(100_000));
    let mut stream = connect(&server);
    stream.write_all(&http_post(&long_path, &[], b"{}")).expect("write");
    if let Some(answer) = read_answer(&mut stream, &mut Vec::new()) {
        assert!(answer.status >= 400, "a 100 kB path got {}", answer.status);
    }
    still_serving(&server);
    let (status, _, _) = post(&server.url(INFER), &serde_json::to_vec(&request(1, "ureq")).expect("json"), &[]);
    assert_eq!(status, 200);
}
