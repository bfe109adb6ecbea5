"""Workloads, namespaces, history, heatmap, top, statistics, cost, alerts and Watch: the fed
numbers, the same over HTTP and gRPC."""

from __future__ import annotations

import pytest

from gputel.collector.timefmt import format_time
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.api.conftest import EVERY_STORE, Fed, approx
from tests.api.feed import uuid

pytestmark = EVERY_STORE

# What the feed's 49 accounted intervals give each workload: joules, GPU-seconds, busy s.
USE = {"ml/train-a": (49 * 30.0, 4.9, 4.9 * 0.8), "ml/train-a2": (49 * 20.0, 4.9, 4.9 * 0.6),
       "ml/infer-b": (49 * 10 * 0.5, 2.45, 2.45 * 0.02),
       "web/infer-c": (49 * 10 * 0.5, 2.45, 2.45 * 0.02)}


@pytest.mark.parametrize(("params", "uids"), [
    ({}, ["ml/infer-b", "ml/train-a", "ml/train-a2", "web/infer-c"]),
    ({"labels": "app=infer"}, ["ml/infer-b", "web/infer-c"]),
    ({"labels": "team!=web"}, ["ml/infer-b", "ml/train-a", "ml/train-a2"]),
    ({"labels": "app in (train),team"}, ["ml/train-a", "ml/train-a2"]),
    ({"labels": "app notin (train), team == web"}, ["web/infer-c"]),
    ({"labels": "!team"}, []),
    ({"name": "train-a"}, ["ml/train-a"]),
    ({"namespace": "ml", "status": "running", "page": 2, "pageSize": 2}, ["ml/train-a2"]),
])
def test_workload_list_filters_and_pages(fed: Fed, params: dict, uids: list[str]) -> None:
    data, meta = fed.get("/workloads", **params)
    assert [w["uid"] for w in data] == uids
    answer = fed.stub.ListWorkloads(pb.ListWorkloadsRequest(
        namespace=params.get("namespace", ""), status=params.get("status", ""),
        name=params.get("name", ""), labels=params.get("labels", ""),
        page=pb.PageRequest(page=params.get("page", 0), page_size=params.get("pageSize", 0))))
    assert [w.uid for w in answer.workloads] == uids
    assert meta["total"] == answer.page.total


@pytest.mark.parametrize("uid", sorted(USE))
def test_workload_detail_counts_what_it_used(fed: Fed, uid: str) -> None:
    data, _ = fed.get(f"/workloads/{uid}")
    answer = fed.stub.GetWorkload(pb.GetWorkloadRequest(uid=uid))
    joules, seconds, busy = USE[uid]
    assert data["energyJoules"] == answer.energy_joules == approx(joules)
    assert data["gpuSecondsAllocated"] == answer.gpu_seconds_allocated == approx(seconds)
    assert data["gpuSecondsBusy"] == answer.gpu_seconds_busy == approx(busy)
    assert data["gpuHours"] == approx(seconds / 3600)
    assert [(h["node"], h["gpu"], h["fraction"]) for h in data["held"]] == \
        [(h.node, h.gpu, h.fraction) for h in answer.held]


@pytest.mark.parametrize("uid", sorted(USE))
def test_workload_first_and_last_seen_span_its_held_samples(fed: Fed, uid: str) -> None:
    data, _ = fed.get(f"/workloads/{uid}")
    assert (data["firstSeen"], data["lastSeen"]) == \
        (format_time(fed.time(0)), format_time(fed.time(49)))


def test_workload_series_and_hierarchy(fed: Fed) -> None:
    start, end = fed.feed.tick(0), fed.feed.tick(49)
    data, _ = fed.get("/workloads/ml/infer-b/metrics", metric="power", step="1s",
                      start=format_time(start), end=format_time(end))
    assert [v for _, v in data["total"]["points"]] == [50.0] * 5  # half of 100 W
    answer = fed.stub.QueryWorkloadRange(pb.QueryWorkloadRangeRequest(
        uid="ml/infer-b", metric="power", start_ns=start, end_ns=end, step_ns=10**9))
    assert list(answer.node_total.values) == [50.0] * 5
    tree, _ = fed.get("/workloads/ml/train-a/hierarchy")
    # The agent names owners by kind and name; their uid and API version need the watch.
    unknown = {"uid": None, "apiVersion": None}
    assert tree["owners"] == [
        {"kind": "ReplicaSet", "name": "train-rs", **unknown,
         "workloads": ["ml/train-a", "ml/train-a2"]},
        {"kind": "Deployment", "name": "train", **unknown,
         "workloads": ["ml/train-a", "ml/train-a2"]}]
    assert tree["children"] == []
    grpc_tree = fed.stub.GetWorkloadHierarchy(pb.GetWorkloadRequest(uid="ml/train-a"))
    assert [(o.kind, o.name, list(o.workloads)) for o in grpc_tree.owners] == \
        [(o["kind"], o["name"], o["workloads"]) for o in tree["owners"]]


