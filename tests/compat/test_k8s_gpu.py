"""Seed 004 (Kubernetes GPU Management API): every read route under /k8s-monitor/api/v1
answers its envelope with gputel's numbers; its control-plane writes answer 501."""

from __future__ import annotations

import pytest

from gputel.collector.api.compat.k8s_envelope import CONTROL_PLANE
from tests.compat.conftest import Compat
from tests.compat.schemas import k8s_gpu as s

P = "/k8s-monitor/api/v1"
GIB = 1024**3


def _data(compat: Compat, path: str, shape: object, **params: object) -> object:
    return compat.seed(P + path, s.Success[shape], **params)["data"]  # type: ignore[valid-type]


def _own_workloads(compat: Compat, **params: object) -> dict[str, dict]:
    return {w["uid"]: w for w in compat.own("/workloads", **params)}


# ------------------------------------------------------------------ resources
def test_serving_pods_are_the_vllm_and_sglang_workloads(compat: Compat) -> None:
    pods = _data(compat, "/resources/pods", list[s.Pod])
    own = compat.own("/workloads/serve/vllm-llama")
    assert [(p["name"], p["modelType"], p["modelName"], p["gpuUsagePercent"]) for p in pods] == [
        ("vllm-llama", "vllm", "llama2-7b", own["utilizationPercent"])]
    assert pods[0]["cpuUsagePercent"] is None  # not measured, not invented


def test_all_pods_by_namespace(compat: Compat) -> None:
    pods = _data(compat, "/resources/pods/all", list[s.Pod], namespace="ml")
    own = _own_workloads(compat, namespace="ml")
    assert [p["uid"] for p in pods] == list(own)
    for p in pods:
        assert p["gpuUsagePercent"] == own[p["uid"]]["utilizationPercent"]
        assert p["creationTime"] == own[p["uid"]]["firstSeen"]


def test_one_pod(compat: Compat) -> None:
    pod = _data(compat, "/resources/pods/ml/train-a", s.Pod)
    assert pod["nodeName"] == "n1"
    assert pod["gpuUsagePercent"] == compat.own("/workloads/ml/train-a")["utilizationPercent"]
    compat.seed(f"{P}/resources/pods/ml/nope", s.Failure, 404)


def test_top_pods_by_gpu(compat: Compat) -> None:
    pods = _data(compat, "/resources/pods/top", list[s.Pod], resourceType="gpu", limit=3)
    own = compat.own("/top", by="workloads", metric="utilization", limit=3)
    assert [p["uid"] for p in pods] == [e["id"] for e in own["entries"]]
    assert [p["gpuUsagePercent"] for p in pods] == [e["value"] for e in own["entries"]]
    assert _data(compat, "/resources/pods/top", list[s.Pod], resourceType="cpu") == []


def test_nodes(compat: Compat) -> None:
    nodes = _data(compat, "/resources/nodes", list[s.Node])
    own = {n["name"]: n for n in compat.own("/nodes")}
    assert [n["name"] for n in nodes] == sorted(own)
    for n in nodes:
        assert n["gpuCapacity"] == str(own[n["name"]]["gpuCount"])
        assert n["gpuUsagePercent"] == own[n["name"]]["gpuUtilization"]
        on_node = compat.own(f"/nodes/{n['name']}/workloads")
        assert n["totalPodCount"] == len(on_node)
    n4 = _data(compat, "/resources/nodes/n4", s.Node)
    assert (n4["vllmPodCount"], n4["runningPodCount"]) == (1, 2)
    # Without the Kubernetes watch, what only the API knows is null and named.
    assert (n4["role"], n4["cpuCapacity"], n4["memoryCapacity"]) == (None, None, None)
    missing = compat.call(P + "/resources/nodes/n4").json()["missing"]
    assert any("role, cpuCapacity" in m for m in missing)
    compat.seed(f"{P}/resources/nodes/nope", s.Failure, 404)


def test_usage(compat: Compat) -> None:
    usage = _data(compat, "/resources/usage", s.Usage)
    own = compat.own("/overview")
    summary = usage["clusterSummary"]
    assert (summary["totalNodes"], summary["avgGpuUsage"]) == (own["totalNodes"],
                                                              own["gpuUtilization"])
    assert summary["totalPods"] == len(compat.own("/workloads")) == len(usage["pods"])
    assert summary["vllmPods"] == 1


