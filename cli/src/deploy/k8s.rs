//! `pipec deploy k8s`: plain Kubernetes manifests.
//!
//! - `deployment.yaml`: apps/v1 Deployment of the server image, with startup, liveness and
//!   readiness probes on the Open Inference Protocol health endpoints, requests and limits,
//!   a restricted security context, named `http` and `grpc` ports, Prometheus scrape
//!   annotations on the pod, and the shutdown timing of [`super::pod`].
//! - `service.yaml`: v1 ClusterIP Service, `http` 8080 and `grpc` 8081 (appProtocol
//!   `kubernetes.io/h2c`, so that gRPC-aware proxies and meshes speak HTTP/2 to it).
//! - `hpa.yaml`: autoscaling/v2 HorizontalPodAutoscaler on CPU utilization.
//! - `autoscaling/keda-scaledobject.yaml`: a KEDA ScaledObject scaling on the queue-wait
//!   metric through KEDA's Prometheus scaler, and `autoscaling/hpa-custom-metric.yaml`: an
//!   autoscaling/v2 HPA on the same metric as a Pods metric served by prometheus-adapter.
//!   Both replace `hpa.yaml`; they are examples whose Prometheus address and labels depend on
//!   the cluster.
//!
//! Queue wait is the better signal for a batching server: CPU stays high while batches are
//! large and cheap, but the time a request waits before its batch starts is what a caller
//! feels, and it grows as soon as the pods fall behind.

use super::pod::{self, PortRef};
use super::yaml::{boolean, int, map, push, seq, str, string_map};
use super::{Manifest, Plan, contract, metrics};
use serde_yaml_ng::Value;

/// Where the examples expect Prometheus (a Prometheus Operator install in `monitoring`).
const PROMETHEUS_ADDRESS: &str = "http://prometheus-operated.monitoring.svc:9090";
/// CPU utilization (percent of the request) the CPU HPA keeps.
const CPU_UTILIZATION_PERCENT: i64 = 70;
/// The server container's name.
const CONTAINER: &str = "server";

pub(crate) fn manifests(plan: &Plan) -> Vec<Manifest> {
    vec![
        Manifest { path: "deployment.yaml", header: deployment_header(plan), document: deployment(plan) },
        Manifest { path: "service.yaml", header: service_header(plan), document: service(plan) },
        Manifest { path: "hpa.yaml", header: hpa_header(plan), document: hpa(plan) },
        Manifest { path: "autoscaling/keda-scaledobject.yaml", header: keda_header(plan), document: keda(plan) },
        Manifest {
            path: "autoscaling/hpa-custom-metric.yaml",
            header: custom_metric_header(plan),
            document: custom_metric_hpa(plan),
        },
    ]
}

fn with(mut header: Vec<String>, lines: &[&str]) -> Vec<String> {
    header.push(String::new());
    header.extend(lines.iter().map(|line| line.to_string()));
    header
}

fn deployment_header(plan: &Plan) -> Vec<String> {
    let mut header = with(
        plan.header(),
        &[
            "Apply with `kubectl apply -f DIR` (deployment, service, hpa); DIR/autoscaling/ holds",
            "alternatives to hpa.yaml that scale on queue wait.",
            "The image: `pipec build FILE --image OUT.tar`, then `docker load -i OUT.tar` and push it",
            "where the cluster pulls from (or `kind load image-archive OUT.tar`). A node reuses an",
            "image it has under the same tag (IfNotPresent): give each build its own tag or a digest.",
        ],
    );
    header.push(String::new());
    header.extend(pod::pre_stop_note());
    header
}

