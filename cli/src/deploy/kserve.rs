//! `pipec deploy kserve`: a KServe ClusterServingRuntime for the pipeline's image and an
//! InferenceService that uses it.
//!
//! The runtime follows KServe's own (`config/runtimes/kserve-tritonserver.yaml`, the
//! constants of `pkg/constants/constants.go`): one container named `kserve-container`, the
//! model name passed as `--model-name={{.Name}}` (KServe fills in the InferenceService's
//! name), `protocolVersions: [v2, grpc-v2]`, the `prometheus.kserve.io/port` and `/path`
//! annotations, and a model format (`pipec`, version 1: the version of the server contract).
//!
//! Unlike Triton's runtime, the image holds the model: the weights are compiled into the
//! server. So there is one runtime per pipeline (`pipec-<pipeline>`), the InferenceService
//! names it and has no `storageUri` (optional in the CRD: `predictor.model` requires only
//! `modelFormat.name`), and KServe, which adds its storage initializer only when a
//! `storageUri` or `storage` is set (`components/predictor.go`), mounts nothing at
//! `/mnt/models`. The format is not `autoSelect`: auto-selection picks a runtime by format
//! alone, and every pipec runtime declares the same format with a different model inside.
//!
//! The InferenceService asks for the Standard deployment mode (KServe 0.16 and later; called
//! `RawDeployment` before): a Deployment, a Service and an HPA. Knative (Serverless) mode
//! allows one container port, and the server has two (REST and gRPC). In Standard mode KServe
//! exposes the first port (REST) as the Service's port 80 and the gRPC port as itself, with
//! appProtocol `kubernetes.io/h2c` because its name contains `grpc`
//! (`reconcilers/service/service_reconciler.go`).

use super::pod::{self, PortRef};
use super::yaml::{boolean, int, map, seq, str, string_map};
use super::{Manifest, Plan, RUNTIME_PREFIX, contract};
use serde_yaml_ng::Value;

/// KServe's name for the predictor's container, which a runtime must use.
const CONTAINER: &str = "kserve-container";
/// CPU utilization (percent of the request) KServe's HPA keeps.
const CPU_UTILIZATION_PERCENT: i64 = 70;
/// Whether the runtime may be picked by model format alone (see the module documentation).
const AUTO_SELECT: bool = false;

pub(crate) fn manifests(plan: &Plan) -> Vec<Manifest> {
    vec![
        Manifest { path: "clusterservingruntime.yaml", header: runtime_header(plan), document: runtime(plan) },
        Manifest { path: "inferenceservice.yaml", header: isvc_header(plan), document: inference_service(plan) },
    ]
}

fn runtime_name(plan: &Plan) -> String {
    format!("{RUNTIME_PREFIX}{}", plan.pipeline_label)
}

fn runtime_header(plan: &Plan) -> Vec<String> {
    let mut header = plan.header();
    header.extend(
        [
            "",
            "KServe ClusterServingRuntime (cluster-scoped) for this pipeline's image, which holds the",
            "model: one runtime per pipeline. autoSelect is false, so an InferenceService must name it",
            "(spec.predictor.model.runtime), as inferenceservice.yaml does: chosen by format alone, any",
            "pipec runtime could answer for another pipeline. KServe passes the InferenceService's",
            "name as --model-name ({{.Name}}).",
            "Apply this file before inferenceservice.yaml. The image: `pipec build FILE --image OUT.tar`,",
            "`docker load -i OUT.tar`, then push it where the cluster pulls from.",
            "",
        ]
        .map(String::from),
    );
    header.extend(pod::pre_stop_note());
    header
}

