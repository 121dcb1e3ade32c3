//! What the server end-to-end tests share: building a server binary with `pipec build -o`
//! in the tests' own target directory, running it on a free port, and HTTP helpers.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cargo target directory these tests were built in (`<target>/release/deps/serve-*`),
/// shared with the server build so that burn is not compiled again.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target directory").to_path_buf()
}

/// The Python of a venv `<target>/pipec-e2e/<name>` holding `packages` (pinned), made with pip
/// on first use; a marker file naming the packages says it is complete, so a venv whose
/// install failed or whose package list changed is made again.
pub fn python_venv(name: &str, packages: &[&str]) -> PathBuf {
    let venv = target_dir().join("pipec-e2e").join(name);
    let python = venv.join("bin").join("python");
    let marker = venv.join("installed");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == wanted) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 runs");
    assert!(made.success(), "python3 -m venv {} failed", venv.display());
    let pip =
        Command::new(&python).args(["-m", "pip", "install", "--quiet"]).args(packages).status().expect("pip runs");
    assert!(pip.success(), "pip install {} failed", packages.join(" "));
    std::fs::write(&marker, wanted).expect("the venv's marker file");
    python
}

/// Runs `pipec build <pipe> -o <target>/pipec-e2e/<name> [extra]` and returns the binary.
pub fn build_server(pipe: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = target_dir().join("pipec-e2e").join(name);
    let status = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .arg("build")
        .arg(pipe)
        .arg("-o")
        .arg(&out)
        .arg("--target-dir")
        .arg(target_dir())
        .args(extra)
        .status()
        .expect("pipec runs");
    assert!(status.success(), "pipec build -o failed: {status}");
    out
}

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(binary: &Path, args: &[&str]) -> Server {
        let mut all = vec!["--host", "127.0.0.1", "--port", "0"];
        all.extend_from_slice(args);
        Server::start_with(binary, &all, &[])
    }

    /// Starts `binary` with exactly `args` (plus JSON logs) and the environment `env`, so
    /// that a test can leave the address to the environment (`PORT`, `PIPEC_HOST`).
    pub fn start_with(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(binary)
            .args(["--log-format", "json"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == "listening"
                {
                    let _ = address_tx.send(event["address"].as_str().unwrap_or_default().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = address_rx.recv_timeout(Duration::from_secs(300)).unwrap_or_else(|_| {
            panic!("the server did not report its address; log:\n{}", log.lock().unwrap().join("\n"))
        });
        Server { child, base: format!("http://{address}"), log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop after SIGTERM; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build();
    ureq::Agent::new_with_config(config)
}

pub fn get(url: &str) -> (u16, Value) {
    let mut response = agent().get(url).call().expect("GET answered");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

pub fn post(url: &str, body: &[u8], headers: &[(&str, String)]) -> (u16, Option<usize>, Vec<u8>) {
    let mut request = agent().post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = request.send(body).expect("POST answered");
    let status = response.status().as_u16();
    let json_length =
        response.headers().get("inference-header-content-length").and_then(|v| v.to_str().ok()?.parse().ok());
    let bytes = response.body_mut().with_config().limit(1 << 30).read_to_vec().expect("body");
    (status, json_length, bytes)
}

/// A field of the server's `listening` log line (`grpc_address`, `tls`, ...), once the line is
/// in the log (waiting up to 10 s for it); `None` when the line lacks the field.
pub fn listening_field(server: &Server, field: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log();
        let listening = log
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|event| event["message"] == "listening");
        if let Some(event) = listening {
            return event[field].as_str().map(String::from);
        }
        assert!(Instant::now() < deadline, "no `listening` line in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A series' value in Prometheus text (`name{labels}`, exactly as written), 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
}
