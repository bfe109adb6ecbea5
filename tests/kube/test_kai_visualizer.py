"""Seed 001 (KAI-Scheduler visualizer) over the Kubernetes watch: queues are KAI's Queue
objects as a tree with their quotas, jobs the tops of the pods' owner chains with their pods
as tasks, pending ones included; the numbers are /api/v1's, nothing is named missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from tests.compat.schemas import kai_visualizer as s
from tests.harness.kubeapi import KubeApiStandIn
from tests.harness.kubecluster import PYTORCHJOB_UID, kube_cluster
from tests.harness.servers import CollectorThread, get_json, wait_until

V = "/api/v1/visualizer"


@pytest.fixture
def cluster(kubeapi: KubeApiStandIn) -> Iterator[CollectorThread]:
    with kube_cluster(kubeapi, compat=("kai-visualizer",)) as c:
        yield c.collector


def _seed(server: CollectorThread, path: str, shape: Any, **params: object) -> httpx.Response:
    response = httpx.get(server.http_base + V + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    TypeAdapter(shape).validate_python(response.json(), strict=True)
    assert "X-Gputel-Missing" not in response.headers
    return response


def _own(server: CollectorThread, path: str, **params: object) -> list[dict[str, Any]]:
    status, body = get_json(f"{server.http_base}/api/v1{path}", pageSize=500, **params)
    assert status == 200, body
    return body["data"]  # type: ignore[no-any-return]


def _job_ready(server: CollectorThread) -> bool:
    jobs = {w["uid"]: w for w in _own(server, "/workloads")}
    return PYTORCHJOB_UID in jobs and len(jobs[PYTORCHJOB_UID]["children"]) == 2


def test_queues_are_the_schedulers_tree(cluster: CollectorThread) -> None:
    wait_until(lambda: _job_ready(cluster), timeout=30, what="the PyTorchJob's pods")
    [research] = _seed(cluster, "/queues", list[s.QueueView]).json()
    own = {q["name"]: q for q in _own(cluster, "/queues")}
    assert research["name"] == "research"
    assert research["parent"] is None
    assert [c["name"] for c in research["children"]] == own["research"]["children"]
    for queue in (research, *research["children"]):
        mine = own[queue["name"]]
        assert queue["resources"] == {"guaranteed": {"gpu": mine["gpuQuota"]},
                                      "allocated": {"gpu": mine["allocatedGpus"]},
                                      "max": {"gpu": mine["gpuLimit"]}}
        assert queue["weight"] == mine["gpuOverQuotaWeight"]
        assert queue["heldGpus"] == mine["heldGpus"]
    team_a = research["children"][0]
    assert (team_a["parent"], team_a["resources"]["guaranteed"]["gpu"],
            team_a["resources"]["max"]["gpu"], team_a["resources"]["allocated"]["gpu"]) == (
        "research", 4, 8, 4)
    assert research["children"][1]["resources"]["max"] == {"gpu": -1}  # unlimited, as KAI


def test_jobs_are_the_owner_chains_tops_with_their_pods(
        cluster: CollectorThread, kubeapi: KubeApiStandIn, pending_pod: dict) -> None:
    wait_until(lambda: _job_ready(cluster), timeout=30, what="the PyTorchJob's pods")
    kubeapi.apply(pending_pod)
    uid = pending_pod["metadata"]["uid"]
    wait_until(lambda: any(w["uid"] == uid for w in _own(cluster, "/workloads",
                                                         status="pending")),
               what="the pending pod")
    jobs = {j["uid"]: j for j in _seed(cluster, "/jobs", list[s.JobView]).json()}
    own = {w["uid"]: w for w in _own(cluster, "/workloads")}
    tops = {u for u, w in own.items() if w["children"] and not w["owners"]}
    assert set(jobs) == tops | {uid}
    job = jobs[PYTORCHJOB_UID]
    assert (job["name"], job["kind"], job["queue"], job["status"]) == (
        "llama-ft", "PyTorchJob", "team-a", "Running")
    assert job["createTime"] == own[PYTORCHJOB_UID]["firstSeen"]
    assert job["tasks"] == [{"name": "llama-ft-master-0", "status": "Running", "nodeName": "gpu-a"},
                            {"name": "llama-ft-worker-0", "status": "Running",
                             "nodeName": "gpu-b"}]
    waiting = jobs[uid]
    assert (waiting["status"], waiting["queue"], waiting["tasks"]) == (
        "Pending", "team-b", [{"name": "sweep-17", "status": "Pending", "nodeName": ""}])
    serving = _seed(cluster, "/jobs", list[s.JobView], namespace="inference").json()
    assert [(j["kind"], j["name"]) for j in serving] == [("Deployment", "chat-api")]
    summary = _seed(cluster, "/summary", s.ClusterSummary).json()
    assert summary["totalQueues"] == 3
    assert summary["jobCounts"] == {"Running": len(tops), "Pending": 1}
