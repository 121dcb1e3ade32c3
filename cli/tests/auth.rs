//! Bearer tokens (`--auth-token-file`, `--auth-groups`) on the titanic example's server, over
//! REST (ureq) and gRPC (NVIDIA's Triton client and a raw stub, `tests/clients/grpc_clients.py
//! auth`): health stays open, a missing or unknown token is 401 / UNAUTHENTICATED, a token
//! without the group is 403 / PERMISSION_DENIED, refusals are counted, and a rewritten token
//! file takes effect without a restart.

use pipec_tests::repo_root;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use support::{Server, agent, build_server, listening_field, metric};

const TOKEN: &str = "client-7f3a9c";
const LABELER: &str = "labeler-41d2";

fn server_binary() -> PathBuf {
    build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-auth", &[])
}

fn token_file(name: &str, text: &str) -> PathBuf {
    let dir = support::target_dir().join("pipec-e2e/auth");
    std::fs::create_dir_all(&dir).expect("folder");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("token file");
    path
}

/// GET or POST `path` with an optional bearer token: status, `WWW-Authenticate`, JSON body.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> (u16, Option<String>, Value) {
    let url = server.url(path);
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut response = match (method, body) {
        ("GET", _) => {
            let mut request = agent().get(&url);
            if let Some(b) = &bearer {
                request = request.header("authorization", b);
            }
            request.call()
        }
        (_, body) => {
            let mut request = agent().post(&url).header("content-type", "application/json");
            if let Some(b) = &bearer {
                request = request.header("authorization", b);
            }
            request.send(serde_json::to_vec(body.unwrap_or(&json!({}))).expect("json").as_slice())
        }
    }
    .expect("answered");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(String::from);
    let text = response.body_mut().read_to_string().expect("body");
    (status, challenge, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn one_row() -> Value {
    json!({ "inputs": [
        { "name": "age", "shape": [1], "datatype": "FP32", "data": [29.0] },
        { "name": "sibsp", "shape": [1], "datatype": "FP32", "data": [0.0] },
        { "name": "parch", "shape": [1], "datatype": "FP32", "data": [0.0] },
        { "name": "sex", "shape": [1], "datatype": "BYTES", "data": ["female"] },
        { "name": "pclass", "shape": [1], "datatype": "BYTES", "data": ["1st"] }
    ] })
}

#[test]
fn tokens_guard_every_group_but_health_and_reload_without_a_restart() {
    let tokens = token_file("tokens", &format!("# test tokens\n{TOKEN}\n{LABELER} feedback,monitor\n"));
    let server = Server::start(&server_binary(), &["--auth-token-file", path_str(&tokens)]);
    let infer = "/v2/models/titanic/infer";
    let row = one_row();

    // Health probes need no token.
    for path in ["/v2/health/live", "/v2/health/ready", "/v2/models/titanic/ready"] {
        assert_eq!(call(&server, "GET", path, None, None).0, 200, "{path}");
    }
    // Every other group does.
    for (method, path) in [
        ("POST", infer),
        ("GET", "/v2"),
        ("GET", "/v2/models/titanic"),
        ("GET", "/metrics"),
        ("GET", "/v2/models/titanic/monitor"),
        ("POST", "/v2/models/titanic/feedback"),
    ] {
        let (status, challenge, body) = call(&server, method, path, Some(&row), None);
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{method} {path}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("Authorization: Bearer"), "{method} {path}: {body}");
    }
    let (status, _, body) = call(&server, "POST", infer, Some(&row), Some("not-a-token"));
    assert_eq!((status, body["error"].as_str()), (401, Some("the token is not valid")));
    let (status, challenge, body) = call(&server, "POST", infer, Some(&row), Some(LABELER));
    assert_eq!((status, challenge), (403, None), "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("inference"), "{body}");
    // The labeler's token reaches feedback (and is then judged on its body, not refused).
    let (status, _, body) = call(&server, "POST", "/v2/models/titanic/feedback", Some(&json!({})), Some(LABELER));
    assert!(status != 401 && status != 403, "feedback with the labeler's token: {status} {body}");

    let (status, _, body) = call(&server, "POST", infer, Some(&row), Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    let p = body["outputs"][0]["data"][0].as_f64().expect("a probability");
    assert!((0.0..=1.0).contains(&p), "{body}");

    // Refusals are counted, by group and reason.
    let (status, _, metrics) = call(&server, "GET", "/metrics", None, Some(TOKEN));
    assert_eq!(status, 200);
    let text = metrics.as_str().expect("metrics text");
    assert_eq!(metric(text, r#"pipec_auth_refusals_total{group="inference",reason="missing"}"#), 1.0, "{text}");
    assert_eq!(metric(text, r#"pipec_auth_refusals_total{group="inference",reason="unknown_token"}"#), 1.0);
    assert_eq!(metric(text, r#"pipec_auth_refusals_total{group="inference",reason="forbidden"}"#), 1.0);
    assert_eq!(metric(text, r#"pipec_auth_refusals_total{group="metrics",reason="missing"}"#), 1.0);
    assert_eq!(
        metric(text, r#"pipec_http_requests_total{endpoint="/v2/models/{name}/infer",code="401"}"#),
        2.0,
        "{text}"
    );

    // Rotating the token: the file is rewritten in place (as a mounted Secret is).
    std::fs::write(&tokens, "rotated-9b1e\n").expect("rewrite");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let old = call(&server, "POST", infer, Some(&row), Some(TOKEN)).0;
        let new = call(&server, "POST", infer, Some(&row), Some("rotated-9b1e")).0;
        if (old, new) == (401, 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated token file was not picked up: old {old}, new {new}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A broken rewrite keeps the tokens that worked, and says so in the log.
    std::fs::write(&tokens, "rotated-9b1e no-such-group\n").expect("rewrite");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.log().contains("keeping the previous tokens") {
        assert!(Instant::now() < deadline, "no log line for the broken token file:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(call(&server, "POST", infer, Some(&row), Some("rotated-9b1e")).0, 200);
}

#[test]
fn only_the_named_groups_are_restricted() {
    let tokens = token_file("tokens-groups", &format!("{TOKEN}\n"));
    let server =
        Server::start(&server_binary(), &["--auth-token-file", path_str(&tokens), "--auth-groups", "feedback,monitor"]);
    assert_eq!(call(&server, "POST", "/v2/models/titanic/infer", Some(&one_row()), None).0, 200);
    assert_eq!(call(&server, "GET", "/metrics", None, None).0, 200);
    assert_eq!(call(&server, "GET", "/v2/models/titanic/monitor", None, None).0, 401);
    assert_eq!(call(&server, "GET", "/v2/models/titanic/monitor", None, Some(TOKEN)).0, 200);
}

#[test]
fn a_bad_token_file_or_group_stops_the_server_at_start() {
    let binary = server_binary();
    let empty = token_file("tokens-empty", "# no tokens\n");
    for (args, expected) in [
        (vec!["--auth-token-file", path_str(&empty)], "holds no token"),
        (vec!["--auth-token-file", "/nonexistent/pipec-tokens"], "cannot read the token file"),
        (
            vec!["--auth-token-file", path_str(&empty), "--auth-groups", "inference,scoring"],
            "unknown API group `scoring`",
        ),
    ] {
        let output = Command::new(&binary).args(["--port", "0"]).args(&args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn grpc_calls_need_the_token_too() {
    let tokens = token_file("tokens-grpc", &format!("{TOKEN}\n{LABELER} feedback\n"));
    let server = Server::start(&server_binary(), &["--auth-token-file", path_str(&tokens), "--grpc-port", "0"]);
    let grpc = listening_field(&server, "grpc_address").unwrap_or_else(|| panic!("no grpc_address:\n{}", server.log()));
    let python = support::python_venv("venv-grpc", &["tritonclient[grpc]==2.73.0", "kserve==0.21.0", "numpy"]);
    let output = Command::new(python)
        .arg(repo_root().join("tests/clients/grpc_clients.py"))
        .args(["auth", &grpc, server.address()])
        .arg(repo_root().join("examples/titanic/reference.json"))
        .args([TOKEN, LABELER])
        .output()
        .expect("the client runs");
    assert!(
        output.status.success(),
        "grpc_clients.py auth failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    let (_, _, metrics) = call(&server, "GET", "/metrics", None, Some(TOKEN));
    let text = metrics.as_str().expect("metrics text");
    assert!(metric(text, r#"pipec_auth_refusals_total{group="inference",reason="forbidden"}"#) >= 1.0, "{text}");
    assert!(metric(text, r#"pipec_http_requests_total{endpoint="grpc:ModelInfer",code="401"}"#) >= 2.0, "{text}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
