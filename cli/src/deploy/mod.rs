//! `pipec deploy`: Kubernetes and KServe manifests for a pipeline's server image.
//!
//! ```text
//! pipec deploy k8s    FILE.pipe [-o DIR] [--image REF] [--namespace NS] [--model-name NAME]
//!                     [--replicas N] [--min-replicas N] [--max-replicas N] [--cpu Q] [--memory Q]
//! pipec deploy kserve FILE.pipe [-o DIR] [same options]
//! ```
//!
//! The manifests run the image that `pipec build FILE --image OUT.tar` writes (repository
//! `pipec/<pipeline>`, tag the pipeline's version, see [`default_image`]), and every value
//! they take from the server (ports, probe paths, user, metric names, shutdown time) comes
//! from [`contract`] and [`metrics`], so a change to the server is a change in one place.
//!
//! - `k8s` ([`k8s`]) writes `deployment.yaml`, `service.yaml` and `hpa.yaml` (CPU), which
//!   `kubectl apply -f DIR` applies together, and, in `DIR/autoscaling/`, two alternatives
//!   to `hpa.yaml` that scale on the queue-wait metric: `keda-scaledobject.yaml` (KEDA's
//!   Prometheus scaler) and `hpa-custom-metric.yaml` (an HPA on a Pods metric served by
//!   prometheus-adapter). They are in a subfolder so that `kubectl apply -f DIR` does not
//!   create two autoscalers for one Deployment.
//! - `kserve` ([`kserve`]) writes `clusterservingruntime.yaml` and `inferenceservice.yaml`.
//!
//! Kubernetes names must be DNS labels (RFC 1035: lowercase letters, digits and '-',
//! starting with a letter, at most 63 characters). They are derived from `--model-name`,
//! else from the pipeline name: lowercased, '_' (and any other character outside `[a-z0-9-]`)
//! turned into '-', leading and trailing '-' dropped ([`dns_label`]). A name that cannot be
//! made one is an error that asks for `--model-name`.
//!
//! Output is deterministic: the same pipeline and options give the same bytes (no dates, no
//! absolute paths beyond the `FILE` as given, mappings in a fixed order).

mod k8s;
mod kserve;
mod pod;
mod yaml;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// What the server in a `pipec build --image` image promises. The manifests are built from
/// these values only (a few are here as the contract's record, not used by a manifest).
#[allow(dead_code)]
pub mod contract {
    /// The image's entrypoint (a static binary in an otherwise empty image: no shell).
    pub const ENTRYPOINT: &str = "/server";
    /// Numeric user and group the image runs as.
    pub const USER: i64 = 65532;
    /// REST (Open Inference Protocol over HTTP), health and metrics. Also the image's `PORT`.
    pub const HTTP_PORT: i64 = 8080;
    /// gRPC (`inference.GRPCInferenceService`), the server's `--grpc-port`.
    pub const GRPC_PORT: i64 = 8081;
    pub const HTTP_PORT_NAME: &str = "http";
    pub const GRPC_PORT_NAME: &str = "grpc";
    /// `appProtocol` of the gRPC port: HTTP/2 over cleartext, the value KServe also uses.
    pub const GRPC_APP_PROTOCOL: &str = "kubernetes.io/h2c";
    /// Liveness: the process serves HTTP.
    pub const LIVE_PATH: &str = "/v2/health/live";
    /// Readiness: warm-up is over and the model can answer.
    pub const READY_PATH: &str = "/v2/health/ready";
    /// Prometheus / OpenMetrics text, on the HTTP port.
    pub const METRICS_PATH: &str = "/metrics";
    /// The server's `--shutdown-timeout-ms`: how long open requests may take after SIGTERM.
    pub const SHUTDOWN_TIMEOUT_MS: i64 = 30_000;
    /// The preStop sleep before SIGTERM, while endpoints drop the pod.
    pub const PRE_STOP_SLEEP_SECONDS: i64 = 5;
    /// Margin past the shutdown timeout before the kubelet sends SIGKILL.
    pub const GRACE_MARGIN_SECONDS: i64 = 5;

    /// The pod's terminationGracePeriodSeconds: preStop sleep + shutdown timeout + margin.
    pub const fn termination_grace_seconds() -> i64 {
        PRE_STOP_SLEEP_SECONDS + SHUTDOWN_TIMEOUT_MS / 1000 + GRACE_MARGIN_SECONDS
    }

