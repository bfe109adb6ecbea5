"""The answers of /api/v1 about the cluster as a whole and its alerts: health, overview,
utilization history, heatmap, top, statistics, cost. One model per answer, built from the
query core's object by its `from_core`, which is both the OpenAPI schema and the JSON the
route writes. Units are in the field names; times are RFC 3339 strings.
"""

from __future__ import annotations

from typing import Self, TypedDict

from pydantic import Field

from gputel.collector.api.http.wire import ApiModel, finite_list, time_or_none, times
from gputel.collector.query.alerts import Alert
from gputel.collector.query.cluster import Heatmap, HeatmapRow, Overview, Top, UtilizationHistory
from gputel.collector.query.core import Grid
from gputel.collector.query.costs import (
    PROJECTION_METHOD,
    CostLine,
    CostProjection,
    CostReport,
    Pricing,
)
from gputel.collector.query.health import HealthReport, StoreHealth
from gputel.collector.query.statistics import (
    DeviceUsageStats,
    ModelUsageStats,
    UsageStatistics,
    UsageStats,
)
from gputel.collector.timefmt import format_time


class TierOut(ApiModel):
    """A rollup tier: bucket width and how long its buckets are kept."""

    step_seconds: float
    retention_seconds: float


class StoreOut(ApiModel):
    """The store (path, size, write failures, tiers and problems only on disk)."""

    kind: str
    status: str
    samples: int
    retention_seconds: float
    path: str | None = None
    size_bytes: int | None = Field(default=None, alias="bytes")
    write_failures: int | None = None
    tiers: list[TierOut] | None = None
    problems: list[str] | None = None

    @classmethod
    def from_core(cls, s: StoreHealth) -> Self:
        """The store's part of the health answer."""
        tiers = [TierOut(step_seconds=step, retention_seconds=kept) for step, kept in s.tiers]
        return cls(kind=s.kind, status=s.status, samples=s.samples,
                   retention_seconds=s.retention_seconds, path=s.path,
                   bytes=s.size_bytes,  # size_bytes by its alias, the name type checkers know
                   write_failures=s.write_failures, tiers=tiers if s.kind != "memory" else None,
                   problems=list(s.problems) if s.kind != "memory" else None)


class HealthOut(ApiModel):
    """The collector's state."""

    status: str
    version: str
    store: StoreOut
    connected_agents: int
    nodes: int
    active_alerts: int
    uptime_seconds: float
    compat: list[str]

    @classmethod
    def from_core(cls, h: HealthReport) -> Self:
        """The collector's health; `compat` the compatibility APIs it serves."""
        return cls(status=h.status, version=h.version, store=StoreOut.from_core(h.store),
                   connected_agents=h.connected_agents, nodes=h.nodes,
                   active_alerts=h.active_alerts, uptime_seconds=h.uptime_seconds,
                   compat=list(h.compat))


class OverviewOut(ApiModel):
    """The cluster now (rates 0..1)."""

    total_nodes: int
    healthy_nodes: int
    faulty_nodes: int
    fully_idle_nodes: int
    partially_idle_nodes: int
    busy_nodes: int
    total_gpus: int
    allocated_gpus: int
    lost_gpus: int
    allocation_rate: float | None
    gpu_utilization: float | None
    power_watts: float | None
    active_alerts: int
    busy_threshold_percent: float

    @classmethod
    def from_core(cls, o: Overview) -> Self:
        """The cluster now."""
        return cls(total_nodes=o.nodes_total, healthy_nodes=o.nodes_healthy,
                   faulty_nodes=o.nodes_faulty, fully_idle_nodes=o.nodes_fully_idle,
                   partially_idle_nodes=o.nodes_partially_idle, busy_nodes=o.nodes_busy,
                   total_gpus=o.gpus_total, allocated_gpus=o.gpus_allocated,
                   lost_gpus=o.gpus_lost, allocation_rate=o.allocation_rate,
                   gpu_utilization=o.gpu_utilization, power_watts=o.power_watts,
                   active_alerts=o.active_alerts, busy_threshold_percent=o.busy_threshold_percent)


class GridHead(TypedDict):
    """The range and step of an answer over a grid of points."""

    start: str
    end: str
    step_seconds: float


def grid_head(g: Grid) -> GridHead:
    """A grid's start, end and step (seconds)."""
    return GridHead(start=format_time(g.start), end=format_time(g.end), step_seconds=g.step / 1e9)


class UtilizationPointOut(ApiModel):
    """One point of the cluster's utilization history; `memoryUsedPercent` device memory in
    use over device memory in all (whole GPUs; null where none reported)."""

    time: str
    gpu_utilization: float | None
    gpus_reporting: int
    allocated_gpus: int
    allocation_rate: float | None
    memory_used_percent: float | None


