"""Partitions, spool overflow and agent restarts: nothing lost or doubled that the spool held."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gputel.collector.timefmt import format_time
from tests.harness.proxy import TcpProxy
from tests.harness.servers import (
    CollectorThread,
    get_json,
    running_agent,
    wait_sampled,
    wait_until,
)
from tests.harness.spools import FullDisk, SlowDisk

GPUS, METRICS = 2, 8


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[CollectorThread]:
    server = CollectorThread(data_dir=tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture
def proxy(durable: CollectorThread) -> Iterator[TcpProxy]:
    p = TcpProxy(durable.collector.grpc_port)
    yield p
    p.close()


def _metric(agent: object, name: str) -> float:
    port = agent.http.port  # type: ignore[attr-defined]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from the agent's /metrics"
    return float(match[1])


def _assert_every_tick_once(server: CollectorThread, node: str, ticks: list) -> None:
    status, body = get_json(f"{server.http_base}/api/v1/nodes/{node}/metrics", metric="power",
                            agg="count", step="50ms", start=format_time(ticks[0][0]),
                            end=format_time(ticks[-1][0]))
    assert status == 200
    for series in body["data"]["gpus"]:
        assert [v for _, v in series["points"]] == [1.0] * len(ticks)


@pytest.mark.slow
def test_a_partition_fills_the_spool_which_drains_after(durable: CollectorThread,
                                                        proxy: TcpProxy, tmp_path: Path) -> None:
    with running_agent(proxy.target, gpus=GPUS, rate_hz=20, flush_seconds=0.1,
                       spool_dir=tmp_path / "spool") as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 3, timeout=20)
        proxy.cut()
        wait_until(lambda: _metric(agent, "gputel_agent_outbox_frames") >= 8, what="spool rise")
        assert _metric(agent, "gputel_agent_collector_connected") == 0
        assert _metric(agent, "gputel_agent_spool_bytes") > 0
        proxy.restore()
        wait_until(lambda: _metric(agent, "gputel_agent_outbox_frames") <= 1, what="drain")
        assert _metric(agent, "gputel_agent_frames_dropped_total") == 0
        assert agent.stop(drain_timeout=10)
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    assert durable.collector.store.sample_count("node-a") == len(ticks) * GPUS * METRICS
    _assert_every_tick_once(durable, "node-a", ticks)


@pytest.mark.slow
def test_spool_overflow_drops_the_oldest_counts_them_and_keeps_the_newest(
        durable: CollectorThread, proxy: TcpProxy, tmp_path: Path) -> None:
    proxy.cut()
    with running_agent(proxy.target, gpus=GPUS, rate_hz=20, flush_seconds=0.1, max_ticks=24,
                       outbox_frames=5, spool_dir=tmp_path / "spool") as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.outbox.wait(lambda s: s.frames_queued == 12, timeout=10)
        assert _metric(agent, "gputel_agent_frames_dropped_total") == 7
        assert _metric(agent, "gputel_agent_outbox_frames") == 5
        proxy.restore()
        assert agent.stop(drain_timeout=20)
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    newest = ticks[-10:]  # the last 5 frames of 2 ticks each
    assert durable.collector.store.sample_count("node-a") == len(newest) * GPUS * METRICS
    _assert_every_tick_once(durable, "node-a", newest)


@pytest.mark.slow
def test_an_agent_restart_resends_its_spool_under_the_same_instance(
        durable: CollectorThread, proxy: TcpProxy, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    proxy.cut()
    with running_agent(proxy.target, gpus=GPUS, rate_hz=20, flush_seconds=0.1, max_ticks=10,
                       spool_dir=spool) as first:
        assert wait_sampled(first, timeout=30)
        assert not first.stop(drain_timeout=0.2), "nothing can be acknowledged during the cut"
    assert len(first.outbox) == 5
    proxy.restore()
    with running_agent(proxy.target, gpus=GPUS, rate_hz=20, flush_seconds=0.1, max_ticks=10,
                       spool_dir=spool) as second:
        assert second.instance == first.instance
        assert wait_sampled(second, timeout=30)
        assert second.stop(drain_timeout=20)
    ticks = first.backend.ticks + second.backend.ticks  # type: ignore[attr-defined]
    assert durable.collector.store.sample_count("node-a") == len(ticks) * GPUS * METRICS
    assert durable.collector.ingest.stats.duplicates == 0


@pytest.mark.slow
def test_a_full_spool_disk_drops_the_oldest_counted_keeps_sampling_and_drains_after(
        durable: CollectorThread, proxy: TcpProxy, tmp_path: Path) -> None:
    proxy.cut()
    with running_agent(proxy.target, gpus=GPUS, rate_hz=20, flush_seconds=0.1, max_ticks=40,
                       spool_dir=tmp_path / "spool",
                       spool_factory=lambda d: FullDisk(d, capacity=5)) as agent:
        assert agent.outbox.wait(lambda s: s.frames_queued == 20, timeout=30), \
            "sampling or framing stopped when the spool's disk filled"
        assert agent.sampler is not None
        assert agent.sampler.stats.ticks == 40
        assert _metric(agent, "gputel_agent_frames_dropped_total") == 15
        assert _metric(agent, "gputel_agent_outbox_frames") == 5
        assert _metric(agent, "gputel_agent_spool_write_errors_total") == 0  # room was made
        proxy.restore()
        assert agent.stop(drain_timeout=20), "frames stayed stuck after the collector returned"
    newest = agent.backend.ticks[-10:]  # type: ignore[attr-defined]
    assert durable.collector.store.sample_count("node-a") == len(newest) * GPUS * METRICS
    _assert_every_tick_once(durable, "node-a", newest)


@pytest.mark.slow
def test_a_stalled_spool_disk_never_stalls_the_tick(durable: CollectorThread,
                                                    tmp_path: Path) -> None:
    with running_agent(durable.grpc_target, gpus=GPUS, rate_hz=50, flush_seconds=0.02,
                       spool_dir=tmp_path / "spool", spool_factory=SlowDisk) as agent:
        spool = agent.spool
        assert isinstance(spool, SlowDisk)
        assert agent.sampler is not None
        assert spool.stalled.wait(10)  # the first frame's commit hangs from here on
        stalled_at = agent.sampler.stats.ticks
        sampler = agent.sampler
        wait_until(lambda: sampler.stats.ticks >= stalled_at + 25, timeout=10,
                   what="ticks while the spool's commit hangs")
        spool.release.set()
        assert agent.stop(drain_timeout=20)
    assert agent.handoff is not None
    assert agent.handoff.stats.ticks_dropped == 0
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    assert durable.collector.store.sample_count("node-a") == len(ticks) * GPUS * METRICS
