"""The collector is SIGKILLed and started again while the agent runs: the agent reconnects by
itself and resends every frame that was not acknowledged, none twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from gputel.collector.timefmt import format_time
from tests.harness.servers import CollectorProcess, free_port, get_json, running_agent, wait_until

GPUS, METRICS = 4, 8



@pytest.mark.slow
def test_agent_resends_what_the_killed_collector_did_not_acknowledge(tmp_path: Path) -> None:
    port = free_port()
    args = ["--store", "memory"]  # a forgetful collector: only the agent's resend saves data
    first = CollectorProcess(str(tmp_path), grpc_port=port, args=args).start()
    with running_agent(f"127.0.0.1:{port}", gpus=GPUS, rate_hz=20,
                       flush_seconds=0.25) as agent:
        stream, outbox = agent.stream, agent.outbox
        assert stream is not None
        assert outbox.wait(lambda s: s.frames_acked >= 4, timeout=20)
        first.kill()
        wait_until(lambda: not stream.stats.connected, what="the agent to notice the kill")
        acked_by_first = outbox.stats.ticks_acked
        # While the collector is away, frames pile up in the outbox instead of being lost.
        assert outbox.wait(lambda s: s.frames_queued - s.frames_acked >= 3, timeout=20)

        second = CollectorProcess(str(tmp_path), grpc_port=port, args=args).start()
        try:
            wait_until(lambda: stream.stats.connects >= 2, what="the agent to reconnect")
            assert outbox.wait(lambda s: s.frames_acked >= s.frames_queued - 1, timeout=20)
            assert agent.stop(drain_timeout=10), "everything is acknowledged after the restart"
            total_ticks = agent.sampler.stats.ticks  # type: ignore[union-attr]

            status, node = get_json(f"{second.http_base}/api/v1/nodes/node-a")
            assert status == 200
            unacked_ticks = total_ticks - acked_by_first
            assert node["data"]["samplesIngested"] == unacked_ticks * GPUS * METRICS
            assert outbox.stats.frames_dropped == 0

            # No tick twice: with the step equal to the sample period, every window
            # that holds a sample holds exactly one.
            ticks = agent.backend.ticks  # type: ignore[attr-defined]
            status, body = get_json(
                f"{second.http_base}/api/v1/nodes/node-a/metrics", metric="power", agg="count",
                step="50ms", start=format_time(ticks[0][0]), end=format_time(ticks[-1][0]))
            assert status == 200
            for series in body["data"]["gpus"]:
                counts = [v for _, v in series["points"]]
                assert counts == [1.0] * unacked_ticks
        finally:
            assert second.stop() == 0