class UtilizationOut(ApiModel):
    """Cluster utilization (percent) and allocation over time."""

    start: str
    end: str
    step_seconds: float
    unit: str
    total_gpus: int
    points: list[UtilizationPointOut]

    @classmethod
    def from_core(cls, u: UtilizationHistory) -> Self:
        """Cluster utilization over time (null utilization where no GPU reported)."""
        total = u.gpus_total
        points = [UtilizationPointOut(time=t, gpu_utilization=v, gpus_reporting=n,
                                      allocated_gpus=a, allocation_rate=a / total if total
                                      else None, memory_used_percent=m)
                  for t, v, n, a, m in zip(times(u.times), finite_list(u.utilization),
                                           u.reporting.tolist(), u.allocated.tolist(),
                                           finite_list(u.memory_used), strict=True)]
        return cls(**grid_head(u.grid), unit="percent", total_gpus=total, points=points)


class HeatmapRowOut(ApiModel):
    """One GPU's row (null where a column has no sample)."""

    node: str
    gpu: str
    index: int
    model: str
    mean: float
    values: list[float | None]

    @classmethod
    def from_core(cls, r: HeatmapRow) -> Self:
        """One GPU's row."""
        return cls(node=r.node, gpu=r.uuid, index=r.index, model=r.model, mean=r.mean,
                   values=finite_list(r.values))


class HeatmapOut(ApiModel):
    """Top-K GPUs by a metric over time."""

    metric: str
    unit: str
    agg: str
    start: str
    end: str
    step_seconds: float
    times: list[str]
    min: float | None
    max: float | None
    rows: list[HeatmapRowOut]

    @classmethod
    def from_core(cls, h: Heatmap) -> Self:
        """A heatmap: times, rows of values."""
        return cls(metric=h.metric, unit=h.unit, agg=h.agg, **grid_head(h.grid),
                   times=times(h.times), min=h.min_value, max=h.max_value,
                   rows=[HeatmapRowOut.from_core(r) for r in h.rows])


class TopEntryOut(ApiModel):
    """One top consumer."""

    rank: int
    kind: str
    id: str
    namespace: str
    name: str
    value: float


class TopOut(ApiModel):
    """Top consumers by a metric."""

    by: str
    metric: str
    unit: str
    entries: list[TopEntryOut]

    @classmethod
    def from_core(cls, t: Top) -> Self:
        """Top consumers."""
        return cls(by=t.by, metric=t.metric, unit=t.unit, entries=[
            TopEntryOut(rank=e.rank, kind=e.kind, id=e.id, namespace=e.namespace, name=e.name,
                        value=e.value) for e in t.entries])


class AlertOut(ApiModel):
    """An alert (gpu and gpuIndex null for a node alert)."""

    id: str
    rule: str
    severity: str
    state: str
    node: str
    gpu: str | None
    gpu_index: int | None
    workloads: list[str]
    message: str
    value: float | None
    threshold: float | None
    since: str
    updated: str
    resolved: str | None
    acknowledged_by: str | None
    acknowledged: str | None

    @classmethod
    def from_core(cls, a: Alert) -> Self:
        """An alert as the API shows it."""
        return cls(id=a.id, rule=a.rule, severity=a.severity, state=a.state, node=a.node,
                   gpu=a.gpu or None, gpu_index=a.gpu_index if a.gpu_index >= 0 else None,
                   workloads=list(a.workloads), message=a.message, value=a.value,
                   threshold=a.threshold, since=format_time(a.since_ns),
                   updated=format_time(a.updated_ns), resolved=time_or_none(a.resolved_ns),
                   acknowledged_by=a.acknowledged_by,
                   acknowledged=time_or_none(a.acknowledged_ns))


class StatsFields(TypedDict):
    """Means over the window and the hottest sample, as both statistics rows state them."""

    samples: int
    gpu_utilization: float | None
    memory_utilization: float | None
    memory_used_bytes: float | None
    temperature_celsius: float | None
    temperature_max_celsius: float | None


def stats_fields(s: UsageStats) -> StatsFields:
    """The statistics of a GPU or a model."""
    return StatsFields(samples=s.samples, gpu_utilization=s.gpu_utilization,
                       memory_utilization=s.memory_utilization,
                       memory_used_bytes=s.memory_used_bytes, temperature_celsius=s.temperature,
                       temperature_max_celsius=s.temperature_max)


class StatsOut(ApiModel):
    """Means over the window (null: no sample) and the hottest sample."""

    samples: int
    gpu_utilization: float | None
    memory_utilization: float | None
    memory_used_bytes: float | None
    temperature_celsius: float | None
    temperature_max_celsius: float | None


