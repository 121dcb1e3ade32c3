//! `pipec deploy`: the real binary writes the titanic example's Kubernetes and KServe
//! manifests, and each file is validated against the official schema of its kind, kept in
//! `tests/data/k8s/` (its README.md says where each came from), by `tests/data/k8s/validate.py`
//! (Python `jsonschema` and `PyYAML`, installed with pip into a venv under
//! `<target>/pipec-e2e/`). The tests then check what the schemas cannot: that the manifests
//! agree with the server's contract (ports, probe paths, user 65532, metrics) and with each
//! other (the Service selects the Deployment's pods, the InferenceService asks for the model
//! format its runtime declares). No cluster runs here: the manifests are checked against the
//! schemas and the API server's own field rules, not applied.
//!
//! The command line: `pipec deploy <k8s|kserve> FILE.pipe -o DIR [options]`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/k8s")
}

/// A fresh folder under the target directory's tmp/.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pipec-deploy").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Python with `jsonschema` and `PyYAML`, in a venv made once under `<target>/pipec-e2e/`.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target directory").to_path_buf();
        let venv = target.join("pipec-e2e").join("k8s-schema-venv");
        let python = venv.join("bin").join("python");
        if !python.exists() {
            let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 runs");
            assert!(made.success(), "python3 -m venv failed");
            let pip = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "jsonschema==4.26.0", "PyYAML==6.0.3"])
                .status()
                .expect("pip runs");
            if !pip.success() {
                let _ = std::fs::remove_dir_all(&venv);
                panic!("pip install jsonschema PyYAML failed");
            }
        }
        python
    })
}

