"""GET /api/v1/watch, the Server-Sent Events twin of gRPC Watch, on the fed collector: the
same windows and numbers as the gRPC stream, errors before the stream as envelopes, and
streams that end when the collector stops instead of holding its shutdown."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gputel.collector.api.http.events import WatchUpdateOut
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.api.conftest import EVERY_STORE, Fed
from tests.api.feed import uuid
from tests.harness.servers import CollectorThread, wait_until


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) of each Server-Sent Event as it arrives."""
    kind = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield kind, json.loads(line[6:])


def _first(fed: Fed, count: int = 1, **params: Any) -> list[dict[str, Any]]:
    with httpx.stream("GET", f"{fed.api}/watch", params=params, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        out = []
        for kind, data in _events(response):
            assert kind == "update"
            WatchUpdateOut.model_validate(data)
            out.append(data)
            if len(out) == count:
                return out
    raise AssertionError("the stream ended early")


@EVERY_STORE
def test_watch_sse_gives_the_same_windows_as_grpc_watch(fed: Fed) -> None:
    gpu = uuid("n1", 0)
    for update in _first(fed, 2, node="n1", gpu=gpu, metric="power", interval="100ms"):
        (device,) = update["devices"]
        assert update["windowSeconds"] == 0.1
        assert (device["gpu"], device["index"], device["fraction"]) == (gpu, 0, 1.0)
        assert device["metrics"]["power"]["count"] == 1
        assert device["metrics"]["power"]["last"] == 349.0
    grpc_update = next(iter(fed.stub.Watch(pb.WatchRequest(
        workload="ml/infer-b", metrics=["power"], interval_ms=500))))
    (update,) = _first(fed, workload="ml/infer-b", metric="power", interval="0.5")
    (device,) = update["devices"]
    (twin,) = grpc_update.devices
    assert (device["gpu"], device["fraction"]) == (twin.gpu, twin.fraction) == (uuid("n1", 1), 0.5)
    stats = device["metrics"]["power"]
    assert (stats["avg"], stats["min"], stats["max"], stats["last"], stats["count"]) == (
        twin.metrics["power"].avg, twin.metrics["power"].min, twin.metrics["power"].max,
        twin.metrics["power"].last, twin.metrics["power"].count) == (100.0, 100.0, 100.0,
                                                                     100.0, 5)


@EVERY_STORE
def test_watch_sse_defaults_to_four_metrics_and_takes_several(fed: Fed) -> None:
    (update,) = _first(fed, node="n1")
    assert {tuple(sorted(d["metrics"])) for d in update["devices"]} == {
        ("gpu_util", "mem_used", "power", "temperature")}
    (update,) = _first(fed, node="n1", metric=["power", "temperature"], interval="50ms")
    assert {tuple(sorted(d["metrics"])) for d in update["devices"]} == {("power", "temperature")}


@pytest.mark.parametrize(("params", "status", "detail"), [
    ({"node": "nope"}, 404, {"kind": "node", "id": "nope"}),
    ({"workload": "ns/nope"}, 404, {"kind": "workload", "id": "ns/nope"}),
    ({"metric": "watts"}, 400, {"parameter": "metric"}),
    ({"interval": "1ms"}, 400, {"parameter": "interval"}),
    ({"interval": "2h"}, 400, {"parameter": "interval"}),
    ({"interval": "soon"}, 400, {"parameter": "interval"}),
    ({"window": "1s"}, 400, {"parameter": "window"}),
])
def test_a_bad_selection_is_refused_before_the_stream(fed: Fed, params: dict[str, str],
                                                      status: int, detail: dict[str, str]) -> None:
    response = httpx.get(f"{fed.api}/watch", params=params, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["details"] == detail


def test_open_streams_end_when_the_collector_stops() -> None:
    server = CollectorThread().start()
    ended = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{server.http_base}/api/v1/watch",
                          params={"interval": "1h"}, timeout=30) as response:
            for _ in response.iter_lines():
                pass
        ended.set()

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    wait_until(lambda: server.collector.http_guard.counts.open >= 1, what="the stream open")
    started = time.monotonic()
    server.stop()  # would wait for the stream forever if streams did not end
    assert ended.wait(5)
    assert time.monotonic() - started < 5