class DeviceStatsOut(StatsOut):
    """One GPU's statistics."""

    node: str
    gpu: str
    index: int
    model: str

    @classmethod
    def from_core(cls, d: DeviceUsageStats) -> Self:
        """One GPU's statistics."""
        return cls(node=d.node, gpu=d.uuid, index=d.index, model=d.model,
                   **stats_fields(d.stats))


class ModelStatsOut(StatsOut):
    """One GPU model's statistics."""

    model: str
    gpus: int

    @classmethod
    def from_core(cls, m: ModelUsageStats) -> Self:
        """One GPU model's statistics."""
        return cls(model=m.model, gpus=m.gpus, **stats_fields(m.stats))


class UsageStatisticsOut(ApiModel):
    """Statistics per GPU and per model over the last hours."""

    hours: float
    start: str
    end: str
    devices: list[DeviceStatsOut]
    models: list[ModelStatsOut]

    @classmethod
    def from_core(cls, u: UsageStatistics) -> Self:
        """Usage statistics per GPU and per model."""
        return cls(hours=u.hours, start=format_time(u.start_ns), end=format_time(u.end_ns),
                   devices=[DeviceStatsOut.from_core(d) for d in u.devices],
                   models=[ModelStatsOut.from_core(m) for m in u.models])


class CostLineOut(ApiModel):
    """Use and price for one key; a workload line names its kind (pod, Job, Deployment,
    PyTorchJob...) and name. An owner's line is its pods' summed. Idle: GPU-hours held
    under the idle threshold and their GPU-hour price."""

    key: str
    kind: str | None = None
    name: str | None = None
    gpu_hours: float
    busy_gpu_hours: float
    idle_gpu_hours: float
    energy_kilowatt_hours: float
    gpu_cost: float
    energy_cost: float
    total_cost: float
    idle_cost: float

    @classmethod
    def from_core(cls, c: CostLine) -> Self:
        """One line of the cost report."""
        return cls(key=c.key, kind=c.kind or None, name=c.name or None,
                   gpu_hours=c.gpu_hours, busy_gpu_hours=c.busy_gpu_hours,
                   idle_gpu_hours=c.idle_gpu_hours, energy_kilowatt_hours=c.energy_kwh,
                   gpu_cost=c.gpu_cost, energy_cost=c.energy_cost, total_cost=c.total_cost,
                   idle_cost=c.idle_cost)


class CostProjectionOut(ApiModel):
    """The window's cost rate carried forward (`method`), and what the idle GPU-hours
    (held under `idlePercent` utilization) would save per month."""

    method: str
    covered_seconds: float
    hourly: float
    daily: float
    weekly: float
    monthly: float
    idle_percent: float
    potential_monthly_savings: float

    @classmethod
    def from_core(cls, p: CostProjection) -> Self:
        """The projection of a cost report."""
        return cls(method=PROJECTION_METHOD, covered_seconds=p.covered_seconds,
                   hourly=p.hourly, daily=p.per_day, weekly=p.weekly, monthly=p.monthly,
                   idle_percent=p.idle_percent,
                   potential_monthly_savings=p.potential_monthly_savings)


class PricesOut(ApiModel):
    """The prices applied."""

    currency: str
    gpu_hour: float
    gpu_hour_by_model: dict[str, float]
    energy_per_kilowatt_hour: float

    @classmethod
    def from_core(cls, p: Pricing) -> Self:
        """The pricing a report used."""
        return cls(currency=p.currency, gpu_hour=p.gpu_hour,
                   gpu_hour_by_model=dict(p.gpu_hour_by_model),
                   energy_per_kilowatt_hour=p.energy_kwh)


class CostOut(ApiModel):
    """GPU-hours, energy and their price by namespace, workload and label; projections."""

    days: float
    start: str
    end: str
    prices: PricesOut
    projection: CostProjectionOut
    total: CostLineOut
    by_namespace: list[CostLineOut]
    by_workload: list[CostLineOut]
    by_label: list[CostLineOut]

    @classmethod
    def from_core(cls, c: CostReport) -> Self:
        """Cost by namespace, workload and label."""
        lines = CostLineOut.from_core
        return cls(days=c.days, start=format_time(c.start_ns), end=format_time(c.end_ns),
                   prices=PricesOut.from_core(c.pricing),
                   projection=CostProjectionOut.from_core(c.projection), total=lines(c.total),
                   by_namespace=[lines(x) for x in c.by_namespace],
                   by_workload=[lines(x) for x in c.by_workload],
                   by_label=[lines(x) for x in c.by_label])
