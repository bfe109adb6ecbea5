"""The answer models of /api/v1, for the OpenAPI schema and for validating every answer.

Units are in the field names (watts, bytes, joules, percent, seconds, hours, kWh);
times are RFC 3339 strings; series points are [time, value] pairs.
"""

from __future__ import annotations

from pydantic import Field

from gputel.collector.api.http.common import ApiModel

Point = tuple[str, float]


class TierOut(ApiModel):
    """A rollup tier: bucket width and how long its buckets are kept."""

    step_seconds: float
    retention_seconds: float


class StoreOut(ApiModel):
    """The store (path, size, write failures and tiers only for sqlite)."""

    kind: str
    status: str
    samples: int
    retention_seconds: float
    path: str | None = None
    size_bytes: int | None = Field(default=None, alias="bytes")
    write_failures: int | None = None
    tiers: list[TierOut] | None = None


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


class NodeOut(ApiModel):
    """A node with its latest combined values."""

    name: str
    connected: bool
    backend: str
    agent_instance: str
    agent_version: str
    sample_rate_hz: float
    gpu_count: int
    gpu_models: list[str]
    gpu_utilization: float | None
    power_watts: float | None
    attribution: str
    first_seen: str
    last_seen: str
    frames_ingested: int
    samples_ingested: int
    status: str
    gpus_allocated: int
    gpus_lost: int
    gpus_busy: int
    idle_class: str | None


class HolderOut(ApiModel):
    """A workload holding a GPU, and its share."""

    workload: str
    fraction: float


class DeviceOut(ApiModel):
    """A GPU with its latest value per metric id."""

    node: str
    index: int
    uuid: str
    vendor: str
    model: str
    memory_total_bytes: int
    mig_parent_uuid: str | None
    pci_bus_id: str | None
    latest: dict[str, float]
    latest_time: str | None
    held_by: list[HolderOut]
    energy_joules: float
    unattributed_energy_joules: float
    status: str


class NodeDetailOut(NodeOut):
    """A node with its GPUs."""

    gpus: list[DeviceOut]


class GpuSeriesOut(ApiModel):
    """One GPU's points."""

    gpu: str
    index: int
    points: list[Point]


class TotalSeriesOut(ApiModel):
    """Combined points."""

    points: list[Point]


class NodeRangeOut(ApiModel):
    """Range series of a node's GPUs and their combination."""

    node: str
    metric: str
    unit: str
    agg: str
    start: str
    end: str
    step_seconds: float
    gpus: list[GpuSeriesOut]
    node_total: TotalSeriesOut


class GpuRangeOut(ApiModel):
    """Range series of one GPU."""

    node: str
    gpu: str
    index: int
    metric: str
    unit: str
    agg: str
    start: str
    end: str
    step_seconds: float
    points: list[Point]


class OwnerOut(ApiModel):
    """One owner of a workload (nearest first)."""

    kind: str
    name: str


class HeldOut(ApiModel):
    """A GPU a workload holds now, and its share."""

    node: str
    gpu: str
    fraction: float


class WorkloadOut(ApiModel):
    """A workload: identity, what it holds now, what it used."""

    uid: str
    kind: str
    namespace: str
    pod: str
    container: str
    pod_uid: str | None
    labels: dict[str, str]
    owners: list[OwnerOut]
    status: str
    first_seen: str
    last_seen: str
    gpus: float
    gpu_uuids: list[str]
    held: list[HeldOut]
    power_watts: float | None
    memory_used_bytes: float | None
    utilization_percent: float | None
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float
    gpu_hours: float
    energy_kilowatt_hours: float


class NodeWorkloadOut(WorkloadOut):
    """A workload seen on a node, with the node's GPUs it held."""

    node_gpus: list[str]


class WorkloadRangeOut(ApiModel):
    """Range series of a workload per GPU held and in total."""

    workload: str
    metric: str
    unit: str
    agg: str
    start: str
    end: str
    step_seconds: float
    gpus: list[GpuSeriesOut]
    total: TotalSeriesOut


class OwnerGroupOut(ApiModel):
    """An owner and the workloads it owns."""

    kind: str
    name: str
    workloads: list[str]


class HierarchyOut(ApiModel):
    """A workload's owner chain and children."""

    workload: WorkloadOut
    owners: list[OwnerGroupOut]
    children: list[str]


class NamespaceOut(ApiModel):
    """Use per namespace."""

    namespace: str
    workloads: int
    running: int
    gpus: float
    utilization_percent: float | None
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float
    gpu_hours: float
    busy_gpu_hours: float
    energy_kilowatt_hours: float


class UtilizationPointOut(ApiModel):
    """One point of the cluster's utilization history."""

    time: str
    gpu_utilization: float | None
    gpus_reporting: int
    allocated_gpus: int
    allocation_rate: float | None


class UtilizationOut(ApiModel):
    """Cluster utilization (percent) and allocation over time."""

    start: str
    end: str
    step_seconds: float
    unit: str
    total_gpus: int
    points: list[UtilizationPointOut]


class HeatmapRowOut(ApiModel):
    """One GPU's row (null where a column has no sample)."""

    node: str
    gpu: str
    index: int
    model: str
    mean: float
    values: list[float | None]


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


class ModelStatsOut(StatsOut):
    """One GPU model's statistics."""

    model: str
    gpus: int


class UsageStatisticsOut(ApiModel):
    """Statistics per GPU and per model over the last hours."""

    hours: float
    start: str
    end: str
    devices: list[DeviceStatsOut]
    models: list[ModelStatsOut]


class CostLineOut(ApiModel):
    """Use and price for one key."""

    key: str
    gpu_hours: float
    busy_gpu_hours: float
    energy_kilowatt_hours: float
    gpu_cost: float
    energy_cost: float
    total_cost: float


class PricesOut(ApiModel):
    """The prices applied."""

    currency: str
    gpu_hour: float
    gpu_hour_by_model: dict[str, float]
    energy_per_kilowatt_hour: float


class CostOut(ApiModel):
    """GPU-hours, energy and their price by namespace, workload and label."""

    days: float
    start: str
    end: str
    prices: PricesOut
    total: CostLineOut
    by_namespace: list[CostLineOut]
    by_workload: list[CostLineOut]
    by_label: list[CostLineOut]
