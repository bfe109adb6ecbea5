"""Every rendered object is valid Kubernetes 1.29-1.33, strictly (no unknown field).

Core kinds are checked against the OpenAPI schemas that `kubernetes-validate` ships. The
prometheus-operator kinds (ServiceMonitor, PodMonitor) are custom resources with no schema
there: they get the structural check below, of the fields prometheus-operator's CRDs define.
Last, the rules the API server enforces beyond the schema, which a schema check lets through.
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.conftest import ALL
from tests.deploy.manifests import Manifests, Workload, matches

VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33")
MONITORING = "monitoring.coreos.com/v1"

# prometheus-operator's Duration pattern and the fields of its v1 CRDs that a monitor may use.
DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                      r"(([0-9]+)s)?(([0-9]+)ms)?)$")
ENDPOINT_KEYS = {"port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
                 "honorTimestamps", "relabelings", "metricRelabelings", "tlsConfig",
                 "authorization", "params", "followRedirects", "enableHttp2"}
MONITORS: dict[str, tuple[str, set[str], set[str]]] = {
    # kind: (endpoints field, spec fields, extra endpoint fields)
    "ServiceMonitor": ("endpoints", {"endpoints", "selector", "namespaceSelector", "jobLabel",
                                     "targetLabels", "podTargetLabels", "sampleLimit"},
                       {"targetPort", "bearerTokenSecret"}),
    "PodMonitor": ("podMetricsEndpoints", {"podMetricsEndpoints", "selector",
                                           "namespaceSelector", "jobLabel", "podTargetLabels",
                                           "sampleLimit"}, {"filterRunning"}),
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ALL)
def test_core_objects_validate_strictly(rendered: dict[str, Manifests], name: str,
                                        version: str) -> None:
    errors = []
    for obj in rendered[name].objects:
        if obj["apiVersion"] == MONITORING:
            continue  # custom resources: test_custom_resources_have_the_crd_structure
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"no Kubernetes {version} schema: {exc.message}")
    assert not errors, f"{name} on Kubernetes {version}:\n" + "\n".join(errors)


@pytest.mark.parametrize("name", ALL)
def test_custom_resources_have_the_crd_structure(rendered: dict[str, Manifests],
                                                 name: str) -> None:
    # Any other custom resource has no core schema and fails the strict test above.
    for obj in rendered[name].objects:
        if obj["apiVersion"] == MONITORING:
            _check_monitor(obj)


def test_monitors_ship_only_with_the_prometheus_operator_component(
        rendered: dict[str, Manifests]) -> None:
    kinds = {name: {o["kind"] for o in m.objects if o["apiVersion"] == MONITORING}
             for name, m in rendered.items()}
    assert kinds["nvidia"] == kinds["amd"] == {"ServiceMonitor", "PodMonitor"}
    assert kinds["sim"] == set()  # kind and minikube have no prometheus-operator CRDs


def _check_monitor(obj: dict[str, Any]) -> None:
    what = f"{obj['kind']}/{obj['metadata'].get('name')}"
    assert obj["kind"] in MONITORS, f"{what}: unexpected kind in {MONITORING}"
    assert set(obj) <= {"apiVersion", "kind", "metadata", "spec"}, what
    meta = obj["metadata"]
    assert DNS_LABEL.match(meta["name"]), what
    assert DNS_LABEL.match(meta["namespace"]), f"{what}: no namespace"
    assert all(isinstance(v, str) for v in meta.get("labels", {}).values()), what
    field, spec_keys, extra = MONITORS[obj["kind"]]
    spec = obj["spec"]
    assert set(spec) <= spec_keys, f"{what}: unknown spec fields {set(spec) - spec_keys}"
    labels = spec["selector"]["matchLabels"]
    assert labels, f"{what}: an empty selector selects everything"
    assert all(isinstance(v, str) for v in labels.values()), what
    assert spec[field], f"{what}: no {field}"
    for endpoint in spec[field]:
        unknown = set(endpoint) - ENDPOINT_KEYS - extra
        assert not unknown, f"{what}: unknown endpoint fields {unknown}"
        assert isinstance(endpoint["port"], str), f"{what}: port must be a port name"
        assert endpoint["path"].startswith("/"), what
        for key in ("interval", "scrapeTimeout"):
            assert DURATION.match(endpoint[key]), f"{what}: {key} {endpoint[key]!r}"
        assert _seconds(endpoint["scrapeTimeout"]) <= _seconds(endpoint["interval"]), what


def _seconds(duration: str) -> float:
    units = {"ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|[smhdwy])", duration))


@pytest.mark.parametrize("name", ALL)
def test_rules_the_api_server_adds_to_the_schema(rendered: dict[str, Manifests],
                                                  name: str) -> None:
    m = rendered[name]
    for obj in m.objects:
        assert DNS_LABEL.match(obj["metadata"]["name"]), obj["metadata"]["name"]
    for w in m.workloads():
        _check_workload(w)


def _check_workload(w: Workload) -> None:
    spec, what = w.obj["spec"], f"{w.obj['kind']}/{w.obj['metadata']['name']}"
    assert matches(spec["selector"]["matchLabels"], w.pod_labels), f"{what}: selector"
    names = [p["name"] for p in w.container.get("ports", [])]
    assert len(names) == len(set(names)), f"{what}: duplicate port names"
    assert all(len(n) <= 15 for n in names), f"{what}: port names are at most 15 characters"
    sc = w.container.get("securityContext", {})
    assert not (sc.get("privileged") and sc.get("allowPrivilegeEscalation") is False), (
        f"{what}: privileged with allowPrivilegeEscalation false is refused")
    volumes = {v["name"] for v in w.pod.get("volumes", [])}
    volumes |= {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    for mount in w.mounts():
        assert mount["name"] in volumes, f"{what}: mount of unknown volume {mount['name']}"
    rolling = spec.get("updateStrategy", {}).get("rollingUpdate", {})
    if w.obj["kind"] == "DaemonSet":  # defaults: maxUnavailable 1, maxSurge 0
        stuck = {0, "0%"}
        assert not (rolling.get("maxUnavailable", 1) in stuck
                    and rolling.get("maxSurge", 0) in stuck), f"{what}: a rollout that never moves"
