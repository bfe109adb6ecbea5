"""Counts XID critical-error events per device, from an NVML event set, off the tick thread.

One thread blocks in nvmlEventSetWait_v2 (at most `wait_ms` at a time, so that stop() is
prompt) and counts each XID against the GPU's row and, when the event names a GPU and
compute instance, against that MIG device's row too. Counts start at 0 when the agent
starts. A GPU whose driver cannot report events reads NaN in the xid_events column.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gputel.agent.backends.base import Float64Array

log = logging.getLogger(__name__)

EVENT_XID_CRITICAL = 0x8  # nvmlEventTypeXidCriticalError
NVML_TIMEOUT = 10
NO_INSTANCE = 0xFFFFFFFF


@dataclass(slots=True)
class EventTarget:
    """A physical GPU to register, its row, and its MIG rows by (GPU instance, compute instance)."""

    row: int
    handle: Any
    mig_rows: dict[tuple[int, int], int] = field(default_factory=dict)


def handle_address(handle: Any) -> int:
    """The address an nvmlDevice_t points at: how an event names its device."""
    return int(ctypes.cast(handle, ctypes.c_void_p).value or 0)


class XidWatcher:
    """Owns one NVML event set and the thread that waits on it."""

    def __init__(self, nvml: Any, n_rows: int, wait_ms: int,
                 carry: XidWatcher | None = None) -> None:
        self._nvml = nvml
        self._wait_ms = wait_ms
        # A watcher that replaces another (after a re-init) keeps counting from its counts.
        self.counts: list[int] = list(carry.counts) if carry is not None else [0] * n_rows
        self.last_xid: list[int] = list(carry.last_xid) if carry is not None else [0] * n_rows
        self.watched = [False] * n_rows
        self.wait_errors = 0
        self._targets: dict[int, EventTarget] = {}
        self._set: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._total = 0

    def start(self, targets: list[EventTarget]) -> bool:
        """Register every GPU that supports XID events and start waiting; False if none does."""
        try:
            self._set = self._nvml.nvmlEventSetCreate()
        except self._nvml.NVMLError as exc:
            log.info("NVML events unavailable (error %d): XID events will not be counted",
                     exc.value)
            return False
        for target in targets:
            self._register(target)
        if not self._targets:
            self._free()
            return False
        self._thread = threading.Thread(target=self._run, name="gputel-nvml-events",
                                        daemon=True)
        self._thread.start()
        return True

    def _register(self, target: EventTarget) -> None:
        nvml = self._nvml
        try:
            supported = nvml.nvmlDeviceGetSupportedEventTypes(target.handle)
            if not supported & EVENT_XID_CRITICAL:
                return
            nvml.nvmlDeviceRegisterEvents(target.handle, EVENT_XID_CRITICAL, self._set)
        except nvml.NVMLError as exc:
            log.info("device row %d: cannot register for XID events (NVML error %d)",
                     target.row, exc.value)
            return
        self._targets[handle_address(target.handle)] = target
        for row in (target.row, *target.mig_rows.values()):
            self.watched[row] = True

    def _run(self) -> None:
        nvml = self._nvml
        while not self._stop.is_set():
            try:
                data = nvml.nvmlEventSetWait_v2(self._set, self._wait_ms)
            except nvml.NVMLError as exc:
                if exc.value != NVML_TIMEOUT:
                    self._wait_failed(exc.value)
                continue
            self._count(data)

    def _wait_failed(self, code: int) -> None:
        self.wait_errors += 1
        if self.wait_errors == 1:
            log.warning("waiting for NVML events failed (error %d); retrying each second", code)
        self._stop.wait(1.0)  # never spin on a broken event set

    def _count(self, data: Any) -> None:
        if data.eventType != EVENT_XID_CRITICAL:
            return
        target = self._targets.get(handle_address(data.device))
        if target is None:
            return
        rows = [target.row]
        gi, ci = data.gpuInstanceId, data.computeInstanceId
        if gi != NO_INSTANCE:
            rows += [row for (g, c), row in target.mig_rows.items()
                     if g == gi and ci in (c, NO_INSTANCE)]
        xid = int(data.eventData)
        log.warning("XID %d on device row(s) %s", xid, rows)
        with self._cond:
            for row in rows:
                self.counts[row] += 1
                self.last_xid[row] = xid
            self._total += 1
            self._cond.notify_all()

    def fill(self, column: Float64Array) -> None:
        """Write the counts into one column of a tick's values (NaN where not watched)."""
        column[:] = np.where(self.watched, self.counts, np.nan)

    def wait_total(self, n: int, timeout_s: float) -> bool:
        """Block until `n` XID events have been counted in all; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._total >= n, timeout_s)

    def stop(self) -> None:
        """Stop waiting and free the event set; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._wait_ms / 1000 + 2.0)
            if self._thread.is_alive():
                log.warning("the NVML event thread is still inside nvmlEventSetWait")
                return  # freeing the set under a waiting call would be unsafe
            self._thread = None
        self._free()

    def _free(self) -> None:
        if self._set is None:
            return
        try:
            self._nvml.nvmlEventSetFree(self._set)
        except self._nvml.NVMLError as exc:
            log.debug("nvmlEventSetFree failed (error %d)", exc.value)
        self._set = None