    /// The server flags every manifest passes (the image's defaults, made explicit).
    pub fn server_args() -> Vec<String> {
        vec![
            "--host=0.0.0.0".to_string(),
            format!("--port={HTTP_PORT}"),
            format!("--grpc-port={GRPC_PORT}"),
            format!("--shutdown-timeout-ms={SHUTDOWN_TIMEOUT_MS}"),
        ]
    }

    /// The model format a pipec ClusterServingRuntime declares and an InferenceService asks
    /// for. The version is that of this contract, not of the pipeline.
    pub const KSERVE_MODEL_FORMAT: &str = "pipec";
    pub const KSERVE_MODEL_FORMAT_VERSION: &str = "1";
}

/// The server's metric names the autoscaling examples use (Prometheus names, as scraped).
#[allow(dead_code)]
pub mod metrics {
    /// Gauge: recent mean time a request waits in the batch queue, in seconds.
    pub const QUEUE_WAIT_SECONDS: &str = "pipec_queue_wait_seconds";
    /// Gauge: requests waiting in the batch queue.
    pub const QUEUE_DEPTH: &str = "pipec_queue_depth";
    /// Histogram of request durations, in seconds.
    pub const REQUEST_DURATION_SECONDS: &str = "pipec_request_duration_seconds";
    /// Queue wait per pod above which the queue-wait autoscalers add pods, in seconds
    /// (as a Kubernetes quantity and as a Prometheus number).
    pub const QUEUE_WAIT_TARGET_QUANTITY: &str = "50m";
    pub const QUEUE_WAIT_TARGET_SECONDS: &str = "0.05";
}

/// The kind of manifests to write.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Deployment, Service, HorizontalPodAutoscaler, and queue-wait autoscaling examples.
    K8s,
    /// KServe ClusterServingRuntime and InferenceService.
    Kserve,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::K8s => "k8s",
            Target::Kserve => "kserve",
        }
    }
}

/// `pipec deploy`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeployArgs {
    /// What to write: `k8s` (Deployment, Service, HPA) or `kserve` (ClusterServingRuntime,
    /// InferenceService).
    #[arg(value_enum)]
    pub target: Target,
    /// The .pipe file; its pipeline name and version name the objects and the default image.
    pub file: PathBuf,
    /// Folder to write the manifests into (created if missing; files in it are replaced).
    /// Default: `<name>-<target>` in the current folder.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Image to run. Default: `pipec/<pipeline>:<version>`, what `pipec build --image` tags.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Namespace of the namespaced objects. Default: none written (kubectl's current one).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Name to serve the model under besides the pipeline's own (the server's --model-name),
    /// also the objects' name. For kserve it is the InferenceService's name, which KServe
    /// passes to the server, so it must be a DNS label. Default: the pipeline name made a
    /// DNS label.
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// Initial replicas written into the Deployment. Default: none, so that re-applying the
    /// manifests does not undo the autoscaler's choice.
    #[arg(long, value_name = "N")]
    pub replicas: Option<u32>,
    /// Fewest replicas the autoscaler keeps.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_replicas: u32,
    /// Most replicas the autoscaler starts.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_replicas: u32,
    /// CPU request and limit of the server container (a Kubernetes quantity: `1`, `500m`).
    #[arg(long, value_name = "QUANTITY", default_value = "1")]
    pub cpu: String,
    /// Memory request and limit of the server container (a quantity: `512Mi`, `2Gi`).
    #[arg(long, value_name = "QUANTITY", default_value = "512Mi")]
    pub memory: String,
}

/// Everything the targets need, checked.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The `.pipe` file as given on the command line (for the header).
    pub source: String,
    pub pipeline: String,
    pub version: String,
    pub identity: String,
    /// DNS label naming the objects (Deployment, Service, HPA; the InferenceService).
    pub name: String,
    /// DNS label of the pipeline, for the ClusterServingRuntime's name.
    pub pipeline_label: String,
    /// `--model-name` for the k8s target's server, when given.
    pub model_name: Option<String>,
    pub image: String,
    pub namespace: Option<String>,
    pub replicas: Option<u32>,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub cpu: String,
    pub memory: String,
}

impl Plan {
    /// Labels every object carries; the first is the selector.
    pub fn labels(&self) -> Vec<(&'static str, String)> {
        let mut labels = vec![("app.kubernetes.io/name", self.name.clone())];
        if is_label_value(&self.version) {
            labels.push(("app.kubernetes.io/version", self.version.clone()));
        }
        labels.push(("app.kubernetes.io/managed-by", "pipec".to_string()));
        labels
    }

