"""High availability: two collectors over one TSDB, two agents each given both addresses.
The collector an agent streams to is SIGKILLed five times at random moments; the agents
carry on through the other, every tick each agent took is in the TSDB exactly once, and
both collectors answer every read route the same."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gputel.agent.runtime import Agent
from gputel.collector.timefmt import format_time
from tests.harness.servers import (
    CollectorProcess,
    free_port,
    running_agent,
    wait_sampled,
)
from tests.prometheus.promserver import TsdbServer
from tests.scaleout.conftest import stored_ticks
from tests.scaleout.routes import route_urls, wait_agreeing

GPUS, RATE, TICKS, KILLS = 2, 20, 1000, 5


def _args(vm: TsdbServer) -> list[str]:
    return ["--store", "remote", "--tsdb-url", vm.base, "--tsdb-sync-interval", "0.2s"]


@pytest.mark.slow
def test_agents_fail_over_and_every_tick_is_stored_once(vm: TsdbServer, tmp_path: Path) -> None:
    rng = random.Random(14)
    ports = [free_port(), free_port()]
    collectors = {p: CollectorProcess(str(tmp_path / str(p)), p, _args(vm)).start()
                  for p in ports}
    targets = [f"127.0.0.1:{p}" for p in ports]
    try:
        with running_agent(",".join(targets), node="node-a", gpus=GPUS, rate_hz=RATE,
                           max_ticks=TICKS, flush_seconds=0.1, attribution="sim") as a, \
             running_agent(",".join(reversed(targets)), node="node-b", gpus=GPUS,
                           rate_hz=RATE, max_ticks=TICKS, flush_seconds=0.1, seed=99,
                           attribution="sim") as b:
            for _ in range(KILLS):
                # A random moment: after a random number of further acknowledgements.
                target = a.outbox.stats.frames_acked + rng.randint(1, 8)
                assert a.outbox.wait(lambda s, t=target: s.frames_acked >= t, timeout=30)
                assert a.stream is not None
                port = int(a.stream.target.rpartition(":")[2])
                collectors[port].kill()
                # The agent carries on through the other before this one comes back.
                assert a.outbox.wait(lambda s, t=target: s.frames_acked >= t + 5, timeout=30)
                collectors[port] = CollectorProcess(str(tmp_path / str(port)), port,
                                                    _args(vm)).start()
            assert wait_sampled(a, timeout=90)
            assert wait_sampled(b, timeout=90)
            assert a.stop(drain_timeout=30)
            assert b.stop(drain_timeout=30)
        assert a.stream is not None
        assert a.stream.stats.connects > KILLS, "node-a reconnected after every kill"
        for agent, node in ((a, "node-a"), (b, "node-b")):
            _assert_stored_once(vm, agent, node)
        ticks = a.backend.ticks  # type: ignore[attr-defined]
        window = {"start": format_time(ticks[0][0]), "end": format_time(ticks[-1][0])}
        first, second = (c.http_base for c in collectors.values())
        urls = route_urls(first, {"node": "node-a", **window})
        wait_agreeing(vm, first, second, urls)
    finally:
        for c in collectors.values():
            c.stop()


def _assert_stored_once(vm: TsdbServer, agent: Agent, node: str) -> None:
    assert agent.outbox.stats.frames_dropped == 0
    stored, expected, missing = stored_ticks(vm, agent.backend.ticks,  # type: ignore[attr-defined]
                                             node)
    assert stored == expected, f"{node}: every tick stored exactly once; missing {missing}"