def test_namespaces(fed: Fed) -> None:
    data, _ = fed.get("/namespaces")
    answer = fed.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces
    want = {"ml": [USE[u] for u in ("ml/train-a", "ml/train-a2", "ml/infer-b")],
            "web": [USE["web/infer-c"]]}
    for rest, grpc_ns in zip(data, answer, strict=True):
        uses = want[rest["namespace"]]
        assert rest["namespace"] == grpc_ns.namespace
        assert rest["energyJoules"] == grpc_ns.energy_joules == \
            approx(sum(u[0] for u in uses))
        assert rest["gpuHours"] == grpc_ns.gpu_hours == \
            approx(sum(u[1] for u in uses) / 3600)
        assert rest["energyKilowattHours"] == grpc_ns.energy_kilowatt_hours


def test_utilization_history(fed: Fed) -> None:
    start, end = fed.feed.tick(0), fed.feed.tick(49)
    data, _ = fed.get("/utilization/history", start=format_time(start), end=format_time(end),
                      step="1s")
    # n3's one frame (30 %) reports in the first two windows only.
    want = [(4, (80 + 2 + 60 + 30) / 4)] * 2 + [(3, (80 + 2 + 60) / 3)] * 3
    got = [(p["gpusReporting"], p["gpuUtilization"]) for p in data["points"]]
    assert got == [(n, approx(u)) for n, u in want]
    assert {p["allocatedGpus"] for p in data["points"]} == {3}
    # Memory in use over memory in all: GPU i of a node uses (i + 1) GB of 80 GB.
    memory = [100 * (1 + 2 + 1 + 1) / (4 * 80)] * 2 + [100 * (1 + 2 + 1) / (3 * 80)] * 3
    assert [p["memoryUsedPercent"] for p in data["points"]] == pytest.approx(memory)
    answer = fed.stub.UtilizationHistory(pb.UtilizationHistoryRequest(
        start_ns=start, end_ns=end, step_ns=10**9))
    assert [(p.gpus_reporting, p.gpu_utilization, p.allocated_gpus, p.memory_used_percent)
            for p in answer.points] == [(p["gpusReporting"], p["gpuUtilization"],
                                         p["allocatedGpus"], p["memoryUsedPercent"])
                                        for p in data["points"]]
    assert answer.total_gpus == data["totalGpus"] == 5


def test_utilization_history_at_now_counts_the_gpus_held_now(fed: Fed) -> None:
    overview, _ = fed.get("/overview")
    data, _ = fed.get("/utilization/history")  # end defaults to now
    last = data["points"][-1]
    assert last["time"] == data["end"]
    assert last["allocatedGpus"] == overview["allocatedGpus"] == 3
    answer = fed.stub.UtilizationHistory(pb.UtilizationHistoryRequest())
    assert answer.points[-1].allocated_gpus == 3


def test_heatmap_picks_the_top_gpus(fed: Fed) -> None:
    start, end = fed.feed.tick(0), fed.feed.tick(49)
    data, meta = fed.get("/heatmap", metric="power", k=2, step="1s", start=format_time(start),
                         end=format_time(end))
    assert [r["gpu"] for r in data["rows"]] == [uuid("n1", 0), uuid("n2", 0)]
    assert data["rows"][0]["values"] == [300.0, 305.5, 315.5, 325.5, 335.5]
    assert data["rows"][0]["mean"] == approx(316.4)
    assert (data["min"], data["max"]) == (200.0, 335.5)
    assert (meta["rows"], meta["columns"]) == (2, 5)
    answer = fed.stub.Heatmap(pb.HeatmapRequest(metric="power", k=2, step_ns=10**9,
                                                start_ns=start, end_ns=end))
    assert [list(r.values) for r in answer.rows] == [r["values"] for r in data["rows"]]
    assert [format_time(t) for t in answer.ts_ns] == data["times"]


@pytest.mark.parametrize(("by", "metric", "want"), [
    ("workloads", "energy", [("ml/train-a", 1470.0), ("ml/train-a2", 980.0),
                             ("ml/infer-b", 245.0), ("web/infer-c", 245.0)]),
    ("namespaces", "gpuSeconds", [("ml", 12.25), ("web", 2.45)]),
    ("workloads", "utilization", [("ml/train-a", 80.0), ("ml/train-a2", 60.0),
                                  ("ml/infer-b", 2.0), ("web/infer-c", 2.0)]),
])
def test_top_consumers(fed: Fed, by: str, metric: str, want: list[tuple[str, float]]) -> None:
    data, _ = fed.get("/top", by=by, metric=metric)
    assert [(e["id"], e["value"]) for e in data["entries"]] == \
        [(i, approx(v)) for i, v in want]
    answer = fed.stub.Top(pb.TopRequest(by=by, metric=metric))
    assert [(e.rank, e.id, e.value) for e in answer.entries] == \
        [(e["rank"], e["id"], e["value"]) for e in data["entries"]]


