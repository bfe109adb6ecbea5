"""The workload index over real gRPC streams: holdings end with their node's stream, a pod
belongs to the node that holds it, energy is bounded by the device's own power, and the
index forgets ended workloads after their retention (or beyond its cap)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.harness.held_frames import PERIOD, held_frame, open_node, pod, send
from tests.harness.servers import CollectorThread, get_json, wait_until


@pytest.fixture
def server() -> Iterator[CollectorThread]:
    collector = CollectorThread(rate_limit_per_second=0.0).start()
    yield collector
    collector.stop()


def _get(server: CollectorThread, path: str, **params: object) -> dict:
    status, body = get_json(f"{server.http_base}/api/v1{path}", **params)
    assert status == 200, body
    return body["data"]  # type: ignore[no-any-return]


def _metric(server: CollectorThread, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when absent)."""
    text = httpx.get(f"{server.http_base}/metrics", timeout=10).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{name}(?:\{{{re.escape(want)}\}})? (\S+)$" if want else rf"^{name} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def test_a_dead_nodes_workloads_end_with_its_stream(server: CollectorThread) -> None:
    t0 = time.time_ns() - 10**9
    stream = open_node(server.grpc_target, "n1")
    send(stream, held_frame(1, t0, range(10), {0: [("ns/p", 1.0)]}, [pod("ns/p")]))
    assert _get(server, "/workloads/ns/p")["status"] == "running"
    stream.close()
    wait_until(lambda: not _get(server, "/nodes/n1")["connected"], what="n1 to disconnect")
    ended = _get(server, "/workloads/ns/p")
    assert (ended["status"], ended["held"], ended["gpus"]) == ("ended", [], 0.0)
    assert _get(server, "/nodes/n1/workloads") == []
    assert _get(server, "/gpus/GPU-n1-0")["heldBy"] == []
    # Its agent comes back and restates the holding: running again.
    again = open_node(server.grpc_target, "n1", instance="raw-2")
    send(again, held_frame(1, t0 + 10 * PERIOD, range(10), {0: [("ns/p", 1.0)]},
                           [pod("ns/p")]))
    assert _get(server, "/workloads/ns/p")["status"] == "running"
    again.close()
