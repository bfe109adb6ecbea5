"""Cluster-wide answers of the query core: overview, utilization history, heatmap, top-K.

Definitions (the same for HTTP and gRPC):
- a node is healthy when connected with no lost GPU, faulty when unreachable or degraded;
- a GPU is busy when its latest utilization is at least HealthPolicy.busy_util_percent;
  a connected node is fully idle (no GPU busy), busy (every live GPU busy) or partially
  idle (the rest);
- allocation rate = GPUs held by a workload now / all GPUs known; in the history, a GPU
  counts as held at a point while it is live there (not lost, as in the overview);
- utilization and power "now" are over live (not lost) GPUs only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gputel.collector.errors import InvalidParameterError, unknown_metric
from gputel.collector.query.aggregate import FloatArray, IntArray, check_agg
from gputel.collector.query.core import DEFAULT_POINTS, DeviceView, Grid, QueryCore
from gputel.collector.registry.nodes import NodeState
from gputel.proto.metrics import METRICS

HEATMAP_POINTS = 60
MAX_K = 100
TOP_METRICS = {"energy": "joules", "gpuSeconds": "seconds", "utilization": "percent"}
TOP_GROUPS = ("workloads", "namespaces")


@dataclass(frozen=True, slots=True)
class Overview:
    """The cluster now. Rates are 0..1, utilization in percent, power in watts; memory
    utilization (percent) and temperature (degrees C) are means over live GPUs."""

    nodes_total: int
    nodes_healthy: int
    nodes_faulty: int
    nodes_fully_idle: int
    nodes_partially_idle: int
    nodes_busy: int
    gpus_total: int
    gpus_allocated: int
    gpus_lost: int
    allocation_rate: float | None
    gpu_utilization: float | None
    power_watts: float | None
    active_alerts: int
    busy_threshold_percent: float
    memory_utilization: float | None = None
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class UtilizationHistory:
    """Per grid point: mean GPU utilization (percent, NaN when no GPU reported), GPUs that
    reported, GPUs held by a workload, out of `gpus_total`; and `memory_used`, device memory
    in use over device memory in all (percent, NaN when no GPU reported both), summed over
    whole GPUs (a MIG instance's memory is in its parent's)."""

    grid: Grid
    times: IntArray
    utilization: FloatArray
    reporting: IntArray
    allocated: IntArray
    gpus_total: int
    memory_used: FloatArray


@dataclass(frozen=True, slots=True)
class HeatmapRow:
    """One GPU of a heatmap: its window mean and one value per column (NaN: no sample)."""

    node: str
    uuid: str
    index: int
    model: str
    mean: float
    values: FloatArray


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Top-K GPUs by a metric's mean over the window: rows = GPUs, columns = grid points."""

    metric: str
    unit: str
    agg: str
    grid: Grid
    times: IntArray
    rows: list[HeatmapRow]
    min_value: float | None
    max_value: float | None


@dataclass(frozen=True, slots=True)
class TopEntry:
    """One consumer: a workload (id = uid) or a namespace (id = its name)."""

    rank: int
    kind: str
    id: str
    namespace: str
    name: str
    value: float


@dataclass(frozen=True, slots=True)
class Top:
    """Top consumers by `metric` (energy: joules, gpuSeconds: seconds, utilization: %)."""

    by: str
    metric: str
    unit: str
    entries: list[TopEntry]