def test_usage_statistics_per_gpu_and_model(fed: Fed) -> None:
    data, _ = fed.get("/statistics/usage", hours=1)
    answer = fed.stub.UsageStatistics(pb.UsageStatisticsRequest(hours=1))
    first = data["devices"][0]
    assert (first["gpu"], first["samples"], first["gpuUtilization"], first["temperatureCelsius"],
            first["memoryUsedBytes"]) == (uuid("n1", 0), 50, 80.0, 90.0, 1e9)
    alpha = next(m for m in data["models"] if m["model"] == "Alpha")
    assert (alpha["gpus"], alpha["samples"]) == (3, 110)
    assert alpha["gpuUtilization"] == approx((80 * 50 + 2 * 50 + 30 * 10) / 110)
    assert alpha["temperatureMaxCelsius"] == 90.0
    for rest, msg in zip(data["devices"], answer.devices, strict=True):
        assert (rest["gpu"], rest["samples"], rest["gpuUtilization"]) == \
            (msg.gpu, msg.stats.samples, msg.stats.gpu_utilization)
    assert [(m.model, m.gpus, m.stats.temperature_celsius) for m in answer.models] == \
        [(m["model"], m["gpus"], m["temperatureCelsius"]) for m in data["models"]]


def test_cost_charges_what_was_used_at_the_configured_prices(fed: Fed) -> None:
    data, _ = fed.get("/cost", days=1)
    answer = fed.stub.Cost(pb.CostRequest(days=1))
    assert data["prices"] == {"currency": "EUR", "gpuHour": 2.0, "gpuHourByModel": {"Beta": 4.0},
                              "energyPerKilowattHour": 0.5}
    lines = {c["key"]: c for c in data["byWorkload"]}
    for uid, (joules, seconds, busy) in USE.items():
        price = 4.0 if uid == "ml/train-a2" else 2.0  # train-a2 ran on a Beta
        line = lines[uid]
        assert line["gpuHours"] == approx(seconds / 3600)
        assert line["busyGpuHours"] == approx(busy / 3600)
        assert line["energyKilowattHours"] == approx(joules / 3.6e6)
        assert line["totalCost"] == approx(seconds / 3600 * price + joules / 3.6e6 * 0.5)
    vision = next(c for c in data["byLabel"] if c["key"] == "team=vision")
    assert vision["gpuHours"] == approx((4.9 + 4.9 + 2.45) / 3600)
    assert data["total"]["totalCost"] == approx(sum(c["totalCost"] for c in lines.values()))
    assert answer.currency == "EUR"
    assert [(c.key, c.total_cost) for c in answer.by_workload] == \
        [(c["key"], c["totalCost"]) for c in data["byWorkload"]]
    assert [c.key for c in answer.by_namespace] == [c["key"] for c in data["byNamespace"]]


def test_alerts_list_filter_and_acknowledge(fed: Fed) -> None:
    data, _ = fed.get("/alerts")
    ids = ["allocated_idle:n1:GPU-n1-1", "gpu_lost:n2:GPU-n2-1", "node_unreachable:n3",
           "over_temperature:n1:GPU-n1-0", "xid:n2:GPU-n2-0"]
    assert sorted(a["id"] for a in data) == ids
    answer = fed.stub.ListAlerts(pb.ListAlertsRequest())
    assert sorted(a.id for a in answer.alerts) == ids
    critical, _ = fed.get("/alerts", severity="critical")
    assert sorted(a["rule"] for a in critical) == ["gpu_lost", "node_unreachable", "xid"]
    (xid,) = fed.stub.ListAlerts(pb.ListAlertsRequest(rule="xid")).alerts
    assert (xid.value, xid.gpu_index) == (2.0, 0)
    idle = next(a for a in data if a["rule"] == "allocated_idle")
    assert idle["workloads"] == ["ml/infer-b", "web/infer-c"]
    hot = next(a for a in data if a["rule"] == "over_temperature")
    assert (hot["value"], hot["threshold"]) == (90.0, 85.0)
    response = fed.post(f"/alerts/{hot['id']}/acknowledge", by="alice")
    assert response["acknowledgedBy"] == "alice"
    acked = fed.stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(id="xid:n2:GPU-n2-0"))
    assert acked.acknowledged_by == "grpc"
    after = {a["id"]: a for a in fed.get("/alerts")[0]}
    assert after[hot["id"]]["acknowledgedBy"] == "alice"
    assert after["xid:n2:GPU-n2-0"]["acknowledged"] is not None


def test_watch_streams_windows_of_the_selection(fed: Fed) -> None:
    updates = fed.stub.Watch(pb.WatchRequest(node="n1", gpu=uuid("n1", 0), metrics=["power"],
                                             interval_ms=100))
    for _, update in zip(range(2), updates, strict=False):
        (device,) = update.devices
        window = device.metrics["power"]
        assert (device.end_ns, window.count, window.last) == (fed.time(49), 1, 349.0)
    updates.cancel()
    held = fed.stub.Watch(pb.WatchRequest(workload="ml/infer-b", metrics=["power"],
                                          interval_ms=500))
    update = next(iter(held))
    held.cancel()
    (device,) = update.devices
    assert (device.gpu, device.fraction) == (uuid("n1", 1), 0.5)
    assert (device.metrics["power"].count, device.metrics["power"].avg) == (5, 100.0)
