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


# ---- peaks: one value per series over a span of its own (a rule's window) -----------------

Span = tuple[int, int, int]  # lead_ns <= start_ns <= end_ns: see Peak


@dataclass(frozen=True, slots=True)
class Peak:
    """One series over its span: `first_ns`, its first sample with lead_ns <= ts <= end_ns;
    `value`, the largest of its `count` samples with start_ns <= ts <= end_ns (NaN when
    count is 0). A rule that needs a window sampled from its start looks at first_ns."""

    first_ns: int
    value: float
    count: int


def span_columns(spans: Sequence[Span]) -> dict[str, npt.NDArray[np.int64]]:
    """The spans as the columns `peaks_sql` joins on (a, b, e)."""
    held = np.asarray(spans, dtype=np.int64).reshape(-1, 3)
    return {"a": held[:, 0], "b": held[:, 1], "e": held[:, 2]}


def peaks_sql(source: str) -> str:
    """SQL: per asked series (k) the first time, peak and count over its span, from `source`
    (node, gpu, ts, v, already limited to the spans' union) joined to `wanted_series` (node,
    gpu, k, a, b, e)."""
    return (f"SELECT w.k, min(s.ts) AS first, max(s.v) FILTER (WHERE s.ts >= w.b) AS peak, "
            f"count(*) FILTER (WHERE s.ts >= w.b) AS n FROM ({source}) s JOIN wanted_series w "
            "ON s.node = w.node AND s.gpu = w.gpu AND s.ts BETWEEN w.a AND w.e GROUP BY w.k")


def parse_peaks(got: dict[str, npt.NDArray[np.generic]], n_series: int) -> list[Peak | None]:
    """`peaks_sql`'s result (fetchnumpy) in the order the series were asked."""
    out: list[Peak | None] = [None] * n_series
    count = np.asarray(got["n"], dtype=np.int64)
    peak = np.ma.filled(np.ma.asarray(got["peak"], dtype=np.float64), np.nan)
    for k, first, value, n in zip(np.asarray(got["k"]).tolist(),
                                  np.asarray(got["first"]).tolist(), peak.tolist(),
                                  count.tolist(), strict=True):
        out[k] = Peak(int(first), float(value) if n else float("nan"), int(n))
    return out


def peaks_of(samples: Sequence[tuple[Int64Array, Float64Array]],
             spans: Sequence[Span]) -> list[Peak | None]:
    """`parse_peaks`' answer computed from each series' samples (a store that cannot
    aggregate itself reads them and asks this); samples cover at least the span."""
    out: list[Peak | None] = []
    for (ts, values), (lead, start, end) in zip(samples, spans, strict=True):
        held = (ts >= lead) & (ts <= end) & ~np.isnan(values)
        if not held.any():
            out.append(None)
            continue
        inside = values[held & (ts >= start)]
        out.append(Peak(int(ts[held][0]), float(inside.max()) if inside.size else float("nan"),
                        int(inside.size)))
    return out
