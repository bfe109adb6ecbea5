"""Every parameter validated: 400 INVALID_PARAMETER naming it (gRPC INVALID_ARGUMENT), and
unknown ids 404 NOT_FOUND (gRPC NOT_FOUND)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import httpx
import pytest

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.api.conftest import Fed

GPU = "GPU-n1-0"
RANGE = {"metric": "power"}
BAD = [
    ("/nodes", {"page": "abc"}, "page"),
    ("/nodes", {"page": "0"}, "page"),
    ("/nodes", {"page": "5"}, "page"),  # 3 nodes, 100 a page: one page
    ("/nodes", {"pageSize": "0"}, "pageSize"),
    ("/nodes", {"pageSize": "5000"}, "pageSize"),
    ("/nodes", {"status": "broken"}, "status"),
    ("/gpus", {"allocated": "maybe"}, "allocated"),
    ("/gpus", {"status": "sleeping"}, "status"),
    ("/gpus", {"page": "4", "pageSize": "2"}, "page"),  # 5 GPUs: 3 pages
    ("/workloads", {"labels": "app>3"}, "labels"),
    ("/workloads", {"labels": "app in x"}, "labels"),
    ("/workloads", {"labels": "=x"}, "labels"),
    ("/workloads", {"labels": "app in (a,b"}, "labels"),
    ("/workloads", {"status": "zombie"}, "status"),
    ("/nodes/n1/metrics", {**RANGE, "step": "0"}, "step"),
    ("/nodes/n1/metrics", {**RANGE, "step": "-1s"}, "step"),
    ("/nodes/n1/metrics", {**RANGE, "start": "2000", "end": "1000"}, "end"),
    ("/nodes/n1/metrics", {**RANGE, "start": "yesterday"}, "start"),
    ("/nodes/n1/metrics", {**RANGE, "agg": "median"}, "agg"),
    ("/nodes/n1/metrics", {**RANGE, "start": "0", "step": "1ms"}, "step"),  # too many points
    (f"/gpus/{GPU}/metrics", {**RANGE, "start": "2000", "end": "1000"}, "end"),
    (f"/gpus/{GPU}/metrics", {**RANGE, "agg": "p42"}, "agg"),
    ("/workloads/ml/train-a/metrics", {**RANGE, "step": "0"}, "step"),
    ("/nodes/n1/workloads", {"end": "1000"}, "start"),
    ("/nodes/n1/workloads", {"start": "2000", "end": "1000"}, "end"),
    ("/utilization/history", {"step": "0"}, "step"),
    ("/utilization/history", {"start": "2000", "end": "1000"}, "end"),
    ("/heatmap", {"k": "0"}, "k"),
    ("/heatmap", {"k": "abc"}, "k"),
    ("/heatmap", {"step": "-1"}, "step"),
    ("/top", {"by": "pods"}, "by"),
    ("/top", {"metric": "watts"}, "metric"),
    ("/top", {"limit": "0"}, "limit"),
    ("/alerts", {"state": "open"}, "state"),
    ("/alerts", {"rule": "fire"}, "rule"),
    ("/alerts", {"severity": "low"}, "severity"),
    ("/statistics/usage", {"hours": "0"}, "hours"),
    ("/statistics/usage", {"hours": "abc"}, "hours"),
    ("/cost", {"days": "-1"}, "days"),
    ("/cost", {"days": "1000"}, "days"),
]
UNKNOWN = ["/nodes/nope", "/nodes/nope/gpus", "/nodes/nope/workloads",
           "/nodes/nope/metrics?metric=power", "/gpus/GPU-nope",
           "/gpus/GPU-nope/metrics?metric=power", "/workloads/ns/nope",
           "/workloads/ns/nope/metrics?metric=power", "/workloads/ns/nope/hierarchy"]


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("path", "params", "parameter"), BAD)
def test_a_bad_parameter_is_400_naming_it(fed: Fed, path: str, params: dict,
                                          parameter: str) -> None:
    err = _error(httpx.get(fed.api + path, params=params), 400, "INVALID_PARAMETER")
    assert err["details"]["parameter"] == parameter
    assert err["message"].startswith(parameter)


@pytest.mark.parametrize("path", UNKNOWN)
def test_an_unknown_id_is_404(fed: Fed, path: str) -> None:
    err = _error(httpx.get(fed.api + path), 404, "NOT_FOUND")
    assert "nope" in err["message"]


def test_acknowledging_an_unknown_alert_is_404(fed: Fed) -> None:
    _error(httpx.post(f"{fed.api}/alerts/nope/acknowledge"), 404, "NOT_FOUND")


@pytest.mark.parametrize("path", ["/nodes/n1/metrics", f"/gpus/{GPU}/metrics",
                                  "/workloads/ml/train-a/metrics", "/heatmap"])
def test_an_unknown_metric_is_a_bad_parameter(fed: Fed, path: str) -> None:
    err = _error(httpx.get(fed.api + path, params={"metric": "flux"}), 400, "INVALID_PARAMETER")
    assert err["details"] == {"parameter": "metric"}
    assert err["message"].startswith("metric")


Call = Callable[[pb_grpc.QueryServiceStub], object]
GRPC_BAD: list[tuple[Call, str]] = [
    (lambda s: s.ListNodes(pb.ListNodesRequest(page=pb.PageRequest(page=5))), "page"),
    (lambda s: s.ListNodes(pb.ListNodesRequest(status="broken")), "status"),
    (lambda s: s.ListGpus(pb.ListGpusRequest(page=pb.PageRequest(page_size=5000))), "pageSize"),
    (lambda s: s.ListWorkloads(pb.ListWorkloadsRequest(labels="app>3")), "labels"),
    (lambda s: s.QueryRange(pb.QueryRangeRequest(node="n1", metric="power", step_ns=-1)),
     "step"),
    (lambda s: s.QueryRange(pb.QueryRangeRequest(node="n1", metric="power", agg="median")),
     "agg"),
    (lambda s: s.QueryRange(pb.QueryRangeRequest(node="n1", metric="power", start_ns=2000,
                                                 end_ns=1000)), "end"),
    (lambda s: s.ListNodeWorkloads(pb.ListNodeWorkloadsRequest(node="n1", end_ns=5)),
     "start_ns"),
    (lambda s: s.Heatmap(pb.HeatmapRequest(k=500)), "k"),
    (lambda s: s.Top(pb.TopRequest(by="pods")), "by"),
    (lambda s: s.ListAlerts(pb.ListAlertsRequest(state="open")), "state"),
    (lambda s: s.UsageStatistics(pb.UsageStatisticsRequest(hours=-1)), "hours"),
    (lambda s: s.Cost(pb.CostRequest(days=1000)), "days"),
    (lambda s: next(iter(s.Watch(pb.WatchRequest(interval_ms=1)))), "interval_ms"),
    (lambda s: s.QueryRange(pb.QueryRangeRequest(node="n1", metric="nope")), "metric"),
]
GRPC_UNKNOWN: list[Call] = [
    lambda s: s.GetNode(pb.GetNodeRequest(node="nope")),
    lambda s: s.ListDevices(pb.ListDevicesRequest(node="nope")),
    lambda s: s.GetGpu(pb.GetGpuRequest(uuid="nope")),
    lambda s: s.QueryRange(pb.QueryRangeRequest(gpu="nope", metric="power")),
    lambda s: s.GetWorkload(pb.GetWorkloadRequest(uid="ns/nope")),
    lambda s: s.GetWorkloadHierarchy(pb.GetWorkloadRequest(uid="ns/nope")),
    lambda s: s.AcknowledgeAlert(pb.AcknowledgeAlertRequest(id="nope")),
    lambda s: next(iter(s.Watch(pb.WatchRequest(workload="ns/nope")))),
]


@pytest.mark.parametrize(("call", "parameter"), GRPC_BAD)
def test_grpc_bad_parameters_are_invalid_argument_naming_them(fed: Fed, call: Call,
                                                              parameter: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call(fed.stub)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(parameter)


@pytest.mark.parametrize("call", GRPC_UNKNOWN)
def test_grpc_unknown_ids_are_not_found(fed: Fed, call: Call) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call(fed.stub)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "nope" in caught.value.details()


GRPC_MISSING: list[tuple[Call, str]] = [
    (lambda s: s.GetNode(pb.GetNodeRequest()), "node"),
    (lambda s: s.ListDevices(pb.ListDevicesRequest()), "node"),
    (lambda s: s.ListNodeWorkloads(pb.ListNodeWorkloadsRequest()), "node"),
    (lambda s: s.GetGpu(pb.GetGpuRequest()), "uuid"),
    (lambda s: s.QueryRange(pb.QueryRangeRequest(metric="power")), "node"),
    (lambda s: s.GetWorkload(pb.GetWorkloadRequest()), "uid"),
    (lambda s: s.GetWorkloadHierarchy(pb.GetWorkloadRequest()), "uid"),
    (lambda s: s.QueryWorkloadRange(pb.QueryWorkloadRangeRequest(metric="power")), "uid"),
    (lambda s: s.AcknowledgeAlert(pb.AcknowledgeAlertRequest()), "id"),
]


@pytest.mark.parametrize(("call", "field"), GRPC_MISSING)
def test_grpc_a_missing_id_is_invalid_argument_naming_the_field(fed: Fed, call: Call,
                                                                field: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call(fed.stub)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(f"{field}:")
    assert "required" in caught.value.details()