    pub fn selector(&self) -> Vec<(&'static str, String)> {
        vec![("app.kubernetes.io/name", self.name.clone())]
    }

    /// What the objects record of the build they run.
    pub fn annotations(&self) -> Vec<(&'static str, String)> {
        vec![
            ("pipec/pipeline", self.pipeline.clone()),
            ("pipec/version", self.version.clone()),
            ("pipec/identity", self.identity.clone()),
        ]
    }

    /// `metadata` of a namespaced object.
    pub fn metadata(&self, name: &str) -> serde_yaml_ng::Value {
        let mut metadata = yaml::map([("name", yaml::str(name))]);
        if let Some(namespace) = &self.namespace {
            yaml::push(&mut metadata, "namespace", yaml::str(namespace));
        }
        yaml::push(&mut metadata, "labels", yaml::string_map(&self.labels()));
        yaml::push(&mut metadata, "annotations", yaml::string_map(&self.annotations()));
        metadata
    }

    /// The first header lines of every file.
    pub fn header(&self) -> Vec<String> {
        vec![
            format!("generated by pipec deploy from {}", self.source),
            format!("pipeline {} {}, identity {}", self.pipeline, self.version, self.identity),
            format!("image {}", self.image),
        ]
    }
}

/// One file to write: its path under the output folder, header comment lines, document.
pub(crate) struct Manifest {
    pub path: &'static str,
    pub header: Vec<String>,
    pub document: serde_yaml_ng::Value,
}

/// Writes the manifests of `args.target` for the checked pipeline `pipeline_name` (version
/// `pipeline_version`, build identity `identity`) and returns the paths written.
pub fn deploy(args: &DeployArgs, pipeline_name: &str, pipeline_version: &str, identity: &str) -> Result<Vec<PathBuf>> {
    let plan = plan(args, pipeline_name, pipeline_version, identity)?;
    let manifests = manifests(args.target, &plan)?;
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}-{}", plan.name, args.target.name())));
    write(&dir, &manifests)
}

pub(crate) fn manifests(target: Target, plan: &Plan) -> Result<Vec<(Manifest, String)>> {
    let manifests = match target {
        Target::K8s => k8s::manifests(plan),
        Target::Kserve => kserve::manifests(plan),
    };
    manifests
        .into_iter()
        .map(|manifest| {
            let text = yaml::render(&manifest.header, &manifest.document)
                .with_context(|| format!("writing {}", manifest.path))?;
            Ok((manifest, text))
        })
        .collect()
}

