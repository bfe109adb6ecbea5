"""The workload index over real gRPC streams: holdings end with their node's stream, a pod
belongs to the node that holds it, energy is bounded by the device's own power, and the
index forgets ended workloads after their retention (or beyond its cap)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.harness.held_frames import PERIOD, held_frame, open_node, pod, send
from tests.harness.raw_stream import RawStream
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


def test_a_node_cannot_claim_a_pod_another_node_holds(server: CollectorThread) -> None:
    t0 = time.time_ns() - 2 * 10**9
    home = open_node(server.grpc_target, "a")
    send(home, held_frame(1, t0, range(10), {0: [("uid-p", 1.0)]},
                          [pod("uid-p", team="a")]))  # 100 W: 10 J a tick, 9 intervals
    intruder = open_node(server.grpc_target, "b")
    forged = np.array([0.0, 9e9, *([9e9] * 8)])  # a 9e9 J counter jump
    send(intruder, held_frame(1, t0, range(10), {0: [("uid-p", 1.0)]},
                              [pod("uid-p", team="evil")], joules=forged))
    p = _get(server, "/workloads/uid-p")
    assert p["labels"] == {"team": "a"}
    assert [(h["node"], h["gpu"]) for h in p["held"]] == [("a", "GPU-a-0")]
    assert p["energyJoules"] == pytest.approx(90.0)
    assert p["gpuSecondsAllocated"] == pytest.approx(0.9)
    assert _metric(server, "gputel_collector_messages_rejected_total",
                   reason="workload_foreign") >= 1
    b = _get(server, "/gpus/GPU-b-0")  # the intruder's own device data is still stored
    assert (b["latest"]["power"], b["heldBy"]) == (100.0, [])
    assert [w["uid"] for w in _get(server, "/nodes/b/workloads")] == []


def test_energy_is_bounded_by_the_devices_own_power(server: CollectorThread) -> None:
    t0 = time.time_ns() - 2 * 10**9
    stream = open_node(server.grpc_target, "c")
    forged = np.array([0.0, 9e9, *([9e9] * 8)])
    send(stream, held_frame(1, t0, range(10), {0: [("uid-q", 1.0)]}, [pod("uid-q")],
                            joules=forged))
    q = _get(server, "/workloads/uid-q")
    # 100 W for 0.9 s is 90 J; nothing near 9e9 J is plausible for this GPU.
    assert 0 < q["energyJoules"] <= 0.9 * (2 * 100 + 50)
    assert _get(server, "/gpus/GPU-c-0")["energyJoules"] == pytest.approx(q["energyJoules"])
    assert _metric(server, "gputel_collector_messages_rejected_total",
                   reason="energy_implausible") >= 1


def test_a_gpus_energy_counter_counts_across_a_stalled_agent_and_a_gap_charges_nobody(
        server: CollectorThread) -> None:
    """100 W, a counter rising 10 J a tick. Frames: ticks 0-9, 12-21 (the sampler skipped two
    ticks: an interval of 3 periods, as a frame may hold), 40-49 (away 19 periods: a gap)."""
    t0 = time.time_ns() - 6 * 10**9
    stream = open_node(server.grpc_target, "s")
    for seq, ticks in enumerate((range(10), range(12, 22), range(40, 50)), start=1):
        send(stream, held_frame(seq, t0, ticks, {0: [("ns/s", 1.0)]}, [pod("ns/s")]))
    gpu = _get(server, "/gpus/GPU-s-0")
    held = _get(server, "/workloads/ns/s")
    # The device's joules are its counter's own difference, 490 J from tick 0 to tick 49.
    assert gpu["energyJoules"] == pytest.approx(490.0, rel=1e-9)
    # The workload is charged every interval but the gap's: 9 + 3 + 9 + 9 ticks.
    assert held["energyJoules"] == pytest.approx(300.0, rel=1e-9)
    assert held["gpuSecondsAllocated"] == pytest.approx(3.0, rel=1e-9)
    assert gpu["unattributedEnergyJoules"] == pytest.approx(190.0, rel=1e-9)  # the gap's
    stream.close()


def _short_lived(stream: RawStream, seq: int, t0: int, uid: str) -> int:
    """One pod held for a frame, released the next; returns the next seq."""
    send(stream, held_frame(seq, t0, range(5), {0: [(uid, 1.0)]}, [pod(uid)]))
    send(stream, held_frame(seq + 1, t0, range(5, 10), {}, []))
    return seq + 2


def test_ended_workloads_are_forgotten_after_their_retention() -> None:
    server = CollectorThread(workload_retention_seconds=60.0, rate_limit_per_second=0.0).start()
    try:
        now = time.time_ns()
        stream = open_node(server.grpc_target, "n1", devices=2)
        seq = 1
        for i in range(3):  # ended two minutes ago
            seq = _short_lived(stream, seq, now - 120 * 10**9 + i * 10**9, f"old-{i}")
        seq = _short_lived(stream, seq, now - 5 * 10**9, "recent")
        send(stream, held_frame(seq, now - 2 * 10**9, range(10), {1: [("live", 1.0)]},
                                [pod("live")], devices=2))
        assert len(_get(server, "/workloads")) == 5
        server.run(server.collector.maintain_now())
        assert [w["uid"] for w in _get(server, "/workloads")] == ["live", "recent"]
        assert _metric(server, "gputel_collector_workloads_dropped_total",
                       reason="retention") == 3
        assert _metric(server, "gputel_collector_workloads") == 2
        text = httpx.get(f"{server.http_base}/metrics", timeout=10).text
        gpus = [line for line in text.splitlines() if line.startswith("gputel_workload_gpus{")]
        (only,) = gpus  # only live workloads are exported
        assert 'uid="live"' in only
        stream.close()
    finally:
        server.stop()


def test_the_index_holds_at_most_max_workloads_oldest_ended_first() -> None:
    server = CollectorThread(max_workloads=3, rate_limit_per_second=0.0).start()
    try:
        now = time.time_ns() - 60 * 10**9
        stream = open_node(server.grpc_target, "n1")
        seq = 1
        for i in range(5):
            seq = _short_lived(stream, seq, now + i * 10**9, f"pod-{i}")
        assert [w["uid"] for w in _get(server, "/workloads")] == ["pod-2", "pod-3", "pod-4"]
        assert _metric(server, "gputel_collector_workloads_dropped_total", reason="cap") == 2
        stream.close()
    finally:
        server.stop()
