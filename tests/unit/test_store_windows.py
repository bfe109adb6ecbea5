"""Per-window aggregates computed by the store in SQL equal the query core's numpy
aggregation of the same samples, to the bit, over a compacted block, a sealed block and the
head, with NaN gaps; a sum the store could not compute exactly is left to the caller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gputel.collector.query.aggregate import aggregate
from gputel.collector.query.core import WINDOWED, Grid, _window_rows
from gputel.collector.storage.engine import FEW_SERIES, Engine
from gputel.collector.storage.store import SeriesStore
from gputel.collector.storage.windows import peaks_of

T0 = 1_700_000_000 * 10**9
PERIOD = 100_000_000  # 10 Hz
PART = 50  # ticks per part: two blocks compacted into one, one sealed block, the head
SERIES = [("b", "b-gpu1"), ("a", "a-gpu0"), ("a", "nowhere"), ("b", "b-gpu0"), ("a", "a-gpu1")]
METRICS = ("gpu_util", "mem_used", "power", "temperature")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SeriesStore]:
    held = SeriesStore(3600 * 10**9, engine=Engine(tmp_path / "data", retention_ns=10**15,
                                                   compact_widths=(10**12,)))
    try:
        for part in range(4):
            _write(held, part)
            if part < 3:
                held.engine.seal(T0 + (part + 1) * PART * PERIOD)
        assert held.engine.compact(full=True) == 3  # the three sealed blocks, merged
        _write(held, 4)
        held.engine.seal(T0 + 4 * PART * PERIOD)
        assert len(held.engine.blocks()) == 2
        assert held.engine.head_rows()
        assert dict(held.engine.blocks()[0].ints).get("power") == 1000  # whole milliwatts
        yield held
    finally:
        held.engine.close()


def _write(store: SeriesStore, part: int) -> None:
    """PART ticks of 2 nodes x 2 GPUs: whole-number utilization, memory and temperature,
    power in whole milliwatts; gaps (NaN) in every metric, a longer one in temperature."""
    tick = part * PART + np.arange(PART)
    ts = T0 + tick.astype(np.int64) * PERIOD
    for n, node in enumerate(("a", "b")):
        for g in range(2):
            util = np.where(tick % 7 == 3, np.nan, (tick * 13 + 10 * g + n) % 101).astype(float)
            mem = (2**34 + tick * 4096 * (g + 1)).astype(float)
            mem[tick % 11 == 5] = np.nan
            power = np.round(100 + 37.123 * np.sin(tick / 5 + g + n), 3)
            power[tick % 5 == 0] = np.nan
            temp = np.where((tick > 60) & (tick < 90), np.nan, 40.0 + (tick % 9))
            store.write(node, METRICS, [(f"{node}-gpu{g}", ts, (0, 1, 2, 3),
                                         np.vstack((util, mem, power, temp)))])


def _reference(store: SeriesStore, metric: str, grid: Grid, agg: str) -> list[list[float]]:
    reads = store.read_many(SERIES, metric, grid.start - grid.step + 1, grid.end)
    return [aggregate(ts, v, grid.start, grid.step, grid.n_points, agg).tolist()
            for ts, v in reads]


GRIDS = [Grid(T0 + 12 * PERIOD, T0 + 238 * PERIOD, 10 * PERIOD),  # blocks and head
         Grid(T0 + 7 * PERIOD, T0 + 201 * PERIOD, 7 * PERIOD),  # windows across the seams
         Grid(T0 + 260 * PERIOD, T0 + 260 * PERIOD, 1000 * PERIOD),  # one window, all data
         Grid(T0 + 3 * PERIOD, T0 + 40 * PERIOD, PERIOD)]  # one sample a window


@pytest.mark.parametrize("agg", list(WINDOWED))
@pytest.mark.parametrize("grid", GRIDS)
def test_window_aggregates_equal_numpy_on_the_same_samples(store: SeriesStore, agg: str,
                                                           grid: Grid) -> None:
    got = store.read_windows(SERIES, METRICS, grid.start - grid.step + 1, grid.step,
                             grid.n_points, WINDOWED[agg])
    exact_sums = {"gpu_util", "mem_used", "temperature"}  # whole numbers; power is not
    assert set(got) == (exact_sums if WINDOWED[agg] == "sum" else set(METRICS))
    for metric, windows in got.items():
        rows = [r.tolist() for r in _window_rows(windows, len(SERIES), grid.n_points, agg)]
        want = _reference(store, metric, grid, agg)
        assert np.array_equal(np.array(rows), np.array(want), equal_nan=True), metric
        assert not any(np.isfinite(rows[2]))  # the series that does not exist
        assert any(np.isnan(v) for r in rows for v in r) or grid.step > 100 * PERIOD


def test_a_sum_too_large_to_be_exact_is_left_to_the_caller(tmp_path: Path) -> None:
    store = SeriesStore(3600 * 10**9, engine=Engine(tmp_path / "data"))
    ts = T0 + np.arange(4, dtype=np.int64) * PERIOD
    store.write("a", ("mem_used",), [("a-gpu0", ts, (0,), np.full((1, 4), 2.0**52))])
    try:
        assert store.read_windows([("a", "a-gpu0")], ("mem_used",), T0, 10 * PERIOD, 1,
                                  "sum") == {}
        (maxed,) = store.read_windows([("a", "a-gpu0")], ("mem_used",), T0, 10 * PERIOD, 1,
                                      "max").values()
        assert maxed.value.tolist() == [2.0**52]
        assert maxed.count.tolist() == [4]
    finally:
        store.engine.close()


@pytest.mark.parametrize("metric", METRICS)
def test_a_few_series_read_by_constants_equal_the_joined_read(store: SeriesStore,
                                                              metric: str) -> None:
    """A few series (constant predicates) read the samples the join of many reads, over the
    compacted block, the sealed block and the head; a repeated series reads twice, and a
    node and GPU asked only in other pairs (a's b-gpu0) read nothing."""
    asked = [*SERIES, ("a", "b-gpu0"), ("a", "a-gpu0")]
    padded = [*asked, *((f"c{i}", f"c{i}-gpu0") for i in range(FEW_SERIES))]
    assert len(set(asked)) <= FEW_SERIES < len(set(padded))
    start, end = T0 + 7 * PERIOD, T0 + 238 * PERIOD
    few = store.read_many(asked, metric, start, end)
    joined = store.read_many(padded, metric, start, end)[:len(asked)]
    assert [(t.tolist(), v.tolist()) for t, v in few] == \
        [(t.tolist(), v.tolist()) for t, v in joined]
    sizes = [t.size for t, _ in few]
    assert sizes[2] == sizes[5] == 0
    assert min(sizes[:2] + sizes[3:5]) > 150
    assert few[1][0].tolist() == few[6][0].tolist()
    (one_ts, one_v), = store.read_many([("b", "b-gpu1")], metric, start, end)
    assert (one_ts.tolist(), one_v.tolist()) == (few[0][0].tolist(), few[0][1].tolist())


def _peak_by_hand(store: SeriesStore, key: tuple[str, str], span: tuple[int, int, int]
                  ) -> tuple[int, float, int] | None:
    lead, start, end = span
    ts, values = store.read((*key, "gpu_util"), lead, end)
    if not ts.size:
        return None
    inside = values[ts >= start]
    return int(ts[0]), float(inside.max()) if inside.size else float("nan"), int(inside.size)


def test_peaks_over_spans_of_their_own_equal_numpy(store: SeriesStore) -> None:
    """Each series' own span (one reaching back into the compacted block, one in the head
    alone, one ending before its start has a sample, one with no sample at all): the first
    time, the largest value and the count, from one statement and from samples."""
    at = [T0 + t * PERIOD for t in (0, 20, 60, 120, 170, 199, 240)]
    spans = [(at[0], at[1], at[6]), (at[3], at[4], at[6]), (at[2] - 2 * PERIOD, at[2], at[5]),
             (at[1], at[3], at[1] + 5), (at[0], at[1], at[6]),
             (T0 - 10 * PERIOD, T0 - 5 * PERIOD, T0 - PERIOD)]
    asked = [SERIES[0], SERIES[1], SERIES[3], SERIES[4], SERIES[2], SERIES[1]]
    expected = [_peak_by_hand(store, key, span) for key, span in zip(asked, spans, strict=True)]
    assert expected[4] is None  # no such GPU
    assert expected[5] is None  # before any sample
    first, _, count = expected[3] or (0, 0.0, -1)
    assert count == 0  # sampled before its start only
    assert all(e is not None and e[2] > 50 for e in expected[:3])
    for got in (store.read_peaks(asked, "gpu_util", spans),
                peaks_of(store.read_many(asked, "gpu_util", min(s[0] for s in spans),
                                         max(s[2] for s in spans)), spans)):
        as_tuples = [None if p is None else (p.first_ns, p.value, p.count) for p in got]
        assert as_tuples[:3] == expected[:3]
        assert as_tuples[4:] == expected[4:]
        got_first, got_value, got_count = as_tuples[3] or (0, 0.0, -1)
        assert (got_first, got_count) == (first, 0)
        assert np.isnan(got_value)


def test_peaks_of_an_unknown_metric_are_none(store: SeriesStore) -> None:
    assert store.read_peaks(SERIES[:2], "no_such_metric", [(T0, T0, T0 + PERIOD)] * 2) == \
        [None, None]
