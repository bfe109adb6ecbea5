"""Seed 004 (Kubernetes GPU Management API): `{status: "success", data, timestamp}`, errors
`{status: "error", error: {code, message, details}, timestamp}` with its code table.

From the document: the envelope and error, pods, nodes, usage, devices, allocations,
usage statistics, cost analysis and overview fields. Routes the document lists without a
shape (device statistics and health, MIG, collection status, alerts, health,
namespaces) are checked for the envelope and the fields gputel documents for them."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")
CODES = Literal["RESOURCE_NOT_FOUND", "GPU_NOT_AVAILABLE", "MIG_NOT_SUPPORTED",
                "ALLOCATION_FAILED", "INVALID_PARAMETER", "INSUFFICIENT_RESOURCES",
                "COST_LIMIT_EXCEEDED", "VALIDATION_ERROR", "UNAUTHORIZED", "FORBIDDEN",
                "INTERNAL_ERROR", "RATE_LIMIT_EXCEEDED", "NOT_IMPLEMENTED"]


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Success(Shape, Generic[T]):
    status: Literal["success"]
    data: T
    timestamp: str


class ErrorDetail(Shape):
    code: CODES
    message: str
    details: Any = None


class Failure(Shape):
    status: Literal["error"]
    error: ErrorDetail
    timestamp: str


class Pod(Shape):
    name: str
    namespace: str
    nodeName: str | None
    phase: str
    modelType: str | None
    modelName: str | None
    cpuUsagePercent: float | None
    memoryUsagePercent: float | None
    gpuUsagePercent: float | None
    creationTime: str


class Node(Shape):
    name: str
    role: str | None
    status: str
    cpuCapacity: str | None
    memoryCapacity: str | None
    gpuCapacity: str
    cpuUsagePercent: float | None
    memoryUsagePercent: float | None
    gpuUsagePercent: float | None
    totalPodCount: int
    runningPodCount: int
    vllmPodCount: int
    sglangPodCount: int


class ClusterSummary(Shape):
    totalNodes: int
    readyNodes: int
    totalPods: int
    runningPods: int
    vllmPods: int
    sglangPods: int
    avgCpuUsage: float | None
    avgMemoryUsage: float | None
    avgGpuUsage: float | None


class Usage(Shape):
    pods: list[Pod]
    nodes: list[Node]
    clusterSummary: ClusterSummary
    timestamp: str


class Device(Shape):
    deviceId: str
    nodeName: str
    modelId: str
    modelName: str
    deviceIndex: int
    deviceStatus: Literal["ACTIVE", "INACTIVE", "MAINTENANCE", "FAILED", "MIG_ENABLED"]
    currentTempC: float | None
    currentPowerW: float | None
    currentUtilization: float | None
    memoryGb: float
    architecture: str | None
    migSupport: bool | None
    allocated: bool


class DeviceStatistics(Shape):
    totalDevices: int
    devicesByStatus: dict[str, int]
    devicesByModel: dict[str, int]


class Alert(Shape):
    alertId: str
    type: str
    severity: Literal["CRITICAL", "WARNING"]
    message: str
    nodeName: str
    deviceId: str | None


class DeviceHealth(Shape):
    deviceId: str
    healthy: bool
    issues: list[Alert]


class MigInstance(Shape):
    instanceId: str
    parentDeviceId: str
    nodeName: str
    profileId: str | None
    memoryGb: float
    allocated: bool


class MigStatistics(Shape):
    totalInstances: int
    allocatedInstances: int
    availableInstances: int
    instancesByProfile: dict[str, int]
    utilizationByDevice: dict[str, float | None]
    memoryUsedGbByDevice: dict[str, float | None]


class Allocation(Shape):
    allocationId: str
    namespace: str
    podName: str
    resourceType: str
    allocatedResource: str
    allocatedMemoryGb: float | None
    allocationTime: str
    plannedReleaseTime: str | None
    status: str
    costPerHour: float


class CostStatistics(Shape):
    totalCost: float
    costByNamespace: dict[str, float]


class StatDevice(Shape):
    modelName: str
    avgGpuUtilization: float | None
    avgMemoryUtilization: float | None
    avgTemperature: float | None


class StatModel(Shape):
    deviceCount: int
    avgGpuUtilization: float | None
    avgMemoryUtilization: float | None
    avgTemperature: float | None


class UsageStatistics(Shape):
    timeRange: str
    deviceStatistics: dict[str, StatDevice]
    modelStatistics: dict[str, StatModel]


class CollectionStatus(Shape):
    status: str
    lastCollection: str | None


class CostAnalysis(Shape):
    dailyCost: float | None
    weeklyCost: float | None
    monthlyCost: float | None
    costByNamespace: dict[str, float]
    costByTeam: dict[str, float]
    potentialMonthlySavings: float | None
    analysisDate: str


class Overview(Shape):
    totalNodes: int
    totalGpuDevices: int
    totalMigInstances: int
    activeAllocations: int
    devicesByModel: dict[str, int]
    overallGpuUtilization: float | None
    overallMemoryUtilization: float | None
    overallTemperature: float | None
    totalHourlyCost: float | None
    totalMonthlyCost: float | None
    totalAlerts: int
    criticalAlerts: int
    warningAlerts: int


class NodeCondition(Shape):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None
    message: str | None
    lastTransitionTime: str | None


class NodeConditions(Shape):
    name: str
    ready: bool | None
    conditions: list[NodeCondition]


class ClusterHealth(Shape):
    status: Literal["HEALTHY", "WARNING", "CRITICAL"]
    totalNodes: int
    healthyNodes: int
    alerts: list[Alert]
    # /resources/health only: each node's conditions from the Kubernetes watch (null without)
    nodeConditions: list[NodeConditions] | None = None


class NamespaceUsage(Shape):
    namespace: str
    podCount: int
    gpuCount: float


class ForecastPoint(Shape):
    timestamp: str
    gpuUtilization: float
    gpuUtilizationLower: float
    gpuUtilizationUpper: float
    allocatedGpus: float
    allocatedGpusLower: float
    allocatedGpusUpper: float


class Forecast(Shape):
    """/gpu/forecast: the seed names the route only; gputel's shape, in the seed's style."""

    hours: float
    intervalLevel: float
    method: dict[str, str]
    forecast: list[ForecastPoint]


class Recommendation(Shape):
    type: str
    workloadUid: str
    namespace: str | None
    idleGpuHours: float
    idleCost: float
    potentialMonthlySavings: float
    message: str


class CostOptimization(Shape):
    currentMonthlyCost: float
    potentialMonthlySavings: float
    idlePercent: float
    recommendations: list[Recommendation]


class Webhook(Shape):
    id: str
    name: str
    url: str
    events: list[str]
    active: bool