fn deployment(plan: &Plan) -> Value {
    let mut args = Vec::new();
    if let Some(model) = &plan.model_name {
        args.push(str(&format!("--model-name={model}")));
    }
    args.extend(contract::server_args().iter().map(|arg| str(arg)));
    let container = map([
        ("name", str(CONTAINER)),
        ("image", str(&plan.image)),
        ("imagePullPolicy", str("IfNotPresent")),
        ("args", seq(args)),
        ("ports", pod::ports()),
        ("startupProbe", pod::startup_probe(PortRef::Name)),
        ("livenessProbe", pod::liveness_probe(PortRef::Name)),
        ("readinessProbe", pod::readiness_probe(PortRef::Name)),
        ("resources", pod::resources(plan)),
        ("securityContext", pod::container_security_context()),
        ("lifecycle", pod::lifecycle()),
        ("volumeMounts", seq(vec![pod::tmp_mount()])),
    ]);
    let mut pod_annotations = pod::scrape_annotations();
    pod_annotations.push(("pipec/identity", plan.identity.clone()));
    let template = map([
        ("metadata", map([("labels", string_map(&plan.labels())), ("annotations", string_map(&pod_annotations))])),
        (
            "spec",
            map([
                ("automountServiceAccountToken", boolean(false)),
                ("securityContext", pod::pod_security_context()),
                ("terminationGracePeriodSeconds", int(contract::termination_grace_seconds())),
                ("containers", seq(vec![container])),
                ("volumes", seq(vec![pod::tmp_volume()])),
            ]),
        ),
    ]);
    let mut spec = map([]);
    if let Some(replicas) = plan.replicas {
        push(&mut spec, "replicas", int(i64::from(replicas)));
    }
    push(&mut spec, "selector", map([("matchLabels", string_map(&plan.selector()))]));
    push(
        &mut spec,
        "strategy",
        map([
            ("type", str("RollingUpdate")),
            ("rollingUpdate", map([("maxSurge", int(1)), ("maxUnavailable", int(0))])),
        ]),
    );
    push(&mut spec, "template", template);
    map([
        ("apiVersion", str("apps/v1")),
        ("kind", str("Deployment")),
        ("metadata", plan.metadata(&plan.name)),
        ("spec", spec),
    ])
}

fn service_header(plan: &Plan) -> Vec<String> {
    with(
        plan.header(),
        &[
            "ClusterIP Service: `http` (REST: Open Inference Protocol v2, health, /metrics) and `grpc`",
            "(inference.GRPCInferenceService; appProtocol kubernetes.io/h2c, HTTP/2 without TLS).",
        ],
    )
}

fn service(plan: &Plan) -> Value {
    let port = |name: &str, number: i64, app_protocol: &str| {
        map([
            ("name", str(name)),
            ("port", int(number)),
            ("targetPort", str(name)),
            ("protocol", str("TCP")),
            ("appProtocol", str(app_protocol)),
        ])
    };
    map([
        ("apiVersion", str("v1")),
        ("kind", str("Service")),
        ("metadata", plan.metadata(&plan.name)),
        (
            "spec",
            map([
                ("type", str("ClusterIP")),
                ("selector", string_map(&plan.selector())),
                (
                    "ports",
                    seq(vec![
                        port(contract::HTTP_PORT_NAME, contract::HTTP_PORT, "http"),
                        port(contract::GRPC_PORT_NAME, contract::GRPC_PORT, contract::GRPC_APP_PROTOCOL),
                    ]),
                ),
            ]),
        ),
    ])
}

fn scale_target(plan: &Plan) -> Value {
    map([("apiVersion", str("apps/v1")), ("kind", str("Deployment")), ("name", str(&plan.name))])
}

fn hpa_header(plan: &Plan) -> Vec<String> {
    let target =
        format!("CPU autoscaling: {CPU_UTILIZATION_PERCENT}% of the CPU request (--cpu {}) on average,", plan.cpu);
    let range = format!(
        "between {} and {} replicas. To scale on queue wait instead, apply one of",
        plan.min_replicas, plan.max_replicas
    );
    with(plan.header(), &[&target, &range, "autoscaling/*.yaml in place of this file."])
}

/// The CPU HPA: average utilization of the pods' CPU request.
fn hpa(plan: &Plan) -> Value {
    let target = map([("type", str("Utilization")), ("averageUtilization", int(CPU_UTILIZATION_PERCENT))]);
    hpa_with(plan, map([("type", str("Resource")), ("resource", map([("name", str("cpu")), ("target", target)]))]))
}

/// An autoscaling/v2 HorizontalPodAutoscaler of the Deployment on one metric (a `metrics` entry).
fn hpa_with(plan: &Plan, metric: Value) -> Value {
    map([
        ("apiVersion", str("autoscaling/v2")),
        ("kind", str("HorizontalPodAutoscaler")),
        ("metadata", plan.metadata(&plan.name)),
        (
            "spec",
            map([
                ("scaleTargetRef", scale_target(plan)),
                ("minReplicas", int(i64::from(plan.min_replicas))),
                ("maxReplicas", int(i64::from(plan.max_replicas))),
                ("metrics", seq(vec![metric])),
            ]),
        ),
    ])
}

