//! End to end in Docker: `pipec build --image` writes the titanic example's server as an image
//! archive without a Docker daemon; these tests load it into a Docker engine and run it as
//! a deployment would: the image's config, the protocol served from the container, a drain
//! on `docker stop`, and a rolling restart of three replicas under load.
//!
//! They need a Docker engine (20.10 or later). Where `docker info` fails, each test prints
//! `skipped: no Docker engine (...)` to stderr and passes. The image is built once per run
//! into `<target>/pipec-e2e/titanic-image.tar`, loaded once while any test uses it, and
//! removed (`docker rmi` of its tag) after the last; containers are removed by a guard even
//! when a test fails. Names carry the process id.

use pipec_tests::{Reference, assert_close, repo_root};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod support;

use support::{get, post, target_dir};

/// scikit-learn computes in f64, the server in f32.
const TOLERANCE: f64 = 1e-5;

/// The port the image's server listens on (`PORT` in the image).
const CONTAINER_PORT: u16 = 8080;

// ---------------------------------------------------------------------------------------
// Docker and the image

/// Runs `docker ARGS`.
fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("the docker command runs")
}

/// Runs `docker ARGS`, panicking with its stderr if it fails; returns stdout, trimmed.
fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(
        output.status.success(),
        "docker {} failed ({}): {}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `Err(why)` when there is no usable Docker engine.
fn docker_engine() -> &'static Result<(), String> {
    static ENGINE: OnceLock<Result<(), String>> = OnceLock::new();
    ENGINE.get_or_init(|| match Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
            Err(if text.is_empty() { output.status.to_string() } else { text })
        }
        Err(e) => Err(e.to_string()),
    })
}

/// The archive `pipec build --image` wrote and what its `manifest.json` says.
struct Archive {
    path: PathBuf,
    /// `repository:tag`, from `manifest.json`'s `RepoTags`.
    repo_tag: String,
    /// `sha256:<hex>` of the config: the image ID Docker gives it.
    id: String,
}

/// Builds the image archive once for all tests in this file.
fn archive() -> &'static Archive {
    static ARCHIVE: OnceLock<Archive> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = target_dir().join("pipec-e2e");
        std::fs::create_dir_all(&dir).expect("the pipec-e2e directory");
        let path = dir.join("titanic-image.tar");
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_pipec"))
            .arg("build")
            .arg(repo_root().join("examples/titanic/titanic.pipe"))
            .arg("--image")
            .arg(&path)
            .arg("--target-dir")
            .arg(target_dir())
            .status()
            .expect("pipec runs");
        assert!(status.success(), "pipec build --image failed: {status}");
        let bytes = std::fs::metadata(&path).expect("the archive exists").len();
        eprintln!("pipec build --image: {} bytes in {:.1?}", bytes, started.elapsed());
        let manifest = archive_member(&path, "manifest.json");
        let manifest: Value = serde_json::from_slice(&manifest).expect("manifest.json is JSON");
        let repo_tag = manifest[0]["RepoTags"][0].as_str().expect("a RepoTag").to_string();
        let config = manifest[0]["Config"].as_str().expect("a Config path");
        let hex = config.strip_prefix("blobs/sha256/").expect("the config is a blob");
        Archive { id: format!("sha256:{hex}"), path, repo_tag }
    })
}

