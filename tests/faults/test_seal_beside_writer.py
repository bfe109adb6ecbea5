"""A seal's block is written beside the writer thread: frames committed meanwhile (a late
frame of old ticks included) are neither lost nor sealed twice; a crash after the block file
is written but before its seal commits loses and doubles nothing; a data directory from
before the head's commit numbers still opens and seals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest

from gputel.collector.storage.durable import DurableStore
from gputel.collector.storage.engine import DB_NAME, SCHEMA, DeviceRows, Engine, Tier
from gputel.collector.storage.rollups import RollupReader

SECOND = 10**9
T0 = 1_700_000_000 * SECOND
GPUS = ("GPU-a", "GPU-b")
METRICS = ("power", "gpu_util")
STEP = Tier(10 * SECOND, 10**6 * SECOND)
LATE = 7  # the second the agent sends last (a resend of a spooled frame)
WAIT_S = 30.0


def _frame(second: int) -> list[DeviceRows]:
    """Ten ticks of both GPUs; values unique per (GPU, tick)."""
    tick = second * 10 + np.arange(10)
    ts = T0 + tick.astype(np.int64) * 100_000_000
    return [(uuid, ts, (0, 1), np.vstack((100.0 + tick + g / 4, (tick + g) % 101.0)))
            for g, uuid in enumerate(GPUS)]


def _expected(seconds: int) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    tick = np.arange(seconds * 10)
    ts = T0 + tick.astype(np.int64) * 100_000_000
    for g, uuid in enumerate(GPUS):
        yield uuid, "power", ts, 100.0 + tick + g / 4
        yield uuid, "gpu_util", ts, (tick + g) % 101.0


def _assert_all_once(engine: Engine, seconds: int) -> None:
    for uuid, metric, ts, values in _expected(seconds):
        got_ts, got = engine.read("n", uuid, metric, T0, T0 + 10**4 * SECOND)
        np.testing.assert_array_equal(got_ts, ts)
        np.testing.assert_array_equal(got, values)


def _assert_rolled_up_once(engine: Engine, seconds: int) -> None:
    reader = RollupReader(engine)
    for uuid, metric, _ts, values in _expected(seconds):
        got = reader.read(STEP.step_ns, "n", uuid, metric, T0, T0 + 10**4 * SECOND)
        assert int(got.count.sum()) == values.size, (uuid, metric)
        assert float(got.sum.sum()) == pytest.approx(float(values.sum()))


class _Hold:
    """Stops the sealer thread once its block is written, until the test lets it go."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, step: str) -> None:
        if step == "seal written" and not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(WAIT_S), "the test never let the seal go on"


def test_a_late_frame_committed_while_a_block_is_written_is_kept_once(tmp_path: Path) -> None:
    now = [T0 + 30 * SECOND]
    engine = Engine(tmp_path / "d", tiers=(STEP,), retention_ns=10**6 * SECOND)
    durable = DurableStore(engine, time_ns=lambda: now[0], seal_ns=10 * SECOND,
                            seal_grid_ns=SECOND)
    durable.start()
    hold = _Hold()
    engine.fault_step = hold
    try:
        for s in (s for s in range(20) if s != LATE):
            assert durable.append("n", "i", s + 1, b"", b"", METRICS, _frame(s)).result()
        passing = durable.maintain()  # seals what is older than 20 s: all but LATE
        assert hold.reached.wait(WAIT_S), "the seal never wrote its block"
        # The writer commits while the block waits: an old frame arrives and is acknowledged.
        late = durable.append("n", "i", 100, b"", b"", METRICS, _frame(LATE))
        assert late.result(WAIT_S) is True
        assert not passing.done()
        hold.release.set()
        assert passing.result(WAIT_S) is True

        (block,) = engine.blocks()
        assert block.samples == 19 * 10 * len(GPUS) * len(METRICS)
        assert engine.head_rows() == 10 * len(GPUS)  # the late frame waits for the next seal
        _assert_all_once(engine, 20)

        now[0] += SECOND
        assert durable.maintain().result(WAIT_S) is True
        assert engine.head_rows() == 0
        assert [b.samples for b in engine.blocks()] == [block.samples, 10 * 2 * 2]
        _assert_all_once(engine, 20)
        _assert_rolled_up_once(engine, 20)
    finally:
        hold.release.set()
        durable.close()
    reopened = Engine(tmp_path / "d", tiers=(STEP,), retention_ns=10**6 * SECOND)
    try:
        assert len(reopened.blocks()) == 2
        _assert_all_once(reopened, 20)
        _assert_rolled_up_once(reopened, 20)
    finally:
        reopened.close()


def test_a_stop_seal_asked_while_a_block_is_written_waits_for_that_seal(tmp_path: Path) -> None:
    """seal_all (a clean stop) asked while a seal's block is written: that seal commits first,
    then the rest; every sample once."""
    engine = Engine(tmp_path / "d", tiers=(STEP,), retention_ns=10**6 * SECOND)
    durable = DurableStore(engine, time_ns=lambda: T0 + 15 * SECOND, seal_ns=10 * SECOND,
                            seal_grid_ns=SECOND)
    durable.start()
    hold = _Hold()
    engine.fault_step = hold
    try:
        for s in range(10):
            durable.append("n", "i", s + 1, b"", b"", METRICS, _frame(s)).result()
        passing = durable.maintain()  # seals the first 5 s
        assert hold.reached.wait(WAIT_S)
        stop = durable.seal_all()
        hold.release.set()
        assert passing.result(WAIT_S) is True
        assert stop.result(WAIT_S) is True
        assert engine.head_rows() == 0
        assert [b.samples for b in engine.blocks()] == [5 * 10 * 2 * 2] * 2
        _assert_all_once(engine, 10)
        _assert_rolled_up_once(engine, 10)
    finally:
        hold.release.set()
        durable.close()


