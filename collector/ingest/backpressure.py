"""Back-pressure for ingest: a byte budget for frames in flight, and a memory guard.

Both make a flood slow the senders instead of growing the collector: a reader that
finds no room waits (HTTP/2 flow control then holds the agent back), and a process
over its memory budget refuses new frames with a retry delay until it is under again.
"""

from __future__ import annotations

import asyncio
import ctypes
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

    Reads RSS at most every `interval` seconds, so it costs nothing per frame. Each time
    it finds the process over, it calls `relieve` (the collector shrinks what it holds),
    so a refusal is never permanent while memory can be given back.
    """

    def __init__(self, limit_bytes: int, interval: float = 0.2,
                 rss: Callable[[], int] | None = None,
                 relieve: Callable[[], object] | None = None) -> None:
        self.limit_bytes = limit_bytes
        self._interval = interval
        self._rss = rss or (lambda: int(psutil.Process().memory_info().rss))
        self._relieve = relieve
        self._checked = 0.0
        self._over = False
        self._lock = threading.Lock()
        self.refusals = 0
        self.reliefs = 0

    def over(self) -> bool:
        """Whether the process is over its budget now (counted as a refusal when it is)."""
        if not self.limit_bytes:
            return False
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self._interval:
                self._checked = now
                self._over = self._rss() > self.limit_bytes
                if self._over and self._relieve is not None:
                    self.reliefs += 1
                    self._relieve()
            self.refusals += self._over
            return self._over


def return_freed_memory() -> None:
    """Ask the C allocator to give freed pages back to the system (glibc's malloc_trim),
    so what was evicted shows in RSS; a no-op where the call does not exist."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def steady_allocator() -> bool:
    """Make glibc hand large buffers (frames) back to the system when freed: a fixed mmap
    threshold of 1 MiB (by default it grows to 32 MiB after the first large free, and the
    freed frames then fragment the heap) and at most 2 arenas. True when it took effect.
    Call before the server starts its threads."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1 << 20)) and bool(mallopt(_M_ARENA_MAX, 2))


_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # glibc's malloc.h


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()
