"""Compaction of sealed blocks: merged blocks hold every sample once with its exact value,
across a crash at any step of a merge (a real SIGKILL of the process compacting), beside
uncompacted blocks and the head; retention by age and --max-disk drop compacted blocks
(counted); a damaged compacted block is quarantined and the rest served."""

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

from gputel.collector.storage.durable import DurableStore, StorageError
from gputel.collector.storage.engine import DeviceRows, Engine
from gputel.proto.metrics import CORE_METRICS

SECOND = 10**9
WIDTH = 20 * SECOND  # one compaction level: 20 s windows
GPUS = ("GPU-a", "GPU-b")
T0 = 1_700_000_000 * SECOND  # on a window boundary
RETENTION = 10**6 * SECOND  # nothing ages out unless a test says so


def _values(second: int, gpu: int) -> np.ndarray:
    """(metrics, 10 ticks) as the wire gives them: whole units, milliwatts and millijoules
    divided by 1000 (so 3 decimals), a rising energy counter."""
    tick = second * 10 + np.arange(10)
    rows = [(tick * 7 + gpu) % 101, (tick * 3) % 100, 1e9 + tick * 4096, np.full(10, 8e10),
            (200_000 + (tick * 7919 + gpu * 13) % 150_000) / 1000, 40 + tick % 30,
            1400 + tick % 500, (3e10 + tick * 61_237 + gpu) / 1000]
    return np.array(rows, dtype=np.float64)


def _frame(second: int) -> list[DeviceRows]:
    ts = T0 + second * SECOND + np.arange(10, dtype=np.int64) * 100_000_000
    return [(uuid, ts, tuple(range(len(CORE_METRICS))), _values(second, g))
            for g, uuid in enumerate(GPUS)]


def _engine(data_dir: Path, retention_ns: int = RETENTION, max_disk: int = 0) -> Engine:
    return Engine(data_dir, retention_ns=retention_ns, max_disk_bytes=max_disk,
                  compact_widths=(WIDTH,))


def _store(data_dir: Path, seconds: int, seal_every: int, head_seconds: int = 0) -> None:
    """`seconds` of 2 GPUs sealed into a block every `seal_every` seconds of data, then
    `head_seconds` more left in the head."""
    engine = _engine(data_dir)
    durable = DurableStore(engine, time_ns=lambda: T0)
    durable.start()
    try:
        for s in range(seconds + head_seconds):
            durable.append("n", "i", s + 1, b"", b"", CORE_METRICS, _frame(s)).result()
            if s < seconds and (s + 1) % seal_every == 0:
                engine.seal(T0 + (s + 1) * SECOND)
    finally:
        durable.close()


def _expected(seconds: int) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    for g, uuid in enumerate(GPUS):
        ts = T0 + np.arange(seconds * 10, dtype=np.int64) * 100_000_000
        values = np.concatenate([_values(s, g) for s in range(seconds)], axis=1)
        for m, metric in enumerate(CORE_METRICS):
            yield uuid, metric, ts, values[m]


def _assert_all_once(engine: Engine, seconds: int) -> None:
    """Every sample of `seconds` read back once, bit for bit, and counted once."""
    assert engine.sample_count() == seconds * 10 * len(GPUS) * len(CORE_METRICS)
    for uuid, metric, ts, values in _expected(seconds):
        got_ts, got = engine.read("n", uuid, metric, T0, T0 + 10**6 * SECOND)
        np.testing.assert_array_equal(got_ts, ts)
        assert got.tobytes() == values.tobytes(), (uuid, metric)


