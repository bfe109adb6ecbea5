"""HTTP answer encoding: the largest answers /api/v1 gives, from the query core's objects to
JSON bytes, the way a route does it (`Model.from_core`, then FastAPI's check of the returned
model against the route's declared model and its `dump_json` with the camelCase aliases).

    .venv/bin/python benchmarks/http_answers.py [--repeats 15]

Cases: a node's range at the point limit (8 GPUs + the node total, 11,000 points each), the
cluster's utilization history at the limit (11,000 points, one model per point), a heatmap of
100 GPUs x 1,000 columns, and a page of 1,000 GPUs. Prints the median and best time per
answer and the answer's size. No HTTP: the socket costs the same whatever builds the body.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gputel.collector.api.http.cluster_models import HeatmapOut, UtilizationOut  # noqa: E402
from gputel.collector.api.http.models import DeviceOut, NodeRangeOut  # noqa: E402
from gputel.collector.api.http.wire import (  # noqa: E402
    Envelope,
    GridMeta,
    Paged,
    PointsMeta,
    SeriesMeta,
    paged,
)
from gputel.collector.query.cluster import Heatmap, HeatmapRow, UtilizationHistory  # noqa: E402
from gputel.collector.query.core import DeviceView, Grid, RangeResult, Series  # noqa: E402
from gputel.collector.query.paging import paginate  # noqa: E402
from gputel.collector.registry.nodes import DeviceRecord  # noqa: E402

T0 = 1_790_000_000_123_456_789
STEP = 100_000_000
POINTS = 11_000


def _grid(n: int) -> Grid:
    return Grid(T0, T0 + STEP * (n - 1), STEP)


def node_range(gpus: int = 8, n: int = POINTS) -> RangeResult:
    """A node's range answer: `gpus` series and the total, `n` points each."""
    times = _grid(n).times()
    rng = np.random.default_rng(1)
    series = [Series(f"GPU-{i}", i, times, rng.uniform(50, 400, n)) for i in range(gpus)]
    total = Series("", 0, times, rng.uniform(400, 3200, n))
    return RangeResult("node-1", "power", "watts", "avg", T0, T0 + STEP * (n - 1), STEP,
                       series, total)


def utilization(n: int = POINTS) -> UtilizationHistory:
    """Cluster utilization with every tenth point empty (NaN)."""
    grid = _grid(n)
    util = np.random.default_rng(2).uniform(0, 100, n)
    util[::10] = np.nan
    reporting = np.full(n, 64, dtype=np.int64)
    return UtilizationHistory(grid, grid.times(), util, reporting, reporting // 2, 64)


def heatmap(rows: int = 100, n: int = 1000) -> Heatmap:
    """A heatmap of `rows` GPUs x `n` columns, a few empty cells."""
    grid = _grid(n)
    rng = np.random.default_rng(3)
    made = []
    for i in range(rows):
        values = rng.uniform(50, 400, n)
        values[i::97] = np.nan
        made.append(HeatmapRow("node-1", f"GPU-{i}", i % 8, "H100", float(np.nanmean(values)),
                               values))
    return Heatmap("power", "watts", "avg", grid, grid.times(), made, 50.0, 400.0)


def devices(n: int = 1000) -> list[DeviceView]:
    """`n` GPUs with every latest value and one holder each."""
    latest = dict.fromkeys(("gpu_util", "mem_util", "mem_used", "mem_total", "power",
                            "temperature", "sm_clock", "energy"), 1.5)
    return [DeviceView(DeviceRecord(f"node-{i // 8}", i % 8, f"GPU-{i}", "nvidia", "H100",
                                    80 * 10**9, "", f"0000:{i % 256:02x}:00.0"), latest, T0,
                       ((f"ns/pod-{i}", 1.0),), 1e6, 10.0, "allocated") for i in range(n)]


def cases() -> dict[str, tuple[Callable[[], Envelope[Any, Any]], type[Any]]]:
    """Each case: the route's answer from core objects, and the route's declared model."""
    r, u, h, d = node_range(), utilization(), heatmap(), devices()
    return {
        "node range 9 x 11,000 points": (
            lambda: Envelope(data=NodeRangeOut.from_core(r),
                             meta=SeriesMeta(points=8 * POINTS, series=8)),
            Envelope[NodeRangeOut, SeriesMeta]),
        "utilization 11,000 points": (
            lambda: Envelope(data=UtilizationOut.from_core(u), meta=PointsMeta(points=POINTS)),
            Envelope[UtilizationOut, PointsMeta]),
        "heatmap 100 x 1,000": (
            lambda: Envelope(data=HeatmapOut.from_core(h), meta=GridMeta(rows=100, columns=1000)),
            Envelope[HeatmapOut, GridMeta]),
        "GPU page of 1,000": (
            lambda: paged(paginate(d, 1, 1000), DeviceOut.from_core), Paged[DeviceOut]),
    }


def time_case(answer: Callable[[], Envelope[Any, Any]], model: type[Any],
              repeats: int) -> tuple[list[float], int]:
    """Seconds per answer (build, check, dump) over `repeats` runs, and the body's size."""
    adapter = TypeAdapter(model)
    runs, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        checked = adapter.validate_python(answer(), from_attributes=True)  # as FastAPI does
        size = len(adapter.dump_json(checked, by_alias=True))
        runs.append(time.perf_counter() - started)
    return runs, size


def main() -> None:
    """Time every case and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"{'answer':32} {'median ms':>10} {'best ms':>9} {'bytes':>10}")
    for name, (answer, model) in cases().items():
        runs, size = time_case(answer, model, args.repeats)
        print(f"{name:32} {statistics.median(runs) * 1e3:10.1f} {min(runs) * 1e3:9.1f} "
              f"{size:10,}")


if __name__ == "__main__":
    main()