def test_namespaces(compat: Compat) -> None:
    data = _data(compat, "/resources/namespaces", list[s.NamespaceUsage])
    own = compat.own("/namespaces")
    assert [(n["namespace"], n["podCount"], n["gpuCount"], n["gpuHours"]) for n in data] == [
        (n["namespace"], n["workloads"], n["gpus"], n["gpuHours"]) for n in own]


@pytest.mark.parametrize("path", ["/resources/health", "/gpu/health"])
def test_health(compat: Compat, path: str) -> None:
    data = _data(compat, path, s.ClusterHealth)
    own = compat.own("/overview")
    alerts = compat.own("/alerts")
    assert (data["totalNodes"], data["healthyNodes"]) == (own["totalNodes"], own["healthyNodes"])
    assert sorted(a["alertId"] for a in data["alerts"]) == sorted(a["id"] for a in alerts)
    assert data["status"] == "CRITICAL"  # gpu_lost, node_unreachable and xid fire
    if path == "/resources/health":  # node conditions come from the Kubernetes watch only
        assert data["nodeConditions"] is None
        assert "nodeConditions" in compat.call(P + path).json()["missing"][0]


@pytest.mark.parametrize("path", ["/resources/statistics", "/gpu/metrics/usage-statistics"])
def test_usage_statistics(compat: Compat, path: str) -> None:
    data = _data(compat, path, s.UsageStatistics, hours=1)
    own = compat.own("/statistics/usage", hours=1)
    assert data["timeRange"] == "1 hours"
    for d in own["devices"]:
        got = data["deviceStatistics"][d["gpu"]]
        assert (got["avgGpuUtilization"], got["avgMemoryUtilization"], got["avgTemperature"]) \
            == (d["gpuUtilization"], d["memoryUtilization"], d["temperatureCelsius"])
    for m in own["models"]:
        got = data["modelStatistics"][m["model"].replace(" ", "_")]
        assert (got["deviceCount"], got["avgGpuUtilization"]) == (m["gpus"], m["gpuUtilization"])


def test_alerts(compat: Compat) -> None:
    data = _data(compat, "/resources/alerts", list[s.Alert])
    own = compat.own("/alerts")
    assert [(a["alertId"], a["severity"]) for a in data] == [
        (a["id"], a["severity"].upper()) for a in own]


@pytest.mark.parametrize("path", ["/resources/metrics/status", "/gpu/metrics/collection-status"])
def test_collection_status(compat: Compat, path: str) -> None:
    data = _data(compat, path, s.CollectionStatus)
    own = compat.own("/health")
    assert (data["status"], data["connectedAgents"], data["nodes"]) == (
        "RUNNING", own["connectedAgents"], own["nodes"])
    newest = max(n["lastSeen"] for n in compat.own("/nodes"))
    assert data["lastCollection"] == newest


# -------------------------------------------------------------------- devices
def test_devices_and_filters(compat: Compat) -> None:
    devices = _data(compat, "/gpu/devices", list[s.Device])
    own = compat.own("/gpus", pageSize=1000)
    assert [d["deviceId"] for d in devices] == [g["uuid"] for g in own]
    for d, g in zip(devices, own, strict=True):
        assert (d["currentTempC"], d["currentPowerW"], d["currentUtilization"]) == (
            g["latest"]["temperature"], g["latest"]["power"], g["latest"]["gpu_util"])
        assert d["memoryGb"] == pytest.approx(g["memoryTotalBytes"] / GIB)
        assert d["allocated"] == bool(g["heldBy"])
        assert (d["deviceStatus"] == "FAILED") == (g["status"] == "lost")
    failed = _data(compat, "/gpu/devices", list[s.Device], status="failed")
    assert [d["deviceId"] for d in failed] == [g["uuid"] for g in
                                                compat.own("/gpus", status="lost")]
    on_n4 = _data(compat, "/gpu/devices", list[s.Device], nodeName="n4", modelId="Gamma_80GB")
    assert [d["deviceId"] for d in on_n4] == ["GPU-n4-0", "GPU-n4-1", "GPU-n4-2"]
    assert on_n4[0]["deviceStatus"] == "MIG_ENABLED"