def test_compaction_merges_a_window_into_one_block_exact_and_smaller(tmp_path: Path) -> None:
    _store(tmp_path / "d", seconds=40, seal_every=2, head_seconds=3)
    engine = _engine(tmp_path / "d")
    try:
        small = engine.blocks()
        assert len(small) == 20
        engine.seal(T0 + 40 * SECOND)  # the next pass: sealed through 40 s, the head stays
        assert engine.compact() == 20  # both 20 s windows are sealed through
        merged = engine.blocks()
        assert len(merged) == 2
        assert [(b.oldest, b.number) for b in merged] == [(1, 10), (11, 20)]
        assert sum(b.size_bytes for b in merged) < sum(b.size_bytes for b in small) / 2
        assert sorted(p.name for p in (tmp_path / "d" / "blocks").iterdir()) == sorted(
            b.path.name for b in merged)
        assert engine.stats.compactions == 2
        assert engine.stats.blocks_compacted == 20
        _assert_all_once_with_head(engine, 40, 3)
    finally:
        engine.close()
    reopened = _engine(tmp_path / "d")
    try:
        assert len(reopened.blocks()) == 2
        _assert_all_once_with_head(reopened, 40, 3)
    finally:
        reopened.close()


def _assert_all_once_with_head(engine: Engine, sealed: int, head: int) -> None:
    assert engine.head_rows() == head * 10 * len(GPUS)
    _assert_all_once(engine, sealed + head)


def test_an_open_window_is_not_merged_until_sealed_through(tmp_path: Path) -> None:
    _store(tmp_path / "d", seconds=30, seal_every=5)  # the second window is half sealed
    engine = _engine(tmp_path / "d")
    try:
        engine.seal(T0 + 30 * SECOND)  # what start-up knows: sealed through 30 s
        assert engine.compact() == 4  # the first window's 4 blocks; 2 wait for the rest
        assert [(b.oldest, b.number) for b in engine.blocks()] == [(1, 4), (5, 5), (6, 6)]
        assert engine.compact(full=True) == 2  # `gputel compact`: every window now
        assert [(b.oldest, b.number) for b in engine.blocks()] == [(1, 4), (5, 6)]
        _assert_all_once(engine, 30)
    finally:
        engine.close()


CRASH = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from gputel.collector.storage.engine import Engine
    step, nth = sys.argv[2], int(sys.argv[3])
    seen = []
    def crash(name):
        seen.append(name)
        if seen.count(step) == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    engine = Engine(Path(sys.argv[1]), retention_ns=10**15, compact_widths=(int(sys.argv[4]),))
    engine.fault_step = crash
    engine.compact(full=True)
    sys.exit(3)  # the step never came
