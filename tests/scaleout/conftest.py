"""Real TSDBs for the scale-out tests: VictoriaMetrics single-node and Prometheus with its
remote-write receiver, each in a tmp dir on a loopback port, and collectors over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.harness.servers import CollectorThread
from tests.harness.tsdb import REMOTE_BACKENDS, remote_config, searchable, start_tsdb
from tests.prometheus.promserver import TsdbServer


@pytest.fixture(params=REMOTE_BACKENDS)
def tsdb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TsdbServer]:
    """Each remote backend in turn."""
    server = start_tsdb(request.param, tmp_path / request.param)
    yield server
    server.stop()


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[TsdbServer]:
    """VictoriaMetrics alone (the HA tests)."""
    server = start_tsdb("victoria-metrics", tmp_path / "vm")
    yield server
    server.stop()


def stored_ticks(server: TsdbServer, ticks: list[tuple[int, np.ndarray]], node: str = ""
                 ) -> tuple[dict[int, int], dict[int, int], list[int]]:
    """Samples the TSDB holds per tick ms (of `node`, or all), the agent's non-NaN values
    per tick ms, and the indexes of ticks with nothing stored."""
    searchable(server)
    only = f', node="{node}"' if node else ""
    held = server.samples(f'{{__name__=~"gputel_store_.+"{only}}}', "15m",
                          at=ticks[-1][0] / 1e9 + 1)
    stored: dict[int, int] = {}
    for samples in held.values():
        for t, _ in samples:
            stored[round(t * 1000)] = stored.get(round(t * 1000), 0) + 1
    expected = {t // 1_000_000: int(np.count_nonzero(~np.isnan(v))) for t, v in ticks}
    missing = [i for i, (t, _) in enumerate(ticks) if t // 1_000_000 not in stored]
    return stored, expected, missing


@pytest.fixture
def remote_collectors(tsdb: TsdbServer) -> Iterator[Callable[..., CollectorThread]]:
    """Start collectors over the TSDB (each stopped at the end)."""
    started: list[CollectorThread] = []

    def make(**more: object) -> CollectorThread:
        started.append(CollectorThread(**remote_config(tsdb, **more)).start())
        return started[-1]

    yield make
    for c in started:
        c.stop()