def test_device_statistics(compat: Compat) -> None:
    data = _data(compat, "/gpu/devices/statistics", s.DeviceStatistics)
    own = compat.own("/gpus", pageSize=1000)
    assert data["totalDevices"] == len(own)
    assert data["devicesByStatus"]["FAILED"] == sum(g["status"] == "lost" for g in own)
    assert data["allocatedDevices"] == sum(bool(g["heldBy"]) for g in own)


def test_overheating(compat: Compat) -> None:
    hot = [a["gpu"] for a in compat.own("/alerts", rule="over_temperature")]
    devices = _data(compat, "/gpu/devices/overheating", list[s.Device])
    alerts = _data(compat, "/gpu/metrics/overheating-alerts", list[s.Alert])
    assert [d["deviceId"] for d in devices] == [a["deviceId"] for a in alerts] == hot == [
        "GPU-n1-0"]


def test_one_device_and_its_health(compat: Compat) -> None:
    device = _data(compat, "/gpu/devices/GPU-n1-0", s.Device)
    own = compat.own("/gpus/GPU-n1-0")
    assert device["currentPowerW"] == own["latest"]["power"]
    health = _data(compat, "/gpu/devices/GPU-n1-0/health", s.DeviceHealth)
    assert not health["healthy"]
    assert [i["alertId"] for i in health["issues"]] == [
        a["id"] for a in compat.own("/alerts", gpu="GPU-n1-0")]
    body = compat.seed(f"{P}/gpu/devices/nope", s.Failure, 404)
    assert body["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_mig(compat: Compat) -> None:
    children = _data(compat, "/gpu/mig/devices/GPU-n4-0", list[s.MigInstance])
    own = [g for g in compat.own("/gpus", node="n4") if g["migParentUuid"] == "GPU-n4-0"]
    assert [(m["instanceId"], m["allocated"]) for m in children] == [
        (g["uuid"], g["status"] == "allocated") for g in own]
    available = _data(compat, "/gpu/mig/available", list[s.MigInstance])
    assert available == []  # both instances are held
    assert [m["profileId"] for m in children] == [
        g["inventory"]["migProfile"] for g in own] == ["3g.40gb", "3g.40gb"]
    stats = _data(compat, "/gpu/mig/statistics", s.MigStatistics)
    assert (stats["totalInstances"], stats["allocatedInstances"]) == (2, 2)
    parent = compat.own("/gpus/GPU-n4-0")
    assert stats["instancesByProfile"] == parent["mig"]["profiles"] == {"3g.40gb": 2}
    assert stats["utilizationByDevice"] == {"GPU-n4-0": parent["mig"]["gpuUtilization"]}
    assert parent["mig"]["gpuUtilization"] == pytest.approx((70.0 + 20.0) / 2)
    assert stats["memoryUsedGbByDevice"]["GPU-n4-0"] == pytest.approx(
        parent["mig"]["memoryUsedBytes"] / 2**30)


def test_device_architecture_and_mig_support_come_from_the_inventory(compat: Compat) -> None:
    devices = _data(compat, "/gpu/devices", list[s.Device])
    own = {g["uuid"]: g for g in compat.own("/gpus", pageSize=1000)}
    for d in devices:
        inventory = own[d["deviceId"]]["inventory"] or {}
        assert d["architecture"] == inventory.get("architecture")
        assert d["migSupport"] == inventory.get("migSupported")
    n4 = _data(compat, "/gpu/devices/GPU-n4-0", s.Device)
    assert (n4["architecture"], n4["migSupport"]) == ("Hopper", True)


# ---------------------------------------------------------------- allocations
def test_allocations(compat: Compat) -> None:
    data = _data(compat, "/gpu/allocations", list[s.Allocation])
    running = compat.own("/workloads", status="running")
    assert sorted(a["allocationId"] for a in data) == sorted(
        f"{w['uid']}@{h['gpu']}" for w in running for h in w["held"])
    web = _data(compat, "/gpu/allocations", list[s.Allocation], teamId="web")
    assert sorted(a["podName"] for a in web) == ["infer-c", "vllm-llama"]
    vllm = next(a for a in web if a["podName"] == "vllm-llama")
    assert (vllm["resourceType"], vllm["costPerHour"]) == ("MIG_INSTANCE", 2.0)  # 2 EUR/GPU-h


def test_cost_statistics_and_analysis(compat: Compat) -> None:
    own = compat.own("/cost", days=1)
    stats = _data(compat, "/gpu/allocations/cost-statistics", s.CostStatistics, days=1)
    analysis = _data(compat, "/gpu/cost/analysis", s.CostAnalysis, days=1)
    by_namespace = {x["key"]: x["totalCost"] for x in own["byNamespace"]}
    assert stats["costByNamespace"] == analysis["costByNamespace"] == by_namespace
    assert stats["totalCost"] == own["total"]["totalCost"]
    assert analysis["costByTeam"] == {x["key"].removeprefix("team="): x["totalCost"]
                                      for x in own["byLabel"] if x["key"].startswith("team=")}
    per_day = analysis["totalCost"] / (analysis["coveredSeconds"] / 86400)
    assert (analysis["dailyCost"], analysis["monthlyCost"]) == (per_day, per_day * 30)


# -------------------------------------------------------------------- cluster
def test_overview(compat: Compat) -> None:
    data = _data(compat, "/gpu/overview", s.Overview)
    own = compat.own("/overview")
    gpus = compat.own("/gpus", pageSize=1000)
    live = [g for g in gpus if g["status"] != "lost"]
    alerts = compat.own("/alerts")
    assert (data["totalNodes"], data["totalGpuDevices"], data["overallGpuUtilization"]) == (
        own["totalNodes"], own["totalGpus"], own["gpuUtilization"])
    assert data["overallTemperature"] == pytest.approx(
        sum(g["latest"]["temperature"] for g in live) / len(live))
    assert data["overallMemoryUtilization"] == pytest.approx(
        sum(g["latest"]["mem_util"] for g in live) / len(live))
    assert data["totalMigInstances"] == sum(bool(g["migParentUuid"]) for g in gpus)
    assert (data["totalAlerts"], data["criticalAlerts"]) == (
        len(alerts), sum(a["severity"] == "critical" for a in alerts))
    # Costs: /api/v1/cost's projection over its default window. The rate is the window's
    # total over the time it covers, which grows as the clock runs, so it is checked
    # against the cost total over the coverage this answer states.
    cost = compat.own("/cost")
    window = data["costProjection"]
    assert (window["method"], window["days"]) == (cost["projection"]["method"], cost["days"])
    per_hour = cost["total"]["totalCost"] / (window["coveredSeconds"] / 3600)
    assert cost["total"]["totalCost"] > 0
    assert data["totalHourlyCost"] == pytest.approx(per_hour)
    assert data["totalMonthlyCost"] == pytest.approx(per_hour * 24 * 30)
    assert "missing" not in compat.call(P + "/gpu/overview").json()


def test_reads_not_built_yet_answer_501(compat: Compat) -> None:
    body = compat.seed(P + "/gpu/allocations/expiring", s.Failure, 501)
    assert body["error"]["code"] == "NOT_IMPLEMENTED"


@pytest.mark.parametrize("path", ["/gpu/forecast", "/resources/forecast"])
def test_a_forecast_from_seconds_of_history_is_refused_in_its_form(compat: Compat,
                                                                   path: str) -> None:
    """Forecasts with known answers: test_k8s_forecast.py."""
    body = compat.seed(P + path, s.Failure, 400)
    assert body["error"]["code"] == "INVALID_PARAMETER"
    assert body["error"]["details"]["parameter"] == "history"


@pytest.mark.parametrize(("method", "path"), [(m, p.replace("{device_id}", "GPU-n1-0")
                                               .replace("{allocation_id}", "a1"))
                                              for m, p, _ in CONTROL_PLANE])
def test_control_plane_writes_answer_501(compat: Compat, method: str, path: str) -> None:
    response = compat.call(P + path, method)
    assert response.status_code == 501
    body = s.Failure.model_validate(response.json())
    assert "observes" in body.error.message
    assert "does not allocate" in body.error.message


def test_webhook_registration_without_a_body_is_refused_in_its_form(compat: Compat) -> None:
    """Registration itself: test_k8s_forecast.py."""
    response = compat.call(f"{P}/webhooks", "POST")
    assert response.status_code == 400
    assert s.Failure.model_validate(response.json()).error.code == "INVALID_PARAMETER"


def test_unknown_routes_and_parameters(compat: Compat) -> None:
    assert compat.seed(f"{P}/gpu/nothing", s.Failure, 404)["error"]["code"] == \
        "RESOURCE_NOT_FOUND"
    body = compat.seed(f"{P}/gpu/devices", s.Failure, 400, status="broken")
    assert body["error"]["code"] == "INVALID_PARAMETER"