class ClusterQueries:
    """Cluster-wide questions over the query core."""

    def __init__(self, core: QueryCore, active_alerts: Callable[[], int]) -> None:
        self._core = core
        self._active_alerts = active_alerts

    def overview(self) -> Overview:
        """Nodes by health and idleness, GPUs by allocation, utilization and power now."""
        nodes = self._core.list_nodes()
        live = [v for v in self._core.all_devices() if v.status != "lost"]
        utils = _latest(live, "gpu_util")
        powers = _latest(live, "power")
        total = sum(len(n.state.devices) for n in nodes)
        allocated = sum(n.gpus_allocated for n in nodes)
        classes = [n.idle_class for n in nodes]
        return Overview(
            nodes_total=len(nodes), nodes_healthy=sum(n.status == "healthy" for n in nodes),
            nodes_faulty=sum(n.status != "healthy" for n in nodes),
            nodes_fully_idle=classes.count("idle"), nodes_partially_idle=classes.count("partial"),
            nodes_busy=classes.count("busy"), gpus_total=total, gpus_allocated=allocated,
            gpus_lost=sum(n.gpus_lost for n in nodes),
            allocation_rate=allocated / total if total else None,
            gpu_utilization=_mean(utils),
            power_watts=sum(powers) if powers else None, active_alerts=self._active_alerts(),
            busy_threshold_percent=self._core.policy.busy_util_percent,
            memory_utilization=_mean(_latest(live, "mem_util")),
            temperature=_mean(_latest(live, "temperature")))

    def utilization_history(self, start_ns: int | None = None, end_ns: int | None = None,
                            step_ns: int | None = None,
                            node: str | None = None) -> UtilizationHistory:
        """Mean GPU utilization over every GPU (of `node` when given), GPUs allocated and
        the share of device memory in use, per grid point.

        Raises InvalidParameterError (start, end, step) or NotFoundError (node).
        """
        states = ([self._core.node_state(node)] if node is not None
                  else self._core.node_states())
        rate = _rate(states)
        gpus = sum(len(s.devices) for s in states)
        grid = self._core.resolve_range(start_ns, end_ns, step_ns, rate,
                                        self._core.gate.target_points(gpus, DEFAULT_POINTS))
        with self._core.gate.heavy(gpus, grid.n_points, grid.start, grid.end,
                                   bound_samples=False):
            return self._utilization(states, grid)

    def _utilization(self, states: list[NodeState], grid: Grid) -> UtilizationHistory:
        times = grid.times()
        series = [(s.name, d) for s in states for d in s.devices]
        got = self._core.device_rows_of([(n, d.uuid) for n, d in series],
                                        ("gpu_util", "mem_used", "mem_total"), grid, "avg",
                                        _rate(states))
        rows = got["gpu_util"]
        allocated = np.zeros(grid.n_points, dtype=np.int64)
        used, total_bytes = np.zeros(grid.n_points), np.zeros(grid.n_points)
        whole = [i for i, (_, d) in enumerate(series) if not d.mig_parent_uuid]
        for u, t in zip((got["mem_used"][i] for i in whole), (got["mem_total"][i] for i in whole),
                        strict=True):
            both = ~np.isnan(u) & ~np.isnan(t)
            used[both] += u[both]
            total_bytes[both] += t[both]
        for state in states:
            uuids = [d.uuid for d in state.devices]
            # A holding counts while the GPU is live: up to its newest sample plus the
            # time after which it counts as lost (as in the overview), so the point at
            # `now` agrees with allocatedGpus there; a disconnected node's, to its data.
            grace = self._core.policy.lost_after_ns(state.sample_rate_hz) \
                if state.streams > 0 else 0
            for uuid in uuids:
                latest = self._core.store.latest((state.name, uuid, "gpu_util"))
                if latest is not None:
                    allocated += self._core.workloads.held_mask(state.name, uuid, times,
                                                                latest[0] + grace)
        matrix = np.vstack(rows) if rows else np.full((1, grid.n_points), np.nan)
        reporting = (~np.isnan(matrix)).sum(axis=0).astype(np.int64)
        sums = np.nansum(matrix, axis=0)
        util = np.where(reporting > 0, sums / np.maximum(reporting, 1), np.nan)
        total = sum(len(s.devices) for s in states)
        memory = np.full(grid.n_points, np.nan)
        np.divide(100.0 * used, total_bytes, out=memory, where=total_bytes > 0)
        return UtilizationHistory(grid, times, util, reporting, allocated, total, memory)

    def heatmap(self, metric: str = "power", start_ns: int | None = None,
                end_ns: int | None = None, step_ns: int | None = None, k: int = 10,
                agg: str = "avg") -> Heatmap:
        """The `k` GPUs with the highest mean of `metric` over the window, one row each
        (default ~60 columns). Raises NotFoundError (metric) or InvalidParameterError."""
        if metric not in METRICS:
            raise unknown_metric(metric)
        check_agg(agg)
        if not 1 <= k <= MAX_K:
            raise InvalidParameterError("k", f"{k} is outside 1 to {MAX_K}")
        states = self._core.node_states()
        rate = _rate(states)
        gpus = sum(len(s.devices) for s in states)
        grid = self._core.resolve_range(start_ns, end_ns, step_ns, rate,
                                        self._core.gate.target_points(gpus, HEATMAP_POINTS))
        with self._core.gate.heavy(gpus, grid.n_points, grid.start, grid.end,
                                   bound_samples=False):
            return self._heatmap(states, metric, grid, k, agg)

    def _heatmap(self, states: list[NodeState], metric: str, grid: Grid, k: int,
                 agg: str) -> Heatmap:
        devices = [(state.name, d) for state in states for d in state.devices]
        values = self._core.device_rows([(name, d.uuid) for name, d in devices], metric, grid,
                                        agg, _rate(states))
        rows = [HeatmapRow(name, d.uuid, d.index, d.model, float(np.nanmean(row)), row)
                for (name, d), row in zip(devices, values, strict=True)
                if not np.isnan(row).all()]
        rows.sort(key=lambda r: (-r.mean, r.node, r.index))
        top = rows[:k]
        finite = [v for r in top for v in r.values[~np.isnan(r.values)]]
        return Heatmap(metric, METRICS[metric].unit, agg, grid, grid.times(), top,
                       float(min(finite)) if finite else None,
                       float(max(finite)) if finite else None)

    def top(self, by: str = "workloads", metric: str = "energy", limit: int = 10) -> Top:
        """Top consumers by accounted use since the collector started (or its replay).

        Raises InvalidParameterError (by, metric, limit).
        """
        if by not in TOP_GROUPS:
            raise InvalidParameterError("by", f"{by!r} is not one of {', '.join(TOP_GROUPS)}")
        if metric not in TOP_METRICS:
            raise InvalidParameterError("metric", f"{metric!r} is not one of "
                                        f"{', '.join(TOP_METRICS)}")
        if not 1 <= limit <= MAX_K:
            raise InvalidParameterError("limit", f"{limit} is outside 1 to {MAX_K}")
        if by == "workloads":
            found = [("workload", w.info.uid, w.info.namespace, w.info.pod,
                      _value(metric, w.usage.energy_joules, w.usage.gpu_seconds_allocated,
                             w.utilization_percent))
                     for w in self._core.workloads.summaries()]
        else:
            found = [("namespace", n.namespace, n.namespace, n.namespace,
                      _value(metric, n.usage.energy_joules, n.usage.gpu_seconds_allocated,
                             n.utilization_percent))
                     for n in self._core.workloads.namespaces()]
        known = [(kind, ident, ns, name, value) for kind, ident, ns, name, value in found
                 if value is not None]
        ranked = sorted(known, key=lambda f: (-f[4], f[1]))
        entries = [TopEntry(i + 1, kind, ident, ns, name, value)
                   for i, (kind, ident, ns, name, value) in enumerate(ranked[:limit])]
        return Top(by, metric, TOP_METRICS[metric], entries)


def _latest(views: list[DeviceView], metric: str) -> list[float]:
    return [v.latest[metric] for v in views if metric in v.latest]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _value(metric: str, energy: float, gpu_seconds: float,
           utilization: float | None) -> float | None:
    return {"energy": energy, "gpuSeconds": gpu_seconds, "utilization": utilization}[metric]


def _rate(states: list[NodeState]) -> float:
    """The highest sample rate of the nodes (Hz), 1 when none."""
    return max((s.sample_rate_hz for s in states), default=1.0)
