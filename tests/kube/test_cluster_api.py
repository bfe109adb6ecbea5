"""End to end: a stand-in Kubernetes API server, two agents on simulated GPUs whose kubelet
stand-ins give the pods their devices, one collector joining both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gputel.collector.kube.watcher import RESOURCES, KubeSettings
from tests.harness.kubeapi import KubeApiStandIn
from tests.harness.kubelet import KubeletStandIn, gpu_pod
from tests.harness.servers import CollectorThread, get_json, running_agent, wait_until

PYTORCHJOB_UID = "9a1b2c3d-0000-4e5f-8a9b-111111111100"
RATE = 20


@pytest.fixture
def cluster(kubeapi: KubeApiStandIn, tmp_path: Path) -> Iterator[CollectorThread]:
    settings = KubeSettings(kubeapi.kubeconfig, frozenset({"prometheus.io/scrape"}),
                            backoff_max_seconds=0.5)
    collector = CollectorThread(kube=settings).start()
    assert collector.collector.cluster is not None
    registry = collector.collector.cluster
    wait_until(lambda: len(registry.states()) == len(RESOURCES) and not registry.stale(),
               what="every kind listed")
    kubelets = {n: KubeletStandIn().start() for n in ("gpu-a", "gpu-b")}
    try:
        with running_agent(collector.grpc_target, node="gpu-a", gpus=4, rate_hz=RATE,
                           flush_seconds=0.1, attribution="kubelet",
                           kubelet_socket=kubelets["gpu-a"].socket_path,
                           kubelet_poll_seconds=0.2) as a, \
             running_agent(collector.grpc_target, node="gpu-b", gpus=4, rate_hz=RATE,
                           flush_seconds=0.1, attribution="kubelet",
                           kubelet_socket=kubelets["gpu-b"].socket_path,
                           kubelet_poll_seconds=0.2) as b:
            ua = [d.uuid for d in a.backend.devices()]
            ub = [d.uuid for d in b.backend.devices()]
            kubelets["gpu-a"].set_pods([
                gpu_pod("ml-research", "llama-ft-master-0", ua[0], ua[1]),
                gpu_pod("inference", "chat-api-6d9f7c8b5-x2x9q", ua[2]),
                gpu_pod("ml-research", "nightly-eval-29010240-8kq2z", ua[3])])
            kubelets["gpu-b"].set_pods([gpu_pod("ml-research", "llama-ft-worker-0",
                                                ub[0], ub[1])])
            collector.kubelets = kubelets  # type: ignore[attr-defined]
            collector.uuids = (ua, ub)  # type: ignore[attr-defined]
            yield collector
    finally:
        collector.stop()
        for k in kubelets.values():
            k.close()


def _workloads(base: str, **params: object) -> dict[str, dict]:
    status, body = get_json(f"{base}/api/v1/workloads", pageSize=500, **params)
    assert status == 200, body
    return {w["uid"]: w for w in body["data"]}


def _job_ready(base: str) -> bool:
    job = _workloads(base).get(PYTORCHJOB_UID)
    return job is not None and len(job["children"]) == 2 and job["energyJoules"] > 0


def test_a_pytorchjob_on_two_nodes_is_one_workload_with_its_pods(
        cluster: CollectorThread) -> None:
    base = cluster.http_base
    wait_until(lambda: _job_ready(base), timeout=30, what="the PyTorchJob workload")
    everything = _workloads(base)
    job = everything[PYTORCHJOB_UID]
    assert job["kind"] == "PyTorchJob"
    assert job["pod"] == "llama-ft"
    assert job["children"] == ["ml-research/llama-ft-master-0", "ml-research/llama-ft-worker-0"]
    assert job["status"] == "running"
    assert job["gpus"] == 4
    # The PyTorchJob's own labels, not what its master and worker pods happen to share.
    assert job["labels"] == {"team": "a", "project": "llama", "kai.scheduler/queue": "team-a"}
    assert {h["node"] for h in job["held"]} == {"gpu-a", "gpu-b"}
    kids = [everything[c] for c in job["children"]]
    assert job["energyJoules"] == pytest.approx(sum(k["energyJoules"] for k in kids), abs=1e-6)
    assert job["gpuSecondsAllocated"] == pytest.approx(
        sum(k["gpuSecondsAllocated"] for k in kids), abs=1e-9)
    master = kids[0]
    assert master["labels"]["team"] == "a"
    assert master["podUid"] == \
        "9a1b2c3d-0000-4e5f-8a9b-111111111101"
    assert master["owners"] == [{"kind": "PyTorchJob", "name": "llama-ft"}]
    assert master["kubernetes"]["phase"] == "Running"
    assert master["kubernetes"]["gpusRequested"] == 2
    assert master["kubernetes"]["queue"] == "team-a"

    # kind=, labels= and /cost by label find it.
    assert set(_workloads(base, kind="PyTorchJob")) == {PYTORCHJOB_UID}
    team_a = _workloads(base, labels="team=a")
    assert PYTORCHJOB_UID in team_a
    assert "inference/chat-api-6d9f7c8b5-x2x9q" not in team_a
    assert set(_workloads(base, labels="team=a,kind!=x", kind="pod")) == {
        "ml-research/llama-ft-master-0", "ml-research/llama-ft-worker-0",
        "ml-research/nightly-eval-29010240-8kq2z"}
    _, cost = get_json(f"{base}/api/v1/cost", days=1)
    by_label = {c["key"]: c for c in cost["data"]["byLabel"]}
    assert by_label["team=a"]["gpuHours"] > 0
    assert by_label["team=b"]["gpuHours"] > 0
    assert by_label["training.kubeflow.org/job-name=llama-ft"]["gpuHours"] > 0


def test_owner_chains_of_a_deployment_and_a_cronjob(cluster: CollectorThread) -> None:
    base = cluster.http_base
    wait_until(lambda: len(_workloads(base, kind="CronJob")) == 1, timeout=30,
               what="the CronJob workload")
    deployment = _workloads(base, kind="Deployment")
    assert [w["pod"] for w in deployment.values()] == ["chat-api"]
    # An owner's labels are its own (read from the Deployment), not its pods' shared ones.
    assert next(iter(deployment.values()))["labels"] == {
        "app": "chat-api", "team": "b", "tier": "serving"}
    cronjob = next(iter(_workloads(base, kind="CronJob").values()))
    assert cronjob["labels"] == {"team": "a", "cost-center": "research-ci"}
    assert [w["pod"] for w in _workloads(base, kind="Job").values()] == ["nightly-eval-29010240"]
    _, body = get_json(f"{base}/api/v1/workloads/ml-research/nightly-eval-29010240-8kq2z/"
                       "hierarchy")
    owners = [(o["kind"], o["name"]) for o in body["data"]["owners"]]
    assert owners == [("Job", "nightly-eval-29010240"), ("CronJob", "nightly-eval")]
    assert not _workloads(base, kind="ReplicaSet")  # a Deployment's detail, not a workload


def test_annotations_off_the_allow_list_never_leave(cluster: CollectorThread) -> None:
    base = cluster.http_base
    uid = "inference/chat-api-6d9f7c8b5-x2x9q"
    wait_until(lambda: uid in _workloads(base), timeout=30, what="the chat-api pod")
    assert _workloads(base)[uid]["kubernetes"]["annotations"] == {"prometheus.io/scrape": "true"}
    for path in ("workloads", f"workloads/{uid}", f"workloads/{uid}/hierarchy", "cost",
                 "queues", "kubernetes/nodes"):
        assert "s3cr3t" not in httpx.get(f"{base}/api/v1/{path}", timeout=10).text
    assert "s3cr3t" not in httpx.get(f"{base}/metrics", timeout=10).text


def test_a_pending_gpu_pod_appears_then_runs(cluster: CollectorThread, kubeapi: KubeApiStandIn,
                                             pending_pod: dict) -> None:
    base = cluster.http_base
    uid = pending_pod["metadata"]["uid"]
    wait_until(lambda: _job_ready(base), timeout=30, what="the agents' workloads")
    kubeapi.apply(pending_pod)
    wait_until(lambda: uid in _workloads(base, status="pending"), what="the pending pod")
    pending = _workloads(base)[uid]
    assert pending["kubernetes"]["waitingSeconds"] >= 0
    assert pending["gpus"] == 0
    _, queues = get_json(f"{base}/api/v1/queues")
    team_b = next(q for q in queues["data"] if q["name"] == "team-b")
    assert team_b["pendingGpus"] == 2
    assert team_b["pendingPods"] == 1

    # The scheduler binds it to gpu-b and the kubelet gives it two GPUs.
    pending_pod["spec"]["nodeName"] = "gpu-b"
    pending_pod["status"] = {"phase": "Running", "conditions": [
        {"type": "PodScheduled", "status": "True"}]}
    kubeapi.apply(pending_pod)
    _, ub = cluster.uuids  # type: ignore[attr-defined]
    kubelet = cluster.kubelets["gpu-b"]  # type: ignore[attr-defined]
    kubelet.set_pods([*kubelet.pods(), gpu_pod("ml-research", "sweep-17", ub[2], ub[3])])
    running = "ml-research/sweep-17"
    wait_until(lambda: _workloads(base).get(running, {}).get("status") == "running",
               what="the pod running on its GPUs")
    assert uid not in _workloads(base)  # no longer a separate pending workload
    assert _workloads(base)[running]["podUid"] == uid


def test_nodes_and_queues_from_the_api(cluster: CollectorThread) -> None:
    base = cluster.http_base
    wait_until(lambda: _job_ready(base), timeout=30, what="the agents streaming")
    _, body = get_json(f"{base}/api/v1/kubernetes/nodes")
    nodes = {n["name"]: n for n in body["data"]}
    assert nodes["gpu-a"]["ready"] is True
    assert nodes["gpu-a"]["agent"] is True
    assert nodes["gpu-a"]["addresses"]["InternalIP"] == "10.0.1.11"
    assert nodes["gpu-a"]["roles"] == ["gpu-worker"]
    assert nodes["gpu-a"]["kubeletVersion"] == "v1.31.4"
    assert nodes["gpu-a"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert nodes["gpu-a"]["capacity"]["nvidia.com/gpu"] == 4
    assert nodes["gpu-a"]["allocatable"]["cpu"] == 95.5
    assert nodes["gpu-c"]["agentMissing"] is True
    assert nodes["gpu-c"]["ready"] is False
    assert nodes["gpu-c"]["gpus"] == 56  # MIG slices count
    assert nodes["cpu-1"]["agentMissing"] is False
    assert nodes["cpu-1"]["roles"] == [
        "control-plane"]
    assert not nodes["gpu-a"]["agentMissing"]

    _, body = get_json(f"{base}/api/v1/queues")
    queues = {q["name"]: q for q in body["data"]}
    assert queues["research"]["children"] == ["team-a", "team-b"]
    assert queues["research"]["parent"] is None
    assert queues["research"]["gpuQuota"] == 8
    team_a = queues["team-a"]
    assert (team_a["parent"], team_a["gpuQuota"], team_a["gpuLimit"],
            team_a["gpuOverQuotaWeight"]) == ("research", 4, 8, 2)
    assert team_a["allocatedGpus"] == 4
    assert team_a["heldGpus"] == 4
    assert team_a["pods"] == 2
    assert team_a["energyJoules"] > 0
    assert queues["team-b"]["gpuLimit"] == -1


def test_the_api_server_away_and_back(cluster: CollectorThread, kubeapi: KubeApiStandIn,
                                      manifests: list[dict]) -> None:
    base = cluster.http_base
    wait_until(lambda: _job_ready(base), timeout=30, what="the PyTorchJob workload")
    kubeapi.stop()
    wait_until(lambda: get_json(f"{base}/api/v1/kubernetes")[1]["data"]["stale"],
               what="the watch marked stale")
    before = _workloads(base)[PYTORCHJOB_UID]["energyJoules"]
    # Telemetry goes on meanwhile, and the last known metadata stays.
    wait_until(lambda: _workloads(base)[PYTORCHJOB_UID]["energyJoules"] > before,
               what="energy still accounted while the API server is away")
    assert _workloads(base)["ml-research/llama-ft-master-0"]["labels"]["team"] == "a"

    master = next(m for m in manifests if m["metadata"].get("name") == "llama-ft-master-0")
    master["metadata"]["labels"]["team"] = "a2"
    kubeapi.apply(master)  # changed while the collector could not see it
    kubeapi.start()
    kubeapi.compact()  # and its history gone: the watch must list again
    wait_until(lambda: _workloads(base)["ml-research/llama-ft-master-0"]["labels"]["team"]
               == "a2", what="metadata recovered by itself")
    wait_until(lambda: not get_json(f"{base}/api/v1/kubernetes")[1]["data"]["stale"],
               what="fresh again")
