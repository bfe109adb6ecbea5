"""Seed 000 (Primus-Lens): every read route answers its shape, with gputel's numbers."""

from __future__ import annotations

import pytest

from tests.compat.conftest import Compat
from tests.compat.schemas import primus_lens as s


def _uids(items: list[dict]) -> list[str]:
    return [i["uid"] for i in items]


def test_overview_is_the_overview_in_fractions(compat: Compat) -> None:
    body = compat.seed("/api/clusters/overview", s.Lens[s.Overview])
    data, own = body["data"], compat.own("/overview")
    for key in ("totalNodes", "healthyNodes", "faultyNodes", "fullyIdleNodes",
                "partiallyIdleNodes", "busyNodes", "allocationRate"):
        assert data[key] == own[key]
    assert data["utilization"] == pytest.approx(own["gpuUtilization"] / 100)
    assert data["storageStat"] is None
    assert "storageStat" in compat.call("/api/clusters/overview").headers["X-Gputel-Missing"]


def test_consumers_page_through_the_running_workloads(compat: Compat) -> None:
    own = {w["uid"]: w for w in compat.own("/workloads", status="running")}
    seen = []
    for page in (1, 2, 3, 4):
        body = compat.seed("/api/clusters/consumers", s.Lens[s.Page[s.Consumer]],
                           pageNum=page, pageSize=2)
        assert body["data"]["total"] == len(own)
        seen.append(_uids(body["data"]["data"]))
        for c in body["data"]["data"]:
            assert c["stat"]["gpuRequest"] == own[c["uid"]]["gpus"]
            assert c["stat"]["gpuUtilization"] == pytest.approx(
                own[c["uid"]]["utilizationPercent"] / 100)
    assert [len(p) for p in seen] == [2, 2, 2, 0]  # page 4 is past the end: empty
    assert sorted(u for p in seen for u in p) == sorted(own)


@pytest.mark.parametrize(("panel", "metric"), [("power", "power"),
                                               ("utilization", "gpu_util"),
                                               ("temperature", "temperature")])
def test_heatmap_panels_are_the_top_five(compat: Compat, panel: str, metric: str) -> None:
    body = compat.seed("/api/clusters/gpuHeatmap", s.Lens[s.Heatmap])
    own = compat.own("/heatmap", metric=metric, k=5)
    got = body["data"][panel]["data"]
    assert [(p["nodeName"], p["gpuUuid"]) for p in got] == [(r["node"], r["gpu"])
                                                           for r in own["rows"]]
    assert [p["value"] for p in got] == [r["mean"] for r in own["rows"]]


def test_nodes_list_pages_and_matches_nodes(compat: Compat) -> None:
    own = {n["name"]: n for n in compat.own("/nodes")}
    first = compat.seed("/api/nodes", s.Lens[s.Page[s.NodeDetail]], pageNum=1, pageSize=3)
    second = compat.seed("/api/nodes", s.Lens[s.Page[s.NodeDetail]], pageNum=2, pageSize=3)
    items = first["data"]["data"] + second["data"]["data"]
    assert [n["name"] for n in items] == sorted(own)
    assert first["data"]["total"] == len(own)
    assert "address" in first["missing"][0]
    for n in items:
        assert n["address"] is None  # without the Kubernetes watch, and said so
        assert n["gpuCount"] == own[n["name"]]["gpuCount"]
        assert n["allocatedGpus"] == own[n["name"]]["gpusAllocated"]
        expected = own[n["name"]]["gpuUtilization"]
        assert n["utilizationRate"] == (None if expected is None
                                        else pytest.approx(expected / 100))


def test_node_detail(compat: Compat) -> None:
    data = compat.seed("/api/nodes/n1", s.Lens[s.NodeDetail])["data"]
    own = compat.own("/nodes/n1")
    assert (data["gpuCount"], data["allocatedGpus"], data["status"]) == (
        own["gpuCount"], own["gpusAllocated"], "Ready")
    assert compat.seed("/api/nodes/n3", s.Lens[s.NodeDetail])["data"]["status"] == "NotReady"


