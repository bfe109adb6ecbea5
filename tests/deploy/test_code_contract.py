"""Every setting, port, path and name the manifests use is one the code reads or serves.

The CLI is the reference: its parser (gputel.cli.main.build_parser) says which GPUTEL_*
variables exist for each subcommand and what the container's args and env parse to; the
ports, probes, Services, monitors and policies must then point at what that parse listens on.
"""

from __future__ import annotations

import argparse
from pathlib import PurePosixPath

import pytest

from gputel.collector.kube.settings import RESOURCES
from gputel.collector.storage.tsdb import TsdbEndpoints
from tests.deploy.conftest import ALL, COMPOSED
from tests.deploy.manifests import (
    GRPC_PORT_DEST,
    HOST_DEST,
    HTTP_PORT_DEST,
    OTHER_ENV,
    PROBE_PATHS,
    ROUTES,
    SECURITY_ENV,
    Manifests,
    Workload,
    dests,
    field_env,
    flag_envs,
    literal_env,
    matches,
    parse,
    pending_env,
)

SUBCOMMANDS = ("agent", "collector")
SCALE_OUT = "scale-out"
NODE = "node-from-the-downward-api"


def _settings(w: Workload) -> argparse.Namespace:
    """The container's args and env as `gputel` parses them (pending names left out)."""
    pending = pending_env(w.subcommand)
    env = {k: v for k, v in literal_env(w.container).items() if k not in pending}
    env.update(dict.fromkeys(field_env(w.container), NODE))
    return parse(w, env)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
@pytest.mark.parametrize("name", ALL)
def test_every_variable_is_read_by_the_code(rendered: dict[str, Manifests], name: str,
                                            subcommand: str) -> None:
    w = rendered[name].workload(subcommand)
    assert "command" not in w.container, "the image's ENTRYPOINT (gputel) must stay in charge"
    known = set(flag_envs(subcommand)) | pending_env(subcommand)
    for var in (e["name"] for e in w.container.get("env", [])):
        if var.startswith("GPUTEL_"):
            assert var in known, (f"{name}: `gputel {subcommand}` has no flag for {var}; the "
                                  f"code reads {sorted(known)}")
        else:
            assert var in OTHER_ENV, f"{name}: who reads {var}? (not a GPUTEL_ flag)"
    _settings(w)  # every value parses: a bad one exits 2, naming the flag


def test_secrets_are_only_used_by_the_optional_components(
        rendered: dict[str, Manifests]) -> None:
    for name, m in rendered.items():
        used = {e["name"] for w in m.workloads() for e in w.container.get("env", [])}
        secrets = [v for w in m.workloads() for v in w.pod.get("volumes", []) if "secret" in v]
        if name == COMPOSED:
            assert used >= SECURITY_ENV
            assert len(secrets) == 4  # TLS and token, each on both sides
        else:  # a default overlay must apply without Secrets the user has not made
            assert not used & SECURITY_ENV, name
            assert not secrets, name


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
@pytest.mark.parametrize("name", ALL)
def test_every_path_in_the_env_is_on_a_mounted_volume(
        rendered: dict[str, Manifests], name: str, subcommand: str) -> None:
    # The image holds nothing at these paths: each must come from a volume (or be /proc,
    # which the runtime always mounts; with hostPID it is the host's).
    w = rendered[name].workload(subcommand)
    mounts = [PurePosixPath(m["mountPath"]) for m in w.mounts()] + [PurePosixPath("/proc")]
    for var, value in literal_env(w.container).items():
        if value.startswith("/"):
            assert any(PurePosixPath(value).is_relative_to(m) for m in mounts), (
                f"{name}: {var}={value} is on no volume of the container")


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
@pytest.mark.parametrize("name", ALL)
def test_container_ports_are_the_ports_the_process_listens_on(
        rendered: dict[str, Manifests], name: str, subcommand: str) -> None:
    w = rendered[name].workload(subcommand)
    settings = _settings(w)
    listening = {getattr(settings, d) for d in dests(subcommand, "_port")}
    declared = {p["containerPort"] for p in w.container["ports"]}
    assert declared == listening, f"{name}: containerPorts {declared}, listening on {listening}"
    assert {p.get("protocol", "TCP") for p in w.container["ports"]} == {"TCP"}
    # Probes and Services reach the pod IP: the listen address must be every interface.
    assert getattr(settings, HOST_DEST[subcommand]) in ("0.0.0.0", "::")


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
@pytest.mark.parametrize("name", ALL)
def test_probes_and_scrape_annotations_hit_served_routes(
        rendered: dict[str, Manifests], name: str, subcommand: str) -> None:
    w = rendered[name].workload(subcommand)
    http_port = getattr(_settings(w), HTTP_PORT_DEST[subcommand])
    scheme = _scheme(w)
    for probe, path in PROBE_PATHS.items():
        get = w.container[probe]["httpGet"]
        assert get["path"] == path, f"{name}: {subcommand} {probe} should GET {path}"
        assert w.port(get["port"]) == http_port, f"{name}: {subcommand} {probe} port"
        assert get.get("scheme", "HTTP") == scheme, f"{name}: {subcommand} {probe} scheme"
    notes = w.annotations
    assert int(notes["prometheus.io/port"]) == http_port
    assert notes["prometheus.io/path"] in ROUTES
    assert notes.get("prometheus.io/scheme", "http") == scheme.lower()


