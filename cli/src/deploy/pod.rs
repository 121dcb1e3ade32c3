//! The parts of the server's container and pod that the Kubernetes Deployment and the KServe
//! runtime share: ports, probes, resources, security context, the preStop hook, `/tmp`.
//!
//! The image is a static binary in an empty (`scratch`) image: no shell, no `sleep`. A
//! preStop `exec: [sleep, ...]` hook cannot run in it. The hook written here is the
//! kubelet's own `sleep` action (Kubernetes 1.30 and later), which needs nothing in the
//! image: it holds SIGTERM back for a few seconds while the endpoints controller removes the
//! pod from Services, so that requests routed just before do not find the port closed. The
//! server then drains open requests for `--shutdown-timeout-ms`, and the grace period covers
//! both ([`contract::termination_grace_seconds`]).

use super::Plan;
use super::contract;
use super::yaml::{boolean, int, map, seq, str, string_map};
use serde_yaml_ng::Value;

/// How a probe names the HTTP port: by name in the Deployment, by number in the KServe
/// runtime (where a user may drop the named ports, for instance for Knative).
#[derive(Clone, Copy)]
pub(crate) enum PortRef {
    Name,
    Number,
}

fn http_port(port: PortRef) -> Value {
    match port {
        PortRef::Name => str(contract::HTTP_PORT_NAME),
        PortRef::Number => int(contract::HTTP_PORT),
    }
}

pub(crate) fn ports() -> Value {
    seq(vec![
        map([
            ("name", str(contract::HTTP_PORT_NAME)),
            ("containerPort", int(contract::HTTP_PORT)),
            ("protocol", str("TCP")),
        ]),
        map([
            ("name", str(contract::GRPC_PORT_NAME)),
            ("containerPort", int(contract::GRPC_PORT)),
            ("protocol", str("TCP")),
        ]),
    ])
}

fn http_get(path: &str, port: PortRef) -> Value {
    map([("path", str(path)), ("port", http_port(port))])
}

/// Startup: up to 3 minutes for the process to answer `live` (loading weights, measuring the
/// GPU); liveness and readiness start after it.
pub(crate) fn startup_probe(port: PortRef) -> Value {
    map([
        ("httpGet", http_get(contract::LIVE_PATH, port)),
        ("periodSeconds", int(2)),
        ("timeoutSeconds", int(2)),
        ("failureThreshold", int(90)),
    ])
}

/// Liveness: restart a server that stops answering `live` for 30 seconds.
pub(crate) fn liveness_probe(port: PortRef) -> Value {
    map([
        ("httpGet", http_get(contract::LIVE_PATH, port)),
        ("periodSeconds", int(10)),
        ("timeoutSeconds", int(2)),
        ("failureThreshold", int(3)),
    ])
}

/// Readiness: traffic only after warm-up, and none once the server says it is not ready.
pub(crate) fn readiness_probe(port: PortRef) -> Value {
    map([
        ("httpGet", http_get(contract::READY_PATH, port)),
        ("periodSeconds", int(5)),
        ("timeoutSeconds", int(2)),
        ("failureThreshold", int(2)),
    ])
}

/// Requests equal to limits (the Guaranteed class, and a CPU request for the CPU HPA).
pub(crate) fn resources(plan: &Plan) -> Value {
    let amounts = || string_map(&[("cpu", plan.cpu.as_str()), ("memory", plan.memory.as_str())]);
    map([("requests", amounts()), ("limits", amounts())])
}

/// The container's security context: non-root (the image's user), read-only root file
/// system, no privilege escalation, no capabilities, the runtime's default seccomp profile
/// (what the "restricted" Pod Security Standard asks).
pub(crate) fn container_security_context() -> Value {
    map([
        ("runAsNonRoot", boolean(true)),
        ("runAsUser", int(contract::USER)),
        ("runAsGroup", int(contract::USER)),
        ("readOnlyRootFilesystem", boolean(true)),
        ("allowPrivilegeEscalation", boolean(false)),
        ("privileged", boolean(false)),
        ("capabilities", map([("drop", seq(vec![str("ALL")]))])),
        ("seccompProfile", map([("type", str("RuntimeDefault"))])),
    ])
}

/// The pod's security context (Deployment, InferenceService predictor).
pub(crate) fn pod_security_context() -> Value {
    map([
        ("runAsNonRoot", boolean(true)),
        ("runAsUser", int(contract::USER)),
        ("runAsGroup", int(contract::USER)),
        ("seccompProfile", map([("type", str("RuntimeDefault"))])),
    ])
}

/// The kubelet's preStop sleep (see the module documentation).
pub(crate) fn lifecycle() -> Value {
    map([("preStop", map([("sleep", map([("seconds", int(contract::PRE_STOP_SLEEP_SECONDS))]))]))])
}

/// A writable `/tmp` on a read-only root file system.
pub(crate) const TMP_VOLUME: &str = "tmp";

pub(crate) fn tmp_volume() -> Value {
    map([("name", str(TMP_VOLUME)), ("emptyDir", map([("sizeLimit", str("64Mi"))]))])
}

pub(crate) fn tmp_mount() -> Value {
    map([("name", str(TMP_VOLUME)), ("mountPath", str("/tmp"))])
}

/// Prometheus' conventional scrape annotations, for a pod.
pub(crate) fn scrape_annotations() -> Vec<(&'static str, String)> {
    vec![
        ("prometheus.io/scrape", "true".to_string()),
        ("prometheus.io/port", contract::HTTP_PORT.to_string()),
        ("prometheus.io/path", contract::METRICS_PATH.to_string()),
    ]
}

/// Header lines on the preStop hook, for the files that carry one.
pub(crate) fn pre_stop_note() -> Vec<String> {
    vec![
        "Shutdown: the image is FROM scratch, with no shell, so a preStop `exec: sleep` hook".to_string(),
        "cannot run in it. The preStop hook here is the kubelet's own `sleep` action".to_string(),
        format!(
            "(Kubernetes >= 1.30): {} s for endpoints to drop the pod, then SIGTERM, then up to",
            contract::PRE_STOP_SLEEP_SECONDS
        ),
        format!(
            "{} ms of draining (--shutdown-timeout-ms); terminationGracePeriodSeconds {} covers both.",
            contract::SHUTDOWN_TIMEOUT_MS,
            contract::termination_grace_seconds()
        ),
        "On an older cluster remove `lifecycle`: the server still drains after SIGTERM.".to_string(),
    ]
}
