"""A collector fed with known frames (tests/api/feed.py), shared by the API tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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

RULES = AlertRules(temperature_celsius=85.0, idle_util_percent=5.0, idle_seconds=2.0,
                   xid_window_seconds=3600.0)
# Lost after 300 s without a sample: the fresh GPUs stay live however long the tests take.
POLICY = HealthPolicy(lost_after_periods=10, lost_after_min_seconds=300.0)
PRICING = Pricing(gpu_hour=2.0, gpu_hour_by_model=(("Beta", 4.0),), energy_kwh=0.5,
                  currency="EUR")


@dataclass
class Fed:
    """The fed collector, its feed, and a QueryService stub."""

    server: CollectorThread
    feed: Feed
    stub: pb_grpc.QueryServiceStub

    @property
    def api(self) -> str:
        return f"{self.server.http_base}/api/v1"

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
def fed() -> Iterator[Fed]:
    server = CollectorThread(alert_rules=RULES, health_policy=POLICY, pricing=PRICING,
                             alert_interval_seconds=0.1, rate_limit_per_second=0.0).start()
    fed_streams = feed(server.grpc_target)
    base = f"{server.http_base}/api/v1"
    wait_until(lambda: not get_json(f"{base}/nodes/n3")[1]["data"]["connected"],
               what="n3's stream to end")
    wait_until(lambda: len(get_json(f"{base}/alerts")[1]["data"]) == 5, what="five alerts")
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield Fed(server, fed_streams, pb_grpc.QueryServiceStub(channel))
    fed_streams.close()
    server.stop()
