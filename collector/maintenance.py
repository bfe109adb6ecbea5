"""Housekeeping on a timer: head retention, idle nodes, workload retention, and the frame
log's rollups and disk retention (in its writer thread, never on the event loop)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gputel.collector.ingest.core import IngestCore
from gputel.collector.storage.durable import FrameLog, StorageError
from gputel.collector.storage.store import SeriesStore

log = logging.getLogger(__name__)


class Maintenance:
    """One collector's housekeeping. `refresh_sizes` (blocking) recounts the store's sizes
    for /metrics, so a scrape never has to."""

    def __init__(self, store: SeriesStore, ingest: IngestCore, frame_log: FrameLog | None,
                 interval_seconds: float,
                 refresh_sizes: Callable[[], object] | None = None) -> None:
        self._store = store
        self._ingest = ingest
        self._log = frame_log
        self._interval = interval_seconds
        self._refresh_sizes = refresh_sizes

    async def run(self) -> None:
        """Every interval, until cancelled; a failed store pass is retried next interval."""
        while True:
            await asyncio.sleep(self._interval)
            self._store.enforce_retention(time.time_ns())
            self._ingest.forget_idle()
            self._ingest.workloads.enforce_retention(time.time_ns())
            if self._log is not None:
                self._log.supervise()
                try:
                    await asyncio.wrap_future(self._log.maintain())
                except StorageError as exc:
                    log.debug("store maintenance failed: %s", exc)  # logged once by the writer
            if self._refresh_sizes is not None:  # counted here, never on the scrape path
                await asyncio.to_thread(self._refresh_sizes)

    async def now(self) -> None:
        """One pass right away (tests, shutdown). Raises StorageError."""
        self._store.enforce_retention(time.time_ns())
        self._ingest.workloads.enforce_retention(time.time_ns())
        if self._log is not None:
            await asyncio.wrap_future(self._log.maintain())
