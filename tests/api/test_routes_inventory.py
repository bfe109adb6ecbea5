"""Health, overview, nodes, GPUs and range series: the fed numbers, the same over HTTP and gRPC."""

from __future__ import annotations

import numpy as np
import pytest

from gputel.collector.timefmt import format_time
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.api.conftest import EVERY_STORE, Fed, approx
from tests.api.feed import uuid

pytestmark = EVERY_STORE


def test_health(fed: Fed) -> None:
    data, _ = fed.get("/health")
    answer = fed.stub.GetHealth(pb.GetHealthRequest())
    assert (data["status"], answer.status) == ("ok", "ok")
    assert data["connectedAgents"] == answer.connected_agents == 2
    assert data["nodes"] == answer.nodes == 3
    assert data["activeAlerts"] == answer.active_alerts == 5
    # 2 GPUs x 8 metrics x 50 ticks; 50 + 10 ticks x 9 metrics; 10 ticks x 8 metrics
    assert data["store"]["samples"] == answer.store.samples == 800 + 540 + 80
    assert data["store"]["kind"] == answer.store.kind == ("remote" if fed.remote else "memory")
    assert data["version"] == answer.version


def test_overview(fed: Fed) -> None:
    data, _ = fed.get("/overview")
    o = fed.stub.GetOverview(pb.GetOverviewRequest())
    want = {"totalNodes": 3, "healthyNodes": 1, "faultyNodes": 2, "fullyIdleNodes": 0,
            "partiallyIdleNodes": 1, "busyNodes": 1, "totalGpus": 5, "allocatedGpus": 3,
            "lostGpus": 2, "activeAlerts": 5}
    assert {k: data[k] for k in want} == want
    assert [o.total_nodes, o.healthy_nodes, o.faulty_nodes, o.fully_idle_nodes,
            o.partially_idle_nodes, o.busy_nodes, o.total_gpus, o.allocated_gpus, o.lost_gpus,
            o.active_alerts] == list(want.values())
    assert data["allocationRate"] == o.allocation_rate == approx(0.6)
    assert data["gpuUtilization"] == o.gpu_utilization == approx((80 + 2 + 60) / 3)
    assert data["powerWatts"] == o.power_watts == approx(349 + 100 + 200)


def _names(nodes: list[dict]) -> list[str]:
    return [n["name"] for n in nodes]


@pytest.mark.parametrize(("params", "names"), [
    ({}, ["n1", "n2", "n3"]),
    ({"model": "Beta"}, ["n2"]),
    ({"status": "faulty"}, ["n2", "n3"]),
    ({"status": "degraded"}, ["n2"]),
    ({"status": "healthy"}, ["n1"]),
    ({"page": 2, "pageSize": 2}, ["n3"]),
])
def test_node_list_filters_and_pages(fed: Fed, params: dict, names: list[str]) -> None:
    data, meta = fed.get("/nodes", **params)
    assert _names(data) == names
    request = pb.ListNodesRequest(model=params.get("model", ""), status=params.get("status", ""),
                                  page=pb.PageRequest(page=params.get("page", 0),
                                                      page_size=params.get("pageSize", 0)))
    answer = fed.stub.ListNodes(request)
    assert [n.name for n in answer.nodes] == names
    assert meta["total"] == answer.page.total
    assert (meta["page"], meta["pageSize"]) == (answer.page.page, answer.page.page_size)


def test_node_detail_and_its_gpus(fed: Fed) -> None:
    data, _ = fed.get("/nodes/n1")
    node = fed.stub.GetNode(pb.GetNodeRequest(node="n1"))
    assert data["status"] == node.status == "healthy"
    assert data["gpusAllocated"] == node.gpus_allocated == 2
    assert data["gpusBusy"] == node.gpus_busy == 1
    assert data["idleClass"] == node.idle_class == "partial"
    assert data["powerWatts"] == node.power_watts == 449.0
    assert data["gpuUtilization"] == node.gpu_utilization == 41.0
    devices = fed.stub.ListDevices(pb.ListDevicesRequest(node="n1")).devices
    for gpu, device in zip(data["gpus"], devices, strict=True):
        assert gpu["uuid"] == device.device.uuid
        assert gpu["status"] == device.status == "allocated"
        assert gpu["latest"] == dict(device.latest)
        assert [(h["workload"], h["fraction"]) for h in gpu["heldBy"]] == \
            [(h.workload, h.fraction) for h in device.held_by]
    assert data["gpus"][0]["latest"]["power"] == 349.0
    assert data["gpus"][1]["heldBy"] == [{"workload": "ml/infer-b", "fraction": 0.5},
                                         {"workload": "web/infer-c", "fraction": 0.5}]
    gpus, meta = fed.get("/nodes/n2/gpus")
    assert [g["status"] for g in gpus] == ["allocated", "lost"]
    assert meta["total"] == 2


