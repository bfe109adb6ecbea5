"""Seed 000 (Primus-Lens API): `{code: 0, data}`; lists `{data: [...], total}`.

From the document: the envelope, the overview, consumers and node-detail fields. From
Primus-Lens's code (research notes, section 2.3): the heatmap panels, gpuDevices,
MetricsGraph (gpuMetrics, workload metrics), gpuUtilizationHistory, the workload detail
and hierarchy.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Lens(Shape, Generic[T]):
    code: Literal[0]
    data: T


class LensError(Shape):
    code: int
    message: str
    data: None


class Page(Shape, Generic[T]):
    data: list[T]
    total: int


class Overview(Shape):
    totalNodes: int
    healthyNodes: int
    faultyNodes: int
    fullyIdleNodes: int
    partiallyIdleNodes: int
    busyNodes: int
    allocationRate: float | None
    utilization: float | None
    storageStat: dict[str, Any] | None
    rdmaClusterStat: dict[str, Any] | None


class ConsumerStat(Shape):
    gpuRequest: float
    gpuUtilization: float | None


class Consumer(Shape):
    kind: str
    name: str
    namespace: str
    uid: str
    stat: ConsumerStat


class HeatmapPoint(Shape):
    nodeName: str
    deviceId: int
    value: float
    gpuModel: str


class HeatmapPanel(Shape):
    serial: int
    unit: str
    yAxisMax: float | None
    yAxisMin: float | None
    data: list[HeatmapPoint]


class Heatmap(Shape):
    power: HeatmapPanel
    temperature: HeatmapPanel
    utilization: HeatmapPanel


class NodeDetail(Shape):
    name: str
    address: str | None
    status: str
    gpuModel: str
    gpuCount: int
    allocatedGpus: int
    utilizationRate: float | None


class GpuDevice(Shape):
    deviceId: int
    model: str
    memory: int
    utilization: float | None
    temperature: float | None
    power: float | None


class TimePoint(Shape):
    timestamp: int
    value: float


class GraphSeries(Shape):
    labels: dict[str, str]
    values: list[TimePoint]


class GraphConfig(Shape):
    y_axis_unit: str


class MetricsGraph(Shape):
    serial: int
    series: list[GraphSeries]
    config: GraphConfig


class NodeGpuMetrics(Shape):
    gpu_utilization: MetricsGraph
    gpu_allocation_rate: MetricsGraph


class WorkloadItem(Shape):
    kind: str
    name: str
    namespace: str
    uid: str
    status: str


class NodeAllocation(Shape):
    nodeName: str
    capacity: int
    allocated: int
    allocationRate: float | None


class ClusterUtilization(Shape):
    allocationRate: float | None
    utilization: float | None


class UtilizationHistory(Shape):
    allocationRate: list[TimePoint]
    utilization: list[TimePoint]
    vramUtilization: list[TimePoint]


class WorkloadDetail(Shape):
    apiVersion: str | None
    kind: str
    name: str
    namespace: str
    uid: str
    gpuAllocation: float
    pods: list[str]
    activePods: list[str]
    startTime: str
    endTime: str | None
    source: str


class HierarchyOwner(Shape):
    kind: str
    name: str
    uid: str | None


class HierarchyNode(Shape):
    kind: str
    name: str
    namespace: str
    uid: str
    owners: list[HierarchyOwner]
    children: list[HierarchyNode]


class WorkloadMetadata(Shape):
    namespaces: list[str]
    kinds: list[str]
