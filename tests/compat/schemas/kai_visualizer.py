"""Seed 001 (KAI-Scheduler visualizer): bare JSON models of `visualizer_info.go`
(research notes, section 4): ClusterSummary, QueueView, JobView, NodeView."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class ClusterSummary(Shape):
    totalNodes: int
    healthyNodes: int
    totalGPUs: int
    allocatedGPUs: int
    totalQueues: int
    jobCounts: dict[str, int]


class QueueResources(Shape):
    guaranteed: dict[str, float] | None
    allocated: dict[str, float] | None
    max: dict[str, float] | None


class QueueView(Shape):
    name: str
    parent: str | None
    weight: float | None
    resources: QueueResources
    children: list[Any]


class TaskView(Shape):
    name: str
    status: str
    nodeName: str


class JobView(Shape):
    uid: str
    name: str
    namespace: str
    queue: str | None
    status: str
    createTime: str
    tasks: list[TaskView]


class GpuSlot(Shape):
    id: int
    occupiedBy: list[str]
    fragmented: bool


class CountedResource(Shape):
    capacity: float | None
    allocatable: float | None


class NodeResources(Shape):
    gpu: dict[str, float]
    # cores and bytes from the Kubernetes watch; null without it
    cpu: CountedResource | None
    memory: CountedResource | None


class NodeView(Shape):
    name: str
    status: str
    resources: NodeResources
    gpuSlots: list[GpuSlot]


class VisualizerError(Shape):
    error: str
