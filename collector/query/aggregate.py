"""Per-window aggregation of raw samples and of rollup buckets onto a Prometheus-style grid.

The point at t aggregates the samples with t - step < ts <= t. Raw samples support
every aggregation, percentiles included (linear interpolation between the two nearest
ranks, as numpy and Prometheus' quantile_over_time do). Rollup buckets keep only
min/max/sum/count/last, from which no percentile can be computed: callers refuse
percentiles over tiers (see QueryCore.query_range).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gputel.collector.errors import InvalidParameterError
from gputel.collector.storage.rollups import Buckets
from gputel.proto.metrics import Combine

AGGREGATIONS = ("avg", "min", "max", "sum", "last", "count")
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
ALL_AGGREGATIONS = AGGREGATIONS + tuple(PERCENTILES)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def check_agg(agg: str) -> None:
    """Raises InvalidParameterError naming `agg` unless it is a known aggregation."""
    if agg not in ALL_AGGREGATIONS:
        raise InvalidParameterError("agg", f"{agg!r} is not one of {', '.join(ALL_AGGREGATIONS)}")


def _groups(k: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(first position, grid index, length) of each run of equal, sorted point indices."""
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    return starts, k[starts], np.diff(np.append(starts, k.size))


def aggregate(ts: IntArray, values: npt.NDArray[np.floating], start: int, step: int,
              n_points: int, agg: str) -> FloatArray:
    """One value per grid point (NaN where the window (t-step, t] holds no sample)."""
    out = np.full(n_points, np.nan)
    if not ts.size:
        return out
    k = -((start - ts) // step)  # ceil((ts - start) / step): the point whose window holds ts
    keep = (k >= 0) & (k < n_points)
    k, vals = k[keep], values[keep].astype(np.float64)
    if not k.size:
        return out
    starts, idx, counts = _groups(k)
    if agg in PERCENTILES:
        out[idx] = _percentiles(k, vals, starts, counts, PERCENTILES[agg])
    elif agg == "count":
        out[idx] = counts
    elif agg == "last":
        out[idx] = vals[np.append(starts[1:], k.size) - 1]
    elif agg == "min":
        out[idx] = np.minimum.reduceat(vals, starts)
    elif agg == "max":
        out[idx] = np.maximum.reduceat(vals, starts)
    else:
        sums = np.add.reduceat(vals, starts)
        out[idx] = sums if agg == "sum" else sums / counts
    return out


def _percentiles(k: IntArray, vals: FloatArray, starts: IntArray, counts: IntArray,
                 q: float) -> FloatArray:
    """The q-th percentile of each run, all runs at once: sort within runs, interpolate."""
    ordered = vals[np.lexsort((vals, k))]
    rank = (counts - 1) * (q / 100.0)
    low = np.floor(rank).astype(np.int64)
    high = np.minimum(low + 1, counts - 1)
    below, above = ordered[starts + low], ordered[starts + high]
    out: npt.NDArray[np.float64] = below + (above - below) * (rank - low)
    return out


def aggregate_buckets(b: Buckets, width: int, start: int, step: int, n_points: int,
                      agg: str) -> FloatArray:
    """Like `aggregate`, from rollup buckets: a bucket counts toward the point whose
    window holds its last instant (start + width - 1 ns). No percentiles."""
    out = np.full(n_points, np.nan)
    if not b.start_ns.size:
        return out
    k = -((start - (b.start_ns + width - 1)) // step)
    keep = (k >= 0) & (k < n_points)
    k = k[keep]
    if not k.size:
        return out
    starts, idx, _ = _groups(k)
    counts = np.add.reduceat(b.count[keep], starts)
    if agg == "count":
        out[idx] = counts
    elif agg == "last":
        out[idx] = b.last[keep][np.append(starts[1:], k.size) - 1]
    elif agg == "min":
        out[idx] = np.minimum.reduceat(b.min[keep], starts)
    elif agg == "max":
        out[idx] = np.maximum.reduceat(b.max[keep], starts)
    else:
        sums = np.add.reduceat(b.sum[keep], starts)
        out[idx] = sums if agg == "sum" else sums / counts
    return out


def combine(rows: list[FloatArray], how: Combine, n_points: int) -> FloatArray:
    """Rows of several GPUs into one: summed (extensive) or averaged (intensive), NaN-aware."""
    if not rows:
        return np.full(n_points, np.nan)
    matrix = np.vstack(rows)
    present = ~np.isnan(matrix).all(axis=0)
    out = np.full(n_points, np.nan)
    sums = np.where(np.isnan(matrix), 0.0, matrix).sum(axis=0)
    if how is Combine.SUM:
        out[present] = sums[present]
    else:
        counts = (~np.isnan(matrix)).sum(axis=0)
        out[present] = sums[present] / counts[present]
    return out
