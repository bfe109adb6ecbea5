"""The query core: every API (gRPC, HTTP) answers from these functions, so the numbers agree.

Range queries follow Prometheus: points at start, start+step, ... <= end; the
point at t aggregates the samples with t - step < ts <= t; a point with no
sample is left out. A node's combined series sums extensive metrics (watts,
bytes, joules) and averages intensive ones (percent, degrees, MHz) over its GPUs.

GPU states: `lost` when its node is disconnected or its newest sample is older than
HealthPolicy's threshold while the node is connected (the wire has no lost flag),
else `allocated` when a workload holds it, else `available`. A node is `unreachable`
(disconnected), `degraded` (connected, a GPU lost) or `healthy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gputel.collector.errors import InvalidParameterError, NotFoundError, unknown_metric
from gputel.collector.query.aggregate import (
    AGGREGATIONS,
    PERCENTILES,
    FloatArray,
    IntArray,
    aggregate,
    aggregate_buckets,
    check_agg,
    combine,
)
from gputel.collector.query.inventory import (
    GpuProcesses,
    MigInstance,
    MigStatistics,
    memory_free,
    mig_statistics,
)
from gputel.collector.query.kubeview import KubeNode, KubeView
from gputel.collector.query.limits import QueryGate, QueryLimits, charge
from gputel.collector.query.workloads import WorkloadQueries
from gputel.collector.registry.cluster import ClusterRegistry
from gputel.collector.registry.inventory import DeviceInventory, InventoryBook
from gputel.collector.registry.nodes import DeviceRecord, NodeRegistry, NodeState
from gputel.collector.registry.workloads import WorkloadIndex
from gputel.collector.storage.rollups import BucketReads, Tier
from gputel.collector.storage.store import Float64Array, SeriesReads
from gputel.collector.storage.windows import Windows
from gputel.proto.metrics import METRICS

__all__ = ["AGGREGATIONS", "DeviceView", "Grid", "HealthPolicy", "NodeSummary", "QueryCore",
           "RangeResult", "Series"]
_ATTRIBUTION = {1: "up", 2: "unavailable"}  # AttributionState
DEFAULT_POINTS = 1000
READ_SAMPLES = 2_000_000  # about how many samples one store read of many series holds
DEFAULT_RANGE_NS = 3600 * 10**9
# Aggregations the store computes per window (avg: its exact sum, divided here).
WINDOWED = {"avg": "sum", "sum": "sum", "count": "count", "min": "min", "max": "max",
            "last": "last"}
WINDOW_SAMPLES = 2  # samples per window from which the store's aggregation is faster
MAX_TIME_NS = 2**62  # early 2116; keeps start - step inside int64
NODE_STATUSES = ("healthy", "degraded", "unreachable", "faulty")
GPU_STATUSES = ("available", "allocated", "lost")


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """When a GPU counts as lost (no sample for max(periods x its period, min seconds)) and
    as busy (latest utilization at or above `busy_util_percent`)."""

    lost_after_periods: int = 100
    lost_after_min_seconds: float = 10.0
    busy_util_percent: float = 5.0

    def lost_after_ns(self, sample_rate_hz: float) -> int:
        """Age of the newest sample (ns) beyond which a connected node's GPU is lost."""
        period = 1e9 / sample_rate_hz if sample_rate_hz > 0 else 1e9
        return int(max(self.lost_after_periods * period, self.lost_after_min_seconds * 1e9))


@dataclass(frozen=True, slots=True)
class NodeSummary:
    """One node for lists: its state plus its latest combined values (None when unknown).

    `idle_class` is "idle" (no GPU busy), "partial" or "busy" (every GPU busy); None for an
    unreachable node or one with no live GPU.
    """

    state: NodeState
    connected: bool
    gpu_models: list[str]
    gpu_utilization: float | None
    power_watts: float | None
    attribution: str = "off"
    status: str = "healthy"
    gpus_allocated: int = 0
    gpus_lost: int = 0
    gpus_busy: int = 0
    idle_class: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceView:
    """One GPU with its latest value per metric id (Unix ns of the newest sample), who holds
    it now, its accounted joules (all, and those no workload held), its state (available,
    allocated, lost), its inventory (None: never reported), free memory (bytes) and, for
    a GPU with MIG, its MIG statistics."""

    device: DeviceRecord
    latest: dict[str, float]
    latest_ts_ns: int
    holders: tuple[tuple[str, float], ...] = ()
    energy_joules: float = 0.0
    unattributed_joules: float = 0.0
    status: str = "available"
    inventory: DeviceInventory | None = None
    memory_free_bytes: float | None = None
    mig: MigStatistics | None = None


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