""")


@pytest.mark.parametrize(("step", "nth"), [("row group", 1), ("written", 1), ("switched", 1),
                                           ("deleted", 1), ("deleted", 5)])
def test_a_crash_at_any_step_of_a_merge_leaves_every_sample_readable_once(
        tmp_path: Path, step: str, nth: int) -> None:
    _store(tmp_path / "d", seconds=20, seal_every=2)
    done = subprocess.run([sys.executable, "-c", CRASH, str(tmp_path / "d"), step, str(nth),
                           str(WIDTH)], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    engine = _engine(tmp_path / "d")
    try:
        held = [(b.oldest, b.number) for b in engine.blocks()]
        switched = step in ("switched", "deleted")
        assert held == ([(1, 10)] if switched else [(n, n) for n in range(1, 11)])
        files = sorted(p.name for p in (tmp_path / "d" / "blocks").iterdir())
        assert files == sorted(b.path.name for b in engine.blocks())  # no leftovers
        _assert_all_once(engine, 20)
        if not switched:  # the merge is done again after the crash
            assert engine.compact(full=True) == 10
            _assert_all_once(engine, 20)
    finally:
        engine.close()


def test_retention_by_age_drops_a_compacted_block_whole_and_counts_it(tmp_path: Path) -> None:
    _store(tmp_path / "d", seconds=40, seal_every=4)
    engine = _engine(tmp_path / "d", retention_ns=30 * SECOND)
    try:
        engine.seal(T0 + 40 * SECOND)
        assert engine.compact() == 10
        first, second = engine.blocks()
        engine.retain(T0 + 50 * SECOND)  # the first window ended 30 s before
        assert engine.blocks() == (second,)
        assert not first.path.exists()
        assert engine.stats.blocks_dropped == {"age": 1}
        assert engine.stats.samples_dropped == {"age": first.samples}
        assert engine.sample_count() == second.samples
    finally:
        engine.close()


def test_max_disk_drops_the_oldest_compacted_block_first(tmp_path: Path) -> None:
    _store(tmp_path / "d", seconds=40, seal_every=4)
    engine = _engine(tmp_path / "d")
    assert engine.compact(full=True) == 10
    first, second = engine.blocks()
    bound = engine.size_bytes() - first.size_bytes // 2
    engine.close()
    engine = _engine(tmp_path / "d", max_disk=bound)
    try:
        engine.retain(T0 + 50 * SECOND)
        assert [b.path for b in engine.blocks()] == [second.path]
        assert engine.stats.blocks_dropped == {"disk": 1}
        assert engine.stats.samples_dropped == {"disk": first.samples}
    finally:
        engine.close()


def test_a_damaged_compacted_block_is_quarantined_and_the_rest_served(tmp_path: Path) -> None:
    _store(tmp_path / "d", seconds=40, seal_every=4, head_seconds=2)
    engine = _engine(tmp_path / "d")
    assert engine.compact(full=True) == 10
    first, second = engine.blocks()
    engine.close()
    data = bytearray(first.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.path.write_bytes(bytes(data))
    engine = _engine(tmp_path / "d")
    try:
        assert engine.verify_some() == 1
        assert (tmp_path / "d" / "quarantine" / first.path.name).is_file()
        assert [b.path for b in engine.blocks()] == [second.path]
        assert first.path.name in " ".join(engine.problems)
        assert engine.sample_count() == second.samples + 2 * 10 * len(GPUS) * len(
            CORE_METRICS)
        ts, _ = engine.read("n", GPUS[0], "power", T0, T0 + 60 * SECOND)
        assert ts[0] == T0 + 20 * SECOND  # the second window, then the head
        assert ts.size == 22 * 10
    finally:
        engine.close()


def test_the_stop_seal_leaves_nothing_in_the_head(tmp_path: Path) -> None:
    _store(tmp_path / "d", seconds=0, seal_every=1, head_seconds=5)
    engine = _engine(tmp_path / "d")
    try:
        assert engine.seal_all() == 5 * 10 * len(GPUS) * len(CORE_METRICS)
        assert engine.head_rows() == 0
        _assert_all_once(engine, 5)
    finally:
        engine.close()
    assert os.listdir(tmp_path / "d" / "blocks")


def test_a_frame_queued_behind_a_failed_commit_waits_for_the_resend(tmp_path: Path) -> None:
    """Frame 2 of an agent is queued while frame 1's commit fails: 2 must not be committed
    ahead of 1's resend (after a restart it would be replayed first and the resend of 1
    refused as going back in time)."""
    engine = _engine(tmp_path / "d")
    durable = DurableStore(engine, time_ns=lambda: T0)
    real_insert, entered, queued = engine.insert, threading.Event(), threading.Event()

    def insert_failing_once(cur: object, batch: object) -> None:
        if not queued.is_set():
            entered.set()
            assert queued.wait(10)  # frame 2 is in the queue behind this commit
            raise duckdb.IOException("disk full (injected)")
        real_insert(cur, batch)  # type: ignore[arg-type]

    engine.insert = insert_failing_once  # type: ignore[method-assign]
    durable.start()
    try:
        first = durable.append("n", "i", 1, b"", b"", CORE_METRICS, _frame(0))
        assert entered.wait(10)  # frame 1's commit runs alone
        second = durable.append("n", "i", 2, b"", b"", CORE_METRICS, _frame(1))
        queued.set()
        with pytest.raises(StorageError):
            first.result(10)
        with pytest.raises(StorageError):
            second.result(10)  # not committed ahead of frame 1
        assert engine.head_rows() == 0
        other = durable.append("m", "j", 7, b"", b"", CORE_METRICS, _frame(0))
        assert other.result(10)  # another agent is not held back
        assert durable.append("n", "i", 1, b"", b"", CORE_METRICS, _frame(0)).result(10)
        assert durable.append("n", "i", 2, b"", b"", CORE_METRICS, _frame(1)).result(10)
        ts, _ = engine.read("n", GPUS[0], "power", T0, T0 + 10 * SECOND)
        assert ts.size == 20
    finally:
        durable.close()
