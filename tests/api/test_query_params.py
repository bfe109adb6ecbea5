"""Query strings are checked against each route's declared parameters; every list pages;
model filters match by substring; /alerts filters by GPU. REST and gRPC agree."""

from __future__ import annotations

import httpx
import pytest

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.api.conftest import Fed

UNDECLARED = [
    ("/nodes", [("pageNum", "2")], "pageNum"),
    ("/workloads", [("sort", "name")], "sort"),
    ("/nodes/n1/metrics", [("metric", "power"), ("metric", "gpu_util")], "metric"),
    ("/gpus", [("page", "1"), ("page", "2")], "page"),
    ("/overview", [("verbose", "1")], "verbose"),
    ("/workloads/ml/train-a", [("x", "")], "x"),
]


@pytest.mark.parametrize(("path", "params", "parameter"), UNDECLARED)
def test_an_undeclared_or_repeated_parameter_is_400_naming_it(
        fed: Fed, path: str, params: list[tuple[str, str]], parameter: str) -> None:
    response = httpx.get(fed.api + path, params=params, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PARAMETER"
    assert error["details"] == {"parameter": parameter}
    assert error["message"].startswith(parameter)


@pytest.mark.parametrize(("path", "total"), [
    ("/alerts", 5), ("/namespaces", 2), ("/nodes/n1/workloads", 3), ("/nodes/n1/gpus", 2)])
def test_every_list_pages(fed: Fed, path: str, total: int) -> None:
    everything, meta = fed.get(path)
    assert meta["total"] == total == len(everything)
    second, meta = fed.get(path, page=2, pageSize=1)
    assert (meta["page"], meta["pageSize"], meta["total"]) == (2, 1, total)
    # The same item (alerts' live values, such as how long a GPU has been lost, move on)
    assert [_identity(i) for i in second] == [_identity(everything[1])]


def _identity(item: dict[str, object]) -> object:
    return next((item[k] for k in ("id", "uid", "uuid", "namespace") if k in item), item)


def test_grpc_lists_page_like_rest(fed: Fed) -> None:
    one = pb.PageRequest(page=2, page_size=1)
    alerts = fed.stub.ListAlerts(pb.ListAlertsRequest(page=one))
    assert [a.id for a in alerts.alerts] == [fed.get("/alerts", page=2, pageSize=1)[0][0]["id"]]
    assert alerts.page.total == 5
    spaces = fed.stub.ListNamespaces(pb.ListNamespacesRequest(page=one))
    assert [n.namespace for n in spaces.namespaces] == ["web"]
    assert spaces.page.total == 2
    held = fed.stub.ListNodeWorkloads(pb.ListNodeWorkloadsRequest(node="n1", page=one))
    assert [w.uid for w in held.workloads] == ["ml/train-a"]
    assert held.page.total == 3
    gpus = fed.stub.ListDevices(pb.ListDevicesRequest(node="n1", page=one))
    assert [d.device.uuid for d in gpus.devices] == ["GPU-n1-1"]
    assert gpus.page.total == 2


@pytest.mark.parametrize(("model", "nodes"), [("Alp", ["n1", "n3"]), ("eta", ["n2"]),
                                               ("alpha", ["n1", "n3"]), ("Gamma", [])])
def test_model_matches_by_substring(fed: Fed, model: str, nodes: list[str]) -> None:
    assert [n["name"] for n in fed.get("/nodes", model=model)[0]] == nodes
    assert sorted({g["node"] for g in fed.get("/gpus", model=model)[0]}) == nodes
    answer = fed.stub.ListNodes(pb.ListNodesRequest(model=model))
    assert [n.name for n in answer.nodes] == nodes


def test_alerts_filter_by_gpu(fed: Fed) -> None:
    data, _ = fed.get("/alerts", gpu="GPU-n1-0")
    assert [a["id"] for a in data] == ["over_temperature:n1:GPU-n1-0"]
    answer = fed.stub.ListAlerts(pb.ListAlertsRequest(gpu="GPU-n1-0"))
    assert [a.id for a in answer.alerts] == ["over_temperature:n1:GPU-n1-0"]
