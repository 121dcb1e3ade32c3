//! End to end over gRPC: the titanic example's server with `--grpc-port 0`, driven by NVIDIA's
//! Triton gRPC client and the KServe SDK's gRPC client (`tests/clients/grpc_clients.py`, in a
//! venv under the target directory), whose answers must be the REST answers bit for bit.

use pipec_tests::repo_root;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

mod support;

use support::{Server, build_server, get, listening_field, metric};

fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-grpc", &[]))
}

/// A Python with `tritonclient[grpc]` and `kserve`, in a venv of its own under the target
/// directory (created on first use with pip; `serve.rs` has another for the HTTP client).
fn grpc_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| support::python_venv("venv-grpc", &["tritonclient[grpc]==2.73.0", "kserve==0.21.0", "numpy"]))
}

fn grpc_server(args: &[&str]) -> (Server, String) {
    let mut all = vec!["--grpc-port", "0"];
    all.extend_from_slice(args);
    let server = Server::start(server_binary(), &all);
    let address =
        listening_field(&server, "grpc_address").unwrap_or_else(|| panic!("no grpc_address; log:\n{}", server.log()));
    (server, address)
}

fn clients(command: &str, grpc: &str, server: &Server, extra: &[&str]) -> Command {
    let mut command_line = Command::new(grpc_python());
    command_line
        .arg(repo_root().join("tests/clients/grpc_clients.py"))
        .arg(command)
        .arg(grpc)
        .arg(server.address())
        .arg(repo_root().join("examples/titanic/reference.json"))
        .args(extra);
    command_line
}

/// Runs the client script to the end; returns its JSON line.
fn run_clients(command: &str, grpc: &str, server: &Server, extra: &[&str]) -> Value {
    let output = clients(command, grpc, server, extra).output().expect("the clients run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "grpc_clients.py {command} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON line ({e}):\n{stdout}"))
}

#[test]
fn triton_and_kserve_grpc_clients_get_the_rest_answers_bit_for_bit() {
    let (server, grpc) = grpc_server(&["--model-name", "titanic-isvc"]);
    let seen = run_clients("check", &grpc, &server, &["--alias", "titanic-isvc"]);
    assert_eq!(seen["rows"], 150, "{seen}");
    for error in ["triton_max_abs_error", "kserve_raw_max_abs_error", "kserve_typed_max_abs_error"] {
        assert!(seen[error].as_f64().is_some_and(|e| e <= 1e-5), "{error}: {seen}");
    }
    assert_eq!(seen["alias"], "titanic-isvc");

    let (_, metrics) = get(&server.url("/metrics"));
    let metrics = metrics.as_str().expect("metrics text");
    let ok = metric(metrics, r#"pipec_http_requests_total{endpoint="grpc:ModelInfer",code="200"}"#);
    assert!(ok >= 6.0, "gRPC inferences are not counted:\n{metrics}");
    for (code, at_least) in [("400", 3.0), ("404", 3.0)] {
        let series = format!(r#"pipec_http_errors_total{{endpoint="grpc:ModelInfer",code="{code}"}}"#);
        assert!(metric(metrics, &series) >= at_least, "{series}:\n{metrics}");
    }
    assert!(metrics.contains(r#"endpoint="grpc:ServerLive""#), "{metrics}");
    assert!(metrics.contains(r#"endpoint="grpc:RepositoryModelLoad",code="501""#), "{metrics}");
}

#[test]
fn without_grpc_port_there_is_no_grpc_listener() {
    let server = Server::start(server_binary(), &[]);
    assert_eq!(listening_field(&server, "grpc_address"), None, "{}", server.log());
}

#[test]
fn a_full_queue_is_resource_exhausted_over_grpc() {
    let (server, grpc) = grpc_server(&["--queue-capacity", "1", "--max-batch-rows", "1"]);
    let seen = run_clients("full", &grpc, &server, &[]);
    assert!(seen["rejected"].as_u64().is_some_and(|n| n >= 1), "{seen}");
}

#[test]
fn an_oversized_grpc_message_is_resource_exhausted_and_counted() {
    let (server, grpc) = grpc_server(&["--max-body-bytes", "65536"]);
    let seen = run_clients("oversized", &grpc, &server, &[]);
    assert_eq!(seen["status"], "StatusCode.RESOURCE_EXHAUSTED", "{seen}");
    let (_, metrics) = get(&server.url("/metrics"));
    let metrics = metrics.as_str().expect("metrics text");
    let series = r#"pipec_http_errors_total{endpoint="grpc:ModelInfer",code="413"}"#;
    assert_eq!(metric(metrics, series), 1.0, "tonic's rejection is not counted:\n{metrics}");
    let ok = r#"pipec_http_requests_total{endpoint="grpc:ModelInfer",code="200"}"#;
    assert_eq!(metric(metrics, ok), 1.0, "{metrics}");
    assert!(server.log().contains("rejected before the call was read"), "{}", server.log());
}

#[test]
fn sigterm_finishes_in_flight_grpc_calls_then_exits_0() {
    let (mut server, grpc) = grpc_server(&[]);
    let mut client =
        clients("inflight", &grpc, &server, &["1000000"]).stdout(Stdio::piped()).spawn().expect("the client runs");
    let mut lines = BufReader::new(client.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(first, "scoring", "the client did not start; server log:\n{}", server.log());
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}; log:\n{}", server.log());
    let outcome: Value = lines
        .next()
        .and_then(Result::ok)
        .and_then(|line| serde_json::from_str(&line).ok())
        .unwrap_or_else(|| panic!("no outcome from the client; server log:\n{}", server.log()));
    assert!(client.wait().expect("the client ends").success());
    assert_eq!(outcome["status"], "OK", "{outcome}");
    assert_eq!(outcome["rows"], 1_000_000, "{outcome}");
    assert!(server.log().contains("all gRPC connections closed"), "{}", server.log());
    assert!(TcpStream::connect(&grpc).is_err(), "still accepting gRPC connections after exit");
}
