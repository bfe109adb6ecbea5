"""What each GPU is (its inventory) and who runs on it (its processes), newest only.

Ingest writes from Hellos and frames; the query side reads. Held per (node, GPU UUID),
so it is bounded by the devices the node registry admits (--max-series); a node that is
forgotten takes its entries with it. The newest read wins: an older report (a resend, a
replayed frame, a Hello restored after a newer frame) never overwrites a newer one.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

from gputel.proto.inventory import Inventory

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DeviceInventory(Inventory):
    """One GPU as its driver last described it (gputel.proto.inventory.Inventory), and when
    the agent read it (`read_ts_ns`, Unix ns)."""

    read_ts_ns: int = 0


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """One process on a GPU: host PID, command name, GPU memory (bytes, None if unknown),
    container id and the workload (with its namespace, pod, container) holding it."""

    pid: int
    name: str = ""
    used_memory_bytes: int | None = None
    container_id: str = ""
    workload: str = ""
    namespace: str = ""
    pod: str = ""
    container: str = ""


@dataclass(frozen=True, slots=True)
class ProcessList:
    """Every process on one GPU when its agent read the list (Unix ns)."""

    read_ts_ns: int
    processes: tuple[GpuProcess, ...] = ()


class InventoryBook:
    """Newest inventory and process list per (node, GPU UUID); thread-safe."""

    def __init__(self) -> None:
        self._inventory: dict[Key, DeviceInventory] = {}
        self._processes: dict[Key, ProcessList] = {}
        self._lock = threading.Lock()

    def inventory(self, node: str, uuid: str) -> DeviceInventory | None:
        """The GPU's newest inventory, None when never reported."""
        with self._lock:
            return self._inventory.get((node, uuid))

    def processes(self, node: str, uuid: str) -> ProcessList | None:
        """The GPU's newest process list, None when never reported."""
        with self._lock:
            return self._processes.get((node, uuid))

    def put_inventory(self, node: str, uuid: str, inventory: DeviceInventory) -> None:
        """Keep it unless what is held was read later."""
        with self._lock:
            _put_newer(self._inventory, (node, uuid), inventory)

    def put_processes(self, node: str, uuid: str, processes: ProcessList) -> None:
        """Keep it unless what is held was read later."""
        with self._lock:
            _put_newer(self._processes, (node, uuid), processes)

    def forget(self, node: str) -> None:
        """Drop every entry of a forgotten node."""
        with self._lock:
            for table in (self._inventory, self._processes):
                for key in [k for k in table if k[0] == node]:
                    del table[key]

    def state(self) -> dict[str, Any]:
        """Everything held, as JSON-ready lists (the state snapshot)."""
        with self._lock:
            return {"inventory": [[n, u, dataclasses.asdict(i)]
                                  for (n, u), i in self._inventory.items()],
                    "processes": [[n, u, p.read_ts_ns, [dataclasses.asdict(x)
                                                        for x in p.processes]]
                                  for (n, u), p in self._processes.items()]}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what state() gave (entries read later are kept)."""
        for node, uuid, fields in state.get("inventory", []):
            self.put_inventory(node, uuid, DeviceInventory(**fields))
        for node, uuid, ts, procs in state.get("processes", []):
            self.put_processes(node, uuid, ProcessList(
                int(ts), tuple(GpuProcess(**p) for p in procs)))


def _put_newer(table: dict[Key, Any], key: Key, value: DeviceInventory | ProcessList) -> None:
    held = table.get(key)
    if held is None or held.read_ts_ns <= value.read_ts_ns:
        table[key] = value
