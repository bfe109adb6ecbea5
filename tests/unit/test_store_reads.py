"""Reads of many series at once: the same samples as one read per series, across the head
and sealed blocks, in the order asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gputel.collector.storage.engine import FEW_SERIES, Engine
from gputel.collector.storage.store import SeriesStore

T0 = 1_700_000_000 * 10**9
TICKS = 40  # 4 s at 10 Hz


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SeriesStore]:
    """Two nodes of two GPUs; the first half of their samples sealed into a block."""
    held = SeriesStore(3600 * 10**9, engine=Engine(tmp_path / "data"))
    try:
        yield _fill(held)
    finally:
        held.engine.close()


def _fill(store: SeriesStore) -> SeriesStore:
    ts = T0 + np.arange(TICKS, dtype=np.int64) * 100_000_000
    for n, node in enumerate(("a", "b")):
        for g in range(2):
            power = 100.0 * (n + 1) + g + np.arange(TICKS, dtype=np.float64)
            util = np.where(np.arange(TICKS) % 3 == 0, np.nan, float(10 * g + n))
            store.write(node, ("power", "gpu_util"),
                        [(f"{node}-gpu{g}", ts, (0, 1), np.vstack((power, util)))])
    assert store.engine.seal(T0 + TICKS // 2 * 100_000_000) == 2 * 2 * 2 * TICKS // 2 \
        - 4 * len(range(0, TICKS // 2, 3))
    assert store.engine.blocks()
    assert store.engine.head_rows()
    return store


def test_many_series_read_at_once_equal_one_read_each(store: SeriesStore) -> None:
    asked = [("b", "b-gpu1"), ("a", "a-gpu0"), ("a", "nowhere"), ("b", "b-gpu0"),
             ("a", "a-gpu1")]
    start, end = T0 + 5 * 100_000_000, T0 + 30 * 100_000_000  # spans block and head
    for metric in ("power", "gpu_util"):
        got = store.read_many(asked, metric, start, end)
        assert len(got) == len(asked)
        for (node, gpu), (ts, values) in zip(asked, got, strict=True):
            one_ts, one_values = store.read((node, gpu, metric), start, end)
            assert ts.tolist() == one_ts.tolist()
            assert values.tolist() == one_values.tolist()
            assert bool(ts.size) == (gpu != "nowhere")
    ts, values = store.read_many([("a", "a-gpu0")], "power", start, end)[0]
    assert ts.tolist() == (T0 + np.arange(5, 31) * 100_000_000).tolist()
    assert values.tolist() == (100.0 + np.arange(5, 31)).tolist()


def test_many_series_of_an_unknown_metric_or_empty_range_read_nothing(store: SeriesStore
                                                                       ) -> None:
    asked = [("a", "a-gpu0"), ("b", "b-gpu1")]
    for metric, start, end in (("nope", T0, T0 + 10**10), ("power", T0 + 10**10, T0)):
        got = store.read_many(asked, metric, start, end)
        assert [t.size for t, _ in got] == [0, 0]
    assert store.read_many([], "power", T0, T0 + 10**10) == []


def test_the_newest_value_is_the_latest_present_sample_whatever_the_order() -> None:
    store = SeriesStore(10**18)
    ts = T0 + np.array([3, 1, 2, 0], dtype=np.int64) * 100_000_000  # not by time
    values = np.array([[np.nan, 5.0, 7.0, 1.0],   # newest present: t=2
                       [9.0, 4.0, np.nan, 2.0],   # t=3
                       [np.nan] * 4])             # none: no newest value
    store.write("a", ("power", "gpu_util", "temperature"), [("a-gpu0", ts, (0, 1, 2), values)])
    assert store.latest(("a", "a-gpu0", "power")) == (T0 + 200_000_000, 7.0)
    assert store.latest(("a", "a-gpu0", "gpu_util")) == (T0 + 300_000_000, 9.0)
    assert store.latest(("a", "a-gpu0", "temperature")) is None
    older = np.array([[3.0], [3.0], [3.0]])
    store.write("a", ("power", "gpu_util", "temperature"),
                [("a-gpu0", np.array([T0], dtype=np.int64), (0, 1, 2), older)])
    assert store.latest(("a", "a-gpu0", "power")) == (T0 + 200_000_000, 7.0)
    assert store.latest(("a", "a-gpu0", "temperature")) == (T0, 3.0)
    store.engine.close()


def test_many_series_read_after_a_half_read_result_on_the_same_thread(store: SeriesStore
                                                                      ) -> None:
    held = store.engine.cursor().execute("SELECT 1 UNION ALL SELECT 2")
    assert held.fetchone() is not None  # the thread's cursor now holds an unfinished result
    (ts, _), = store.read_many([("a", "a-gpu0")], "power", T0, T0 + 10**10)
    assert ts.size == TICKS


@pytest.mark.parametrize("padding", [0, FEW_SERIES], ids=["a few series", "many series"])
def test_a_block_found_damaged_during_a_read_is_set_aside_and_the_read_retried(
        store: SeriesStore, padding: int) -> None:
    """Constant predicates (a few series) and the join (many) alike: the damaged block goes to
    quarantine, the read answers from the rest (here the head) instead of failing."""
    (block,) = store.engine.blocks()
    block.path.write_bytes(block.path.read_bytes()[: block.size_bytes // 2])  # cut short
    asked = [("a", "a-gpu0"), *((f"x{i}", "gpu0") for i in range(padding))]
    start, end = T0, T0 + TICKS * 100_000_000
    (ts, values), *_ = store.read_many(asked, "power", start, end)
    assert ts.tolist() == (T0 + np.arange(TICKS // 2, TICKS) * 100_000_000).tolist()
    assert values.tolist() == (100.0 + np.arange(TICKS // 2, TICKS)).tolist()
    assert store.engine.blocks() == ()
    assert store.engine.stats.files_quarantined == 1
    assert block.path.name in " ".join(store.engine.problems)


def test_block_footers_are_cached_for_the_cursors_reads_run_on(store: SeriesStore) -> None:
    """The Parquet footer cache is on for every cursor (a plain SET held for one only)."""
    seen: list[object] = []
    reader = threading.Thread(target=lambda: seen.append(store.engine.cursor().execute(
        "SELECT current_setting('parquet_metadata_cache')").fetchall()[0][0]))
    reader.start()
    reader.join()
    assert seen == [True]
    with store.engine._con.cursor() as cur:  # as read_many's own cursors
        assert cur.execute("SELECT current_setting('parquet_metadata_cache')").fetchall() == [
            (True,)]
