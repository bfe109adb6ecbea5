"""The seed rows that the Kubernetes watch completes: node addresses, roles, CPU and memory
capacity and conditions (seeds 000, 001, 004), workloads' API versions and owners' uids
(seed 000), each validated against the seed's shape, compared with gputel's own API (HTTP
and its gRPC twin) and with the manifests the stand-in API server was given."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from pydantic import TypeAdapter

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.compat.schemas import k8s_gpu as k8s
from tests.compat.schemas import kai_visualizer as kai
from tests.compat.schemas import primus_lens as lens
from tests.harness.kubeapi import KubeApiStandIn
from tests.harness.kubecluster import PYTORCHJOB_UID, kube_cluster
from tests.harness.servers import CollectorThread, wait_until

K8S = "/k8s-monitor/api/v1"
EVAL_POD = "ml-research/nightly-eval-29010240-8kq2z"
JOB_UID, CRONJOB_UID = ("7c2d1f00-3b5e-4c8a-9e71-0d6a5b4c3a01",
                        "7c2d1f00-3b5e-4c8a-9e71-0d6a5b4c3a00")


@pytest.fixture
def cluster(kubeapi: KubeApiStandIn) -> Iterator[CollectorThread]:
    with kube_cluster(kubeapi, compat=("primus-lens", "kai-visualizer", "k8s-gpu")) as c:
        yield c.collector


def _seed(server: CollectorThread, path: str, shape: Any) -> httpx.Response:
    """A seed route's answer, validated against its shape."""
    response = httpx.get(server.http_base + path, timeout=10)
    assert response.status_code == 200, response.text
    TypeAdapter(shape).validate_python(response.json(), strict=True)
    return response


