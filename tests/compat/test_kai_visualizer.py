"""Seed 001 (KAI-Scheduler visualizer): its four routes answer its models, with gputel's
numbers; what the scheduler alone knows (quotas, pending jobs) is named missing."""

from __future__ import annotations

from tests.compat.conftest import Compat
from tests.compat.schemas import kai_visualizer as s

PREFIX = "/api/v1/visualizer"


def test_summary(compat: Compat) -> None:
    body = compat.seed(f"{PREFIX}/summary", s.ClusterSummary)
    own = compat.own("/overview")
    workloads = compat.own("/workloads")
    assert (body["totalNodes"], body["healthyNodes"], body["totalGPUs"],
            body["allocatedGPUs"]) == (own["totalNodes"], own["healthyNodes"],
                                       own["totalGpus"], own["allocatedGpus"])
    assert body["jobCounts"]["Running"] == sum(w["status"] == "running" for w in workloads)
    assert body["totalQueues"] == 2  # n4's pods carry the queues inference and research
    assert any("pending" in m for m in body["missing"])


def test_queues_are_the_queue_labels_with_their_gpus(compat: Compat) -> None:
    response = compat.call(f"{PREFIX}/queues")
    body = compat.seed(f"{PREFIX}/queues", list[s.QueueView])
    for queue in body:
        own = compat.own("/workloads", labels=f"kai.scheduler/queue={queue['name']}")
        assert queue["resources"]["allocated"]["gpu"] == sum(w["gpus"] for w in own)
        assert queue["jobs"] == [w["uid"] for w in own]
        assert queue["resources"]["guaranteed"] is None  # unknown, not invented
    assert [q["name"] for q in body] == ["inference", "research"]
    assert "quotas" in response.headers["X-Gputel-Missing"]


def test_jobs_by_namespace(compat: Compat) -> None:
    everything = compat.seed(f"{PREFIX}/jobs", list[s.JobView])
    assert [j["uid"] for j in everything] == [w["uid"] for w in compat.own("/workloads")]
    serve = compat.seed(f"{PREFIX}/jobs", list[s.JobView], namespace="serve")
    own = compat.own("/workloads/serve/vllm-llama")
    assert [(j["uid"], j["queue"], j["createTime"]) for j in serve] == [
        ("serve/vllm-llama", "inference", own["firstSeen"])]
    assert serve[0]["tasks"] == [{"name": "vllm-llama", "status": "Running", "nodeName": "n4"}]


def test_nodes_and_gpu_slots(compat: Compat) -> None:
    body = compat.seed(f"{PREFIX}/nodes", list[s.NodeView])
    assert [n["name"] for n in body] == [n["name"] for n in compat.own("/nodes")]
    n1 = next(n for n in body if n["name"] == "n1")
    own = compat.own("/nodes/n1/gpus")
    assert [slot["occupiedBy"] for slot in n1["gpuSlots"]] == [
        [h["workload"] for h in g["heldBy"]] for g in own]
    assert [slot["fragmented"] for slot in n1["gpuSlots"]] == [False, True]


def test_unknown_parameter_is_an_error_in_its_format(compat: Compat) -> None:
    compat.seed(f"{PREFIX}/jobs", s.VisualizerError, 400, queue="x")