@dataclass(frozen=True, slots=True)
class Grid:
    """Points start, start + step, ... <= end (Unix ns)."""

    start: int
    end: int
    step: int

    @property
    def n_points(self) -> int:
        """How many points."""
        return (self.end - self.start) // self.step + 1

    def times(self) -> IntArray:
        """Every point's time, ns."""
        return self.start + self.step * np.arange(self.n_points, dtype=np.int64)


class QueryCore:
    """Answers questions over the node registry, the workload index and the store."""

    def __init__(self, nodes: NodeRegistry, workloads: WorkloadIndex, store: SeriesReads,
                 time_ns: Callable[[], int],
                 max_points: int = 11_000, rollups: BucketReads | None = None,
                 tiers: tuple[Tier, ...] = (), head_ns: int = DEFAULT_RANGE_NS,
                 policy: HealthPolicy | None = None, limits: QueryLimits | None = None,
                 cluster: ClusterRegistry | None = None,
                 inventory: InventoryBook | None = None) -> None:
        """`cluster`: what the Kubernetes API says (None when the collector does not watch it);
        `inventory`: each GPU's inventory and processes (ingest keeps it)."""
        self._nodes = nodes
        self._inventory = inventory or InventoryBook()
        self._index = workloads
        self._store = store
        self.time_ns = time_ns
        self.max_points = max_points
        self._rollups = rollups
        self._tiers = tuple(sorted(tiers, key=lambda t: t.step_ns))
        self._head_ns = head_ns
        self.policy = policy or HealthPolicy()
        self.kube = KubeView(cluster) if cluster is not None else None
        self.workloads = WorkloadQueries(workloads, store, self.kube, time_ns)
        self.gate = QueryGate(limits)

    @property
    def store(self) -> SeriesReads:
        """The in-memory head (for the modules built on this core)."""
        return self._store

    # ------------------------------------------------------------ inventory
    def list_nodes(self, model: str | None = None,
                   status: str | None = None) -> list[NodeSummary]:
        """Every node that has said hello, sorted by name; optionally only those with a GPU
        of `model` or in `status` (healthy, degraded, unreachable, or faulty for either of the
        last two). Raises InvalidParameterError naming `status`."""
        if status is not None and status not in NODE_STATUSES:
            raise InvalidParameterError("status", f"{status!r} is not one of "
                                        f"{', '.join(NODE_STATUSES)}")
        out = [self._summary(n) for n in self._nodes.nodes()]
        return [n for n in out if (model is None or any(_model_matches(model, m)
                                                        for m in n.gpu_models))
                and status in (None, n.status, "faulty" if n.status != "healthy" else None)]

    def list_gpus(self, node: str | None = None, model: str | None = None,
                  status: str | None = None, allocated: bool | None = None) -> list[DeviceView]:
        """Every GPU, by node then index, optionally filtered (`allocated`: held by a workload
        now, whatever its state). Raises InvalidParameterError naming `status`."""
        if status is not None and status not in GPU_STATUSES:
            raise InvalidParameterError("status", f"{status!r} is not one of "
                                        f"{', '.join(GPU_STATUSES)}")
        return [v for v in self.all_devices()
                if node in (None, v.device.node)
                and (model is None or _model_matches(model, v.device.model))
                and status in (None, v.status)
                and allocated in (None, any(f > 0 for _, f in v.holders))]

    def get_node(self, name: str) -> NodeSummary:
        """One node. Raises NotFoundError."""
        return self._summary(self.node_state(name))

    def list_devices(self, node: str) -> list[DeviceView]:
        """The GPUs of a node with their latest values. Raises NotFoundError."""
        state = self.node_state(node)
        return [self._device_view(state, d) for d in state.devices]

    def all_devices(self) -> list[DeviceView]:
        """Every GPU of every node, by node then index."""
        return [self._device_view(n, d) for n in self._nodes.nodes() for d in n.devices]

    def find_device(self, uuid: str, node: str | None = None) -> DeviceView:
        """One GPU by UUID (on `node` when given). Raises NotFoundError."""
        found = self._nodes.find(uuid, node)  # by index: not a copy of every node
        if found is None:
            raise NotFoundError("gpu", uuid)
        return self._device_view(*found)

    def gpu_processes(self, uuid: str, node: str | None = None) -> GpuProcesses:
        """The processes on one GPU when its agent last read them. Raises NotFoundError."""
        device = self.find_device(uuid, node).device
        found = self._inventory.processes(device.node, device.uuid)
        return GpuProcesses(device.node, device.uuid, found.read_ts_ns if found else None,
                            found.processes if found else ())

    def node_states(self) -> list[NodeState]:
        """A copy of every node's state, by name."""
        return self._nodes.nodes()

    def kube_nodes(self) -> list[KubeNode]:
        """Nodes as the Kubernetes API lists them, with whether an agent streams from each
        ([] without the watch)."""
        if self.kube is None:
            return []
        return self.kube.nodes(s.name for s in self.node_states() if s.streams > 0)

    def node_state(self, name: str) -> NodeState:
        """A copy of one node's state. Raises NotFoundError."""
        state = self._nodes.node(name)
        if state is None:
            raise NotFoundError("node", name)
        return state

    def _summary(self, state: NodeState) -> NodeSummary:
        views = [self._device_view(state, d) for d in state.devices]
        live = [v for v in views if v.status != "lost"]
        utils = [v.latest["gpu_util"] for v in live if "gpu_util" in v.latest]
        powers = [v.latest["power"] for v in live if "power" in v.latest]
        busy = sum(u >= self.policy.busy_util_percent for u in utils)
        lost = len(views) - len(live)
        connected = state.streams > 0
        status = "unreachable" if not connected else "degraded" if lost else "healthy"
        idle_class = None
        if connected and utils:
            idle_class = "idle" if busy == 0 else "busy" if busy == len(live) else "partial"
        return NodeSummary(
            state=state, connected=connected,
            gpu_models=sorted({d.model for d in state.devices}),
            gpu_utilization=sum(utils) / len(utils) if utils else None,
            power_watts=sum(powers) if powers else None,
            attribution=_ATTRIBUTION.get(self._index.attribution_state(state.name),
                                         "off"),
            status=status, gpus_allocated=sum(v.status == "allocated" for v in views),
            gpus_lost=lost, gpus_busy=busy, idle_class=idle_class)

    def _device_view(self, state: NodeState, device: DeviceRecord,
                     with_mig: bool = True) -> DeviceView:
        latest: dict[str, float] = {}
        newest = 0
        for metric_id in METRICS:
            got = self._store.latest((device.node, device.uuid, metric_id))
            if got is not None:
                latest[metric_id] = got[1]
                newest = max(newest, got[0])
        index = self._index
        holders = index.holders(device.node, device.uuid)
        usage = index.device_usage(device.node, device.uuid)
        inventory = self._inventory.inventory(device.node, device.uuid)
        mig = None
        if with_mig and not device.mig_parent_uuid:
            mig = mig_statistics(inventory, [
                _mig_instance(self._device_view(state, d, with_mig=False))
                for d in state.devices if d.mig_parent_uuid == device.uuid])
        return DeviceView(device, latest, newest, holders, usage.energy_joules,
                          usage.unattributed_joules, self._status(state, newest, holders),
                          inventory, memory_free(latest, inventory), mig)

    def _status(self, state: NodeState, newest_ns: int,
                holders: tuple[tuple[str, float], ...]) -> str:
        age = self.time_ns() - (newest_ns or state.first_seen_ns)
        if state.streams <= 0 or age > self.policy.lost_after_ns(state.sample_rate_hz):
            return "lost"
        return "allocated" if any(f > 0 for _, f in holders) else "available"

    # ---------------------------------------------------------------- range
    def query_range(self, node: str, metric: str, start_ns: int | None = None,
                    end_ns: int | None = None, step_ns: int | None = None, agg: str = "avg",
                    gpu: str | None = None) -> RangeResult:
        """Range series of `metric` per GPU of `node` and combined. An empty `node` with a
        `gpu` UUID finds the GPU's node.

        Raises NotFoundError (node, metric, gpu) or InvalidParameterError (times, step, agg).
        """
        if not node and gpu:
            node = self.find_device(gpu).device.node
        state = self.node_state(node)
        if metric not in METRICS:
            raise unknown_metric(metric)
        check_agg(agg)
        devices = state.devices
        if gpu:
            devices = [d for d in devices if gpu in (d.uuid, str(d.index))]
            if not devices:
                raise NotFoundError("gpu", gpu)
        grid = self.resolve_range(start_ns, end_ns, step_ns, state.sample_rate_hz,
                                  self.gate.target_points(len(devices) + 1, DEFAULT_POINTS))
        with self.gate.heavy(len(devices) + 1, grid.n_points, grid.start, grid.end):
            rows = self.device_rows([(node, d.uuid) for d in devices], metric, grid, agg,
                                    state.sample_rate_hz)
        times = grid.times()
        gpus = [_series(d.uuid, d.index, times, row) for d, row in zip(devices, rows, strict=True)]
        total = combine(rows, METRICS[metric].combine, grid.n_points)
        return RangeResult(node, metric, METRICS[metric].unit, agg, grid.start, grid.end,
                           grid.step, gpus, _series("", 0, times, total))

    def workload_range(self, uid: str, metric: str, start_ns: int | None = None,
                       end_ns: int | None = None, step_ns: int | None = None,
                       agg: str = "avg") -> RangeResult:
        """Range series of one workload: per GPU it held (weighted by its share) and combined.
        Percentiles are per GPU, scaled by the share like every other aggregation.

        Raises NotFoundError (workload, metric) or InvalidParameterError.
        """
        check_agg(agg)
        info = self.workloads.summary(uid).info
        states = [self._nodes.node(n) for n in {n for n, _ in info.devices}]
        rate = max((s.sample_rate_hz for s in states if s is not None), default=1.0)
        series = len(info.devices) + 1
        grid = self.resolve_range(start_ns, end_ns, step_ns, rate,
                                  self.gate.target_points(series, DEFAULT_POINTS))
        with self.gate.heavy(series, grid.n_points, grid.start, grid.end):
            total, rows = self.workloads.series(uid, metric, grid.start, grid.step,
                                                grid.n_points, agg, aggregate)
        times = grid.times()
        index = {(d.node, d.uuid): d.index for s in states if s is not None for d in s.devices}
        gpus = [_series(gpu, index.get((node, gpu), 0), times, row) for node, gpu, row in rows]
        return RangeResult(uid, metric, METRICS[metric].unit, agg, grid.start, grid.end,
                           grid.step, gpus, _series("", 0, times, total))

    def resolve_range(self, start_ns: int | None, end_ns: int | None, step_ns: int | None,
                      rate_hz: float, target_points: int = DEFAULT_POINTS) -> Grid:
        """The grid of a query: `end` defaults to now, `start` to an hour before, `step` to at
        most `target_points` points and never below the sample period. A defaulted range
        ends on a point at `end`. Raises InvalidParameterError (start, end, step)."""
        end = self.time_ns() if end_ns is None else end_ns
        start = end - DEFAULT_RANGE_NS if start_ns is None else start_ns
        step = self._check_range(start, end, step_ns, rate_hz, target_points)
        if start_ns is None:
            start = end - (end - start) // step * step
        return Grid(start, end, step)

    def device_rows(self, series: list[tuple[str, str]], metric: str, grid: Grid,
                    agg: str, rate_hz: float) -> list[FloatArray]:
        """One aggregated row per (node, GPU uuid) on the grid (see `device_rows_of`).

        Raises InvalidParameterError naming `agg` for a percentile over a rollup tier.
        """
        return self.device_rows_of(series, (metric,), grid, agg, rate_hz)[metric]

    def device_rows_of(self, series: list[tuple[str, str]], metrics: Sequence[str], grid: Grid,
                       agg: str, rate_hz: float) -> dict[str, list[FloatArray]]:
        """Per metric, one aggregated row per (node, GPU uuid) on the grid, from the head or
        the fitting rollup tier. In the head, the store aggregates what it can exactly (every
        metric at once, in one statement) when a window holds a few samples at `rate_hz`; the
        rest is read as samples, many series at once (one scan, not one per GPU), as many as
        keep a read near READ_SAMPLES.

        Raises InvalidParameterError naming `agg` for a percentile over a rollup tier.
        """
        tier = self._tier_for(grid.start, grid.step)
        if tier is not None:
            return {m: self._tier_rows(series, m, grid, agg, tier) for m in metrics}
        done: dict[str, list[FloatArray]] = {}
        if agg in WINDOWED and series and grid.step * rate_hz >= WINDOW_SAMPLES * 1e9:
            got = self._store.read_windows(series, metrics, grid.start - grid.step + 1,
                                           grid.step, grid.n_points, WINDOWED[agg])
            done = {m: _window_rows(w, len(series), grid.n_points, agg) for m, w in got.items()}
        return {m: done[m] if m in done else self._sample_rows(series, m, grid, agg, rate_hz)
                for m in metrics}

    def _sample_rows(self, series: list[tuple[str, str]], metric: str, grid: Grid, agg: str,
                     rate_hz: float) -> list[FloatArray]:
        start, step, n = grid.start, grid.step, grid.n_points
        first = start - step + 1
        per_series = max(1.0, (grid.end - first) / 1e9 * rate_hz)
        chunk = max(1, int(READ_SAMPLES // per_series))
        return [aggregate(*_charged(r), start, step, n, agg)
                for i in range(0, len(series), chunk)
                for r in self._store.read_many(series[i:i + chunk], metric, first, grid.end)]

    def _tier_rows(self, series: list[tuple[str, str]], metric: str, grid: Grid, agg: str,
                   tier: Tier) -> list[FloatArray]:
        if agg in PERCENTILES:
            raise InvalidParameterError(
                "agg", f"{agg} needs raw samples, but this range starts before the full-rate "
                f"head (the last {self._head_ns / 1e9:g} s); older data is kept as "
                "min/max/sum/count/last rollups, from which no percentile can be computed: "
                "use avg, min, max, sum, last or count, or a range inside the head")
        assert self._rollups is not None
        start, step, n = grid.start, grid.step, grid.n_points
        rows = []
        for node, u in series:
            buckets = self._rollups.read(tier.step_ns, node, u, metric,
                                         start - step - tier.step_ns + 1, grid.end)
            charge(int(buckets.start_ns.size))
            rows.append(aggregate_buckets(buckets, tier.step_ns, start, step, n, agg))
        return rows

    def samples(self, node: str, uuid: str, metric: str, start_ns: int, end_ns: int,
                bucket_value: str = "avg") -> tuple[IntArray, FloatArray, int]:
        """One series in [start_ns, end_ns]: raw samples where the head holds them; before the
        head, one pseudo-sample per bucket of the finest tier still holding start_ns, stamped
        at the bucket's last instant and valued its `bucket_value` (avg or last). Returns
        (ts_ns, values, bucket width in ns, 0 when every sample is raw)."""
        head_start = self.time_ns() - self._head_ns
        ts, values, width = np.empty(0, np.int64), np.empty(0, np.float64), 0
        if self._rollups is not None and self._tiers and start_ns < head_start:
            holding = [t for t in self._tiers if start_ns >= self.time_ns() - t.retention_ns]
            width = (holding or [self._tiers[-1]])[0].step_ns
            b = self._rollups.read(width, node, uuid, metric, start_ns, head_start - 1)
            charge(int(b.start_ns.size))
            ts = b.start_ns + width - 1
            values = b.last if bucket_value == "last" else b.sum / np.maximum(b.count, 1)
        raw_from = max(start_ns, head_start) if width else start_ns
        raw_ts, raw = _charged(self._store.read((node, uuid, metric), raw_from, end_ns))
        return (np.concatenate((ts, raw_ts)), np.concatenate((values, raw.astype(np.float64))),
                width)

    def window_sums(self, node: str, uuid: str, metric: str, start_ns: int,
                    end_ns: int) -> tuple[float, int, float]:
        """(sum, count, max) of one series over [start_ns, end_ns], max -inf when empty.

        Seamless across storage: before the head, the buckets of the finest tier still
        holding start_ns; from the first bucket boundary inside the head, raw samples; so
        no sample counts twice and the newest (not yet rolled up) are included.
        """
        split, total, count, top = start_ns, 0.0, 0, -math.inf
        head_start = self.time_ns() - self._head_ns
        if self._rollups is not None and self._tiers and start_ns < head_start:
            holding = [t for t in self._tiers if start_ns >= self.time_ns() - t.retention_ns]
            width = (holding or [self._tiers[-1]])[0].step_ns
            split = min(-(-head_start // width) * width, end_ns + 1)
            b = self._rollups.read(width, node, uuid, metric, start_ns, split - 1)
            if b.count.size:
                total, count, top = float(b.sum.sum()), int(b.count.sum()), float(b.max.max())
        _, raw = self._store.read((node, uuid, metric), split, end_ns)
        if raw.size:
            total += float(raw.astype(np.float64).sum())
            count += int(raw.size)
            top = max(top, float(raw.max()))
        return total, count, top

    def _tier_for(self, start: int, step: int) -> Tier | None:
        """None when the head covers `start`; else the coarsest tier no coarser than `step`
        among those still holding `start` (or the coarsest tier at all)."""
        now = self.time_ns()
        if self._rollups is None or not self._tiers or start >= now - self._head_ns:
            return None
        holding = [t for t in self._tiers if start >= now - t.retention_ns] or [self._tiers[-1]]
        fitting = [t for t in holding if t.step_ns <= step]
        return fitting[-1] if fitting else holding[0]

    def _check_range(self, start: int, end: int, step: int | None, rate_hz: float,
                     target_points: int = DEFAULT_POINTS) -> int:
        for name, value in (("start", start), ("end", end)):
            if not 0 <= value <= MAX_TIME_NS:
                raise InvalidParameterError(name, "time is outside 1970 to 2116")
        if end < start:
            raise InvalidParameterError("end", "end is before start")
        if step is None:
            period = round(1e9 / rate_hz) if rate_hz > 0 else 10**9
            step = max(period, math.ceil((end - start) / (target_points - 1)) if end > start
                       else period)
        if not 0 < step <= MAX_TIME_NS:
            raise InvalidParameterError("step", "step must be positive")
        points = (end - start) // step + 1
        if points > self.max_points:
            raise InvalidParameterError(
                "step", f"the query would return {points} points per series; the limit is "
                f"{self.max_points}: raise step or shorten the range")
        return step


def _charged(read: tuple[IntArray, Float64Array]) -> tuple[IntArray, Float64Array]:
    """A store read, counted against the running query's sample budget."""
    charge(int(read[0].size))
    return read


def _window_rows(w: Windows, n_series: int, n_points: int, agg: str) -> list[FloatArray]:
    """The store's windows as one row per series (NaN where a window holds no sample), the
    values `aggregate` gives on the same samples (avg: the exact sum over the count)."""
    charge(int(w.count.sum()))
    matrix = np.full((n_series, n_points), np.nan)
    if agg == "avg":
        matrix[w.series, w.window] = w.value / w.count
    elif agg == "count":
        matrix[w.series, w.window] = w.count
    else:
        matrix[w.series, w.window] = w.value
    return list(matrix)


def _model_matches(wanted: str, model: str) -> bool:
    """A model filter matches any part of the model name, case-insensitively ("A100"
    finds "NVIDIA A100-SXM4-80GB")."""
    return wanted.casefold() in model.casefold()


def _mig_instance(v: DeviceView) -> MigInstance:
    return MigInstance(v.device.uuid, v.inventory.mig_profile or None if v.inventory else None,
                       v.status, v.latest.get("mem_used"),
                       int(v.latest.get("mem_total", v.device.memory_total_bytes)),
                       v.latest.get("gpu_util"))


def _series(gpu: str, index: int, grid: IntArray, row: FloatArray) -> Series:
    keep = ~np.isnan(row)
    return Series(gpu, index, grid[keep], row[keep])
