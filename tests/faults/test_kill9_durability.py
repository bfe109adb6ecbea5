"""The durable collector SIGKILLed at random moments while agents stream: afterwards every
sample the agents produced is stored exactly once, with its exact value."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gputel.collector.timefmt import format_time
from tests.harness.servers import CollectorProcess, free_port, get_json, running_agent, wait_until

GPUS, METRICS, RATE = 2, 8, 20
KILLS = 5



@pytest.mark.slow
def test_acknowledged_and_unacknowledged_samples_survive_repeated_sigkill(tmp_path: Path) -> None:
    rng = random.Random(1234)
    port = free_port()
    collector = CollectorProcess(str(tmp_path / "data"), grpc_port=port).start()
    try:
        with running_agent(f"127.0.0.1:{port}", node="node-a", gpus=GPUS, rate_hz=RATE,
                           flush_seconds=0.1) as a, \
             running_agent(f"127.0.0.1:{port}", node="node-b", gpus=GPUS, rate_hz=RATE,
                           flush_seconds=0.1, seed=99) as b:
            for _ in range(KILLS):
                # A random moment: after a random number of further acknowledgements.
                target = a.outbox.stats.frames_acked + rng.randint(1, 8)
                assert a.outbox.wait(lambda s, t=target: s.frames_acked >= t, timeout=30)
                collector.kill()
                collector = CollectorProcess(str(tmp_path / "data"), grpc_port=port).start()
            for agent in (a, b):
                assert agent.stream is not None
                wait_until(lambda ag=agent: ag.stream.stats.connected, what="reconnect")
            assert a.stop(drain_timeout=20)
            assert b.stop(drain_timeout=20)
        for agent, node in ((a, "node-a"), (b, "node-b")):
            _assert_exactly_once(collector.http_base, node, agent)
    finally:
        collector.stop()


def _assert_exactly_once(base: str, node: str, agent: object) -> None:
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    assert agent.outbox.stats.frames_dropped == 0  # type: ignore[attr-defined]
    status, body = get_json(f"{base}/api/v1/nodes/{node}")
    assert status == 200
    assert body["data"]["samplesIngested"] == len(ticks) * GPUS * METRICS
    start, end = format_time(ticks[0][0]), format_time(ticks[-1][0])
    for col, metric in enumerate(("gpu_util", "power", "energy")):
        for agg in ("count", "last"):
            col_index = {"gpu_util": 0, "power": 4, "energy": 7}[metric]
            status, body = get_json(f"{base}/api/v1/nodes/{node}/metrics", metric=metric,
                                    agg=agg, step=f"{1000 // RATE}ms", start=start, end=end)
            assert status == 200
            for series in body["data"]["gpus"]:
                values = [v for _, v in series["points"]]
                if agg == "count":
                    assert values == [1.0] * len(ticks), f"{node} {metric}: lost or doubled"
                else:
                    want = [float(v[series["index"], col_index]) for _, v in ticks]
                    assert values == want
        del col


@pytest.mark.slow
def test_sigterm_stops_the_collector_cleanly_keeping_what_it_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    collector = CollectorProcess(str(tmp_path / "data"), grpc_port=port).start()
    with running_agent(f"127.0.0.1:{port}", gpus=GPUS, rate_hz=RATE, flush_seconds=0.1) as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 5, timeout=30)
        assert collector.stop() == 0  # SIGTERM: stop accepting, commit, exit 0
        acked_samples = agent.outbox.stats.samples_acked
        collector = CollectorProcess(str(tmp_path / "data"), grpc_port=port).start()
        try:
            assert agent.stop(drain_timeout=20)
            status, node = get_json(f"{collector.http_base}/api/v1/nodes/node-a")
            assert status == 200
            ticks = agent.backend.ticks  # type: ignore[attr-defined]
            assert node["data"]["samplesIngested"] == len(ticks) * GPUS * METRICS
            assert node["data"]["samplesIngested"] >= acked_samples
        finally:
            collector.stop()
