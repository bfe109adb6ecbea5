"""Forecasts and cost projections against series whose answer is known (tests/api/history.py):
a constant stays that constant inside its interval, a ramp continues, a daily cycle repeats;
projections are the window's rate times the period, exactly; REST = gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import grpc
import httpx
import pytest

from gputel.collector.api.http.cluster_models import CostOut
from gputel.collector.api.http.forecast import ForecastOut
from gputel.collector.api.http.wire import Answer
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.api.history import HOUR_NS, PERIOD_NS, PRICE, TICKS, History, history_collector
from tests.harness.servers import CollectorThread

MODELS = {"/forecast": Answer[ForecastOut], "/cost": Answer[CostOut]}


class Fed:
    def __init__(self, server: CollectorThread, history: History,
                 stub: pb_grpc.QueryServiceStub) -> None:
        self.server, self.history, self.stub = server, history, stub

    def call(self, path: str, **params: object) -> httpx.Response:
        return httpx.get(f"{self.server.http_base}/api/v1{path}", params=params, timeout=60)

    def get(self, path: str, **params: object) -> Any:
        """GET /api/v1<path>: its data, the answer validated against the route's model."""
        response = self.call(path, **params)
        assert response.status_code == 200, response.text
        MODELS[path].model_validate(response.json())
        return response.json()["data"]


@pytest.fixture(scope="module")
def fed() -> Iterator[Fed]:
    with history_collector() as (server, history), \
            grpc.insecure_channel(server.grpc_target) as channel:
        yield Fed(server, history, pb_grpc.QueryServiceStub(channel))


def _ns(text: str) -> int:
    whole, _, frac = text.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
    return round(seconds) * 10**9 + int((frac or "0").ljust(9, "0"))


def _values(series: dict[str, Any], key: str = "value") -> list[float]:
    return [p[key] for p in series["points"]]


def test_a_constant_stays_constant_inside_its_interval(fed: Fed) -> None:
    f = fed.get("/forecast", node="flat", hours=12)
    util, held = f["utilization"], f["allocatedGpus"]
    assert len(util["points"]) == 12
    # 72 h of minutes touch 72 or 73 whole hours, however the first minute falls.
    assert util["historyPoints"] == (_ns(f["historyEnd"]) - _ns(f["historyStart"])) // HOUR_NS + 1
    assert util["historyPoints"] in (72, 73)
    assert _ns(f["historyEnd"]) % HOUR_NS == 0  # the default end: now, to a whole hour
    for p in util["points"]:
        assert p["value"] == pytest.approx(21.0, abs=1e-3)
        assert p["lower"] <= 21.0 + 1e-3
        assert p["upper"] >= 21.0 - 1e-3
    assert _values(held) == pytest.approx([2.0] * 12, abs=1e-6)
    assert util["method"]["model"] == "ETS(A,A,A) Holt-Winters"
    assert util["method"]["library"].startswith("statsmodels ")
    assert f["intervalLevel"] == 0.95


def test_a_ramp_continues(fed: Fed) -> None:
    f = fed.get("/forecast", node="ramp", hours=24)
    times = [_ns(p["time"]) for p in f["utilization"]["points"]]
    truth = fed.history.truth("ramp", times)
    assert _values(f["utilization"]) == pytest.approx(truth, abs=0.25)
    for p, want in zip(f["utilization"]["points"], truth, strict=True):
        assert p["lower"] <= want <= p["upper"]
    held = _values(f["allocatedGpus"])  # 6 held now, one more every 12 h so far
    assert held[0] >= 6
    assert held[-1] > held[0]
    assert max(p["upper"] for p in f["allocatedGpus"]["points"]) <= 8  # clipped to the GPUs
    assert f["totalGpus"] == 8


