"""The query core: every API (gRPC, HTTP) answers from these functions, so the numbers agree.

Range queries follow Prometheus: points at start, start+step, ... <= end; the
point at t aggregates the samples with t - step < ts <= t; a point with no
sample is left out. A node's combined series sums extensive metrics (watts,
bytes, joules) and averages intensive ones (percent, degrees, MHz) over its GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gputel.collector.errors import InvalidParameterError, NotFoundError
from gputel.collector.ingest import DeviceRecord, IngestCore, NodeState
from gputel.collector.rollups import Buckets, RollupReader, Tier
from gputel.collector.store import SeriesStore
from gputel.collector.workload_query import WorkloadQueries
from gputel.proto.metrics import METRICS, Combine

AGGREGATIONS = ("avg", "min", "max", "sum", "last", "count")
_ATTRIBUTION = {1: "up", 2: "unavailable"}  # AttributionState
DEFAULT_POINTS = 1000
DEFAULT_RANGE_NS = 3600 * 10**9
MAX_TIME_NS = 2**62  # early 2116; keeps start - step inside int64
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class NodeSummary:
    """One node for lists: its state plus its latest combined values (None when unknown)."""

    state: NodeState
    connected: bool
    gpu_models: list[str]
    gpu_utilization: float | None
    power_watts: float | None
    attribution: str = "off"


@dataclass(frozen=True, slots=True)
class DeviceView:
    """One GPU with its latest value per metric id (Unix ns of the newest sample), who holds
    it now, and its accounted joules (all, and those no workload held)."""

    device: DeviceRecord
    latest: dict[str, float]
    latest_ts_ns: int
    holders: tuple[tuple[str, float], ...] = ()
    energy_joules: float = 0.0
    unattributed_joules: float = 0.0


@dataclass(frozen=True, slots=True)
class Series:
    """Points of one GPU (or the node, gpu='') as parallel arrays."""

    gpu: str
    index: int
    ts_ns: IntArray
    values: FloatArray


@dataclass(frozen=True, slots=True)
class RangeResult:
    """The answer to a range query; times in Unix ns."""

    node: str
    metric: str
    unit: str
    agg: str
    start_ns: int
    end_ns: int
    step_ns: int
    gpus: list[Series]
    node_total: Series


class QueryCore:
    """Answers questions over the ingest state and the store."""

    def __init__(self, ingest: IngestCore, store: SeriesStore, time_ns: Callable[[], int],
                 max_points: int = 11_000, rollups: RollupReader | None = None,
                 tiers: tuple[Tier, ...] = (), head_ns: int = DEFAULT_RANGE_NS) -> None:
        self._ingest = ingest
        self._store = store
        self._time_ns = time_ns
        self.max_points = max_points
        self._rollups = rollups
        self._tiers = tuple(sorted(tiers, key=lambda t: t.step_ns))
        self._head_ns = head_ns
        self.workloads = WorkloadQueries(ingest.workloads, store)

    # ------------------------------------------------------------ inventory
    def list_nodes(self) -> list[NodeSummary]:
        """Every node that has said hello, sorted by name."""
        return [self._summary(n) for n in self._ingest.nodes()]

    def get_node(self, name: str) -> NodeSummary:
        """One node. Raises NotFoundError."""
        return self._summary(self._node(name))

    def list_devices(self, node: str) -> list[DeviceView]:
        """The GPUs of a node with their latest values. Raises NotFoundError."""
        return [self._device_view(d) for d in self._node(node).devices]

    def _node(self, name: str) -> NodeState:
        state = self._ingest.node(name)
        if state is None:
            raise NotFoundError("node", name)
        return state

    def _summary(self, state: NodeState) -> NodeSummary:
        views = [self._device_view(d) for d in state.devices]
        utils = [v.latest["gpu_util"] for v in views if "gpu_util" in v.latest]
        powers = [v.latest["power"] for v in views if "power" in v.latest]
        return NodeSummary(
            state=state, connected=state.streams > 0,
            gpu_models=sorted({d.model for d in state.devices}),
            gpu_utilization=sum(utils) / len(utils) if utils else None,
            power_watts=sum(powers) if powers else None,
            attribution=_ATTRIBUTION.get(self._ingest.workloads.attribution_state(state.name),
                                         "off"))

    def _device_view(self, device: DeviceRecord) -> DeviceView:
        latest: dict[str, float] = {}
        newest = 0
        for metric_id in METRICS:
            got = self._store.latest((device.node, device.uuid, metric_id))
            if got is not None:
                latest[metric_id] = got[1]
                newest = max(newest, got[0])
        usage = self._ingest.workloads.device_usage(device.node, device.uuid)
        return DeviceView(device, latest, newest,
                          self._ingest.workloads.holders(device.node, device.uuid),
                          usage.energy_joules, usage.unattributed_joules)

    # ---------------------------------------------------------------- range
    def query_range(self, node: str, metric: str, start_ns: int | None = None,
                    end_ns: int | None = None, step_ns: int | None = None, agg: str = "avg",
                    gpu: str | None = None) -> RangeResult:
        """Range series of `metric` per GPU of `node` and combined.

        Raises NotFoundError (node, metric, gpu) or InvalidParameterError (times, step, agg).
        """
        state = self._node(node)
        if metric not in METRICS:
            raise NotFoundError("metric", metric)
        if agg not in AGGREGATIONS:
            raise InvalidParameterError("agg", f"{agg!r} is not one of {', '.join(AGGREGATIONS)}")
        devices = state.devices
        if gpu:
            devices = [d for d in devices if gpu in (d.uuid, str(d.index))]
            if not devices:
                raise NotFoundError("gpu", gpu)
        end = self._time_ns() if end_ns is None else end_ns
        start = end - DEFAULT_RANGE_NS if start_ns is None else start_ns
        step = self._check_range(start, end, step_ns, state.sample_rate_hz)
        if start_ns is None:  # a defaulted range ends on a point at `end`, so "now" shows
            start = end - (end - start) // step * step
        n_points = (end - start) // step + 1
        tier = self._tier_for(start, step)
        if tier is None:
            rows = [_aggregate(*self._store.read((node, d.uuid, metric), start - step + 1, end),
                               start, step, n_points, agg) for d in devices]
        else:
            assert self._rollups is not None
            rows = [_aggregate_buckets(
                self._rollups.read(tier.step_ns, node, d.uuid, metric,
                                   start - step - tier.step_ns + 1, end),
                tier.step_ns, start, step, n_points, agg) for d in devices]
        grid = start + step * np.arange(n_points, dtype=np.int64)
        gpus = [_series(d.uuid, d.index, grid, row) for d, row in zip(devices, rows, strict=True)]
        total = _combine(rows, METRICS[metric].combine, n_points)
        return RangeResult(node, metric, METRICS[metric].unit, agg, start, end, step, gpus,
                           _series("", 0, grid, total))

    def workload_range(self, uid: str, metric: str, start_ns: int | None = None,
                       end_ns: int | None = None, step_ns: int | None = None,
                       agg: str = "avg") -> RangeResult:
        """Range series of one workload: per GPU it held (weighted by its share) and combined.

        Raises NotFoundError (workload, metric) or InvalidParameterError.
        """
        if agg not in AGGREGATIONS:
            raise InvalidParameterError("agg", f"{agg!r} is not one of {', '.join(AGGREGATIONS)}")
        info = self.workloads.summary(uid).info
        end = self._time_ns() if end_ns is None else end_ns
        start = end - DEFAULT_RANGE_NS if start_ns is None else start_ns
        rates = [self._ingest.node(n) for n, _ in info.devices]
        rate = max((r.sample_rate_hz for r in rates if r is not None), default=1.0)
        step = self._check_range(start, end, step_ns, rate)
        if start_ns is None:
            start = end - (end - start) // step * step
        n_points = (end - start) // step + 1
        total, rows = self.workloads.series(uid, metric, start, step, n_points, agg, _aggregate)
        grid = start + step * np.arange(n_points, dtype=np.int64)
        index = {(d.node, d.uuid): d.index for n in {k[0] for k in info.devices}
                 for d in (self._ingest.node(n).devices if self._ingest.node(n) else [])}
        gpus = [_series(gpu, index.get((node, gpu), 0), grid, row) for node, gpu, row in rows]
        return RangeResult(uid, metric, METRICS[metric].unit, agg, start, end, step, gpus,
                           _series("", 0, grid, total))

    def _tier_for(self, start: int, step: int) -> Tier | None:
        """None when the head covers `start`; else the coarsest tier no coarser than `step`
        among those still holding `start` (or the coarsest tier at all)."""
        now = self._time_ns()
        if self._rollups is None or not self._tiers or start >= now - self._head_ns:
            return None
        holding = [t for t in self._tiers if start >= now - t.retention_ns] or [self._tiers[-1]]
        fitting = [t for t in holding if t.step_ns <= step]
        return fitting[-1] if fitting else holding[0]

    def _check_range(self, start: int, end: int, step: int | None, rate_hz: float) -> int:
        for name, value in (("start", start), ("end", end)):
            if not 0 <= value <= MAX_TIME_NS:
                raise InvalidParameterError(name, "time is outside 1970 to 2116")
        if end < start:
            raise InvalidParameterError("end", "end is before start")
        if step is None:
            period = round(1e9 / rate_hz) if rate_hz > 0 else 10**9
            step = max(period, math.ceil((end - start) / (DEFAULT_POINTS - 1)) if end > start
                       else period)
        if not 0 < step <= MAX_TIME_NS:
            raise InvalidParameterError("step", "step must be positive")
        points = (end - start) // step + 1
        if points > self.max_points:
            raise InvalidParameterError(
                "step", f"the query would return {points} points per series; the limit is "
                f"{self.max_points}: raise step or shorten the range")
        return step


def _aggregate(ts: IntArray, values: npt.NDArray[np.float32], start: int, step: int,
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
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    idx = k[starts]
    counts = np.diff(np.append(starts, k.size))
    if agg == "count":
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


def _aggregate_buckets(b: Buckets, width: int, start: int, step: int, n_points: int,
                       agg: str) -> FloatArray:
    """Like _aggregate, from rollup buckets: a bucket counts toward the point whose
    window holds its last instant (start + width - 1 ns)."""
    out = np.full(n_points, np.nan)
    if not b.start_ns.size:
        return out
    k = -((start - (b.start_ns + width - 1)) // step)
    keep = (k >= 0) & (k < n_points)
    k = k[keep]
    if not k.size:
        return out
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    idx = k[starts]
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


def _combine(rows: list[FloatArray], combine: Combine, n_points: int) -> FloatArray:
    if not rows:
        return np.full(n_points, np.nan)
    matrix = np.vstack(rows)
    present = ~np.isnan(matrix).all(axis=0)
    out = np.full(n_points, np.nan)
    filled = np.where(np.isnan(matrix), 0.0, matrix)
    sums = filled.sum(axis=0)
    if combine is Combine.SUM:
        out[present] = sums[present]
    else:
        counts = (~np.isnan(matrix)).sum(axis=0)
        out[present] = sums[present] / counts[present]
    return out


def _series(gpu: str, index: int, grid: IntArray, row: FloatArray) -> Series:
    keep = ~np.isnan(row)
    return Series(gpu, index, grid[keep], row[keep])
