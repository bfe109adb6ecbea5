"""Housekeeping on a timer: newest-value retention, idle nodes, workload retention, the ingest
state snapshot, and the store's sealing, retention and checks (in its writer thread, never
on the event loop), and compaction of sealed blocks (in a thread of its own)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gputel.collector.ingest.core import IngestCore
from gputel.collector.storage.durable import DurableStore, StorageError
from gputel.collector.storage.store import SeriesStore

log = logging.getLogger(__name__)
CHECKPOINT_TIMEOUT_S = 30.0
STORE_PASS_TIMEOUT_S = 60.0  # then the next interval tries again


class Maintenance:
    """One collector's housekeeping. `refresh_sizes` (blocking) recounts the store's sizes
    for /metrics, so a scrape never has to."""

    def __init__(self, store: SeriesStore, ingest: IngestCore, durable: DurableStore,
                 interval_seconds: float,
                 refresh_sizes: Callable[[], object] | None = None) -> None:
        self._store = store
        self._ingest = ingest
        self._durable = durable
        self._interval = interval_seconds
        self._refresh_sizes = refresh_sizes
        self._compacting: asyncio.Future[int] | None = None

    async def run(self) -> None:
        """Every interval, until cancelled; a failed store pass is retried next interval.
        The writer thread is watched by a loop of its own: a store pass that waits on a
        dead writer must not keep it from being restarted."""
        supervisor = asyncio.create_task(self._supervise())
        try:
            while True:
                await asyncio.sleep(self._interval)
                self._store.enforce_retention(time.time_ns())
                self._ingest.forget_idle()
                self._ingest.workloads.enforce_retention(time.time_ns())
                try:
                    await asyncio.wait_for(self._store_pass(), STORE_PASS_TIMEOUT_S)
                except (StorageError, TimeoutError) as exc:
                    log.debug("store maintenance failed: %s", exc)  # the writer logs once
                self._compact()
                if self._refresh_sizes is not None:  # counted here, never on the scrape path
                    await asyncio.to_thread(self._refresh_sizes)
        finally:
            supervisor.cancel()

    def _compact(self) -> None:
        """Start merging small blocks in a thread of its own, unless a merge still runs: a
        long one delays neither this loop nor the writer."""
        if self._compacting is None or self._compacting.done():
            self._compacting = asyncio.ensure_future(asyncio.to_thread(self._durable.compact))
            self._compacting.add_done_callback(_said)

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._durable.supervise()

    async def _store_pass(self) -> None:
        """The ingest state snapshot, then sealing, retention and checks in the writer."""
        await self.checkpoint()
        if self._durable.running():  # failing writes too: its probe says when they work
            await asyncio.wrap_future(self._durable.maintain())

    async def checkpoint(self) -> None:
        """Snapshot the ingest state (built here, on the event loop, between commits) and
        wait until it is durable. Raises StorageError; a no-op while the writer is down."""
        if not self._durable.writing():
            return
        done = self._ingest.checkpoint()
        if done is not None:
            await asyncio.wait_for(asyncio.wrap_future(done), CHECKPOINT_TIMEOUT_S)

    async def now(self) -> None:
        """One pass right away (tests, shutdown). Raises StorageError."""
        self._store.enforce_retention(time.time_ns())
        self._ingest.workloads.enforce_retention(time.time_ns())
        await self.checkpoint()
        await asyncio.wrap_future(self._durable.maintain())


def _said(done: asyncio.Future[int]) -> None:
    """Log what a compaction raised that it did not handle itself (it logs its own)."""
    if not done.cancelled() and done.exception() is not None:
        log.error("compaction stopped: %s", done.exception())
