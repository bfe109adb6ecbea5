"""The answers of /api/v1 about nodes, GPUs, workloads and namespaces: one model per answer,
built from the query core's object by its `from_core`, which is both the OpenAPI schema and
the JSON the route writes.

Units are in the field names (watts, bytes, joules, percent, seconds, hours, kWh);
times are RFC 3339 strings; series points are [time, value] pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self, TypedDict

from pydantic import Field

from gputel.collector.api.http.inventory_models import InventoryOut, MigOut
from gputel.collector.api.http.wire import ApiModel
from gputel.collector.query.core import DeviceView, NodeSummary, RangeResult, Series
from gputel.collector.query.kubeview import PodContext
from gputel.collector.query.workloads import (
    Hierarchy,
    NamespaceSummary,
    NodeWorkload,
    OwnerGroup,
    WorkloadSummary,
)
from gputel.collector.registry.cluster import OwnerRef
from gputel.collector.registry.workloads import Usage
from gputel.collector.timefmt import format_time, format_times

Point = tuple[str, float]


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

    @classmethod
    def from_core(cls, n: NodeSummary) -> Self:
        """A node summary as the API shows it."""
        s = n.state
        return cls(name=s.name, connected=n.connected, backend=s.backend,
                   agent_instance=s.agent_instance, agent_version=s.agent_version,
                   sample_rate_hz=s.sample_rate_hz, gpu_count=len(s.devices),
                   gpu_models=n.gpu_models, gpu_utilization=n.gpu_utilization,
                   power_watts=n.power_watts, attribution=n.attribution,
                   first_seen=format_time(s.first_seen_ns),
                   last_seen=format_time(s.last_seen_ns), frames_ingested=s.frames,
                   samples_ingested=s.samples, status=n.status,
                   gpus_allocated=n.gpus_allocated, gpus_lost=n.gpus_lost,
                   gpus_busy=n.gpus_busy, idle_class=n.idle_class)


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
    memory_free_bytes: float | None
    inventory: InventoryOut | None
    mig: MigOut | None

    @classmethod
    def from_core(cls, v: DeviceView) -> Self:
        """A GPU with its latest values (no latest time before its first sample)."""
        d = v.device
        return cls(node=d.node, index=d.index, uuid=d.uuid, vendor=d.vendor, model=d.model,
                   memory_total_bytes=d.memory_total_bytes,
                   mig_parent_uuid=d.mig_parent_uuid or None, pci_bus_id=d.pci_bus_id or None,
                   latest=v.latest, latest_time=format_time(v.latest_ts_ns) if v.latest else None,
                   held_by=[HolderOut(workload=uid, fraction=f) for uid, f in v.holders],
                   energy_joules=v.energy_joules,
                   unattributed_energy_joules=v.unattributed_joules, status=v.status,
                   memory_free_bytes=v.memory_free_bytes,
                   inventory=InventoryOut.from_core(v.inventory) if v.inventory else None,
                   mig=MigOut.from_core(v.mig) if v.mig else None)


class NodeDetailOut(NodeOut):
    """A node with its GPUs."""

    gpus: list[DeviceOut]

    @classmethod
    def from_node(cls, n: NodeSummary, devices: Iterable[DeviceView]) -> Self:
        """A node summary and its GPUs."""
        return cls(**dict(NodeOut.from_core(n)),
                   gpus=[DeviceOut.from_core(v) for v in devices])


def points(s: Series) -> list[Point]:
    """A series as (time, value) pairs: plain tuples, not a model per point (ranges are long)."""
    return list(zip(format_times(s.ts_ns), s.values.tolist(), strict=True))


class GpuSeriesOut(ApiModel):
    """One GPU's points."""

    gpu: str
    index: int
    points: list[Point]

    @classmethod
    def from_core(cls, s: Series) -> Self:
        """A GPU's series."""
        return cls(gpu=s.gpu, index=s.index, points=points(s))


class TotalSeriesOut(ApiModel):
    """Combined points."""

    points: list[Point]

    @classmethod
    def from_core(cls, s: Series) -> Self:
        """A combined series (its GPU fields are not shown)."""
        return cls(points=points(s))


class RangeHead(TypedDict):
    """What every range answer states after what it is about."""

    metric: str
    unit: str
    agg: str
    start: str
    end: str
    step_seconds: float


def range_head(r: RangeResult) -> RangeHead:
    """Metric, unit, aggregation, range and step of a range answer."""
    return RangeHead(metric=r.metric, unit=r.unit, agg=r.agg, start=format_time(r.start_ns),
                     end=format_time(r.end_ns), step_seconds=r.step_ns / 1e9)


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

    @classmethod
    def from_core(cls, r: RangeResult) -> Self:
        """A node's range answer."""
        return cls(node=r.node, **range_head(r),
                   gpus=[GpuSeriesOut.from_core(s) for s in r.gpus],
                   node_total=TotalSeriesOut.from_core(r.node_total))


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

    @classmethod
    def from_core(cls, r: RangeResult, uuid: str, index: int) -> Self:
        """The range answer of one GPU (`uuid` as asked, `index` on its node)."""
        (series,) = r.gpus
        return cls(node=r.node, gpu=uuid, index=index, **range_head(r), points=points(series))


class OwnerOut(ApiModel):
    """One owner of a workload (nearest first); its Kubernetes uid and API version come from
    the Kubernetes watch (null without it: agents report kind and name only)."""

    kind: str
    name: str
    uid: str | None
    api_version: str | None

    @classmethod
    def from_core(cls, o: OwnerRef) -> Self:
        """One reference of an owner chain."""
        return cls(kind=o.kind, name=o.name, uid=o.uid or None,
                   api_version=o.api_version or None)