/// Runs `pipec deploy ARGS`; its exit status and stderr.
fn pipec_deploy(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .arg("deploy")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("pipec runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Writes the titanic example's manifests for `target` into a fresh folder.
fn deploy_titanic(target: &str, folder: &str, extra: &[&str]) -> PathBuf {
    let dir = scratch(folder);
    let mut args = vec![target, "examples/titanic/titanic.pipe", "-o", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (ok, stderr) = pipec_deploy(&args);
    assert!(ok, "pipec deploy {args:?} failed:\n{stderr}");
    dir
}

/// One file's verdict from validate.py.
struct Checked {
    file: PathBuf,
    errors: Vec<String>,
    document: Value,
}

fn validate(files: &[PathBuf]) -> Vec<Checked> {
    let output =
        Command::new(python()).arg(data_dir().join("validate.py")).args(files).output().expect("validate.py runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let checked: Vec<Checked> = stdout
        .lines()
        .map(|line| {
            let result: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{stderr}"));
            Checked {
                file: PathBuf::from(result["file"].as_str().unwrap()),
                errors: result["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect(),
                document: result["document"].clone(),
            }
        })
        .collect();
    assert_eq!(checked.len(), files.len(), "validate.py did not judge every file:\n{stdout}\n{stderr}");
    checked
}

/// Validates every file of `dir` (the paths relative to it) and returns the documents by path.
fn validate_all(dir: &Path, expected: &[&str]) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    list(dir, dir, &mut found);
    found.sort();
    let mut wanted: Vec<String> = expected.iter().map(|p| p.to_string()).collect();
    wanted.sort();
    assert_eq!(found, wanted, "pipec deploy wrote other files");
    let files: Vec<PathBuf> = expected.iter().map(|p| dir.join(p)).collect();
    let checked = validate(&files);
    for result in &checked {
        assert!(result.errors.is_empty(), "{} does not validate:\n{}", result.file.display(), result.errors.join("\n"));
    }
    expected.iter().zip(checked).map(|(path, result)| (path.to_string(), result.document)).collect()
}

fn list(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            list(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

fn doc<'a>(docs: &'a [(String, Value)], path: &str) -> &'a Value {
    &docs.iter().find(|(p, _)| p == path).unwrap().1
}

const K8S_FILES: [&str; 5] = [
    "deployment.yaml",
    "service.yaml",
    "hpa.yaml",
    "autoscaling/keda-scaledobject.yaml",
    "autoscaling/hpa-custom-metric.yaml",
];
const KSERVE_FILES: [&str; 2] = ["clusterservingruntime.yaml", "inferenceservice.yaml"];

/// The server contract both targets must keep in the container they run.
fn assert_server_container(container: &Value, port_ref: Value) {
    assert_eq!(container["image"], "pipec/titanic:1.0.0");
    let ports = container["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2);
    assert_eq!((&ports[0]["name"], &ports[0]["containerPort"]), (&Value::from("http"), &Value::from(8080)));
    assert_eq!((&ports[1]["name"], &ports[1]["containerPort"]), (&Value::from("grpc"), &Value::from(8081)));
    for (probe, path) in [
        ("startupProbe", "/v2/health/live"),
        ("livenessProbe", "/v2/health/live"),
        ("readinessProbe", "/v2/health/ready"),
    ] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], port_ref, "{probe}");
    }
    let security = &container["securityContext"];
    assert_eq!(security["runAsUser"], 65532);
    assert_eq!(security["runAsGroup"], 65532);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    let args: Vec<&str> = container["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    for arg in ["--host=0.0.0.0", "--port=8080", "--grpc-port=8081", "--shutdown-timeout-ms=30000"] {
        assert!(args.contains(&arg), "{arg} missing from {args:?}");
    }
    assert_eq!(container["resources"]["requests"], container["resources"]["limits"]);
    assert!(container["lifecycle"]["preStop"]["sleep"]["seconds"].is_u64(), "preStop is the kubelet's sleep, no exec");
}

#[test]
fn k8s_manifests_validate_against_the_kubernetes_and_keda_schemas() {
    let dir = deploy_titanic("k8s", "k8s", &["--namespace", "ml"]);
    let docs = validate_all(&dir, &K8S_FILES);
    for (path, document) in &docs {
        assert_eq!(document["metadata"]["name"], "titanic", "{path}");
        assert_eq!(document["metadata"]["namespace"], "ml", "{path}");
        let text = std::fs::read_to_string(dir.join(path)).unwrap();
        assert!(text.starts_with("# generated by pipec deploy from examples/titanic/titanic.pipe\n"), "{path}");
    }

    let deployment = doc(&docs, "deployment.yaml");
    let pod = &deployment["spec"]["template"];
    assert_server_container(&pod["spec"]["containers"][0], Value::from("http"));
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 40);
    assert_eq!(pod["spec"]["securityContext"]["runAsUser"], 65532);
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(
        (&annotations["prometheus.io/scrape"], &annotations["prometheus.io/port"], &annotations["prometheus.io/path"]),
        (&Value::from("true"), &Value::from("8080"), &Value::from("/metrics"))
    );
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    for (key, value) in selector.as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][key], value, "the selector must select the pod template");
    }

    let service = doc(&docs, "service.yaml");
    assert_eq!(&service["spec"]["selector"], selector);
    assert_eq!(service["spec"]["type"], "ClusterIP");
    let ports = &service["spec"]["ports"];
    assert_eq!(
        (&ports[0]["name"], &ports[0]["port"], &ports[0]["targetPort"]),
        (&"http".into(), &8080.into(), &"http".into())
    );
    assert_eq!(
        (&ports[1]["name"], &ports[1]["port"], &ports[1]["targetPort"]),
        (&"grpc".into(), &8081.into(), &"grpc".into())
    );
    assert_eq!(ports[1]["appProtocol"], "kubernetes.io/h2c");

    let target = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "titanic"});
    let hpa = doc(&docs, "hpa.yaml");
    assert_eq!(hpa["spec"]["scaleTargetRef"], target);
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
    let keda = doc(&docs, "autoscaling/keda-scaledobject.yaml");
    assert_eq!(keda["spec"]["scaleTargetRef"], target);
    let trigger = &keda["spec"]["triggers"][0];
    assert_eq!(trigger["type"], "prometheus");
    let query = trigger["metadata"]["query"].as_str().unwrap();
    assert!(query.contains("pipec_queue_wait_seconds") && query.contains("namespace=\"ml\""), "{query}");
    let custom = doc(&docs, "autoscaling/hpa-custom-metric.yaml");
    assert_eq!(custom["spec"]["scaleTargetRef"], target);
    assert_eq!(custom["spec"]["metrics"][0]["pods"]["metric"]["name"], "pipec_queue_wait_seconds");

    // The same input gives the same bytes.
    let again = deploy_titanic("k8s", "k8s-again", &["--namespace", "ml"]);
    for path in K8S_FILES {
        assert_eq!(std::fs::read(dir.join(path)).unwrap(), std::fs::read(again.join(path)).unwrap(), "{path}");
    }
}

