"""Device inventory and GPU processes, sent to the collector slowly and only when they change.

Inventory (driver, serial, power limit, links, modes: backends.base.Inventory) is read once
when the agent starts (the Hello carries it) and then every `refresh_seconds` on a thread
of its own, never on the tick thread: a dozen driver calls per device. A device whose
inventory changed rides in the next frame. Process lists come with the backend's
readings (about once a second, for attribution); the frame writer hands them here, and a
device's list is sent when its set of processes changed, else at most every
`processes_seconds` when what it holds changed (memory). Each process is named with the
workload attribution placed it in.

Both are bounded before they leave: at most MAX_PROCESSES processes per device (the rest
dropped, counted) and MAX_TEXT characters per string (the collector refuses longer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gputel.agent.attribution.attributor import AttributionView, PidOwner
from gputel.agent.backends.base import Backend, ProcessSample
from gputel.agent.clock import Clock
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.inventory import inventory_pb

log = logging.getLogger(__name__)
MAX_PROCESSES = 1024
MAX_TEXT = 256
_NOBODY = PidOwner("")


@dataclass(slots=True)
class InventoryStats:
    """Counters for the agent's /metrics."""

    reads: int = 0
    read_errors: int = 0
    changes: int = 0
    processes_dropped: int = 0


class InventoryReporter:
    """Reads inventory on its own thread and processes from the frame writer; `decorate`
    puts what changed into each frame. `view` gives attribution's snapshot (or None)."""

    def __init__(self, backend: Backend, n_devices: int, clock: Clock,
                 view: Callable[[], AttributionView] | None = None,
                 refresh_seconds: float = 30.0, processes_seconds: float = 5.0) -> None:
        self._backend = backend
        self._n = n_devices
        self._clock = clock
        self._view = view
        self._refresh_s = refresh_seconds
        self._processes_ns = round(processes_seconds * 1e9)
        self._lock = threading.Lock()
        self._latest: dict[int, pb.GpuInventory] = {}
        self._pending: dict[int, pb.GpuInventory] = {}
        self._sent: dict[int, tuple[int, frozenset[int], bytes]] = {}  # ts, pids, content
        self._pending_processes: dict[int, pb.DeviceProcesses] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = InventoryStats()

    # ------------------------------------------------------------------ inventory
    def refresh(self) -> None:
        """Read every device's inventory now; what changed waits for the next frame."""
        ts_ns = self._clock.time_ns()
        try:
            read = self._backend.inventory()
        except Exception:  # a failed library costs this refresh, never the agent
            self.stats.read_errors += 1
            log.exception("reading the device inventory failed")
            return
        self.stats.reads += 1
        with self._lock:
            for device, item in enumerate(read[:self._n]):
                msg = inventory_pb(device, item, ts_ns, MAX_TEXT)
                if not _same(self._latest.get(device), msg):
                    self._pending[device] = msg
                    self.stats.changes += device in self._latest
                self._latest[device] = msg

    def start(self) -> None:
        """Refresh every `refresh_seconds` on a thread of its own."""
        self._thread = threading.Thread(target=self._run, name="gputel-inventory", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the refresh thread; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._clock.wait(self._stop, self._refresh_s):
            self.refresh()

    def hello(self) -> list[pb.GpuInventory]:
        """The newest inventory of every device, for the Hello."""
        with self._lock:
            return [self._latest[d] for d in sorted(self._latest)]

    # ------------------------------------------------------------------ processes
    def observe(self, ts_ns: int, processes: Mapping[int, Sequence[ProcessSample]] | None,
                ) -> None:
        """Take one tick's process lists (frame writer's thread); note those to send."""
        if not processes:
            return
        view = self._view() if self._view is not None else None
        for device, listed in processes.items():
            if 0 <= device < self._n:
                self._note(ts_ns, device, listed, view)

    def _note(self, ts_ns: int, device: int, listed: Sequence[ProcessSample],
              view: AttributionView | None) -> None:
        if len(listed) > MAX_PROCESSES:
            self.stats.processes_dropped += len(listed) - MAX_PROCESSES
        msg = pb.DeviceProcesses(device=device, read_ts_ns=ts_ns, processes=[
            _process_pb(p, view) for p in listed[:MAX_PROCESSES]])
        pids = frozenset(p.pid for p in msg.processes)
        content = pb.DeviceProcesses(processes=msg.processes).SerializeToString(
            deterministic=True)
        sent = self._sent.get(device)
        if sent is not None and (sent[2] == content or (
                sent[1] == pids and ts_ns - sent[0] < self._processes_ns)):
            return
        self._sent[device] = (ts_ns, pids, content)
        with self._lock:
            self._pending_processes[device] = msg

    # ------------------------------------------------------------------ frames
    def decorate(self, frame: pb.Frame) -> None:
        """Add the inventory and process lists that changed since the last frame."""
        with self._lock:
            inventory, self._pending = self._pending, {}
            processes, self._pending_processes = self._pending_processes, {}
        frame.inventory.extend(inventory[d] for d in sorted(inventory))
        frame.processes.extend(processes[d] for d in sorted(processes))


def _same(old: pb.GpuInventory | None, new: pb.GpuInventory) -> bool:
    """Equal but for when they were read."""
    if old is None:
        return False
    a, b = pb.GpuInventory(), pb.GpuInventory()
    a.CopyFrom(old)
    b.CopyFrom(new)
    a.read_ts_ns = b.read_ts_ns = 0
    return a == b


def _process_pb(p: ProcessSample, view: AttributionView | None) -> pb.GpuProcess:
    owner = view.pids.get(p.pid, _NOBODY) if view is not None else _NOBODY
    workload = view.workloads.get(owner.workload_uid) if view is not None else None
    msg = pb.GpuProcess(pid=p.pid, name=(p.name or owner.comm)[:MAX_TEXT],
                        used_memory_bytes=max(p.used_memory_bytes, 0),
                        container_id=owner.container_id[:MAX_TEXT],
                        workload=owner.workload_uid[:MAX_TEXT])
    if workload is not None:
        msg.namespace, msg.pod = workload.namespace[:MAX_TEXT], workload.pod[:MAX_TEXT]
        msg.container = workload.container[:MAX_TEXT]
    return msg
