"""Validates Kubernetes manifests against the schemas kept beside this script (README.md).

    python validate.py FILE.yaml...

Prints one JSON object per file, {"file", "apiVersion", "kind", "errors", "document"}, and
exits 1 if any file has an error. Used by cli/tests/deploy.rs; needs `jsonschema`
and `PyYAML`.

What is checked, as the API server would before storing the object:
- The file is one YAML document, read with PyYAML's YAML 1.1 rules (as kubectl's go-yaml v2
  does: `yes`, `on` are booleans there).
- Built-in kinds (Deployment, Service, HorizontalPodAutoscaler) against Kubernetes v1.30.0's
  strict JSON schemas: unknown fields are errors.
- Custom resources (KServe ClusterServingRuntime and InferenceService, KEDA ScaledObject)
  against the openAPIV3Schema of their CRD, read from the CRD file unchanged; unknown fields
  are made errors here (`additionalProperties: false` wherever a schema lists properties
  and does not keep unknown fields), as `kubectl apply`'s strict field validation rejects
  them instead of pruning them silently. Their `metadata` against Kubernetes' ObjectMeta.
- What the API server checks beyond the schemas, for the fields the manifests use: names are
  DNS labels, label keys and values and annotation keys are well formed, resource
  quantities parse, `int32` fields fit.
Not checked: admission webhooks (KServe's, KEDA's), CEL rules, cross-object references.
"""

import copy
import json
import pathlib
import re
import sys

import jsonschema
import yaml
from referencing import Registry, Resource

HERE = pathlib.Path(__file__).resolve().parent
KUBERNETES = HERE / "kubernetes-v1.30.0-local-strict"
BUILT_IN = {
    ("apps/v1", "Deployment"): "deployment-apps-v1.json",
    ("v1", "Service"): "service-v1.json",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscaler-autoscaling-v2.json",
}
CRDS = [
    "serving.kserve.io_clusterservingruntimes.yaml",
    "serving.kserve.io_inferenceservices.yaml",
    "keda.sh_scaledobjects.yaml",
]
DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = {"$ref": DEFINITIONS_ID + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUANTITY = re.compile(
    r"^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("int32")
def _int32(value):
    return not isinstance(value, int) or isinstance(value, bool) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value):
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63


def load_yaml(path, fast=False):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.load_all(f, Loader=loader) if doc is not None]


def strict(schema):
    """The CRD schema with unknown fields made errors (a copy; the file is not changed)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            if node.get("x-kubernetes-int-or-string") and "type" not in node and "anyOf" not in node:
                node["type"] = ["integer", "string"]
            if node.get("nullable") and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def registry():
    with open(KUBERNETES / "_definitions.json", encoding="utf-8") as f:
        definitions = json.load(f)
    return Resource.from_contents(definitions) @ Registry()


def crd_schemas():
    schemas = {}
    for name in CRDS:
        for crd in load_yaml(HERE / name, fast=True):
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (spec["group"] + "/" + version["name"], spec["names"]["kind"])
                    schemas[key] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def schema_errors(validator, document, prefix=""):
    errors = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join([prefix.rstrip(".")] * bool(prefix) + [str(part) for part in error.absolute_path])
        message = error.message if len(error.message) < 300 else error.message[:300] + "..."
        errors.append(f"{path}: {message}")
    return errors


def api_server_checks(document):
    """What the API server validates beyond the schemas, for the fields these manifests use."""
    errors = []
    metadata = document.get("metadata") or {}
    name = metadata.get("name", "")
    if not (isinstance(name, str) and len(name) <= 63 and DNS_LABEL.match(name)):
        errors.append(f"metadata.name: {name!r} is not a DNS label")
    namespace = metadata.get("namespace")
    if namespace is not None and not (len(namespace) <= 63 and DNS_LABEL.match(namespace)):
        errors.append(f"metadata.namespace: {namespace!r} is not a DNS label")

    def check_key(path, key):
        prefix, _, local = key.rpartition("/")
        if prefix and not (len(prefix) <= 253 and DNS_SUBDOMAIN.match(prefix)):
            errors.append(f"{path}: key prefix {prefix!r} is not a DNS subdomain")
        if not (len(local) <= 63 and QUALIFIED_NAME.match(local)):
            errors.append(f"{path}: key name {local!r} is not a qualified name")

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{path}.{key}" if path else str(key)
                if key in ("labels", "matchLabels", "annotations") and isinstance(value, dict):
                    for k, v in value.items():
                        check_key(f"{here}.{k}", str(k))
                        if not isinstance(v, str):
                            errors.append(f"{here}.{k}: value {v!r} is not a string")
                        elif key != "annotations" and not (len(v) <= 63 and LABEL_VALUE.match(v)):
                            errors.append(f"{here}.{k}: {v!r} is not a label value")
                if key in ("requests", "limits") and isinstance(value, dict):
                    for k, v in value.items():
                        if not QUANTITY.match(str(v)):
                            errors.append(f"{here}.{k}: {v!r} is not a quantity")
                walk(value, here)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(document, "")
    return errors


def main(paths):
    reg = registry()
    crds = crd_schemas()
    meta_validator = jsonschema.Draft202012Validator(OBJECT_META, registry=reg, format_checker=FORMATS)
    failed = False
    for path in paths:
        result = {"file": path, "apiVersion": None, "kind": None, "errors": [], "document": None}
        try:
            documents = load_yaml(path)
        except yaml.YAMLError as error:
            documents = []
            result["errors"].append(f"not YAML: {error}")
        if len(documents) != 1:
            result["errors"].append(f"{len(documents)} YAML documents, expected 1")
        else:
            document = documents[0]
            result["document"] = document
            key = (document.get("apiVersion"), document.get("kind"))
            result["apiVersion"], result["kind"] = key
            if key in BUILT_IN:
                with open(KUBERNETES / BUILT_IN[key], encoding="utf-8") as f:
                    schema = json.load(f)
                validator = jsonschema.Draft202012Validator(schema, registry=reg, format_checker=FORMATS)
                result["errors"] += schema_errors(validator, document)
            elif key in crds:
                validator = jsonschema.Draft4Validator(crds[key], format_checker=FORMATS)
                result["errors"] += schema_errors(validator, document)
                result["errors"] += schema_errors(meta_validator, document.get("metadata"), "metadata.")
            else:
                result["errors"].append(f"no schema here for apiVersion {key[0]!r} kind {key[1]!r}")
            result["errors"] += api_server_checks(document)
        failed = failed or bool(result["errors"])
        print(json.dumps(result, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