/// One member of a tar archive, read with the system's `tar`.
fn archive_member(archive: &std::path::Path, member: &str) -> Vec<u8> {
    let output = Command::new("tar").arg("-xOf").arg(archive).arg(member).output().expect("tar runs");
    assert!(
        output.status.success(),
        "tar -xOf {} {member}: {}",
        archive.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// How many tests hold the loaded image, and what `docker load` said.
static LOADED: Mutex<(usize, String)> = Mutex::new((0, String::new()));

/// The image, loaded into the engine while held; the last holder removes it again.
struct Image {
    archive: &'static Archive,
    load_output: String,
}

impl Image {
    /// `None`, after saying so, when there is no Docker engine.
    fn get() -> Option<Image> {
        if let Err(why) = docker_engine() {
            eprintln!("skipped: no Docker engine (docker info failed: {why})");
            return None;
        }
        let archive = archive();
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if loaded.0 == 0 {
            let started = Instant::now();
            let output = docker_ok(&["load", "-i", archive.path.to_str().expect("a UTF-8 path")]);
            eprintln!("docker load: {output} ({:.1?})", started.elapsed());
            loaded.1 = output;
        }
        loaded.0 += 1;
        Some(Image { archive, load_output: loaded.1.clone() })
    }

    /// What `docker run` is given: the ID, so that no other image of that tag is used.
    fn reference(&self) -> &str {
        &self.archive.id
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        loaded.0 -= 1;
        if loaded.0 == 0 {
            let _ = docker(&["rmi", &self.archive.repo_tag]);
        }
    }
}

/// The containers a test started, removed (with `docker rm -f`) when dropped.
struct Containers {
    names: Mutex<Vec<String>>,
    prefix: String,
    next: AtomicUsize,
}

impl Containers {
    fn new(test: &str) -> Containers {
        Containers {
            names: Mutex::new(Vec::new()),
            prefix: format!("pipec-e2e-{}-{test}", std::process::id()),
            next: AtomicUsize::new(0),
        }
    }

    /// `docker run -d` of `image` publishing the server's port on `127.0.0.1:host_port` (0
    /// for any free one); returns the container's name and the host port.
    fn run(&self, image: &Image, host_port: u16, extra: &[&str]) -> (String, u16) {
        let name = format!("{}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed));
        self.names.lock().unwrap().push(name.clone());
        let publish = if host_port == 0 {
            format!("127.0.0.1::{CONTAINER_PORT}")
        } else {
            format!("127.0.0.1:{host_port}:{CONTAINER_PORT}")
        };
        let mut args = vec!["run", "-d", "--name", &name, "-p", &publish];
        args.extend(extra);
        args.push(image.reference());
        docker_ok(&args);
        let port = host_port_of(&name);
        (name, port)
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !names.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(names.iter().map(String::as_str));
            let _ = docker(&args);
        }
    }
}

/// The host port `docker run -p` published the server's port on.
fn host_port_of(name: &str) -> u16 {
    let mapping = docker_ok(&["port", name, &format!("{CONTAINER_PORT}/tcp")]);
    let first = mapping.lines().next().unwrap_or_default();
    first
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("`docker port {name}` said `{mapping}`"))
}

fn logs(name: &str) -> String {
    let output = docker(&["logs", name]);
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Polls `/v2/health/ready` until it answers 200 (connection errors while the server starts
/// are expected); returns how long that took.
fn wait_ready(name: &str, port: u16) -> Duration {
    let started = Instant::now();
    let agent = quick_agent();
    let url = format!("http://127.0.0.1:{port}/v2/health/ready");
    loop {
        if agent.get(&url).call().is_ok_and(|response| response.status() == 200) {
            return started.elapsed();
        }
        let running = docker(&["inspect", "-f", "{{.State.Running}}", name]);
        assert!(
            String::from_utf8_lossy(&running.stdout).trim() != "false",
            "container {name} exited before it was ready; log:\n{}",
            logs(name)
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "container {name} not ready after 60 s; log:\n{}",
            logs(name)
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A client that opens a new connection per request and gives up after 20 s.
fn quick_agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build();
    ureq::Agent::new_with_config(config)
}

// ---------------------------------------------------------------------------------------
// The titanic reference (as in serve.rs)

fn reference() -> Reference {
    Reference::load(&repo_root().join("examples/titanic/reference.json"))
}

fn datatype(name: &str) -> &'static str {
    if matches!(name, "sex" | "pclass") { "BYTES" } else { "FP32" }
}

const INPUTS: [&str; 5] = ["age", "sibsp", "parch", "sex", "pclass"];

/// An inference request for reference rows `rows`, as JSON.
fn json_request(reference: &Reference, rows: std::ops::Range<usize>) -> Value {
    let inputs: Vec<Value> = INPUTS
        .iter()
        .map(|&name| {
            let data = &reference.inputs[name].as_array().unwrap()[rows.clone()];
            json!({ "name": name, "shape": [rows.len()], "datatype": datatype(name), "data": data })
        })
        .collect();
    json!({ "id": format!("rows-{}-{}", rows.start, rows.end), "inputs": inputs })
}

/// `rows` rows cycling through the reference rows (row `i` is reference row `i % 150`).
fn cycled_request(reference: &Reference, rows: usize) -> Value {
    let inputs: Vec<Value> = INPUTS
        .iter()
        .map(|&name| {
            let column = reference.inputs[name].as_array().unwrap();
            let data: Vec<Value> = (0..rows).map(|i| column[i % column.len()].clone()).collect();
            json!({ "name": name, "shape": [rows], "datatype": datatype(name), "data": data })
        })
        .collect();
    json!({ "id": "cycled", "inputs": inputs })
}

fn output<'a>(response: &'a Value, name: &str) -> &'a Value {
    response["outputs"].as_array().expect("outputs").iter().find(|o| o["name"] == name).expect("output present")
}

fn f32_data(output: &Value) -> Vec<f64> {
    output["data"].as_array().expect("data").iter().map(|v| v.as_f64().expect("number")).collect()
}

/// Whether `response` holds the reference's `p_survived` for rows `rows` (cycled).
fn p_survived_matches(response: &Value, expected: &[f64], rows: std::ops::Range<usize>) -> Result<(), String> {
    let served = response["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["name"] == "p_survived"))
        .and_then(|p| p["data"].as_array())
        .ok_or_else(|| format!("no p_survived in {response}"))?;
    if served.len() != rows.len() {
        return Err(format!("{} values for {} rows", served.len(), rows.len()));
    }
    for (value, row) in served.iter().zip(rows) {
        let want = expected[row % expected.len()];
        match value.as_f64() {
            Some(got) if (got - want).abs() <= TOLERANCE => {}
            other => return Err(format!("row {row}: p_survived {other:?}, expected {want}")),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn docker_load_accepts_the_archive_and_the_config_runs_the_server_as_nonroot() {
    let Some(image) = Image::get() else { return };
    let archive = image.archive;
    assert!(
        image.load_output.contains(&format!("Loaded image: {}", archive.repo_tag)),
        "docker load said: {}",
        image.load_output
    );
    let inspect: Value = serde_json::from_str(&docker_ok(&["image", "inspect", &archive.repo_tag])).expect("JSON");
    let inspect = &inspect[0];
    assert_eq!(inspect["Id"], archive.id.as_str(), "the image ID is the config's digest");
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Architecture"], "amd64");
    let config = &inspect["Config"];
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["Entrypoint"], json!(["/server"]));
    assert_eq!(config["ExposedPorts"], json!({ format!("{CONTAINER_PORT}/tcp"): {} }));
    let env: Vec<&str> = config["Env"].as_array().expect("Env").iter().filter_map(Value::as_str).collect();
    assert!(env.contains(&format!("PORT={CONTAINER_PORT}").as_str()), "{env:?}");
    assert!(env.contains(&"PIPEC_HOST=0.0.0.0"), "{env:?}");
    assert_eq!(inspect["RootFS"]["Layers"].as_array().map(Vec::len), Some(1), "one layer: {}", inspect["RootFS"]);

    // The same archive is an OCI image layout whose index names the tag.
    let layout: Value = serde_json::from_slice(&archive_member(&archive.path, "oci-layout")).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: Value = serde_json::from_slice(&archive_member(&archive.path, "index.json")).unwrap();
    let tag = archive.repo_tag.rsplit_once(':').expect("repository:tag").1;
    assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], tag);
    let bytes = std::fs::metadata(&archive.path).unwrap().len();
    eprintln!("archive {bytes} bytes; image size {} bytes", inspect["Size"]);
}

#[test]
fn the_container_serves_the_protocol_and_scores_reference_rows_as_scikit_learn_does() {
    let Some(image) = Image::get() else { return };
    let containers = Containers::new("serve");
    let started = Instant::now();
    let (name, port) = containers.run(&image, 0, &[]);
    let waited = wait_ready(&name, port);
    eprintln!(
        "docker run to ready: {:.0?} (ready answered {:.0?} after docker run returned)",
        started.elapsed(),
        waited
    );

    let listening = logs(&name)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["message"] == "listening")
        .unwrap_or_else(|| panic!("no `listening` line; log:\n{}", logs(&name)));
    assert_eq!(listening["address"], format!("0.0.0.0:{CONTAINER_PORT}"), "{listening}");

    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(get(&format!("{base}/v2/health/live")).0, 200);
    assert_eq!(get(&format!("{base}/v2/models/titanic/ready")).0, 200);
    let reference = reference();
    let request = json_request(&reference, 0..reference.rows);
    let (status, _, body) =
        post(&format!("{base}/v2/models/titanic/infer"), &serde_json::to_vec(&request).unwrap(), &[]);
    let response: Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["model_name"], "titanic");
    assert_eq!(response["id"], format!("rows-0-{}", reference.rows));
    let p = output(&response, "p_survived");
    assert_eq!(p["shape"], json!([reference.rows]));
    assert_close("p_survived served from the container", &f32_data(p), &reference.output("p_survived"), TOLERANCE);
    let survived: Vec<bool> =
        output(&response, "survived")["data"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
    for (row, (&s, p)) in survived.iter().zip(reference.output("p_survived")).enumerate() {
        if (p - 0.5).abs() > TOLERANCE {
            assert_eq!(s, p > 0.5, "survived[{row}] with reference probability {p}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests over their own connection, with `Expect: 100-continue`: the server's `100
// Continue` says it has accepted the connection and begun reading the request, so a failure
// before it is a refusal (retryable: the server never saw the request) and one after it is a
// request lost in flight.

/// How a request over its own connection ended.
#[derive(Debug)]
enum Outcome {
    /// The server answered: the status and the body.
    Answered(u16, Vec<u8>),
    /// Refused, reset or closed before the server began reading the request.
    BeforeRequest(String),
    /// Failed after the server began reading the request (or hung).
    InFlight(String),
}

/// An infer request the server has begun reading (it sent `100 Continue`).
struct Started {
    stream: TcpStream,
    body: Vec<u8>,
    sent: usize,
    /// Bytes read after the `100 Continue`.
    received: Vec<u8>,
}

/// Connects to `127.0.0.1:port`, sends an infer request's head with `Expect: 100-continue`
/// and waits for the server to ask for the body. `Err` if it does not (an answer without
/// reading the body is `Err(Outcome::Answered)`).
fn begin_infer(port: u16, body: Vec<u8>) -> Result<Started, Outcome> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| Outcome::BeforeRequest(format!("connect: {e}")))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = stream.set_nodelay(true);
    let head = format!(
        "POST /v2/models/titanic/infer HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(|e| Outcome::BeforeRequest(format!("sending the head: {e}")))?;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let end = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buffer) {
            Ok(0) if received.is_empty() => return Err(Outcome::BeforeRequest("closed before 100 Continue".into())),
            Ok(0) => {
                return Err(Outcome::InFlight(format!(
                    "closed in a response head: {}",
                    String::from_utf8_lossy(&received)
                )));
            }
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e)
                if received.is_empty()
                    && !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                return Err(Outcome::BeforeRequest(format!("before 100 Continue: {e}")));
            }
            Err(e) => return Err(Outcome::InFlight(format!("waiting for 100 Continue: {e}"))),
        }
    };
    if received.starts_with(b"HTTP/1.1 100") {
        received.drain(..end);
        Ok(Started { stream, body, sent: 0, received })
    } else {
        // A final answer without reading the body (a 4xx, say).
        Err(read_to_close(stream, received))
    }
}

impl Started {
    /// Sends the body up to byte `upto`.
    fn send(&mut self, upto: usize) -> Result<(), Outcome> {
        self.stream
            .write_all(&self.body[self.sent..upto])
            .map_err(|e| Outcome::InFlight(format!("sending the body: {e}")))?;
        self.sent = upto;
        Ok(())
    }

    /// Sends the rest of the body and reads the answer.
    fn finish(mut self) -> Outcome {
        if let Err(outcome) = self.send(self.body.len()) {
            return outcome;
        }
        read_to_close(self.stream, self.received)
    }
}

/// Reads the response (after `received`) to the end of the connection and parses it.
fn read_to_close(mut stream: TcpStream, mut received: Vec<u8>) -> Outcome {
    let read = stream.read_to_end(&mut received);
    match (parse_response(&received), read) {
        (Ok((status, body)), _) => Outcome::Answered(status, body),
        (Err(e), Err(read)) => Outcome::InFlight(format!("{read}; {e}")),
        (Err(e), Ok(_)) => Outcome::InFlight(e),
    }
}

/// An HTTP/1.1 response's status and body (`Content-Length` or chunked), if complete.
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let show = || String::from_utf8_lossy(&raw[..raw.len().min(300)]).into_owned();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete response head: {}", show()))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status =
        head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no status: {}", show()))?;
    let mut rest = &raw[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        let mut body = Vec::new();
        loop {
            let line = rest.windows(2).position(|w| w == b"\r\n").ok_or("a chunk ended early")?;
            let size = String::from_utf8_lossy(&rest[..line]).split(';').next().unwrap_or("").trim().to_string();
            let size = usize::from_str_radix(&size, 16).map_err(|e| format!("chunk size `{size}`: {e}"))?;
            rest = &rest[line + 2..];
            if size == 0 {
                return Ok((status, body));
            }
            body.extend_from_slice(rest.get(..size).ok_or("a chunk ended early")?);
            rest = rest.get(size + 2..).ok_or("a chunk ended early")?;
        }
    }
    match head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse::<usize>()) {
        Some(Ok(length)) if rest.len() < length => {
            Err(format!("the body ended after {} of {length} bytes", rest.len()))
        }
        Some(Ok(length)) => Ok((status, rest[..length].to_vec())),
        _ => Ok((status, rest.to_vec())),
    }
}

