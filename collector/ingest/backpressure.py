"""Back-pressure for ingest: a byte budget for frames in flight, and a memory guard.

Both make a flood slow the senders instead of growing the collector: a reader that
finds no room waits (HTTP/2 flow control then holds the agent back), and a process
over its memory budget refuses new frames with a retry delay until it is under again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import psutil


class ByteBudget:
    """Bytes of frames read but not yet answered, over every stream (one event loop).

    `acquire` waits while the budget is spent; a message larger than the whole budget
    waits for an empty budget and then passes alone, so nothing waits for ever.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.waits = 0
        self._freed = asyncio.Event()

    async def acquire(self, size: int) -> None:
        """Take `size` bytes, waiting for room."""
        if not self._fits(size):
            self.waits += 1
            while not self._fits(size):
                self._freed.clear()
                await self._freed.wait()
        self.used += size

    def _fits(self, size: int) -> bool:
        return self.used == 0 or self.used + size <= self.limit

    def release(self, size: int) -> None:
        """Give `size` bytes back (on the loop), waking the waiters."""
        self.used -= size
        self._freed.set()


class MemoryGuard:
    """True while the process's resident memory is above `limit_bytes` (0: no limit).

    Reads RSS at most every `interval` seconds, so it costs nothing per frame.
    """

    def __init__(self, limit_bytes: int, interval: float = 0.2,
                 rss: Callable[[], int] | None = None) -> None:
        self.limit_bytes = limit_bytes
        self._interval = interval
        self._rss = rss or (lambda: int(psutil.Process().memory_info().rss))
        self._checked = 0.0
        self._over = False
        self._lock = threading.Lock()
        self.refusals = 0

    def over(self) -> bool:
        """Whether the process is over its budget now (counted as a refusal when it is)."""
        if not self.limit_bytes:
            return False
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self._interval:
                self._checked = now
                self._over = self._rss() > self.limit_bytes
            self.refusals += self._over
            return self._over
