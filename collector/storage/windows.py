"""Per-window aggregates of many series in one SQL statement, for answers that need one value
per grid point rather than every sample (a cluster-wide history over 800 GPUs aggregates
~1 M samples per metric: reading them all into Python cost 3-4x the aggregation in DuckDB).

Windows follow the query core: window k holds the samples with
start + (k - 1) * step < ts <= start + k * step. Only aggregations whose result does not
depend on the order the samples are added in are computed here, so the answer is the one the
query core's numpy aggregation gives on the same samples, to the bit: count, min, max, last
(the value at the newest timestamp) and sum when every value is a whole number and no partial
sum reaches 2^53 (then float64 addition is exact in any order). A sum that does not pass that
test is not answered: the caller aggregates the samples itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gputel.collector.storage.blocks import quote

WINDOW_AGGS = ("sum", "count", "min", "max", "last")
EXACT_BELOW = 2.0**53  # float64 holds every whole number below this
Int32Array = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Windows:
    """One metric's windows that hold samples: the series' index in the order asked, the
    window's index, the aggregate (in the metric's API unit) and the samples in it; sorted
    by series, then window."""

    series: Int32Array
    window: Int64Array
    value: Float64Array
    count: Int64Array


EMPTY = Windows(np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.float64),
                np.empty(0, np.int64))


def select(source: str, metrics: Sequence[str], first_ns: int, step_ns: int,
           agg: str) -> str:
    """SQL: one row per (asked series, window) of `source` (rows of node, gpu, ts and the
    metric columns, already limited to the range), joined to the `wanted_series` table
    (node, gpu, k). Window k holds first_ns + (k - 1) * step_ns <= ts < first_ns + k * step_ns
    counted from 0 (first_ns = the grid's start - step + 1)."""
    if agg not in WINDOW_AGGS:
        raise ValueError(f"{agg!r} is not one of {', '.join(WINDOW_AGGS)}")
    columns = ", ".join(_columns(i, quote(m), agg) for i, m in enumerate(metrics))
    return (f"SELECT w.k, (s.ts - {int(first_ns)}) // {int(step_ns)} AS p, {columns} "
            f"FROM ({source}) s JOIN wanted_series w ON s.node = w.node AND s.gpu = w.gpu "
            "GROUP BY w.k, p ORDER BY w.k, p")


def _columns(i: int, col: str, agg: str) -> str:
    """c{i}: samples; v{i}: the aggregate; x{i} (sums only): whether the sum is exact."""
    value = {"sum": f"sum({col})", "count": f"count({col})", "min": f"min({col})",
             "max": f"max({col})", "last": f"arg_max({col}, s.ts) FILTER (WHERE {col} IS NOT NULL)"
             }[agg]
    exact = (f", coalesce(bool_and({col} = round({col})), true) AND "
             f"coalesce(max(abs({col})), 0) * count({col}) < {EXACT_BELOW:.0f} AS x{i}"
             if agg == "sum" else "")
    return f"count({col}) AS c{i}, {value} AS v{i}{exact}"


def parse(got: dict[str, npt.NDArray[np.generic]], metrics: Sequence[str],
          agg: str) -> dict[str, Windows]:
    """The windows of each metric from `select`'s result (fetchnumpy), leaving out a metric
    whose sums are not exact."""
    series = np.asarray(got["k"], dtype=np.int32)
    window = np.asarray(got["p"], dtype=np.int64)
    out = {}
    for i, metric in enumerate(metrics):
        count = np.asarray(got[f"c{i}"], dtype=np.int64)
        held = count > 0
        if agg == "sum" and not np.asarray(got[f"x{i}"], dtype=bool)[held].all():
            continue
        value = np.asarray(got[f"v{i}"], dtype=np.float64)
        out[metric] = Windows(series[held], window[held], value[held], count[held])
    return out