fn infer_over_new_connection(port: u16, body: Vec<u8>) -> Outcome {
    match begin_infer(port, body) {
        Ok(started) => started.finish(),
        Err(outcome) => outcome,
    }
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body[..body.len().min(300)]).into()))
}

#[test]
fn docker_stop_lets_an_in_flight_request_finish_then_the_container_exits_0() {
    let Some(image) = Image::get() else { return };
    let containers = Containers::new("drain");
    let (name, port) = containers.run(&image, 0, &[]);
    wait_ready(&name, port);

    // A 200 000-row request the server has begun reading, half its body sent, when
    // `docker stop` sends SIGTERM; the rest is sent once the server says it is shutting down.
    const ROWS: usize = 200_000;
    let reference = reference();
    let body = serde_json::to_vec(&cycled_request(&reference, ROWS)).unwrap();
    let half = body.len() / 2;
    let mut request = begin_infer(port, body).unwrap_or_else(|outcome| panic!("the request was not read: {outcome:?}"));
    request.send(half).unwrap_or_else(|outcome| panic!("{outcome:?}"));

    let stop_started = Instant::now();
    let stop = {
        let name = name.clone();
        std::thread::spawn(move || docker(&["stop", "-t", "30", &name]))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !logs(&name).contains("shutting down") {
        assert!(Instant::now() < deadline, "no `shutting down` after docker stop; log:\n{}", logs(&name));
        std::thread::sleep(Duration::from_millis(20));
    }
    // New requests are not taken any more...
    let small = serde_json::to_vec(&json_request(&reference, 0..1)).unwrap();
    let late = infer_over_new_connection(port, small);
    assert!(matches!(late, Outcome::BeforeRequest(_)), "a request after SIGTERM: {late:?}");
    // ...but the one in flight is finished.
    let outcome = request.finish();
    let answered = stop_started.elapsed();
    let Outcome::Answered(status, response) = outcome else {
        panic!("the in-flight request: {outcome:?}; log:\n{}", logs(&name))
    };
    let response = json_or_text(&response);
    assert_eq!(status, 200, "{response}");
    p_survived_matches(&response, &reference.output("p_survived"), 0..ROWS).unwrap();

    let stopped = stop.join().unwrap();
    let took = stop_started.elapsed();
    assert!(stopped.status.success(), "docker stop: {}", String::from_utf8_lossy(&stopped.stderr));
    let exit_code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    assert_eq!(exit_code, "0", "exit code after docker stop; log:\n{}", logs(&name));
    assert!(took < Duration::from_secs(25), "docker stop took {took:?}: the drain ran into the timeout");
    eprintln!(
        "in-flight {ROWS}-row request answered {answered:.0?} after docker stop began; container stopped after {took:.0?}"
    );
}

/// One replica in the rolling-restart test.
struct Replica {
    port: u16,
    /// In the clients' rotation.
    serving: AtomicBool,
    /// Being stopped (SIGTERM sent, not yet exited).
    stopping: AtomicBool,
    /// Requests the server has begun reading and not yet answered.
    in_flight: AtomicUsize,
    /// Requests answered since the replica last joined the rotation.
    answered: AtomicUsize,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    /// Answered by a replica that was draining.
    during_drain: AtomicU64,
    /// Sent again after a refusal before the request was read.
    retried: AtomicU64,
    /// The first such refusal, to show.
    first_refusal: Mutex<Option<String>>,
    failures: Mutex<Vec<String>>,
}

#[test]
fn a_rolling_restart_of_three_replicas_under_load_fails_no_request() {
    let Some(image) = Image::get() else { return };
    let containers = Containers::new("rolling");
    let mut names = Vec::new();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let (name, port) = containers.run(&image, 0, &[]);
        names.push(name);
        replicas.push(Replica {
            port,
            serving: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
        });
    }
    for (name, replica) in names.iter().zip(&replicas) {
        wait_ready(name, replica.port);
        replica.serving.store(true, Ordering::SeqCst);
    }
    let replicas = Arc::new(replicas);
    let tally = Arc::new(Tally::default());
    let running = Arc::new(AtomicBool::new(true));
    let reference = Arc::new(reference());
    let expected = Arc::new(reference.output("p_survived"));
    let next = Arc::new(AtomicUsize::new(0));

    // Clients: round-robin over the replicas in rotation, a new connection per request; one
    // sends 50 000-row requests, so that drains have work in flight. A request refused before
    // a server read it is counted and sent to the next replica; any other failure, and any
    // answer that is not a correct 200, fails the test.
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (replicas, tally, running, reference, expected, next) =
                (replicas.clone(), tally.clone(), running.clone(), reference.clone(), expected.clone(), next.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::SeqCst) {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let (rows, body) = if client == 0 {
                        (0..50_000, serde_json::to_vec(&cycled_request(&reference, 50_000)).unwrap())
                    } else {
                        let start = n % (reference.rows - 5);
                        (start..start + 5, serde_json::to_vec(&json_request(&reference, start..start + 5)).unwrap())
                    };
                    let mut attempt = 0;
                    loop {
                        attempt += 1;
                        if attempt > 50 {
                            tally.failures.lock().unwrap().push(format!("request {n}: refused 50 times"));
                            break;
                        }
                        let Some(index) = (0..replicas.len())
                            .map(|k| (n + attempt + k) % replicas.len())
                            .find(|&index| replicas[index].serving.load(Ordering::SeqCst))
                        else {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        };
                        let replica = &replicas[index];
                        let outcome = match begin_infer(replica.port, body.clone()) {
                            Ok(started) => {
                                replica.in_flight.fetch_add(1, Ordering::SeqCst);
                                let outcome = started.finish();
                                replica.in_flight.fetch_sub(1, Ordering::SeqCst);
                                outcome
                            }
                            Err(outcome) => outcome,
                        };
                        match outcome {
                            Outcome::Answered(200, answer) => {
                                if let Err(e) = p_survived_matches(&json_or_text(&answer), &expected, rows.clone()) {
                                    tally
                                        .failures
                                        .lock()
                                        .unwrap()
                                        .push(format!("request {n} to replica {index}: wrong answer: {e}"));
                                } else {
                                    tally.ok.fetch_add(1, Ordering::SeqCst);
                                    replica.answered.fetch_add(1, Ordering::SeqCst);
                                    if replica.stopping.load(Ordering::SeqCst) {
                                        tally.during_drain.fetch_add(1, Ordering::SeqCst);
                                    }
                                }
                            }
                            Outcome::Answered(status, answer) => {
                                let answer = json_or_text(&answer);
                                tally
                                    .failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("request {n} to replica {index}: {status} {answer}"));
                            }
                            Outcome::BeforeRequest(why) => {
                                tally.retried.fetch_add(1, Ordering::SeqCst);
                                tally.first_refusal.lock().unwrap().get_or_insert(format!("replica {index}: {why}"));
                                continue;
                            }
                            Outcome::InFlight(e) => {
                                tally
                                    .failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("request {n} to replica {index} lost in flight: {e}"));
                            }
                        }
                        break;
                    }
                }
            })
        })
        .collect();

    // Replace each replica in turn, once it has a request in flight: `docker stop` while it
    // is still in the rotation (clients see refusals once the listener is closed), a new
    // container on the same host port, back in the rotation once ready.
    std::thread::sleep(Duration::from_secs(1));
    for (index, name) in names.iter_mut().enumerate() {
        let replica = &replicas[index];
        let deadline = Instant::now() + Duration::from_secs(5);
        while replica.in_flight.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let in_flight = replica.in_flight.load(Ordering::SeqCst);
        let before = tally.ok.load(Ordering::SeqCst);
        let started = Instant::now();
        replica.stopping.store(true, Ordering::SeqCst);
        docker_ok(&["stop", "-t", "30", name]);
        replica.serving.store(false, Ordering::SeqCst);
        replica.stopping.store(false, Ordering::SeqCst);
        let stopped = started.elapsed();
        let exit_code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", name]);
        assert_eq!(exit_code, "0", "replica {index} after docker stop; log:\n{}", logs(name));
        let (new_name, port) = containers.run(&image, replica.port, &[]);
        assert_eq!(port, replica.port);
        let ready = wait_ready(&new_name, port);
        replica.answered.store(0, Ordering::SeqCst);
        replica.serving.store(true, Ordering::SeqCst);
        eprintln!(
            "replica {index} replaced: {in_flight} request(s) in flight at docker stop, stopped in {stopped:.0?}, \
             new one ready {ready:.0?} after docker run; {} requests answered meanwhile",
            tally.ok.load(Ordering::SeqCst) - before
        );
        *name = new_name;
        std::thread::sleep(Duration::from_millis(700));
    }
    std::thread::sleep(Duration::from_millis(500));
    running.store(false, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }

    let failures = tally.failures.lock().unwrap();
    let ok = tally.ok.load(Ordering::SeqCst);
    eprintln!(
        "rolling restart: {ok} requests answered 200 and correct ({} by a draining replica); {} refusals before a request was read, sent again (first: {})",
        tally.during_drain.load(Ordering::SeqCst),
        tally.retried.load(Ordering::SeqCst),
        tally.first_refusal.lock().unwrap().as_deref().unwrap_or("none")
    );
    assert!(failures.is_empty(), "{} failed requests:\n{}", failures.len(), failures.join("\n"));
    assert!(ok > 100, "only {ok} requests answered under load");
    for (index, replica) in replicas.iter().enumerate() {
        assert!(replica.answered.load(Ordering::SeqCst) > 0, "the new replica {index} answered nothing");
    }
}
