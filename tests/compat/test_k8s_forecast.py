"""Seed 004's forecast, cost analysis and optimization over three days whose answer is known
(tests/api/history.py), in its envelope, with gputel's own numbers; and its webhook
registration, which lands in gputel's webhook registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from tests.api.history import HOUR_NS, PERIOD_NS, PRICE, TICKS, history_collector
from tests.compat.schemas import k8s_gpu as s
from tests.harness.servers import CollectorThread

P = "/k8s-monitor/api/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[CollectorThread]:
    with history_collector(compat=("k8s-gpu",)) as (collector, _):
        yield collector


def _seed(server: CollectorThread, path: str, shape: Any, expect: int = 200,
          **params: object) -> Any:
    response = httpx.get(f"{server.http_base}{P}{path}", params=params, timeout=60)
    assert response.status_code == expect, response.text
    TypeAdapter(shape).validate_python(response.json(), strict=True)
    return response.json()


def _own(server: CollectorThread, path: str, **params: object) -> Any:
    response = httpx.get(f"{server.http_base}/api/v1{path}", params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _forecasts(server: CollectorThread) -> tuple[dict[str, Any], dict[str, Any]]:
    """(004's, gputel's) forecast for the next 6 h, asked within one hour (both end at the
    same whole hour, so both are fitted on the same points)."""
    for _ in range(3):
        own = _own(server, "/forecast", hours=6)
        data = _seed(server, "/gpu/forecast", s.Success[s.Forecast], hours=6)["data"]
        if _own(server, "/forecast", hours=6)["historyEnd"] == own["historyEnd"]:
            return data, own
    raise AssertionError("an hour kept turning between the calls")


def test_gpu_forecast_is_gputels(server: CollectorThread) -> None:
    data, own = _forecasts(server)
    assert [p["timestamp"] for p in data["forecast"]] == [
        p["time"] for p in own["utilization"]["points"]]
    assert [p["gpuUtilization"] for p in data["forecast"]] == [
        p["value"] for p in own["utilization"]["points"]]
    assert [p["allocatedGpusUpper"] for p in data["forecast"]] == [
        p["upper"] for p in own["allocatedGpus"]["points"]]
    assert data["historyEnd"] == own["historyEnd"]
    assert data["method"]["gpuUtilization"] == own["utilization"]["method"]["model"]
    assert data["totalGpus"] == 11
    resources = _seed(server, "/resources/forecast", s.Success[s.Forecast], hours=6)
    assert resources["data"]["cpu"] is None  # GPUs only, and named missing
    assert "cpu" in resources["missing"][0]


def test_a_forecast_beyond_the_history_is_its_error(server: CollectorThread) -> None:
    body = _seed(server, "/gpu/forecast", s.Failure, 400, hours=1000)
    assert body["error"]["code"] == "INVALID_PARAMETER"


def test_cost_analysis_projects_the_window_rate(server: CollectorThread) -> None:
    data = _seed(server, "/gpu/cost/analysis", s.Success[s.CostAnalysis], days=7)["data"]
    per_day = data["totalCost"] / (data["coveredSeconds"] / 86400)
    assert (data["dailyCost"], data["weeklyCost"], data["monthlyCost"]) == (
        per_day, per_day * 7, per_day * 30)
    own = _own(server, "/cost", days=7)
    assert data["totalCost"] == pytest.approx(own["total"]["totalCost"], rel=1e-9)
    assert data["coveredSeconds"] == pytest.approx(own["projection"]["coveredSeconds"],
                                                   abs=30)
    # Only flat's GPU 1 idles: (ticks - 1) minutes at PRICE, carried to 30 days.
    idle_cost = PRICE * (TICKS - 1) * PERIOD_NS / HOUR_NS
    assert data["potentialMonthlySavings"] == pytest.approx(
        idle_cost / data["coveredSeconds"] * 86400 * 30, rel=1e-9)


def test_cost_optimization_names_the_idle_pod(server: CollectorThread) -> None:
    data = _seed(server, "/gpu/cost/optimization", s.Success[s.CostOptimization],
                 days=7)["data"]
    [only] = data["recommendations"]
    own = next(w for w in _own(server, "/cost", days=7)["byWorkload"] if w["key"] == "ml/flat")
    assert (only["workloadUid"], only["namespace"], only["type"]) == (
        "ml/flat", "ml", "RELEASE_IDLE_GPUS")
    assert only["idleGpuHours"] == pytest.approx(own["idleGpuHours"], rel=1e-9)
    assert only["idleCost"] == pytest.approx(own["idleCost"], rel=1e-9)
    assert only["potentialMonthlySavings"] == pytest.approx(data["potentialMonthlySavings"],
                                                            rel=1e-9)
    assert data["idlePercent"] == 5.0


def test_webhook_registration_is_a_gputel_hook_in_its_format(server: CollectorThread) -> None:
    body = {"name": "slack-notifications", "url": "http://127.0.0.1:9/hook",
            "events": ["GPU_OVERHEATING", "COST_THRESHOLD_EXCEEDED"], "secret": "k",
            "active": False}
    response = httpx.post(f"{server.http_base}{P}/webhooks", json=body, timeout=10)
    assert response.status_code == 200, response.text
    hook = s.Success[s.Webhook].model_validate(response.json()).data
    [own] = [h for h in _own(server, "/webhooks") if h["id"] == hook.id]
    assert (own["name"], own["events"], own["format"], own["secretSet"], own["active"]) == (
        "slack-notifications", body["events"], "k8s-gpu", True, False)
    refused = httpx.post(f"{server.http_base}{P}/webhooks", timeout=10,
                         json={**body, "name": "x", "events": ["NOT_AN_EVENT"]})
    assert refused.status_code == 400
    assert s.Failure.model_validate(refused.json()).error.code == "INVALID_PARAMETER"
    unknown_key = httpx.post(f"{server.http_base}{P}/webhooks", timeout=10,
                             json={**body, "name": "y", "retries": 3})
    assert unknown_key.status_code == 400
