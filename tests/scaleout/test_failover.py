"""High availability: two collectors over one TSDB, two agents each given both addresses.
The collector an agent streams to is SIGKILLed five times at random moments; the agents
carry on through the other, every tick each agent took is in the TSDB exactly once, and
both collectors answer every read route the same."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from gputel.agent.runtime import Agent
from gputel.collector.timefmt import format_time
from tests.harness.servers import (
    CollectorProcess,
    free_port,
    running_agent,
    wait_sampled,
    wait_until,
)
from tests.prometheus.promserver import TsdbServer
from tests.scaleout.conftest import searchable
from tests.scaleout.routes import differing, route_urls

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
        seen: list[list[str]] = [[]]

        def agree() -> bool:
            searchable(vm)
            seen[0] = differing(first, second, urls)
            return not seen[0]

        try:
            wait_until(agree, timeout=30, interval=0.5, what="both collectors to agree")
        except AssertionError:
            pytest.fail(f"routes that differ: {seen[0]}")
    finally:
        for c in collectors.values():
            c.stop()


def _assert_stored_once(vm: TsdbServer, agent: Agent, node: str) -> None:
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    assert agent.outbox.stats.frames_dropped == 0
    searchable(vm)
    held = vm.samples(f'{{__name__=~"gputel_store_.+", node="{node}"}}', "15m",
                      at=ticks[-1][0] / 1e9 + 1)
    per_tick: dict[int, int] = {}
    for samples in held.values():
        for t, _ in samples:
            per_tick[round(t * 1000)] = per_tick.get(round(t * 1000), 0) + 1
    expected = {t // 1_000_000: int(np.count_nonzero(~np.isnan(v))) for t, v in ticks}
    missing = [i for i, (t, _) in enumerate(ticks) if t // 1_000_000 not in per_tick]
    assert per_tick == expected, f"{node}: every tick stored exactly once; missing {missing}"
