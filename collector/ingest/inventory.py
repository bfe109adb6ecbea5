"""Device inventory and process lists from the wire: checked at the edge, then kept.

A Hello carries every device's inventory as read when the stream opened; a frame carries
the inventories and process lists that changed. Bounds (refused as a malformed message,
like every other shape bound): one entry per device at most, device positions inside
the Hello's list, at most `max_processes` processes per list, strings of at most
MAX_TEXT characters, finite numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

from gputel.collector.registry.inventory import (
    DeviceInventory,
    GpuProcess,
    InventoryBook,
    ProcessList,
)
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.inventory import Inventory, inventory_fields

MAX_TEXT = 256
_TEXT = tuple(f.name for f in dataclasses.fields(Inventory) if f.default == "")
_PROCESS_TEXT = ("name", "container_id", "workload", "namespace", "pod", "container")


def inventory_problem(entries: Sequence[pb.GpuInventory], n_devices: int) -> str:
    """What is wrong with a message's inventory entries, or ''."""
    problem = _positions((e.device for e in entries), len(entries), n_devices, "inventory")
    if problem:
        return problem
    for e in entries:
        if any(len(getattr(e, name)) > MAX_TEXT for name in _TEXT):
            return f"inventory of device {e.device}: a string longer than {MAX_TEXT} characters"
        if not all(math.isfinite(v) for v in (e.power_limit_watts, e.fan_speed_percent,
                                              e.memory_clock_mhz)):
            return f"inventory of device {e.device}: a value is not a finite number"
    return ""


def processes_problem(entries: Sequence[pb.DeviceProcesses], n_devices: int,
                      max_processes: int) -> str:
    """What is wrong with a frame's process lists, or ''."""
    problem = _positions((e.device for e in entries), len(entries), n_devices, "process lists")
    if problem:
        return problem
    for e in entries:
        if len(e.processes) > max_processes:
            return (f"{len(e.processes)} processes on device {e.device}; at most "
                    f"{max_processes}")
        if any(len(getattr(p, name)) > MAX_TEXT for p in e.processes for name in _PROCESS_TEXT):
            return f"a process of device {e.device}: a string longer than {MAX_TEXT} characters"
    return ""


def _positions(devices: Iterable[int], count: int, n_devices: int, what: str) -> str:
    if count > n_devices:
        return f"{count} {what} entries; at most one per device ({n_devices})"
    seen = list(devices)
    if any(d >= n_devices for d in seen) or len(set(seen)) != len(seen):
        return f"{what}: every device position must be known and appear once"
    return ""


def keep(book: InventoryBook, node: str, uuids: Sequence[str],
         inventory: Iterable[pb.GpuInventory],
         processes: Iterable[pb.DeviceProcesses] = ()) -> None:
    """Keep checked entries (positions index `uuids`, the Hello's devices)."""
    for e in inventory:
        book.put_inventory(node, uuids[e.device], inventory_of(e))
    for p in processes:
        book.put_processes(node, uuids[p.device], ProcessList(
            p.read_ts_ns, tuple(_process(x) for x in p.processes)))


def inventory_of(msg: pb.GpuInventory) -> DeviceInventory:
    """The wire's inventory as the registry keeps it (unset -> None)."""
    return DeviceInventory(read_ts_ns=msg.read_ts_ns, **inventory_fields(msg))


def _process(p: pb.GpuProcess) -> GpuProcess:
    return GpuProcess(pid=p.pid, name=p.name,
                      used_memory_bytes=p.used_memory_bytes
                      if p.HasField("used_memory_bytes") else None,
                      container_id=p.container_id, workload=p.workload,
                      namespace=p.namespace, pod=p.pod, container=p.container)