/// PromQL: the mean queue wait over this Deployment's pods.
fn queue_wait_query(plan: &Plan) -> String {
    let namespace = plan.namespace.as_deref().unwrap_or("default");
    format!(
        "avg({}{{namespace=\"{namespace}\",pod=~\"{}-[a-z0-9]+-[a-z0-9]+\"}})",
        metrics::QUEUE_WAIT_SECONDS,
        plan.name
    )
}

fn keda_header(plan: &Plan) -> Vec<String> {
    let metric = format!(
        "KEDA ScaledObject: scales the Deployment on {} (mean time a request waits in",
        metrics::QUEUE_WAIT_SECONDS
    );
    let target = format!(
        "the batch queue) averaged over its pods, adding pods above {} s (metricType Value:",
        metrics::QUEUE_WAIT_TARGET_SECONDS
    );
    let depth =
        format!("replicas = ceil(current * wait / threshold)). Another signal: sum of {}.", metrics::QUEUE_DEPTH);
    let address = format!("{PROMETHEUS_ADDRESS}, is a Prometheus Operator install in `monitoring`.");
    let namespace = if plan.namespace.is_none() {
        "The query assumes namespace \"default\" (no --namespace was given)."
    } else {
        "The query's namespace is --namespace."
    };
    with(
        plan.header(),
        &[
            &metric,
            &target,
            &depth,
            "Replaces ../hpa.yaml: KEDA makes its own HPA and refuses a Deployment that another HPA",
            "scales, so `kubectl delete -f ../hpa.yaml` first. Needs KEDA 2.x installed.",
            "ADAPT serverAddress to the Prometheus that scrapes these pods (their prometheus.io/*",
            "annotations, or a PodMonitor) and labels series with `namespace` and `pod`; the one here,",
            &address,
            namespace,
        ],
    )
}

fn keda(plan: &Plan) -> Value {
    let query = queue_wait_query(plan);
    let trigger_metadata = string_map(&[
        ("serverAddress", PROMETHEUS_ADDRESS),
        ("query", query.as_str()),
        ("threshold", metrics::QUEUE_WAIT_TARGET_SECONDS),
    ]);
    map([
        ("apiVersion", str("keda.sh/v1alpha1")),
        ("kind", str("ScaledObject")),
        ("metadata", plan.metadata(&plan.name)),
        (
            "spec",
            map([
                ("scaleTargetRef", scale_target(plan)),
                ("minReplicaCount", int(i64::from(plan.min_replicas))),
                ("maxReplicaCount", int(i64::from(plan.max_replicas))),
                ("pollingInterval", int(15)),
                ("cooldownPeriod", int(300)),
                (
                    "triggers",
                    seq(vec![map([
                        ("type", str("prometheus")),
                        ("name", str("queue-wait")),
                        ("metricType", str("Value")),
                        ("metadata", trigger_metadata),
                    ])]),
                ),
            ]),
        ),
    ])
}

fn custom_metric_header(plan: &Plan) -> Vec<String> {
    let metric =
        format!("autoscaling/v2 HPA on the Pods metric {} (mean queue wait per pod),", metrics::QUEUE_WAIT_SECONDS);
    let target = format!(
        "target {} s ({}) on average, served to the HPA by prometheus-adapter.",
        metrics::QUEUE_WAIT_TARGET_SECONDS,
        metrics::QUEUE_WAIT_TARGET_QUANTITY
    );
    let series = format!("  - seriesQuery: '{}{{namespace!=\"\",pod!=\"\"}}'", metrics::QUEUE_WAIT_SECONDS);
    with(
        plan.header(),
        &[
            &metric,
            &target,
            "Same name as ../hpa.yaml: `kubectl apply -f` this file replaces the CPU HPA.",
            "ADAPT: prometheus-adapter must expose the metric; a rule for its config:",
            "  rules:",
            &series,
            "    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}",
            "    metricsQuery: 'avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'",
            "Check with: kubectl get --raw /apis/custom.metrics.k8s.io/v1beta1 | grep pipec",
        ],
    )
}

/// The HPA on the queue-wait Pods metric (through prometheus-adapter).
fn custom_metric_hpa(plan: &Plan) -> Value {
    let target = map([("type", str("AverageValue")), ("averageValue", str(metrics::QUEUE_WAIT_TARGET_QUANTITY))]);
    let pods = map([("metric", map([("name", str(metrics::QUEUE_WAIT_SECONDS))])), ("target", target)]);
    hpa_with(plan, map([("type", str("Pods")), ("pods", pods)]))
}
