"""Rollup tiers: ranges older than the head are answered from 10 s / 5 min buckets, with the
same numbers as the raw samples; folding is exactly-once across repeats and restarts."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from gputel.collector.storage.rollups import DEFAULT_TIERS
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.servers import CollectorThread

TICKS_PER_FRAME, FRAMES = 50, 24  # 5 s frames at 10 Hz: 2 minutes of samples


def _feed(server: CollectorThread, t0: int) -> None:
    raw = RawStream(server.grpc_target)
    raw.send_hello(hello(node="old", n_devices=1))
    assert raw.answer().WhichOneof("kind") == "welcome"
    for f in range(FRAMES):
        raw.send_frame(good_frame(f + 1, ticks=TICKS_PER_FRAME, devices=1,
                                  t0_ns=t0 + f * TICKS_PER_FRAME * 100_000_000))
        assert raw.answer().ack.seq == f + 1
    raw.close()


def _expected(t0: int, metric_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and values good_frame sent for one metric."""
    ts, vals = [], []
    for f in range(FRAMES):
        for k in range(TICKS_PER_FRAME):
            ts.append(t0 + (f * TICKS_PER_FRAME + k) * 100_000_000)
            vals.append(float(metric_index * TICKS_PER_FRAME + k))
    return np.array(ts), np.array(vals)


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "count", "last"])
def test_old_ranges_come_from_rollups_with_the_raw_numbers(tmp_path: Path, agg: str) -> None:
    server = CollectorThread(data_dir=tmp_path / "d", retention_seconds=600).start()
    try:
        t0 = (time.time_ns() - 2 * 3600 * 10**9) // (300 * 10**9) * (300 * 10**9)
        _feed(server, t0)
        server.run(server.collector.maintain_now())
        step = 10 * 10**9
        start, end = t0 + step, t0 + FRAMES * TICKS_PER_FRAME * 100_000_000
        answer = server.collector.query.query_range("old", "power", start, end, step, agg)
        ts, vals = _expected(t0, metric_index=4)
        got = dict(zip(answer.gpus[0].ts_ns.tolist(), answer.gpus[0].values.tolist(),
                       strict=True))
        assert len(got) == 12  # 2 minutes of 10 s buckets
        for t, value in got.items():
            # A bucket holds [b, b + 10 s), so an aligned point aggregates [t - step, t).
            window = vals[(ts >= t - step) & (ts < t)]
            want = {"avg": window.mean(), "min": window.min(), "max": window.max(),
                    "sum": window.sum(), "count": window.size, "last": window[-1]}[agg]
            assert value == pytest.approx(want, rel=1e-12)
    finally:
        server.stop()


def test_folding_is_exactly_once_across_repeats_and_restarts(tmp_path: Path) -> None:
    t0 = (time.time_ns() - 1200 * 10**9) // (300 * 10**9) * (300 * 10**9)  # inside the head
    first = CollectorThread(data_dir=tmp_path / "d").start()
    _feed(first, t0)
    first.run(first.collector.maintain_now())
    first.run(first.collector.maintain_now())
    first.stop()
    second = CollectorThread(data_dir=tmp_path / "d").start()
    try:
        second.run(second.collector.maintain_now())
        rows = second.collector.query._rollups
        assert rows is not None
        for tier in DEFAULT_TIERS:
            buckets = rows.read(tier.step_ns, "old", "GPU-raw-0", "power", 0, 2**62)
            assert int(buckets.count.sum()) == FRAMES * TICKS_PER_FRAME
        # The restarted collector recovered its head and its duplicate detection too.
        assert second.collector.store.sample_count("old") == FRAMES * TICKS_PER_FRAME * 8
        assert second.collector.ingest.held("old", "raw-1", FRAMES)
    finally:
        second.stop()

