"""End to end: a stand-in Kubernetes API server, two agents on simulated GPUs whose kubelet
stand-ins give the pods their devices, one collector joining both."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.kubeapi import KubeApiStandIn
from tests.harness.kubecluster import PYTORCHJOB_UID, kube_cluster
from tests.harness.kubelet import gpu_pod
from tests.harness.servers import CollectorThread, get_json, wait_until


@pytest.fixture
def cluster(kubeapi: KubeApiStandIn) -> Iterator[CollectorThread]:
    with kube_cluster(kubeapi) as c:
        collector = c.collector
        collector.kubelets = c.kubelets  # type: ignore[attr-defined]
        collector.uuids = (c.uuids["gpu-a"], c.uuids["gpu-b"])  # type: ignore[attr-defined]
        yield collector


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
    assert master["owners"] == [{"kind": "PyTorchJob", "name": "llama-ft", "uid": PYTORCHJOB_UID,
                                 "apiVersion": "kubeflow.org/v1"}]
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
    lists = kubeapi.count("list", "pods")
    kubeapi.apply(pending_pod)
    wait_until(lambda: uid in _workloads(base, status="pending"), what="the pending pod")
    assert kubeapi.count("list", "pods") == lists  # from its one watch event, no relist
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


def _samples(base: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of one metric on the collector's /metrics, by its sorted labels."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name}


def _kind(base: str, kind: str) -> dict:
    _, body = get_json(f"{base}/api/v1/kubernetes")
    return next(k for k in body["data"]["kinds"] if k["kind"] == kind)


def test_owner_workloads_in_namespaces_top_metrics_and_cost(cluster: CollectorThread,
                                                            kubeapi: KubeApiStandIn,
                                                            pending_pod: dict) -> None:
    base = cluster.http_base
    wait_until(lambda: _job_ready(base), timeout=30, what="the PyTorchJob workload")
    kubeapi.apply(pending_pod)
    wait_until(lambda: pending_pod["metadata"]["uid"] in _workloads(base, status="pending"),
               what="the pending pod")

    # /namespaces: pods (the pending one too) and owners counted; use not added twice.
    _, body = get_json(f"{base}/api/v1/namespaces")
    research = next(n for n in body["data"] if n["namespace"] == "ml-research")
    assert (research["workloads"], research["pending"], research["owners"]) == (4, 1, 3)
    pods = [w for w in _workloads(base, namespace="ml-research").values() if not w["children"]]
    assert research["energyJoules"] <= sum(p["energyJoules"] for p in pods) + 1e-6
    assert research["energyJoules"] < sum(
        w["energyJoules"] for w in _workloads(base, namespace="ml-research").values())

    # /top ranks the PyTorchJob above each of its pods.
    _, body = get_json(f"{base}/api/v1/top", by="workloads", metric="gpuSeconds", limit=100)
    ranked = [e["id"] for e in body["data"]["entries"]]
    for pod in ("ml-research/llama-ft-master-0", "ml-research/llama-ft-worker-0"):
        assert ranked.index(PYTORCHJOB_UID) < ranked.index(pod)

    # /metrics: the owner's series carry its kind; namespace sums count its pods once.
    gpus = _samples(base, "gputel_workload_gpus")
    job = next(v for k, v in gpus.items() if ("uid", PYTORCHJOB_UID) in k)
    assert ("kind", "PyTorchJob") in next(k for k in gpus if ("uid", PYTORCHJOB_UID) in k)
    assert job == 4
    ns_gpus = _samples(base, "gputel_namespace_gpus")[(("namespace", "ml-research"),)]
    assert ns_gpus == 5  # master 2 + worker 2 + eval 1, not + the PyTorchJob's 4 + the Job's

    # /cost: a line per owner, its pods' summed; by label counts each pod once.
    _, cost = get_json(f"{base}/api/v1/cost", days=1)
    lines = {c["key"]: c for c in cost["data"]["byWorkload"]}
    job_line = lines[PYTORCHJOB_UID]
    assert (job_line["kind"], job_line["name"]) == ("PyTorchJob", "llama-ft")
    kids = [lines["ml-research/llama-ft-master-0"], lines["ml-research/llama-ft-worker-0"]]
    assert kids[0]["kind"] == "pod"
    assert job_line["gpuHours"] == pytest.approx(sum(k["gpuHours"] for k in kids), rel=1e-9)
    deployment = next(c for c in cost["data"]["byWorkload"] if c["kind"] == "Deployment")
    assert deployment["gpuHours"] == pytest.approx(
        lines["inference/chat-api-6d9f7c8b5-x2x9q"]["gpuHours"], rel=1e-9)
    by_label = {c["key"]: c for c in cost["data"]["byLabel"]}
    # project=llama is the PyTorchJob's label only: its pods' cost is found by it, once.
    assert by_label["project=llama"]["gpuHours"] == pytest.approx(job_line["gpuHours"],
                                                                  rel=1e-9)
    assert cost["data"]["total"]["gpuHours"] == pytest.approx(
        sum(c["gpuHours"] for c in cost["data"]["byNamespace"]), rel=1e-9)


def test_ended_matches_every_finished_workload(cluster: CollectorThread,
                                               kubeapi: KubeApiStandIn,
                                               manifests: list[dict]) -> None:
    base = cluster.http_base
    uid = "ml-research/nightly-eval-29010240-8kq2z"
    wait_until(lambda: _workloads(base).get(uid, {}).get("status") == "running",
               what="the eval pod running")
    pod = next(m for m in manifests if m["metadata"]["name"] == "nightly-eval-29010240-8kq2z")
    pod["status"]["phase"] = "Succeeded"
    kubeapi.apply(pod)
    kubelet = cluster.kubelets["gpu-a"]  # type: ignore[attr-defined]
    kubelet.set_pods([p for p in kubelet.pods() if p.name != pod["metadata"]["name"]])
    wait_until(lambda: _workloads(base)[uid]["status"] == "succeeded",
               what="the pod succeeded")
    assert uid in _workloads(base, status="succeeded")
    assert uid in _workloads(base, status="ended")  # ended: any finished workload
    assert uid not in _workloads(base, status="failed")
    assert uid not in _workloads(base, status="running")
    job = next(iter(_workloads(base, kind="Job").values()))
    assert job["status"] == "succeeded"
    assert job["uid"] in _workloads(base, status="ended")


def test_rbac_refusal_of_a_kind_keeps_serving_stale_with_its_reason(
        cluster: CollectorThread, kubeapi: KubeApiStandIn) -> None:
    base = cluster.http_base
    wait_until(lambda: _job_ready(base), timeout=30, what="the PyTorchJob workload")
    kubeapi.deny("queues")  # the ClusterRole lost list/watch on queues
    wait_until(lambda: _kind(base, "Queue")["stale"], what="the queues marked stale")
    queue = _kind(base, "Queue")
    assert "403" in queue["error"]
    assert "forbidden" in queue["error"].lower()
    assert queue["objects"] == 3  # the last known queues stay
    assert queue["staleSince"] is not None
    assert not _kind(base, "Pod")["stale"]
    _, state = get_json(f"{base}/api/v1/kubernetes")
    assert state["data"]["stale"] is True
    wait_until(lambda: _samples(base, "gputel_collector_kube_failures_total").get(
        (("kind", "Queue"), ("reason", "forbidden")), 0) >= 1, what="the refusal counted")
    stale = _samples(base, "gputel_collector_kube_stale")
    assert stale[(("kind", "Queue"),)] == 1
    assert stale[(("kind", "Pod"),)] == 0

    # The collector goes on serving: telemetry is accounted, the queues answered as last known.
    before = _workloads(base)[PYTORCHJOB_UID]["energyJoules"]
    wait_until(lambda: _workloads(base)[PYTORCHJOB_UID]["energyJoules"] > before,
               what="energy still accounted")
    status, body = get_json(f"{base}/api/v1/queues")
    assert status == 200
    assert {q["name"] for q in body["data"]} == {"research", "team-a", "team-b"}

    kubeapi.denied.discard("queues")  # RBAC fixed: back by itself
    wait_until(lambda: not _kind(base, "Queue")["stale"], what="the queues fresh again")
