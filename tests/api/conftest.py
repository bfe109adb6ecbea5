"""A collector fed with known frames (tests/api/feed.py), shared by the API tests.

The numeric suites (test_routes_inventory.py, test_routes_usage.py, test_watch_sse.py) run
against each store (`backend`): the embedded one, and VictoriaMetrics and Prometheus through
`--store remote`. Over a TSDB the frames go to one collector and the answers come from a
second replica that never saw a stream, so every figure (samples, holdings, workloads,
energy, alerts) is what the TSDB gave back. The answers must be the same numbers, with two
tolerances, the TSDB's and no other:
- times are whole milliseconds (the TSDB's unit; `Fed.time` cuts a tick the same way);
- accumulated figures (energy, GPU-seconds, cost) agree to 1e-9 relative: a collector sums
  them in float64 and the TSDB gives them back at 12 significant digits on VictoriaMetrics.
  Sample values need none: the agent's float32 values are exact in float64 and in 12 digits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from gputel.collector.query.alerts import AlertRules
from gputel.collector.query.core import HealthPolicy
from gputel.collector.query.costs import Pricing
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.api.feed import Feed, feed
from tests.harness.servers import CollectorThread, get_json, wait_until
from tests.harness.tsdb import REMOTE_BACKENDS, comparable, remote_config, searchable, start_tsdb
from tests.prometheus.promserver import TsdbServer

RULES = AlertRules(temperature_celsius=85.0, idle_util_percent=5.0, idle_seconds=2.0,
                   xid_window_seconds=3600.0)
# Lost after 300 s without a sample: the fresh GPUs stay live however long the tests take.
POLICY = HealthPolicy(lost_after_periods=10, lost_after_min_seconds=300.0)
PRICING = Pricing(gpu_hour=2.0, gpu_hour_by_model=(("Beta", 4.0),), energy_kwh=0.5,
                  currency="EUR")
SETTINGS: dict[str, Any] = {"alert_rules": RULES, "health_policy": POLICY, "pricing": PRICING,
                            "alert_interval_seconds": 0.1, "rate_limit_per_second": 0.0}
BACKENDS = ("embedded", *REMOTE_BACKENDS)
# Relative tolerance of accumulated figures (float64 sums read back at 12 digits).
SUMS = 1e-9
FED_ALERTS = 5
# For the numeric suites: `pytestmark = EVERY_STORE` runs the module once per store.
EVERY_STORE = pytest.mark.parametrize("backend", BACKENDS, indirect=True, scope="package")


def approx(expected: object) -> Any:
    """`expected` within the suites' tolerance (SUMS, relative)."""
    return pytest.approx(expected, rel=SUMS)


@dataclass
class Fed:
    """The collector that answers, its feed, a QueryService stub, and the store behind it."""

    server: CollectorThread
    feed: Feed
    stub: pb_grpc.QueryServiceStub
    backend: str = "embedded"

    @property
    def api(self) -> str:
        return f"{self.server.http_base}/api/v1"

    @property
    def remote(self) -> bool:
        """True over a TSDB."""
        return self.backend != "embedded"

    def time(self, k: int) -> int:
        """Tick k's time as this store keeps it (Unix ns; whole ms over a TSDB)."""
        t = self.feed.tick(k)
        return t // 1_000_000 * 1_000_000 if self.remote else t

    def get(self, path: str, **params: object) -> tuple[Any, dict[str, Any]]:
        """GET /api/v1<path>: (data, meta), asserting a 200 with the envelope."""
        response = httpx.get(self.api + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"data", "meta"}
        return body["data"], body["meta"]

    def post_json(self, path: str, body: object) -> Any:
        """POST a JSON body to /api/v1<path>: its data, asserting a 200."""
        response = httpx.post(self.api + path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def post(self, path: str, **params: object) -> Any:
        """POST /api/v1<path>: its data, asserting a 200 with the envelope."""
        response = httpx.post(self.api + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["data"]


@pytest.fixture(scope="package")
def backend(request: pytest.FixtureRequest) -> str:
    """The store behind `fed`: embedded unless a module asks for EVERY_STORE."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture(scope="package")
def fed(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    if backend == "embedded":
        yield from _embedded()
    else:
        yield from _remote(backend, tmp_path_factory.mktemp(backend))


def _embedded() -> Iterator[Fed]:
    server = CollectorThread(**SETTINGS).start()
    fed_streams = feed(server.grpc_target)
    _wait_fed(server.http_base)
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield Fed(server, fed_streams, pb_grpc.QueryServiceStub(channel))
    fed_streams.close()
    server.stop()


def _remote(backend: str, workdir: Path) -> Iterator[Fed]:
    """Frames into one collector over the TSDB, answers from another."""
    tsdb = start_tsdb(backend, workdir)
    ingest = CollectorThread(**remote_config(tsdb, **SETTINGS)).start()
    replica = CollectorThread(**remote_config(tsdb, **SETTINGS)).start()
    fed_streams = feed(ingest.grpc_target)
    try:
        _wait_fed(ingest.http_base)
        _wait_caught_up(tsdb, ingest.http_base, replica.http_base)
        with grpc.insecure_channel(replica.grpc_target) as channel:
            yield Fed(replica, fed_streams, pb_grpc.QueryServiceStub(channel), backend)
    finally:
        fed_streams.close()
        replica.stop()
        ingest.stop()
        tsdb.stop()


def _wait_fed(base: str) -> None:
    wait_until(lambda: not get_json(f"{base}/api/v1/nodes/n3")[1]["data"]["connected"],
               what="n3's stream to end")
    wait_until(lambda: len(get_json(f"{base}/api/v1/alerts")[1]["data"]) == FED_ALERTS,
               what=f"{FED_ALERTS} alerts")


# What the replica reads back settles to what the collector that took the frames holds.
_CAUGHT_UP = ("/nodes", "/gpus", "/workloads", "/alerts")


def _wait_caught_up(tsdb: TsdbServer, ingest: str, replica: str) -> None:
    differing: list[tuple[str, Any, Any]] = []

    def same() -> bool:
        searchable(tsdb)
        differing[:] = [(path, a, b) for path in _CAUGHT_UP
                        if (a := _figures(ingest, path)) != (b := _figures(replica, path))]
        return not differing

    try:
        wait_until(same, timeout=30, interval=0.2, what="the replica to read back every figure")
    except AssertionError:
        pytest.fail(f"the replica's answers differ from the ingesting collector's: {differing}")


def _figures(base: str, path: str) -> Any:
    """A list route's data less what is the answering process's own (alert evaluation)."""
    return comparable(get_json(f"{base}/api/v1{path}", pageSize=1000)[1]["data"], {"updated"})