def test_a_daily_cycle_repeats(fed: Fed) -> None:
    f = fed.get("/forecast", node="cycle", hours=24)
    times = [_ns(p["time"]) for p in f["utilization"]["points"]]
    truth = fed.history.truth("cycle", times)
    assert _values(f["utilization"]) == pytest.approx(truth, abs=0.5)
    assert f["utilization"]["method"]["seasonalPeriods"] == 24
    assert set(f["utilization"]["method"]["params"]) == {
        "smoothing_level", "smoothing_trend", "smoothing_seasonal"}
    assert times[0] - _ns(f["historyEnd"]) == HOUR_NS
    # Less than two days of history: no season, and the method says so.
    short = fed.get("/forecast", node="cycle", hours=6, history=40)
    method = short["utilization"]["method"]
    assert (method["model"], method["seasonalPeriods"]) == ("ETS(A,A,N) Holt", 0)
    assert set(method["params"]) == {"smoothing_level", "smoothing_trend"}


def test_rest_and_grpc_forecast_the_same(fed: Fed) -> None:
    end = fed.history.t0 + 50 * HOUR_NS + 10**9  # a forecast as of two hours ago
    http = fed.get("/forecast", node="cycle", hours=6, step="30m", history=60,
                   end=f"{end // 10**9}.{end % 10**9:09d}")
    got = fed.stub.Forecast(pb.ForecastRequest(node="cycle", hours=6, step_ns=HOUR_NS // 2,
                                               history_hours=60, end_ns=end))
    assert len(got.ts_ns) == 12
    assert got.step_ns == HOUR_NS // 2
    assert list(got.utilization.mean) == _values(http["utilization"])
    assert list(got.utilization.upper) == _values(http["utilization"], "upper")
    assert list(got.allocated_gpus.lower) == _values(http["allocatedGpus"], "lower")
    assert got.utilization.method.seasonal_periods == 48
    assert got.history_start_ns == _ns(http["historyStart"])


@pytest.mark.parametrize(("params", "parameter"), [
    ({"history": 5}, "history"),  # five hourly points: too little to fit
    ({"hours": 0}, "hours"), ({"hours": 10_000}, "hours"),
    ({"step": "1s"}, "step"), ({"history": -1}, "history")])
def test_bad_forecast_requests_are_400_naming_the_parameter(
        fed: Fed, params: dict[str, object], parameter: str) -> None:
    response = fed.call("/forecast", **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["parameter"]) == ("INVALID_PARAMETER", parameter)


def test_too_little_history_over_grpc_is_invalid_argument(fed: Fed) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        fed.stub.Forecast(pb.ForecastRequest(history_hours=5))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "history" in (caught.value.details() or "")
    assert fed.call("/forecast", node="nowhere").status_code == 404


def test_projections_are_the_window_rate_times_the_period(fed: Fed) -> None:
    cost = fed.get("/cost", days=7)
    p, total = cost["projection"], cost["total"]
    assert p["coveredSeconds"] == pytest.approx((_ns(cost["end"]) - fed.history.t0) / 1e9,
                                                abs=1e-6)
    per_day = total["totalCost"] / (p["coveredSeconds"] / 86400)
    assert p["daily"] == per_day
    assert (p["hourly"], p["weekly"], p["monthly"]) == (per_day / 24, per_day * 7, per_day * 30)
    assert p["potentialMonthlySavings"] == total["idleCost"] / (p["coveredSeconds"] / 86400) * 30
    assert "30 d" in p["method"]
    # flat's GPU 1 idles at 2 %, held all along: (ticks - 1) minutes idle, at 2.0 an hour.
    flat = next(w for w in cost["byWorkload"] if w["key"] == "ml/flat")
    idle_hours = (TICKS - 1) * PERIOD_NS / HOUR_NS
    assert flat["idleGpuHours"] == pytest.approx(idle_hours, rel=1e-9)
    assert flat["idleCost"] == pytest.approx(PRICE * idle_hours, rel=1e-9)
    assert flat["gpuHours"] == pytest.approx(2 * idle_hours, rel=1e-9)
    assert total["idleCost"] == pytest.approx(flat["idleCost"], rel=1e-9)  # nothing else idles
    got = fed.stub.Cost(pb.CostRequest(days=7))
    assert got.projection.potential_monthly_savings == pytest.approx(
        p["potentialMonthlySavings"], rel=1e-6)
    assert got.total.idle_gpu_hours == pytest.approx(total["idleGpuHours"], rel=1e-9)
