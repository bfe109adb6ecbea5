"""Answers built from device inventory: free memory, MIG statistics, a GPU's processes.

Free memory is total - reserved - used from the newest values (reserved from the
inventory, 0 where the driver does not report it: AMD, older NVML). MIG statistics
summarise a GPU's MIG devices from their own newest values: how many, of which profiles
(from each one's inventory), how many held, memory used, and utilization where the
driver gives it per instance (NVML does not: null, never 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gputel.collector.registry.inventory import DeviceInventory, GpuProcess


@dataclass(frozen=True, slots=True)
class MigInstance:
    """One MIG device of a GPU. Memory in bytes, utilization in percent."""

    uuid: str
    profile: str | None
    status: str
    memory_used_bytes: float | None
    memory_total_bytes: int
    gpu_utilization: float | None


@dataclass(frozen=True, slots=True)
class MigStatistics:
    """The MIG devices of one GPU: count, instances per profile, held, memory, utilization."""

    enabled: bool | None
    count: int
    profiles: dict[str, int]
    allocated: int
    memory_used_bytes: float | None
    gpu_utilization: float | None
    instances: tuple[MigInstance, ...]


@dataclass(frozen=True, slots=True)
class GpuProcesses:
    """The processes on one GPU when its agent read them (read_ts_ns None: never reported)."""

    node: str
    uuid: str
    read_ts_ns: int | None
    processes: tuple[GpuProcess, ...]


def memory_free(latest: Mapping[str, float], inventory: DeviceInventory | None,
                ) -> float | None:
    """total - reserved - used (bytes) from the newest values; None when either is missing."""
    total, used = latest.get("mem_total"), latest.get("mem_used")
    if total is None or used is None:
        return None
    reserved = inventory.memory_reserved_bytes if inventory is not None else None
    return max(total - (reserved or 0) - used, 0.0)


def mig_statistics(inventory: DeviceInventory | None,
                   instances: Sequence[MigInstance]) -> MigStatistics | None:
    """A GPU's MIG statistics; None for a GPU with MIG neither enabled nor reporting."""
    enabled = inventory.mig_enabled if inventory is not None else None
    if not instances and not enabled:
        return None
    used = [i.memory_used_bytes for i in instances if i.memory_used_bytes is not None]
    utils = [i.gpu_utilization for i in instances if i.gpu_utilization is not None]
    return MigStatistics(
        enabled=True if instances else enabled, count=len(instances),
        profiles=dict(Counter(i.profile for i in instances if i.profile)),
        allocated=sum(i.status == "allocated" for i in instances),
        memory_used_bytes=sum(used) if used else None,
        gpu_utilization=sum(utils) / len(utils) if utils else None,
        instances=tuple(instances))