fn runtime(plan: &Plan) -> Value {
    let mut args = vec![str("--model-name={{.Name}}")];
    args.extend(contract::server_args().iter().map(|arg| str(arg)));
    let container = map([
        ("name", str(CONTAINER)),
        ("image", str(&plan.image)),
        ("imagePullPolicy", str("IfNotPresent")),
        ("args", seq(args)),
        ("ports", pod::ports()),
        ("startupProbe", pod::startup_probe(PortRef::Number)),
        ("livenessProbe", pod::liveness_probe(PortRef::Number)),
        ("readinessProbe", pod::readiness_probe(PortRef::Number)),
        ("resources", pod::resources(plan)),
        ("securityContext", pod::container_security_context()),
        ("lifecycle", pod::lifecycle()),
        ("volumeMounts", seq(vec![pod::tmp_mount()])),
    ]);
    let mut labels = plan.labels();
    labels[0].1 = plan.pipeline_label.clone();
    map([
        ("apiVersion", str("serving.kserve.io/v1alpha1")),
        ("kind", str("ClusterServingRuntime")),
        (
            "metadata",
            map([
                ("name", str(&runtime_name(plan))),
                ("labels", string_map(&labels)),
                ("annotations", string_map(&plan.annotations())),
            ]),
        ),
        (
            "spec",
            map([
                (
                    "annotations",
                    string_map(&[
                        ("prometheus.kserve.io/port", contract::HTTP_PORT.to_string()),
                        ("prometheus.kserve.io/path", contract::METRICS_PATH.to_string()),
                    ]),
                ),
                (
                    "supportedModelFormats",
                    seq(vec![map([
                        ("name", str(contract::KSERVE_MODEL_FORMAT)),
                        ("version", str(contract::KSERVE_MODEL_FORMAT_VERSION)),
                        ("autoSelect", boolean(AUTO_SELECT)),
                    ])]),
                ),
                ("protocolVersions", seq(vec![str("v2"), str("grpc-v2")])),
                ("containers", seq(vec![container])),
                ("volumes", seq(vec![pod::tmp_volume()])),
            ]),
        ),
    ])
}

fn isvc_header(plan: &Plan) -> Vec<String> {
    let served = format!(
        "Serves the model as /v2/models/{}/... (the InferenceService's name) and as {}.",
        plan.name, plan.pipeline
    );
    let mut header = plan.header();
    header.extend(
        [
            "",
            "KServe InferenceService on the runtime of clusterservingruntime.yaml.",
            &served,
            "No storageUri: the image holds the model (its weights are compiled into the server).",
            "storageUri is optional in the CRD, and KServe adds its storage initializer only when one",
            "is set, so nothing is mounted at /mnt/models and the server does not read it.",
            "deploymentMode Standard (KServe >= 0.16; `RawDeployment` before): a Deployment, Service",
            "and CPU HPA. Knative mode allows one container port and the server has two (REST, gRPC).",
            "Pods are scraped on their own port through the prometheus.io/* annotations; KServe's",
            "scraping annotation is off, as it would point Prometheus at Knative's queue-proxy port.",
        ]
        .map(String::from),
    );
    header
}

fn inference_service(plan: &Plan) -> Value {
    let mut metadata_annotations = plan.annotations();
    metadata_annotations.push(("serving.kserve.io/deploymentMode", "Standard".to_string()));
    let mut metadata = map([("name", str(&plan.name))]);
    if let Some(namespace) = &plan.namespace {
        super::yaml::push(&mut metadata, "namespace", str(namespace));
    }
    super::yaml::push(&mut metadata, "labels", string_map(&plan.labels()));
    super::yaml::push(&mut metadata, "annotations", string_map(&metadata_annotations));

    let mut pod_annotations = pod::scrape_annotations();
    pod_annotations.push(("serving.kserve.io/enable-prometheus-scraping", "false".to_string()));
    pod_annotations.push(("pipec/identity", plan.identity.clone()));
    map([
        ("apiVersion", str("serving.kserve.io/v1beta1")),
        ("kind", str("InferenceService")),
        ("metadata", metadata),
        (
            "spec",
            map([(
                "predictor",
                map([
                    ("minReplicas", int(i64::from(plan.min_replicas))),
                    ("maxReplicas", int(i64::from(plan.max_replicas))),
                    ("scaleMetric", str("cpu")),
                    ("scaleTarget", int(CPU_UTILIZATION_PERCENT)),
                    ("annotations", string_map(&pod_annotations)),
                    ("automountServiceAccountToken", boolean(false)),
                    ("securityContext", pod::pod_security_context()),
                    ("terminationGracePeriodSeconds", int(contract::termination_grace_seconds())),
                    (
                        "model",
                        map([
                            (
                                "modelFormat",
                                map([
                                    ("name", str(contract::KSERVE_MODEL_FORMAT)),
                                    ("version", str(contract::KSERVE_MODEL_FORMAT_VERSION)),
                                ]),
                            ),
                            ("runtime", str(&runtime_name(plan))),
                            ("protocolVersion", str("v2")),
                        ]),
                    ),
                ]),
            )]),
        ),
    ])
}