def _own(server: CollectorThread, path: str, **params: object) -> Any:
    response = httpx.get(f"{server.http_base}/api/v1{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _kube_nodes(server: CollectorThread) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in _own(server, "/kubernetes/nodes", pageSize=500)}


def _ready(server: CollectorThread) -> bool:
    workloads = {w["uid"]: w for w in _own(server, "/workloads", pageSize=500)}
    return (EVAL_POD in workloads and CRONJOB_UID in workloads
            and len(workloads.get(PYTORCHJOB_UID, {}).get("children", [])) == 2
            and {n["name"] for n in _own(server, "/nodes")} == {"gpu-a", "gpu-b"})


def test_workloads_carry_api_versions_and_owner_uids(cluster: CollectorThread) -> None:
    wait_until(lambda: _ready(cluster), timeout=30, what="the workloads and their owners")
    # gputel's own answers first: the ownerReferences' uid and apiVersion.
    pod = _own(cluster, f"/workloads/{EVAL_POD}")
    assert pod["apiVersion"] == "v1"
    assert [(o["kind"], o["uid"], o["apiVersion"]) for o in pod["owners"]] == [
        ("Job", JOB_UID, "batch/v1"), ("CronJob", CRONJOB_UID, "batch/v1")]
    assert _own(cluster, f"/workloads/{PYTORCHJOB_UID}")["apiVersion"] == "kubeflow.org/v1"
    tree = _own(cluster, f"/workloads/{EVAL_POD}/hierarchy")
    assert [(o["uid"], o["apiVersion"]) for o in tree["owners"]] == [
        (JOB_UID, "batch/v1"), (CRONJOB_UID, "batch/v1")]
    with grpc.insecure_channel(cluster.grpc_target) as channel:
        stub = pb_grpc.QueryServiceStub(channel)
        answer = stub.GetWorkload(pb.GetWorkloadRequest(uid=EVAL_POD))
        grpc_tree = stub.GetWorkloadHierarchy(pb.GetWorkloadRequest(uid=EVAL_POD))
        job = stub.GetWorkload(pb.GetWorkloadRequest(uid=PYTORCHJOB_UID))
    assert answer.api_version == "v1"
    assert [(o.kind, o.uid, o.api_version) for o in answer.owners] == [
        (o["kind"], o["uid"], o["apiVersion"]) for o in pod["owners"]]
    assert [(o.uid, o.api_version, list(o.workloads)) for o in grpc_tree.owners] == [
        (o["uid"], o["apiVersion"], o["workloads"]) for o in tree["owners"]]
    assert job.api_version == "kubeflow.org/v1"

    # Seed 000 maps them, with nothing named missing.
    for uid, version in ((EVAL_POD, "v1"), (PYTORCHJOB_UID, "kubeflow.org/v1")):
        body = _seed(cluster, f"/api/workloads/{uid}", lens.Lens[lens.WorkloadDetail]).json()
        assert body["data"]["apiVersion"] == version
        assert "missing" not in body
    body = _seed(cluster, f"/api/workloads/{EVAL_POD}/hierarchy",
                 lens.Lens[lens.HierarchyNode]).json()
    assert body["data"]["owners"] == [{"kind": o["kind"], "name": o["name"], "uid": o["uid"]}
                                      for o in tree["owners"]]
    assert "missing" not in body
    job_tree = _seed(cluster, f"/api/workloads/{PYTORCHJOB_UID}/hierarchy",
                     lens.Lens[lens.HierarchyNode]).json()
    assert [c["uid"] for c in job_tree["data"]["children"]] == _own(
        cluster, f"/workloads/{PYTORCHJOB_UID}/hierarchy")["children"]
    assert "missing" not in job_tree


def test_nodes_have_addresses_roles_capacity_and_conditions(
        cluster: CollectorThread, kubeapi: KubeApiStandIn, manifests: list[dict]) -> None:
    wait_until(lambda: _ready(cluster), timeout=30, what="both agents' nodes")
    api = _kube_nodes(cluster)
    assert api["gpu-a"]["address"] == "10.0.1.11"  # InternalIP before Hostname

    lens_nodes = _seed(cluster, "/api/nodes", lens.Lens[lens.Page[lens.NodeDetail]]).json()
    assert {n["name"]: n["address"] for n in lens_nodes["data"]["data"]} == {
        "gpu-a": "10.0.1.11", "gpu-b": "10.0.1.12"}
    assert "missing" not in lens_nodes
    one = _seed(cluster, "/api/nodes/gpu-b", lens.Lens[lens.NodeDetail]).json()
    assert (one["data"]["address"], "missing" in one) == (api["gpu-b"]["address"], False)

    # Seed 004: role and capacity in the API's own spelling (manifest: cpu "96",
    # memory 1056291804Ki, allocatable cpu 95500m); CPU and memory use stay null.
    nodes = _seed(cluster, K8S + "/resources/nodes", k8s.Success[list[k8s.Node]])
    by_name = {n["name"]: n for n in nodes.json()["data"]}
    a = by_name["gpu-a"]
    assert (a["role"], a["cpuCapacity"], a["memoryCapacity"], a["cpuAllocatable"],
            a["memoryAllocatable"]) == ("gpu-worker", "96", "1056291804Ki", "95500m",
                                        "1055165404Ki")
    assert api["gpu-a"]["capacity"]["cpu"] == 96
    assert api["gpu-a"]["capacity"]["memory"] == 1056291804 * 1024
    assert api["gpu-a"]["allocatable"]["cpu"] == 95.5
    assert (a["cpuUsagePercent"], a["memoryUsagePercent"]) == (None, None)
    assert "role" not in nodes.headers["X-Gputel-Missing"]
    assert "cpuUsagePercent" in nodes.headers["X-Gputel-Missing"]
    detail = _seed(cluster, K8S + "/resources/nodes/gpu-b", k8s.Success[k8s.Node]).json()
    assert detail["data"]["cpuCapacity"] == by_name["gpu-b"]["cpuCapacity"]

    # Seed 001: resources in cores and bytes, as /api/v1/kubernetes/nodes has them.
    kai_nodes = _seed(cluster, "/api/v1/visualizer/nodes", list[kai.NodeView])
    assert "X-Gputel-Missing" not in kai_nodes.headers
    for node in kai_nodes.json():
        mine = api[node["name"]]
        assert node["role"] == ",".join(mine["roles"])
        for resource in ("cpu", "memory"):
            assert node["resources"][resource] == {
                "capacity": mine["capacity"][resource],
                "allocatable": mine["allocatable"][resource]}

    # Seed 004's cluster health: every node's conditions, as the API says them.
    health = _seed(cluster, K8S + "/resources/health", k8s.Success[k8s.ClusterHealth]).json()
    data = health["data"]
    assert "missing" not in health
    assert {n["name"]: n["conditions"] for n in data["nodeConditions"]} == {
        name: n["conditions"] for name, n in api.items()}
    assert data["notReadyNodes"] == ["gpu-c"]  # its kubelet says the runtime is not ready
    assert data["pressureNodes"] == {}
    gpu_health = _seed(cluster, K8S + "/gpu/health", k8s.Success[k8s.ClusterHealth])
    if gpu_health.json()["data"]["status"] == "HEALTHY":
        assert data["status"] == "WARNING"  # gpu-c is not Ready

    # A condition the kubelet raises reaches the answer through the watch.
    node_a = copy.deepcopy(next(m for m in manifests if m["kind"] == "Node"
                                and m["metadata"]["name"] == "gpu-a"))
    node_a["status"]["conditions"][0] = {"type": "MemoryPressure", "status": "True",
                                         "reason": "KubeletHasInsufficientMemory",
                                         "lastTransitionTime": "2026-01-05T10:00:00Z"}
    kubeapi.apply(node_a)
    wait_until(lambda: _kube_nodes(cluster)["gpu-a"]["conditions"][0]["status"] == "True",
               what="gpu-a's memory pressure")
    data = _seed(cluster, K8S + "/resources/health", k8s.Success[k8s.ClusterHealth]).json()["data"]
    assert data["pressureNodes"] == {"gpu-a": ["MemoryPressure"]}
    pressure = next(n for n in data["nodeConditions"] if n["name"] == "gpu-a")["conditions"][0]
    assert pressure == {"type": "MemoryPressure", "status": "True",
                        "reason": "KubeletHasInsufficientMemory", "message": None,
                        "lastTransitionTime": "2026-01-05T10:00:00Z"}
    with grpc.insecure_channel(cluster.grpc_target) as channel:
        listed = pb_grpc.QueryServiceStub(channel).ListKubernetesNodes(
            pb.ListKubernetesNodesRequest())
    grpc_a = next(n for n in listed.nodes if n.name == "gpu-a")
    assert [(c.type, c.status, c.reason) for c in grpc_a.conditions] == [
        (c["type"], c["status"], c["reason"]) for c in _kube_nodes(cluster)["gpu-a"]["conditions"]]
    assert grpc_a.conditions[0].last_transition_ns == 1767607200 * 10**9
