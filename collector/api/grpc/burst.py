"""Results of worker threads handed to the event loop in bursts: one wake-up per burst.

`asyncio.wrap_future` wakes the loop once per finished future (a write to its self-pipe,
then a loop iteration). The ingest path finishes two futures per frame in threads: the
frame's parse and decode in the worker pool, and its commit in the store's writer, which
commits a hundred frames at once and then finishes their futures one after another. Each
wake-up costs a system call and takes the GIL from the thread that is working. Here a
finished future is queued, and only the first of a burst wakes the loop; the loop then
settles every future queued so far.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections import deque
from typing import TypeVar

T = TypeVar("T")

__all__ = ["BurstHandoff"]


class BurstHandoff:
    """Awaitable twins of concurrent futures, settled on one event loop in bursts."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._done: deque[tuple[asyncio.Future[object],
                                concurrent.futures.Future[object]]] = deque()
        self._woken = False  # a drain is scheduled and has not taken the queue yet
        self.wakeups = 0  # loop wake-ups asked for (tests, profiles)

    def wrap(self, future: concurrent.futures.Future[T]) -> asyncio.Future[T]:
        """The asyncio twin of `future` (on this loop; call from it). Cancelling the twin
        cancels `future` if it has not started, as `asyncio.wrap_future` does."""
        twin: asyncio.Future[T] = self.loop.create_future()
        twin.add_done_callback(lambda t: future.cancel() if t.cancelled() else None)
        future.add_done_callback(lambda f: self._finished(twin, f))  # type: ignore[arg-type]
        return twin

    def _finished(self, twin: asyncio.Future[object],
                  future: concurrent.futures.Future[object]) -> None:
        """In whichever thread finished `future`: queue it; wake the loop if none is due."""
        with self._lock:
            self._done.append((twin, future))
            if self._woken:
                return
            self._woken = True
            self.wakeups += 1
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits the twins
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        """On the loop: settle every queued twin."""
        with self._lock:
            done, self._done = self._done, deque()
            self._woken = False
        for twin, future in done:
            if twin.done():  # cancelled meanwhile
                continue
            if future.cancelled():
                twin.cancel()
                continue
            error = future.exception()
            if error is not None:
                twin.set_exception(error)
            else:
                twin.set_result(future.result())