@pytest.mark.parametrize(("params", "uuids"), [
    ({}, [uuid("n1", 0), uuid("n1", 1), uuid("n2", 0), uuid("n2", 1), uuid("n3", 0)]),
    ({"status": "lost"}, [uuid("n2", 1), uuid("n3", 0)]),
    ({"status": "allocated"}, [uuid("n1", 0), uuid("n1", 1), uuid("n2", 0)]),
    ({"allocated": "false"}, [uuid("n2", 1), uuid("n3", 0)]),
    ({"node": "n1", "allocated": "true"}, [uuid("n1", 0), uuid("n1", 1)]),
    ({"model": "Alpha", "page": 2, "pageSize": 2}, [uuid("n3", 0)]),
])
def test_gpu_list_filters_and_pages(fed: Fed, params: dict, uuids: list[str]) -> None:
    data, meta = fed.get("/gpus", **params)
    assert [g["uuid"] for g in data] == uuids
    allocated = {"true": True, "false": False}.get(params.get("allocated", ""))
    answer = fed.stub.ListGpus(pb.ListGpusRequest(
        node=params.get("node", ""), model=params.get("model", ""),
        status=params.get("status", ""), allocated=allocated,
        page=pb.PageRequest(page=params.get("page", 0), page_size=params.get("pageSize", 0))))
    assert [d.device.uuid for d in answer.devices] == uuids
    assert meta["total"] == answer.page.total


def test_one_gpu_and_its_series(fed: Fed) -> None:
    gpu, _ = fed.get(f"/gpus/{uuid('n1', 0)}")
    assert gpu["node"] == "n1"
    assert gpu["heldBy"] == [{"workload": "ml/train-a", "fraction": 1.0}]
    assert fed.stub.GetGpu(pb.GetGpuRequest(uuid=uuid("n1", 0))).held_by[0].workload == \
        "ml/train-a"
    start, end = fed.feed.tick(0), fed.feed.tick(49)
    data, meta = fed.get(f"/gpus/{uuid('n1', 0)}/metrics", metric="power", agg="max",
                         start=format_time(start), end=format_time(end), step="1s")
    # The point at t0 + j s holds ticks 10(j-1)+1 .. 10j, power 300 + tick: max 300 + 10j.
    want = [[format_time(start + j * 10**9), 300.0 + 10 * j] for j in range(5)]
    assert data["points"] == want
    assert meta["points"] == 5
    answer = fed.stub.QueryRange(pb.QueryRangeRequest(
        gpu=uuid("n1", 0), metric="power", start_ns=start, end_ns=end, step_ns=10**9, agg="max"))
    (series,) = answer.gpus
    assert [[format_time(t), v] for t, v in zip(series.ts_ns, series.values, strict=True)] == want


@pytest.mark.parametrize("agg", ["p50", "p95", "p99"])
def test_percentiles_per_window_match_numpy(fed: Fed, agg: str) -> None:
    start, end = fed.feed.tick(0), fed.feed.tick(49)
    data, _ = fed.get("/nodes/n1/metrics", metric="power", agg=agg, step="1s",
                      start=format_time(start), end=format_time(end))
    q = {"p50": 50, "p95": 95, "p99": 99}[agg]
    want = [300.0] + [float(np.percentile(300.0 + np.arange(10 * j - 9, 10 * j + 1), q))
                      for j in range(1, 5)]
    got = [v for _, v in data["gpus"][0]["points"]]
    assert got == pytest.approx(want, rel=1e-12)
    answer = fed.stub.QueryRange(pb.QueryRangeRequest(
        node="n1", metric="power", start_ns=start, end_ns=end, step_ns=10**9, agg=agg))
    assert list(answer.gpus[0].values) == got
    assert [v for _, v in data["nodeTotal"]["points"]] == list(answer.node_total.values)


def test_node_workloads_now_and_over_a_range(fed: Fed) -> None:
    now, _ = fed.get("/nodes/n1/workloads")
    assert [(w["uid"], w["nodeGpus"]) for w in now] == [
        ("ml/infer-b", [uuid("n1", 1)]), ("ml/train-a", [uuid("n1", 0)]),
        ("web/infer-c", [uuid("n1", 1)])]
    grpc_now = fed.stub.ListNodeWorkloads(pb.ListNodeWorkloadsRequest(node="n1")).workloads
    assert [(w.uid, list(w.node_gpus)) for w in grpc_now] == \
        [(w["uid"], w["nodeGpus"]) for w in now]
    before = (fed.feed.tick(-100), fed.feed.tick(-50))
    during = (fed.feed.tick(10), fed.feed.tick(12))
    for (a, b), uids in ((before, []), (during, ["ml/train-a2"])):
        data, _ = fed.get("/nodes/n2/workloads", start=format_time(a), end=format_time(b))
        assert [w["uid"] for w in data] == uids
        answer = fed.stub.ListNodeWorkloads(pb.ListNodeWorkloadsRequest(
            node="n2", start_ns=a, end_ns=b))
        assert [w.uid for w in answer.workloads] == uids
