"""Head rows of a commit: a frame whose GPUs all carry the same rows at as many ticks is
built as one array, and gives the very rows the GPU-by-GPU path gives."""

from __future__ import annotations

import numpy as np
import pytest

from gputel.collector.storage.engine import DeviceRows, sample_batch, whole_frame
from gputel.collector.storage.store import SeriesStore

T0 = 1_700_000_000 * 10**9
IDS = ("gpu_util", "mem_used", "not_a_column", "power")  # one the store has no column for


def _frame(gpus: int, seed: int, ticks: int = 10) -> list[DeviceRows]:
    rng = np.random.default_rng(seed)
    ts = T0 + 100_000_000 * np.arange(ticks, dtype=np.int64) + seed * 10**10
    return [(f"GPU-{g}", ts.copy(), (0, 1, 2, 3),
             np.vstack((rng.integers(0, 101, ticks), 2.0**40 + rng.integers(0, 9, ticks),
                        rng.random(ticks), rng.integers(50_000, 700_000, ticks) / 1000)))
            for g in range(gpus)]


@pytest.mark.parametrize("gpus", [2, 8])
def test_awhole_frame_frame_gives_the_rows_of_one_gpu_at_a_time(gpus: int) -> None:
    frames = [(node, IDS, _frame(gpus, seed)) for seed, node in enumerate(("b", "a", "b"))]
    assert all(whole_frame(rows) is not None for _, _, rows in frames)  # the one-array path
    one_by_one = [(node, ids, [device]) for node, ids, rows in frames for device in rows]
    got, want = sample_batch(frames), sample_batch(one_by_one)
    assert got.table.equals(want.table)
    assert got.counts == want.counts == {"a": gpus * 30, "b": 2 * gpus * 30}
    assert got.table.column_names == ["node", "gpu", "ts", "gpu_util", "mem_used", "power"]


def test_a_frame_with_a_gap_or_uneven_gpus_goes_gpu_by_gpu() -> None:
    gap = _frame(3, 1)
    gap[1][3][0, 4] = np.nan
    uneven = _frame(2, 2)
    uneven[1] = (uneven[1][0], uneven[1][1][:5], uneven[1][2], uneven[1][3][:, :5])
    for rows in (gap, uneven):
        assert whole_frame(rows) is None
        got = sample_batch([("a", IDS, rows)])
        want = sample_batch([("a", IDS, [device]) for device in rows])
        assert got.table.equals(want.table)
        assert got.counts == want.counts


def test_newest_values_of_a_whole_frame_are_each_gpus_last_tick() -> None:
    rows = _frame(3, 4)
    assert whole_frame(rows) is not None
    store = SeriesStore(10**18)
    store.observe("a", IDS, rows)
    for uuid, ts, _, values in rows:
        for m, name in enumerate(IDS):
            assert store.latest(("a", uuid, name)) == (int(ts[-1]), float(values[m, -1]))
    store.engine.close()