CRASH = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from gputel.collector.storage.engine import Engine, Tier
    def crash(name):
        if name == "seal written":
            os.kill(os.getpid(), signal.SIGKILL)
    engine = Engine(Path(sys.argv[1]), tiers=(Tier(10**10, 10**15),), retention_ns=10**15)
    engine.fault_step = crash
    plan = engine.prepare_seal(int(sys.argv[2]))
    engine.write_seal(plan)
    sys.exit(3)  # the step never came
""")


def test_a_crash_after_the_block_is_written_before_it_is_committed_recovers_exactly(
        tmp_path: Path) -> None:
    engine = Engine(tmp_path / "d", tiers=(STEP,), retention_ns=10**6 * SECOND)
    durable = DurableStore(engine, time_ns=lambda: T0)
    durable.start()
    for s in range(10):
        durable.append("n", "i", s + 1, b"", b"", METRICS, _frame(s)).result()
    durable.close()
    done = subprocess.run([sys.executable, "-c", CRASH, str(tmp_path / "d"),
                           str(T0 + 5 * SECOND)], capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(os.listdir(tmp_path / "d" / "blocks")) == 1  # written under its final name
    engine = Engine(tmp_path / "d", tiers=(STEP,), retention_ns=10**6 * SECOND)
    try:
        assert engine.blocks() == ()  # newer than sealed_through: removed, not served
        assert os.listdir(tmp_path / "d" / "blocks") == []
        assert engine.head_rows() == 10 * 10 * len(GPUS)
        _assert_all_once(engine, 10)
        assert engine.seal(T0 + 5 * SECOND) == 5 * 10 * 2 * 2
        assert engine.seal_all() == 5 * 10 * 2 * 2
        _assert_all_once(engine, 10)
        _assert_rolled_up_once(engine, 10)  # the crashed seal's rollups never counted
    finally:
        engine.close()


def test_a_head_from_before_commit_numbers_opens_and_seals(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    old = duckdb.connect(str(tmp_path / "d" / DB_NAME))
    old.execute(SCHEMA.replace(", batch BIGINT DEFAULT 0", "").split("ALTER TABLE")[0])
    old.execute("INSERT INTO head (node, gpu, ts, power) SELECT 'n', 'GPU-a', ?::BIGINT + "
                "i * 100000000, i FROM range(50) t(i)", [T0])
    assert "batch" not in [r[0] for r in old.execute("DESCRIBE head").fetchall()]
    old.close()
    engine = Engine(tmp_path / "d", tiers=(STEP,), retention_ns=10**6 * SECOND)
    try:
        assert engine.head_rows() == 50
        assert engine.sample_count() == 50
        assert engine.seal(T0 + 2 * SECOND) == 20
        assert engine.seal_all() == 30
        ts, values = engine.read("n", "GPU-a", "power", T0, T0 + 10 * SECOND)
        np.testing.assert_array_equal(values, np.arange(50, dtype=np.float64))
        assert ts.size == 50
    finally:
        engine.close()


def test_passes_seal_whole_spans_of_the_grid(tmp_path: Path) -> None:
    """A pass seals what is older than seal_ns only up to the last line of the seal grid:
    blocks hold whole grid spans (so the newest minutes sit in a few blocks, not one per
    pass), a pass that crosses no new line seals nothing, and every sample stays once."""
    grid = 30 * SECOND
    line = (T0 // grid + 1) * grid  # the first grid line after the first sample
    now = [line + 95 * SECOND]
    engine = Engine(tmp_path / "d", tiers=(STEP,), retention_ns=10**6 * SECOND)
    durable = DurableStore(engine, time_ns=lambda: now[0], seal_ns=60 * SECOND,
                           seal_grid_ns=grid)
    durable.start()
    try:
        for s in range(100):
            assert durable.append("n", "i", s + 1, b"", b"", METRICS, _frame(s)).result()
        lead = (line - T0) // SECOND  # seconds of samples before the first line
        assert durable.maintain().result(WAIT_S) is True  # older than line + 35 s: to + 30
        (first,) = engine.blocks()
        assert first.max_ts < line + 30 * SECOND <= first.max_ts + SECOND
        assert first.samples == (lead + 30) * 10 * len(GPUS) * len(METRICS)
        now[0] += 20 * SECOND  # older than line + 55 s: no new line crossed
        assert durable.maintain().result(WAIT_S) is True
        assert engine.blocks() == (first,)
        now[0] += 10 * SECOND  # older than line + 65 s: the next span, whole
        assert durable.maintain().result(WAIT_S) is True
        second = engine.blocks()[1]
        assert (second.min_ts, second.max_ts + 100_000_000) == (line + 30 * SECOND,
                                                                line + 60 * SECOND)
        assert second.samples == 30 * 10 * len(GPUS) * len(METRICS)
        _assert_all_once(engine, 100)
    finally:
        durable.close()
