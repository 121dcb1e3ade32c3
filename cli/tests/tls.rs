//! TLS on the titanic example's server (`--tls-cert`, `--tls-key`, `--tls-client-ca`), with
//! certificates made in the test by the `openssl` command (a CA, a server certificate for
//! 127.0.0.1, a client certificate, and a client certificate of another CA), driven by real
//! clients: Python's urllib for REST, grpcio and the Triton gRPC client
//! (`tests/clients/tls_clients.py`).

use pipec_tests::repo_root;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod support;

use support::{Server, build_server, listening_field};

fn server_binary() -> PathBuf {
    build_server(&repo_root().join("examples/titanic/titanic.pipe"), "titanic-tls", &[])
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").current_dir(dir).args(args).output().unwrap_or_else(|e| {
        panic!("the `openssl` command is needed to make the test's certificates (.ci/run installs it): {e}")
    });
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A P-256 key and a certificate for `subject`, signed by `ca` (`None`: self-signed, a CA).
fn certificate(dir: &Path, name: &str, subject: &str, ca: Option<&str>, extensions: &str) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", &key];
    let Some(ca) = ca else {
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-out", &pem, "-days", "2", "-subj", subject]);
        return openssl(dir, &args);
    };
    let csr = format!("{name}.csr");
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend(["-out", &csr, "-subj", subject]);
    openssl(dir, &args);
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), extensions).expect("extensions file");
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

/// The test's certificates, made once.
fn certs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = support::target_dir().join("pipec-e2e/tls-certs");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("folder");
        certificate(&dir, "ca", "/CN=pipec test CA", None, "");
        certificate(&dir, "other-ca", "/CN=another CA", None, "");
        let leaf = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n";
        certificate(
            &dir,
            "server",
            "/CN=localhost",
            Some("ca"),
            &format!("{leaf}extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"),
        );
        certificate(
            &dir,
            "client",
            "/CN=pipec test client",
            Some("ca"),
            &format!("{leaf}extendedKeyUsage=clientAuth\n"),
        );
        certificate(
            &dir,
            "rogue",
            "/CN=rogue client",
            Some("other-ca"),
            &format!("{leaf}extendedKeyUsage=clientAuth\n"),
        );
        dir
    })
}

fn arg(path: PathBuf) -> String {
    path.to_str().expect("a UTF-8 path").to_string()
}

fn tls_server(mutual: bool) -> (Server, String) {
    let dir = certs();
    let (cert, key, ca) = (arg(dir.join("server.pem")), arg(dir.join("server.key")), arg(dir.join("ca.pem")));
    let mut args = vec!["--grpc-port", "0", "--tls-cert", &cert, "--tls-key", &key];
    if mutual {
        args.extend(["--tls-client-ca", &ca]);
    }
    let server = Server::start(&server_binary(), &args);
    let grpc = listening_field(&server, "grpc_address").unwrap_or_else(|| panic!("no grpc_address:\n{}", server.log()));
    assert_eq!(listening_field(&server, "tls").as_deref(), Some(if mutual { "mutual" } else { "server" }));
    (server, grpc)
}

/// The gRPC tests' venv (grpcio, the Triton client), made once for this file's tests, which
/// run in parallel.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| support::python_venv("venv-grpc", &["tritonclient[grpc]==2.73.0", "kserve==0.21.0", "numpy"]))
}

fn clients(command: &str, server: &Server, grpc: &str) -> Value {
    let output = Command::new(python())
        .arg(repo_root().join("tests/clients/tls_clients.py"))
        .args([command, server.address(), grpc])
        .arg(certs())
        .output()
        .expect("the clients run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tls_clients.py {command} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON line ({e}):\n{stdout}"))
}

#[test]
fn rest_and_grpc_answer_over_tls_and_only_over_tls() {
    let (server, grpc) = tls_server(false);
    let seen = clients("server", &server, &grpc);
    let p = seen["p_survived"].as_f64().expect("a probability");
    assert!((0.0..=1.0).contains(&p), "{seen}");
}

#[test]
fn mutual_tls_refuses_clients_without_a_certificate_from_the_ca() {
    let (server, grpc) = tls_server(true);
    let seen = clients("mutual", &server, &grpc);
    assert_eq!(seen["grpc_client"], "OK", "{seen}");
    assert!(server.log().contains("TLS handshake refused"), "refused handshakes are logged:\n{}", server.log());
}

#[test]
fn unusable_certificate_settings_stop_the_server_at_start() {
    let binary = server_binary();
    let dir = certs();
    let (cert, key) = (arg(dir.join("server.pem")), arg(dir.join("server.key")));
    let csr = arg(dir.join("server.csr"));
    for (args, expected) in [
        (vec!["--tls-cert", cert.as_str()], "--tls-cert and --tls-key go together: --tls-key is missing"),
        (vec!["--tls-cert", key.as_str(), "--tls-key", key.as_str()], "--tls-cert"),
        (vec!["--tls-cert", cert.as_str(), "--tls-key", csr.as_str()], "--tls-key"),
        (vec!["--tls-client-ca", cert.as_str()], "--tls-client-ca needs --tls-cert and --tls-key"),
    ] {
        let output = Command::new(&binary).args(["--port", "0"]).args(&args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
    }
}
