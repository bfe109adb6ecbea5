"""Seed 002 (GPU Monitoring API): `{success, data, message, error}`; GPU metrics in
snake_case with memory in GB. The document gives the envelope, the error form and the
GPU metrics and health fields; nodes and utilization items carry the same names."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Success(Shape, Generic[T]):
    success: Literal[True]
    data: T
    message: str
    error: None


class Failure(Shape):
    success: Literal[False]
    error: str
    message: None
    data: None


class Health(Shape):
    status: str
    timestamp: str
    version: str


class GpuMetrics(Shape):
    node_name: str
    gpu_index: int
    gpu_name: str
    utilization: float | None
    memory_used: float | None
    memory_total: float | None
    memory_free: float | None
    memory_utilization: float | None
    temperature: float | None
    power_draw: float | None
    power_limit: float | None
    timestamp: str | None


class GpuNode(Shape):
    node_name: str
    gpu_count: int


class GpuUtilization(Shape):
    node_name: str
    gpu_index: int
    utilization: float | None
    timestamp: str | None