def test_gpu_devices_are_the_latest_values(compat: Compat) -> None:
    data = compat.seed("/api/nodes/n1/gpuDevices", s.Lens[list[s.GpuDevice]])["data"]
    own = compat.own("/nodes/n1/gpus")
    assert [d["deviceId"] for d in data] == [g["index"] for g in own]
    for d, g in zip(data, own, strict=True):
        assert (d["utilization"], d["temperature"], d["power"], d["memory"]) == (
            g["latest"]["gpu_util"], g["latest"]["temperature"], g["latest"]["power"],
            g["memoryTotalBytes"])


def _window(compat: Compat) -> dict[str, int]:
    end = compat.feed.tick(49) // 10**9 + 1
    return {"start": end - 10, "end": end, "step": 1}


def test_gpu_metrics_are_the_node_series(compat: Compat) -> None:
    window = _window(compat)
    data = compat.seed("/api/nodes/n1/gpuMetrics", s.Lens[s.NodeGpuMetrics], **window)["data"]
    own = compat.own("/nodes/n1/metrics", metric="gpu_util", **window)
    series = data["gpu_utilization"]["series"]
    assert [x["labels"]["gpu_uuid"] for x in series] == [g["gpu"] for g in own["gpus"]]
    for x, g in zip(series, own["gpus"], strict=True):
        assert [p["value"] for p in x["values"]] == [v for _, v in g["points"]]
        assert len(x["values"]) == len(g["points"]) > 0
    rate = data["gpu_allocation_rate"]["series"][0]["values"]
    node = compat.own("/nodes/n1")
    assert rate[-1]["value"] == 100.0 * node["gpusAllocated"] / node["gpuCount"]


def test_node_workloads_now_and_over_a_range(compat: Compat) -> None:
    body = compat.seed("/api/nodes/n1/workloads", s.Lens[s.Page[s.WorkloadItem]])
    assert _uids(body["data"]["data"]) == _uids(compat.own("/nodes/n1/workloads"))
    window = _window(compat)
    past = compat.seed("/api/nodes/n2/workloadsHistory", s.Lens[s.Page[s.WorkloadItem]],
                       start=window["start"], end=window["end"])
    own = compat.own("/nodes/n2/workloads", start=window["start"], end=window["end"])
    assert _uids(past["data"]["data"]) == _uids(own) == ["ml/train-a2"]


def test_gpu_allocation_per_node(compat: Compat) -> None:
    data = compat.seed("/api/nodes/gpuAllocation", s.Lens[list[s.NodeAllocation]])["data"]
    own = compat.own("/nodes")
    assert [(a["nodeName"], a["capacity"], a["allocated"]) for a in data] == [
        (n["name"], n["gpuCount"], n["gpusAllocated"]) for n in own]


def test_gpu_utilization_now(compat: Compat) -> None:
    data = compat.seed("/api/nodes/gpuUtilization", s.Lens[s.ClusterUtilization])["data"]
    own = compat.own("/overview")
    assert data["allocationRate"] == own["allocationRate"]
    assert data["utilization"] == pytest.approx(own["gpuUtilization"] / 100)


def test_gpu_utilization_history(compat: Compat) -> None:
    window = _window(compat)
    body = compat.seed("/api/nodes/gpuUtilizationHistory", s.Lens[s.UtilizationHistory],
                       **window)
    own = compat.own("/utilization/history", **window)
    util = [p["gpuUtilization"] / 100 for p in own["points"] if p["gpuUtilization"] is not None]
    assert [p["value"] for p in body["data"]["utilization"]] == pytest.approx(util)
    assert [p["value"] for p in body["data"]["allocationRate"]] == [
        p["allocationRate"] for p in own["points"]]
    # Memory in use over memory in all, whole GPUs (n4's MIG slices are in its GPU 0).
    vram = [p["memoryUsedPercent"] / 100 for p in own["points"]
            if p["memoryUsedPercent"] is not None]
    assert len(vram) == len(util) > 0
    assert [p["value"] for p in body["data"]["vramUtilization"]] == pytest.approx(vram)
    assert "missing" not in body