def _scheme(w: Workload) -> str:
    """With --tls-cert the collector serves HTTP over TLS too; the agent's HTTP is plain."""
    tls = w.subcommand == "collector" and "GPUTEL_TLS_CERT" in literal_env(w.container)
    return "HTTPS" if tls else "HTTP"


@pytest.mark.parametrize("name", ALL)
def test_the_agent_finds_its_node_and_the_collector(rendered: dict[str, Manifests],
                                                    name: str) -> None:
    m = rendered[name]
    agent, collector = m.workload("agent"), m.workload("collector")
    assert field_env(agent.container) == {"NODE_NAME": "spec.nodeName"}
    assert _settings(agent).node == NODE  # --node follows NODE_NAME
    host, _, port = _settings(agent).collector.rpartition(":")
    service = m.get("Service", host.split(".")[0])
    assert host in (service["metadata"]["name"],
                    f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc")
    assert matches(service["spec"]["selector"], collector.pod_labels)
    target = next(p["targetPort"] for p in service["spec"]["ports"] if p["port"] == int(port))
    grpc = getattr(_settings(collector), GRPC_PORT_DEST)
    assert collector.port(target) == grpc, "GPUTEL_COLLECTOR must reach the gRPC port"


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
@pytest.mark.parametrize("name", ALL)
def test_every_directory_the_process_writes_is_a_writable_volume(
        rendered: dict[str, Manifests], name: str, subcommand: str) -> None:
    w = rendered[name].workload(subcommand)
    assert w.container["securityContext"]["readOnlyRootFilesystem"] is True
    settings = _settings(w)
    writable = [PurePosixPath(m["mountPath"]) for m in w.mounts() if not m.get("readOnly")]
    for dest in dests(subcommand, "_dir"):
        value = getattr(settings, dest)
        if value == "":
            continue  # '' means in memory
        path = PurePosixPath(value)
        assert any(path.is_absolute() and path.is_relative_to(m) for m in writable), (
            f"{name}: --{dest.replace('_', '-')} is {value!r}, not on a writable volume of a "
            "read-only root filesystem")


@pytest.mark.parametrize("name", [n for n in ALL if n != SCALE_OUT])
def test_the_collector_keeps_its_store_on_the_claim(rendered: dict[str, Manifests],
                                                    name: str) -> None:
    m = rendered[name]
    collector = m.workload("collector")
    settings = _settings(collector)
    assert settings.store == "duckdb"
    claims = {t["metadata"]["name"] for t in collector.obj["spec"]["volumeClaimTemplates"]}
    data = PurePosixPath(settings.data_dir)
    assert any(data.is_relative_to(mnt["mountPath"]) and mnt["name"] in claims
               for mnt in collector.mounts()), "--data-dir must be on the PersistentVolumeClaim"


@pytest.mark.parametrize("name", ALL)
def test_services_monitors_and_policies_point_at_real_ports(rendered: dict[str, Manifests],
                                                           name: str) -> None:
    m = rendered[name]
    agent, collector = m.workload("agent"), m.workload("collector")
    for service in m.of_kind("Service"):
        assert matches(service["spec"]["selector"], collector.pod_labels)
        for p in service["spec"]["ports"]:
            collector.port(p["targetPort"])
    for monitor in m.of_kind("ServiceMonitor"):
        selected = [s for s in m.of_kind("Service")
                    if matches(monitor["spec"]["selector"]["matchLabels"],
                               s["metadata"]["labels"])]
        assert len(selected) == 1, "one Service per collector target, or it is scraped twice"
        for e in monitor["spec"]["endpoints"]:
            assert e["path"] in ROUTES
            assert e.get("scheme", "http") == _scheme(collector).lower()
            port = next(p for p in selected[0]["spec"]["ports"] if p["name"] == e["port"])
            assert collector.port(port["targetPort"]) == getattr(
                _settings(collector), HTTP_PORT_DEST["collector"])
    for monitor in m.of_kind("PodMonitor"):
        assert matches(monitor["spec"]["selector"]["matchLabels"], agent.pod_labels)
        for e in monitor["spec"]["podMetricsEndpoints"]:
            assert e["path"] in ROUTES
            assert agent.port(e["port"]) == _settings(agent).agent_port
    for policy in m.of_kind("NetworkPolicy"):
        target = [w for w in (agent, collector)
                  if matches(policy["spec"]["podSelector"]["matchLabels"], w.pod_labels)]
        assert len(target) == 1, f"NetworkPolicy {policy['metadata']['name']} selects no pod"
        for rule in policy["spec"]["ingress"]:
            for p in rule["ports"]:
                target[0].port(p["port"])


def test_the_collector_admits_agents_on_grpc_and_nothing_else_from_them(
        rendered: dict[str, Manifests]) -> None:
    m = rendered["nvidia"]
    agent, collector = m.workload("agent"), m.workload("collector")
    policy = m.get("NetworkPolicy", "gputel-collector")
    from_agents = [r for r in policy["spec"]["ingress"] for peer in r["from"]
                   if "podSelector" in peer and "namespaceSelector" not in peer
                   and matches(peer["podSelector"]["matchLabels"], agent.pod_labels)]
    assert [[collector.port(p["port"]) for p in r["ports"]] for r in from_agents] == [[50051]]


@pytest.mark.parametrize("name", ALL)
def test_one_namespace_and_rbac_exactly_what_the_kubernetes_watch_calls(
        rendered: dict[str, Manifests], name: str) -> None:
    m = rendered[name]
    agent = m.workload("agent")
    namespace = agent.obj["metadata"]["namespace"]
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for obj in m.objects:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]["name"]
    assert m.get("Namespace", namespace)
    collector = m.workload("collector")
    binding = m.get("ClusterRoleBinding", "gputel-collector")
    assert binding["subjects"] == [{"kind": "ServiceAccount",
                                    "name": collector.pod["serviceAccountName"],
                                    "namespace": namespace}]
    role = m.get("ClusterRole", binding["roleRef"]["name"])
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
               for r in rule["resources"] for v in rule["verbs"]}
    # The watcher's own table: list then watch, per kind, and no other call.
    wanted = {(r.group, r.plural, v) for r in RESOURCES for v in ("list", "watch")}
    assert granted == wanted
    assert len(m.of_kind("ClusterRole")) == 1
    assert len(m.of_kind("ClusterRoleBinding")) == 1
    assert not m.of_kind("Role")
    assert not m.of_kind("RoleBinding")
    assert collector.pod["automountServiceAccountToken"] is True
    assert agent.pod.get("automountServiceAccountToken", False) is False
    account = m.get("ServiceAccount", agent.pod["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False  # the agent calls no API


@pytest.mark.parametrize("name", ALL)
def test_service_links_cannot_shadow_gputel_settings(rendered: dict[str, Manifests],
                                                     name: str) -> None:
    # With service links, a Service named e.g. gputel-grpc would inject GPUTEL_GRPC_PORT=tcp://...
    for w in rendered[name].workloads():
        assert w.pod["enableServiceLinks"] is False


def test_scale_out_runs_replicas_over_the_tsdb(rendered: dict[str, Manifests]) -> None:
    """scale-out: 2+ collector replicas on different nodes over a remote TSDB whose URLs
    the CLI accepts, a disruption budget that keeps one, agents on the headless Service."""
    m = rendered[SCALE_OUT]
    collector, agent = m.workload("collector"), m.workload("agent")
    assert collector.obj["kind"] == "Deployment"
    assert collector.obj["spec"]["replicas"] >= 2
    assert not m.of_kind("StatefulSet")
    assert not m.of_kind("PersistentVolumeClaim")
    settings = _settings(collector)
    assert settings.store == "remote"
    assert settings.data_dir == "", "nothing kept locally"
    endpoints = TsdbEndpoints.build(settings.tsdb_layout, settings.tsdb_url,
                                    settings.tsdb_write_url, settings.tsdb_read_url,
                                    settings.tsdb_tenant)
    assert endpoints.write.endswith("/api/v1/write")
    terms = collector.pod["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]
    assert any(t["topologyKey"] == "kubernetes.io/hostname"
               and matches(t["labelSelector"]["matchLabels"], collector.pod_labels)
               for t in terms), "replicas on different nodes"
    (budget,) = m.of_kind("PodDisruptionBudget")
    assert matches(budget["spec"]["selector"]["matchLabels"], collector.pod_labels)
    assert 1 <= budget["spec"]["minAvailable"] < collector.obj["spec"]["replicas"]
    host = _settings(agent).collector.rpartition(":")[0]
    service = m.get("Service", host)
    assert service["spec"]["clusterIP"] == "None", "one DNS record per collector"
    assert matches(service["spec"]["selector"], collector.pod_labels)
