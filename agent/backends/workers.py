"""Per-device sampling threads with a watchdog: a hung driver call stalls only its own device.

Each device has one worker thread. Every tick, `run` hands each idle worker its job and
waits up to `deadline_s` seconds (wall time) for the answers. A worker whose job has not
returned by then is left alone (it may be stuck in the driver, in D state): its device
yields no values for that tick and for every later tick until the call returns, and each
such tick is counted in `stalled_ticks`. A result that arrives after its tick is handed
back as late, so that driver-buffered samples it carries are not lost.

Vendor-neutral: the NVML and AMD SMI backends both use it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")

_STOP = None


@dataclass(frozen=True, slots=True)
class TickResults(Generic[R]):
    """What came back for one tick: results on time by device, late ones from earlier ticks."""

    on_time: dict[int, R]
    late: list[tuple[int, R]]
    stalled: list[int]


class DeviceWorkers(Generic[R]):
    """One daemon thread per device; `run` is called from one thread (the sampler's).

    One wake-up per device and one for the caller per tick: a worker stores its result in
    its slot, and the last on-time worker sets `_done`.
    """

    def __init__(self, n_devices: int, deadline_s: float, name: str = "gputel-device") -> None:
        if deadline_s <= 0:
            raise ValueError("the watchdog deadline must be positive")
        self._deadline_s = deadline_s
        self._inboxes: list[queue.SimpleQueue[tuple[int, Callable[[], R]] | None]] = [
            queue.SimpleQueue() for _ in range(n_devices)]
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._slots: list[tuple[int, R | None] | None] = [None] * n_devices
        self._busy = [False] * n_devices
        self._waiting = 0  # on-time results still to come this tick
        self._tick = 0
        self._closed = False
        self.stalled_ticks = [0] * n_devices
        self.job_errors = [0] * n_devices
        self._threads = [threading.Thread(target=self._work, args=(i,), name=f"{name}-{i}",
                                          daemon=True) for i in range(n_devices)]
        for thread in self._threads:
            thread.start()

    def busy(self, device: int) -> bool:
        """True while the device's previous job has not returned (a stalled call)."""
        return self._busy[device]

    def any_busy(self) -> bool:
        """True if any device still has a job in flight."""
        return any(self._busy)

    def run(self, jobs: dict[int, Callable[[], R]]) -> TickResults[R]:
        """Run one job per device in parallel; wait at most the deadline, in seconds."""
        with self._lock:
            self._tick += 1
            late = self._take(late=True)
            dispatched = [dev for dev in jobs if not self._busy[dev]]
            for dev in dispatched:  # a busy device is inside a hung call: never queue behind it
                self._busy[dev] = True
            self._waiting = len(dispatched)
            self._done.clear()
        for dev in dispatched:
            self._inboxes[dev].put((self._tick, jobs[dev]))
        if dispatched:
            self._done.wait(self._deadline_s)
        with self._lock:
            on_time = dict(self._take(late=False))
            stalled = [dev for dev in jobs if self._busy[dev]]
        for dev in stalled:
            self.stalled_ticks[dev] += 1
        return TickResults(on_time, late, stalled)

    def _take(self, late: bool) -> list[tuple[int, R]]:
        """Empty the slots holding results (from earlier ticks if `late`); lock held."""
        out: list[tuple[int, R]] = []
        for dev, slot in enumerate(self._slots):
            if slot is None or (slot[0] != self._tick) != late:
                continue
            self._slots[dev] = None
            if slot[1] is not None:
                out.append((dev, slot[1]))
        return out

    def _work(self, dev: int) -> None:
        inbox = self._inboxes[dev]
        while (item := inbox.get()) is not _STOP:
            tick, job = item
            result: R | None = None
            try:
                result = job()
            except Exception:  # a bug in one device's job must not kill its thread
                self.job_errors[dev] += 1
                if self.job_errors[dev] == 1:
                    log.exception("sampling device %d failed", dev)
            with self._lock:
                self._slots[dev] = (tick, result)
                self._busy[dev] = False
                if tick == self._tick:
                    self._waiting -= 1
                    if self._waiting == 0:
                        self._done.set()

    def close(self, timeout_s: float = 2.0) -> bool:
        """Stop every worker; False if one is stuck in the driver (left behind, a daemon)."""
        if self._closed:
            return True
        self._closed = True
        for inbox in self._inboxes:
            inbox.put(_STOP)
        deadline = time.monotonic() + timeout_s
        joined = True
        for dev, thread in enumerate(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                joined = False
                log.warning("device %d: sampling thread still inside a driver call at shutdown",
                            dev)
        return joined


def release(workers: DeviceWorkers[Any] | None, shutdown: Callable[[], None] | None) -> None:
    """Stop the device threads, then shut the vendor library down, unless a call is still
    inside it: pulling the library from under a hung driver call can crash the process."""
    if workers is not None and not workers.close():
        return
    if shutdown is not None:
        shutdown()
