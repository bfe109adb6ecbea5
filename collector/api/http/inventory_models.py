"""The answers of /api/v1 about what a GPU is: its inventory, MIG statistics and processes.

Null where the device does not report a field (unsupported by its driver, or not a thing
on its vendor's GPUs); units in the field names; times RFC 3339.
"""

from __future__ import annotations

import dataclasses
from typing import Self

from gputel.collector.api.http.wire import ApiModel
from gputel.collector.query.inventory import GpuProcesses, MigInstance, MigStatistics
from gputel.collector.registry.inventory import DeviceInventory, GpuProcess
from gputel.collector.timefmt import format_time


class InventoryOut(ApiModel):
    """What a GPU is, as its agent last read it (every few tens of seconds, on change)."""

    read_time: str
    power_limit_watts: float | None
    memory_reserved_bytes: int | None
    driver_version: str | None
    firmware_version: str | None
    vbios_version: str | None
    serial: str | None
    architecture: str | None
    mig_supported: bool | None
    mig_enabled: bool | None
    mig_profile: str | None
    fan_speed_percent: float | None
    memory_clock_mhz: float | None
    pcie_generation: int | None
    pcie_width: int | None
    pcie_max_generation: int | None
    pcie_max_width: int | None
    ecc_enabled: bool | None

    @classmethod
    def from_core(cls, i: DeviceInventory) -> Self:
        """The registry's inventory; "" strings (not reported) become null."""
        fields = {f.name: getattr(i, f.name) for f in dataclasses.fields(i)
                  if f.name != "read_ts_ns"}
        return cls(read_time=format_time(i.read_ts_ns),
                   **{k: None if v == "" else v for k, v in fields.items()})


class MigInstanceOut(ApiModel):
    """One MIG device of the GPU."""

    uuid: str
    profile: str | None
    status: str
    memory_used_bytes: float | None
    memory_total_bytes: int
    gpu_utilization: float | None

    @classmethod
    def from_core(cls, m: MigInstance) -> Self:
        """A MIG instance as the API shows it."""
        return cls(**dataclasses.asdict(m))


class MigOut(ApiModel):
    """The GPU's MIG devices: how many, per profile, held, memory used, utilization (null
    where the driver gives none per instance, as NVML)."""

    enabled: bool | None
    count: int
    profiles: dict[str, int]
    allocated: int
    memory_used_bytes: float | None
    gpu_utilization: float | None
    instances: list[MigInstanceOut]

    @classmethod
    def from_core(cls, m: MigStatistics) -> Self:
        """MIG statistics as the API shows them."""
        return cls(enabled=m.enabled, count=m.count, profiles=m.profiles,
                   allocated=m.allocated, memory_used_bytes=m.memory_used_bytes,
                   gpu_utilization=m.gpu_utilization,
                   instances=[MigInstanceOut.from_core(i) for i in m.instances])


class GpuProcessOut(ApiModel):
    """One process on the GPU: host PID, name, GPU memory, container and workload."""

    pid: int
    name: str | None
    used_memory_bytes: int | None
    container_id: str | None
    workload: str | None
    namespace: str | None
    pod: str | None
    container: str | None

    @classmethod
    def from_core(cls, p: GpuProcess) -> Self:
        """A process; "" (unknown) becomes null."""
        return cls(pid=p.pid, name=p.name or None, used_memory_bytes=p.used_memory_bytes,
                   container_id=p.container_id or None, workload=p.workload or None,
                   namespace=p.namespace or None, pod=p.pod or None,
                   container=p.container or None)


class GpuProcessesOut(ApiModel):
    """The processes on one GPU when its agent read them (readTime null: never reported)."""

    node: str
    uuid: str
    read_time: str | None
    processes: list[GpuProcessOut]

    @classmethod
    def from_core(cls, g: GpuProcesses) -> Self:
        """A GPU's process list as the API shows it."""
        return cls(node=g.node, uuid=g.uuid,
                   read_time=format_time(g.read_ts_ns) if g.read_ts_ns is not None else None,
                   processes=[GpuProcessOut.from_core(p) for p in g.processes])