#[test]
fn kserve_manifests_validate_against_the_kserve_crds() {
    let dir = deploy_titanic("kserve", "kserve", &[]);
    let docs = validate_all(&dir, &KSERVE_FILES);
    let runtime = doc(&docs, "clusterservingruntime.yaml");
    let isvc = doc(&docs, "inferenceservice.yaml");

    assert_eq!(runtime["kind"], "ClusterServingRuntime");
    assert!(runtime["metadata"].get("namespace").is_none(), "a ClusterServingRuntime is cluster-scoped");
    let container = &runtime["spec"]["containers"][0];
    assert_eq!(container["name"], "kserve-container");
    assert_server_container(container, Value::from(8080));
    assert_eq!(container["args"][0], "--model-name={{.Name}}");
    assert_eq!(runtime["spec"]["protocolVersions"], serde_json::json!(["v2", "grpc-v2"]));
    let annotations = &runtime["spec"]["annotations"];
    assert_eq!(
        (&annotations["prometheus.kserve.io/port"], &annotations["prometheus.kserve.io/path"]),
        (&"8080".into(), &"/metrics".into())
    );

    // KServe's rule (ModelSpec.RuntimeSupportsModel): the runtime named by the
    // InferenceService must declare its model format, name and version.
    let model = &isvc["spec"]["predictor"]["model"];
    assert_eq!(model["runtime"], runtime["metadata"]["name"]);
    assert_eq!(model["modelFormat"]["name"], "pipec");
    let formats = runtime["spec"]["supportedModelFormats"].as_array().unwrap();
    assert!(
        formats
            .iter()
            .any(|f| f["name"] == model["modelFormat"]["name"] && f["version"] == model["modelFormat"]["version"]),
        "the runtime does not declare {}",
        model["modelFormat"]
    );
    assert_eq!(model["protocolVersion"], "v2");
    assert!(runtime["spec"]["protocolVersions"].as_array().unwrap().contains(&model["protocolVersion"]));
    assert!(model.get("storageUri").is_none() && isvc["spec"]["predictor"].get("storageUri").is_none());
    assert_eq!(isvc["metadata"]["name"], "titanic");
    assert_eq!(isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"], "Standard");
    let predictor = &isvc["spec"]["predictor"];
    assert_eq!(predictor["terminationGracePeriodSeconds"], 40);
    assert_eq!(predictor["securityContext"]["runAsUser"], 65532);
    assert_eq!(predictor["annotations"]["prometheus.io/port"], "8080");
}

/// The validator fails what the API server would refuse, so that the tests above can fail.
#[test]
fn the_validator_rejects_wrong_manifests() {
    let k8s = deploy_titanic("k8s", "k8s-broken-source", &[]);
    let kserve = deploy_titanic("kserve", "kserve-broken-source", &[]);
    let broken = scratch("broken");
    let cases: [(&Path, &str, &str, &str, &str); 7] = [
        // (source folder, file, replace, with, an expected error fragment)
        (&k8s, "deployment.yaml", "containerPort: 8080", "containerPort: '8080'", "is not of type 'integer'"),
        (
            &k8s,
            "deployment.yaml",
            "imagePullPolicy: IfNotPresent",
            "imagePullPolicy: IfNotPresent\n        pullPolicy: Always",
            "'pullPolicy' was unexpected",
        ),
        (&k8s, "service.yaml", "  name: titanic\n", "  name: yes\n", "metadata.name"),
        (&k8s, "hpa.yaml", "averageUtilization: 70", "averageUtilization: 3000000000", "int32"),
        (
            &kserve,
            "inferenceservice.yaml",
            "      runtime: pipec-titanic",
            "      runtime: pipec-titanic\n      storageURI: gs://bucket/model",
            "'storageURI' was unexpected",
        ),
        (&kserve, "clusterservingruntime.yaml", "autoSelect: false", "autoSelect: 'false'", "is not of type 'boolean'"),
        (&kserve, "clusterservingruntime.yaml", "memory: 512Mi", "memory: 512MB", "is not a quantity"),
    ];
    let mut files = Vec::new();
    for (index, (source, file, from, to, _)) in cases.iter().enumerate() {
        let text = std::fs::read_to_string(source.join(file)).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        let path = broken.join(format!("{index}-{file}"));
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        files.push(path);
    }
    for (result, (_, file, _, to, expected)) in validate(&files).iter().zip(&cases) {
        assert!(
            result.errors.iter().any(|e| e.contains(expected)),
            "{file} with {to:?} was not refused with {expected:?}: {:?}",
            result.errors
        );
    }
}

#[test]
fn deploy_refuses_what_kubernetes_would() {
    let out = scratch("refused");
    let out = out.to_str().unwrap();
    for (args, expected) in [
        (vec!["kserve", "examples/titanic/titanic.pipe", "-o", out, "--model-name", "Titanic_v2"], "--model-name"),
        (vec!["k8s", "examples/titanic/titanic.pipe", "-o", out, "--memory", "2GB"], "--memory"),
        (
            vec!["k8s", "examples/titanic/titanic.pipe", "-o", out, "--min-replicas", "3", "--max-replicas", "2"],
            "--max-replicas",
        ),
    ] {
        let (ok, stderr) = pipec_deploy(&args);
        assert!(!ok && stderr.contains(expected), "{args:?} was not refused about {expected}:\n{stderr}");
    }
}