class HeldOut(ApiModel):
    """A GPU a workload holds now, and its share."""

    node: str
    gpu: str
    fraction: float


class UsageFields(TypedDict):
    """Accounted use, as workloads and namespaces state it."""

    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float


def usage_fields(u: Usage) -> UsageFields:
    """Joules and GPU-seconds allocated and busy."""
    return UsageFields(energy_joules=u.energy_joules,
                       gpu_seconds_allocated=u.gpu_seconds_allocated,
                       gpu_seconds_busy=u.gpu_seconds_busy)


class KubePodOut(ApiModel):
    """What the Kubernetes API says of a pod workload (allow-listed annotations only)."""

    phase: str
    node: str | None
    annotations: dict[str, str]
    created_at: str | None
    started_at: str | None
    gpus_requested: float
    waiting_seconds: float | None
    queue: str | None

    @classmethod
    def from_core(cls, ctx: PodContext) -> Self:
        """A pod's Kubernetes context as the API shows it."""
        p = ctx.pod
        return cls(phase=p.phase, node=p.node or None, annotations=dict(p.annotations),
                   created_at=format_time(p.created_ns) if p.created_ns else None,
                   started_at=format_time(p.started_ns) if p.started_ns else None,
                   gpus_requested=p.gpus_requested, waiting_seconds=ctx.waiting_seconds,
                   queue=p.queue or None)


class WorkloadOut(ApiModel):
    """A workload: identity, what it holds now, what it used; `status` pending, running,
    succeeded, failed or ended; `children` the pods of an owner workload (a Job...);
    `apiVersion` its Kubernetes API version (v1 for a pod, the ownerReference's for an
    owner; null off Kubernetes)."""

    uid: str
    kind: str
    api_version: str | None
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
    kubernetes: KubePodOut | None = None
    children: list[str] = Field(default_factory=list)

    @classmethod
    def from_core(cls, w: WorkloadSummary) -> Self:
        """A workload summary as the API shows it."""
        i = w.info
        return cls(uid=i.uid, kind=i.kind, api_version=w.api_version or None,
                   namespace=i.namespace, pod=i.pod,
                   container=i.container, pod_uid=i.pod_uid or None, labels=i.labels,
                   owners=[OwnerOut.from_core(o) for o in w.owner_refs],
                   status=w.status or ("running" if w.running else "ended"),
                   first_seen=format_time(i.first_ns), last_seen=format_time(i.last_ns),
                   gpus=w.gpus, gpu_uuids=w.gpu_uuids,
                   held=[HeldOut(node=h.node, gpu=h.uuid, fraction=h.fraction) for h in w.held],
                   power_watts=w.power_watts, memory_used_bytes=w.memory_used_bytes,
                   utilization_percent=w.utilization_percent, **usage_fields(w.usage),
                   gpu_hours=w.gpu_hours, energy_kilowatt_hours=w.energy_kwh,
                   kubernetes=KubePodOut.from_core(w.context) if w.context else None,
                   children=list(w.children))


class NodeWorkloadOut(WorkloadOut):
    """A workload seen on a node, with the node's GPUs it held."""

    node_gpus: list[str]

    @classmethod
    def from_node(cls, n: NodeWorkload) -> Self:
        """A workload and the node's GPUs it held."""
        return cls(**dict(WorkloadOut.from_core(n.workload)), node_gpus=n.gpus)


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

    @classmethod
    def from_core(cls, r: RangeResult, uid: str) -> Self:
        """A workload's range answer (its combined series in `node_total`)."""
        return cls(workload=uid, **range_head(r),
                   gpus=[GpuSeriesOut.from_core(s) for s in r.gpus],
                   total=TotalSeriesOut.from_core(r.node_total))


class OwnerGroupOut(ApiModel):
    """An owner and the workloads it owns; its Kubernetes uid and API version (null without
    the Kubernetes watch)."""

    kind: str
    name: str
    uid: str | None
    api_version: str | None
    workloads: list[str]

    @classmethod
    def from_core(cls, o: OwnerGroup) -> Self:
        """An owner of the chain."""
        return cls(kind=o.kind, name=o.name, uid=o.uid or None,
                   api_version=o.api_version or None, workloads=o.workloads)


class HierarchyOut(ApiModel):
    """A workload's owner chain and children."""

    workload: WorkloadOut
    owners: list[OwnerGroupOut]
    children: list[str]

    @classmethod
    def from_core(cls, h: Hierarchy) -> Self:
        """A workload's owners and children."""
        return cls(workload=WorkloadOut.from_core(h.workload),
                   owners=[OwnerGroupOut.from_core(o) for o in h.owners], children=h.children)


class NamespaceOut(ApiModel):
    """Use per namespace: over its pods (and Slurm jobs), `pending` of them waiting for
    GPUs; `owners` counts its owner workloads (Jobs, Deployments...), whose use is their
    pods' and so is not added twice."""

    namespace: str
    workloads: int
    running: int
    pending: int
    owners: int
    gpus: float
    utilization_percent: float | None
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float
    gpu_hours: float
    busy_gpu_hours: float
    energy_kilowatt_hours: float

    @classmethod
    def from_core(cls, n: NamespaceSummary) -> Self:
        """A namespace's usage."""
        return cls(namespace=n.namespace, workloads=n.workloads, running=n.running,
                   pending=n.pending, owners=n.owners, gpus=n.gpus,
                   utilization_percent=n.utilization_percent,
                   **usage_fields(n.usage), gpu_hours=n.gpu_hours,
                   busy_gpu_hours=n.busy_gpu_hours, energy_kilowatt_hours=n.energy_kwh)