fn write(dir: &Path, manifests: &[(Manifest, String)]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (manifest, text) in manifests {
        let path = dir.join(manifest.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

pub(crate) fn plan(args: &DeployArgs, pipeline: &str, version: &str, identity: &str) -> Result<Plan> {
    let name = match (&args.model_name, args.target) {
        (Some(model), Target::Kserve) => {
            // KServe serves the model under the InferenceService's name ({{.Name}}).
            check_dns1035(model, KSERVE_NAME_MAX, "--model-name (the InferenceService's name)")?;
            model.clone()
        }
        (Some(model), Target::K8s) => {
            // The server's own rule for a model name (a URL path segment).
            if model.is_empty() || !model.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
                bail!("--model-name {model:?} must be letters, digits, '-', '_' and '.'");
            }
            let name = dns_label(model);
            check_dns1035(&name, 63, &format!("the name made of --model-name {model:?}"))?;
            name
        }
        (None, target) => {
            let name = dns_label(pipeline);
            let max = if target == Target::Kserve { KSERVE_NAME_MAX } else { 63 };
            check_dns1035(&name, max, &format!("the name made of pipeline {pipeline:?} (give --model-name)"))?;
            name
        }
    };
    let pipeline_label = dns_label(pipeline);
    if args.target == Target::Kserve {
        check_dns1035(&format!("{RUNTIME_PREFIX}{pipeline_label}"), 63, "the ClusterServingRuntime's name")?;
    }
    if let Some(namespace) = &args.namespace {
        check_dns1123(namespace, "--namespace")?;
    }
    for (flag, value) in [("--cpu", &args.cpu), ("--memory", &args.memory)] {
        if !is_quantity(value) {
            bail!("{flag} {value:?} is not a Kubernetes quantity (such as 1, 500m, 512Mi, 2Gi)");
        }
    }
    if args.target == Target::Kserve && args.replicas.is_some() {
        bail!("--replicas applies to k8s; KServe starts --min-replicas replicas");
    }
    if args.min_replicas < 1 {
        bail!("--min-replicas must be at least 1");
    }
    if args.max_replicas < args.min_replicas {
        bail!("--max-replicas ({}) is below --min-replicas ({})", args.max_replicas, args.min_replicas);
    }
    let image = args.image.clone().unwrap_or_else(|| default_image(pipeline, version));
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("--image {image:?} is not an image reference");
    }
    Ok(Plan {
        source: args.file.display().to_string(),
        pipeline: pipeline.to_string(),
        version: version.to_string(),
        identity: identity.to_string(),
        name,
        pipeline_label,
        model_name: match args.target {
            Target::K8s => args.model_name.clone(),
            Target::Kserve => None,
        },
        image,
        namespace: args.namespace.clone(),
        replicas: args.replicas,
        min_replicas: args.min_replicas,
        max_replicas: args.max_replicas,
        cpu: args.cpu.clone(),
        memory: args.memory.clone(),
    })
}

/// KServe names the predictor's Deployment and Service `<name>-predictor`, which must stay a
/// 63-character label.
const KSERVE_NAME_MAX: usize = 63 - "-predictor".len();
/// The ClusterServingRuntime is `pipec-<pipeline>`: cluster-wide, one per pipeline image.
pub(crate) const RUNTIME_PREFIX: &str = "pipec-";

/// The image `pipec build --image` tags: `pipec/<pipeline>:<version>`, the name lowercased
/// (repositories are lowercase) and any character a tag cannot hold turned into '-'
/// (`1.0.0+build` is tagged `1.0.0-build`); `latest` for a pipeline without a version.
pub fn default_image(pipeline: &str, version: &str) -> String {
    let repository: String = pipeline
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    let mut tag: String = version
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    if tag.is_empty() {
        tag = "latest".to_string();
    }
    if tag.starts_with(['.', '-']) {
        tag.insert(0, 'v');
    }
    tag.truncate(128);
    format!("pipec/{repository}:{tag}")
}

/// A name as a DNS label: lowercase, every character outside `[a-z0-9-]` (such as '_')
/// turned into '-', leading and trailing '-' dropped. The result may still be invalid
/// (empty, too long, starting with a digit); the caller checks.
pub fn dns_label(name: &str) -> String {
    let mapped: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    mapped.trim_matches('-').to_string()
}

/// RFC 1035 label: a Service's name, a KServe InferenceService's name.
fn check_dns1035(name: &str, max: usize, what: &str) -> Result<()> {
    if !(1..=max).contains(&name.len()) {
        bail!("{what} {name:?} must have 1 to {max} characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("{what} {name:?} must start with a lowercase letter");
    }
    check_dns1123(name, what)
}

/// RFC 1123 label: a namespace's name.
fn check_dns1123(name: &str, what: &str) -> Result<()> {
    let valid = (1..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        bail!("{what} {name:?} is not a DNS label (lowercase letters, digits and '-', at most 63)");
    }
    Ok(())
}

/// Whether a label value is valid: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && value.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// Whether `text` is a Kubernetes resource quantity: a decimal number, then nothing, a
/// binary suffix (Ki..Ei), a decimal one (n, u, m, k, M..E) or an exponent (`1e3`).
pub(crate) fn is_quantity(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let number_len = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_len);
    let number_ok = match number.split_once('.') {
        None => !number.is_empty(),
        Some((whole, fraction)) => {
            !fraction.contains('.') && (!whole.is_empty() || !fraction.is_empty()) && number != "."
        }
    };
    let suffix_ok = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        exponent => {
            let Some(rest) = exponent.strip_prefix(['e', 'E']) else { return false };
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        }
    };
    number_ok && suffix_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::Value as Json;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DeployArgs,
    }

    fn args(line: &[&str]) -> DeployArgs {
        let mut argv = vec!["deploy"];
        argv.extend_from_slice(line);
        Cli::try_parse_from(argv).unwrap().args
    }

    const IDENTITY: &str = "3f1c0ffee0000000000000000000000000000000000000000000000000000001";

    /// The manifests of `line` for pipeline `titanic` 1.0.0, by path, as JSON.
    fn render(line: &[&str]) -> Vec<(String, String, Json)> {
        let args = args(line);
        let plan = plan(&args, "titanic", "1.0.0", IDENTITY).unwrap();
        manifests(args.target, &plan)
            .unwrap()
            .into_iter()
            .map(|(manifest, text)| {
                let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
                (manifest.path.to_string(), text, serde_json::to_value(value).unwrap())
            })
            .collect()
    }

    fn find<'a>(files: &'a [(String, String, Json)], path: &str) -> &'a Json {
        &files.iter().find(|(p, _, _)| p == path).unwrap_or_else(|| panic!("no {path}")).2
    }

    #[test]
    fn names_are_dns_labels_made_from_the_pipeline_name() {
        assert_eq!(dns_label("credit_risk_v2"), "credit-risk-v2");
        assert_eq!(dns_label("_Titanic_"), "titanic");
        let args = args(&["k8s", "x.pipe"]);
        assert_eq!(plan(&args, "credit_risk", "1", IDENTITY).unwrap().name, "credit-risk");
        assert!(plan(&args, "_9lives", "1", IDENTITY).unwrap_err().to_string().contains("--model-name"));
        assert!(plan(&args, &"a".repeat(64), "1", IDENTITY).is_err());
        let kserve = self::args(&["kserve", "x.pipe"]);
        assert!(plan(&kserve, &"a".repeat(54), "1", IDENTITY).unwrap_err().to_string().contains("53"));
        let named = self::args(&["kserve", "x.pipe", "--model-name", "fraud_v2"]);
        assert!(plan(&named, "titanic", "1", IDENTITY).is_err(), "kserve serves under the ISVC name exactly");
        let named = self::args(&["k8s", "x.pipe", "--model-name", "fraud_v2"]);
        let plan = plan(&named, "titanic", "1", IDENTITY).unwrap();
        assert_eq!((plan.name.as_str(), plan.model_name.as_deref()), ("fraud-v2", Some("fraud_v2")));
    }

    #[test]
    fn options_are_checked() {
        for bad in [
            &["k8s", "x.pipe", "--cpu", "lots"][..],
            &["k8s", "x.pipe", "--memory", "2GB"],
            &["k8s", "x.pipe", "--min-replicas", "0"],
            &["k8s", "x.pipe", "--min-replicas", "3", "--max-replicas", "2"],
            &["k8s", "x.pipe", "--namespace", "Prod"],
            &["k8s", "x.pipe", "--image", "pipec/titanic :1"],
            &["kserve", "x.pipe", "--replicas", "2"],
            &["k8s", "x.pipe", "--model-name", "fraud/v2"],
        ] {
            assert!(plan(&args(bad), "titanic", "1", IDENTITY).is_err(), "{bad:?}");
        }
        // A name YAML 1.1 reads as a boolean is refused when rendered.
        let args = args(&["k8s", "x.pipe", "--model-name", "yes"]);
        let plan = plan(&args, "titanic", "1", IDENTITY).unwrap();
        assert!(manifests(Target::K8s, &plan).is_err());
    }

    #[test]
    fn quantities() {
        for good in ["1", "500m", "0.5", ".5", "512Mi", "2Gi", "1e3", "1E-2", "+1", "100k"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "lots", "2GB", "1.2.3", ".", "1e", "Mi", "1 Gi", "1mi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn default_image_is_what_build_tags() {
        assert_eq!(default_image("titanic", "1.0.0"), "pipec/titanic:1.0.0");
        assert_eq!(default_image("Credit_Risk", "2.1.0+build.7"), "pipec/credit_risk:2.1.0-build.7");
        assert_eq!(default_image("titanic", ""), "pipec/titanic:latest");
        let files = render(&["k8s", "x.pipe", "--image", "registry.example/ml/titanic@sha256:abc"]);
        let container = &find(&files, "deployment.yaml")["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "registry.example/ml/titanic@sha256:abc");
    }

    #[test]
    fn k8s_writes_the_deployment_service_and_autoscalers() {
        let files = render(&["k8s", "examples/titanic/titanic.pipe", "--namespace", "ml"]);
        let paths: Vec<&str> = files.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "deployment.yaml",
                "service.yaml",
                "hpa.yaml",
                "autoscaling/keda-scaledobject.yaml",
                "autoscaling/hpa-custom-metric.yaml"
            ]
        );
        for (path, text, doc) in &files {
            assert!(text.starts_with("# generated by pipec deploy from examples/titanic/titanic.pipe\n"), "{path}");
            assert_eq!(doc["metadata"]["name"], "titanic", "{path}");
            assert_eq!(doc["metadata"]["namespace"], "ml", "{path}");
            assert_eq!(doc["metadata"]["annotations"]["pipec/identity"], IDENTITY, "{path}");
        }
        let deployment = find(&files, "deployment.yaml");
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(deployment["spec"].get("replicas"), None);
        assert_eq!(container["image"], "pipec/titanic:1.0.0");
        assert_eq!(
            container["ports"][0],
            serde_json::json!({"name": "http", "containerPort": 8080, "protocol": "TCP"})
        );
        assert_eq!(
            container["ports"][1],
            serde_json::json!({"name": "grpc", "containerPort": 8081, "protocol": "TCP"})
        );
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/v2/health/live");
        assert_eq!(container["startupProbe"]["httpGet"]["path"], "/v2/health/live");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/v2/health/ready");
        assert_eq!(container["securityContext"]["runAsUser"], 65532);
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(container["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(container["resources"]["limits"]["memory"], "512Mi");
        assert_eq!(pod["terminationGracePeriodSeconds"], 40);
        assert_eq!(deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"], "8080");
        let service = find(&files, "service.yaml");
        assert_eq!(service["spec"]["ports"][1]["appProtocol"], "kubernetes.io/h2c");
        assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"]);
        let keda = find(&files, "autoscaling/keda-scaledobject.yaml");
        let query = keda["spec"]["triggers"][0]["metadata"]["query"].as_str().unwrap();
        assert!(query.contains(metrics::QUEUE_WAIT_SECONDS) && query.contains("namespace=\"ml\""), "{query}");
        let custom = find(&files, "autoscaling/hpa-custom-metric.yaml");
        assert_eq!(custom["spec"]["metrics"][0]["pods"]["metric"]["name"], metrics::QUEUE_WAIT_SECONDS);
    }

    #[test]
    fn kserve_runtime_and_inference_service_agree() {
        let files = render(&["kserve", "examples/titanic/titanic.pipe", "--min-replicas", "2"]);
        let runtime = find(&files, "clusterservingruntime.yaml");
        let isvc = find(&files, "inferenceservice.yaml");
        assert_eq!(runtime["metadata"]["name"], "pipec-titanic");
        assert_eq!(runtime["metadata"].get("namespace"), None, "cluster-scoped");
        assert_eq!(isvc["spec"]["predictor"]["model"]["runtime"], "pipec-titanic");
        let format = &isvc["spec"]["predictor"]["model"]["modelFormat"];
        assert_eq!(runtime["spec"]["supportedModelFormats"][0]["name"], format["name"]);
        assert_eq!(runtime["spec"]["supportedModelFormats"][0]["version"], format["version"]);
        assert_eq!(runtime["spec"]["protocolVersions"], serde_json::json!(["v2", "grpc-v2"]));
        let container = &runtime["spec"]["containers"][0];
        assert_eq!(container["name"], "kserve-container");
        assert_eq!(container["args"][0], "--model-name={{.Name}}");
        assert_eq!(runtime["spec"]["annotations"]["prometheus.kserve.io/port"], "8080");
        assert_eq!(isvc["spec"]["predictor"]["minReplicas"], 2);
        assert_eq!(isvc["spec"]["predictor"].get("storageUri"), None);
        assert_eq!(isvc["spec"]["predictor"]["model"].get("storageUri"), None);
    }

    #[test]
    fn output_is_deterministic_and_written_where_asked() {
        let first = render(&["k8s", "t.pipe"]);
        let second = render(&["k8s", "t.pipe"]);
        assert_eq!(first.iter().map(|f| &f.1).collect::<Vec<_>>(), second.iter().map(|f| &f.1).collect::<Vec<_>>());
        let dir = std::env::temp_dir().join(format!("pipec-deploy-unit-{}", std::process::id()));
        let out = dir.to_str().unwrap();
        let written = deploy(&args(&["kserve", "t.pipe", "-o", out]), "titanic", "1.0.0", IDENTITY).unwrap();
        assert_eq!(written, [dir.join("clusterservingruntime.yaml"), dir.join("inferenceservice.yaml")]);
        assert!(std::fs::read_to_string(&written[0]).unwrap().contains("kind: ClusterServingRuntime"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