def test_workloads_filter_and_page(compat: Compat) -> None:
    own = _uids(compat.own("/workloads", namespace="ml"))
    first = compat.seed("/api/workloads", s.Lens[s.Page[s.WorkloadItem]], namespace="ml",
                        pageNum=1, pageSize=2)
    second = compat.seed("/api/workloads", s.Lens[s.Page[s.WorkloadItem]], namespace="ml",
                         pageNum=2, pageSize=2)
    assert _uids(first["data"]["data"]) + _uids(second["data"]["data"]) == own
    assert first["data"]["total"] == len(own) == 3
    labelled = compat.seed("/api/workloads", s.Lens[s.Page[s.WorkloadItem]], labels="app=infer")
    assert _uids(labelled["data"]["data"]) == _uids(compat.own("/workloads", labels="app=infer"))


def test_workload_detail(compat: Compat) -> None:
    data = compat.seed("/api/workloads/ml/train-a", s.Lens[s.WorkloadDetail])["data"]
    own = compat.own("/workloads/ml/train-a")
    assert (data["gpuAllocation"], data["pods"], data["startTime"]) == (
        own["gpus"], [own["pod"]], own["firstSeen"])
    assert data["apiVersion"] == own["apiVersion"] == "v1"  # a Pod


def test_workload_hierarchy(compat: Compat) -> None:
    data = compat.seed("/api/workloads/ml/train-a/hierarchy", s.Lens[s.HierarchyNode])["data"]
    own = compat.own("/workloads/ml/train-a/hierarchy")
    assert [c["uid"] for c in data["children"]] == own["children"]
    assert data["owners"] == [{"kind": o["kind"], "name": o["name"], "uid": None}
                              for o in own["owners"]]
    assert [o["uid"] for o in own["owners"]] == [None, None]  # the agent does not know them
    assert "owner uids" in compat.call("/api/workloads/ml/train-a/hierarchy").json()["missing"][0]


@pytest.mark.parametrize(("title", "metric"), [("GPU Utilization", "gpu_util"),
                                               ("GPU Memory Utilization", "mem_util"),
                                               ("GPU Power", "power")])
def test_workload_metrics(compat: Compat, title: str, metric: str) -> None:
    window = _window(compat)
    data = compat.seed("/api/workloads/ml/infer-b/metrics", s.Lens[dict[str, s.MetricsGraph]],
                       **window)["data"]
    own = compat.own("/workloads/ml/infer-b/metrics", metric=metric, **window)
    series = data[title]["series"]
    assert [[p["value"] for p in x["values"]] for x in series] == [
        [v for _, v in g["points"]] for g in own["gpus"]]


def test_training_performance_says_what_is_missing(compat: Compat) -> None:
    body = compat.seed("/api/workloads/ml/train-a/trainingPerformance", s.Lens[list[dict]])
    assert body["data"] == []
    assert "training" in body["missing"][0]
    compat.seed("/api/workloads/ml/nope/trainingPerformance", s.LensError, 404)


def test_workload_metadata(compat: Compat) -> None:
    data = compat.seed("/api/workloadMetadata", s.Lens[s.WorkloadMetadata])["data"]
    assert data["namespaces"] == [n["namespace"] for n in compat.own("/namespaces")]
    assert data["kinds"] == sorted({w["kind"] for w in compat.own("/workloads")})


def test_storage_is_named_missing(compat: Compat) -> None:
    body = compat.seed("/api/storage/stat", s.Lens[None])
    assert "storage" in body["missing"][0]


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("/api/nodes/zz", {}, 404, 40003),
    ("/api/workloads", {"pageNum": 0}, 400, 40001),
    ("/api/workloads", {"pageSize": 0}, 400, 40001),
    ("/api/workloads", {"page": 2}, 400, 40001),  # not Lens's parameter: refused, not ignored
    ("/api/nodes/n1/gpuMetrics", {"start": "yesterday"}, 400, 40001),
])
def test_errors_are_lens_errors(compat: Compat, path: str, params: dict, status: int,
                                code: int) -> None:
    assert compat.seed(path, s.LensError, status, **params)["code"] == code
