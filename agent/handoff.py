"""The hand-off from the tick thread to the frame writer: a bounded queue and one thread.

The sampler's tick must stay short at 100 Hz (10 ms), so it only puts each Reading here;
one writer thread batches ticks into frames, encodes them and writes them to the spool
(a SQLite commit: milliseconds on ext4, more on a busy disk). The queue is bounded: a
tick that finds it full is dropped and counted (`ticks_dropped`), never waited for. A
sink that raises costs that tick (counted, logged), never the writer thread.

The writer wakes every `drain_seconds` (0.1 s) and takes every tick waiting, rather than
being woken by each tick: a thread wake-up per tick cost ~70 us of CPU at 100 Hz on the
benchmark VM (0.7 % of a core, benchmarks/results/agent-overhead.md); frames are built
once a second, so the 0.1 s delay costs nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gputel.agent.backends.base import Reading

log = logging.getLogger(__name__)

DRAIN_SECONDS = 0.1


@dataclass(slots=True)
class HandoffStats:
    """Counters for /metrics."""

    ticks_dropped: int = 0  # the queue was full
    sink_errors: int = 0  # the writer's sink raised
    max_depth: int = 0  # most ticks waiting at once


class TickHandoff:
    """`put(ts_ns, reading)` never blocks; the writer calls `sink(ts_ns, reading)` in order."""

    def __init__(self, sink: Callable[[int, Reading], None], max_ticks: int,
                 drain_seconds: float = DRAIN_SECONDS) -> None:
        if max_ticks < 1:
            raise ValueError("the tick hand-off holds at least one tick")
        self._sink = sink
        self._max = max_ticks
        self._drain_s = drain_seconds
        # deque append/popleft are atomic: one producer, one consumer, no lock.
        self._ticks: deque[tuple[int, Reading]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = HandoffStats()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="gputel-framer", daemon=True)
        self._thread.start()

    def put(self, ts_ns: int, reading: Reading) -> None:
        """Queue one tick for the writer (tick thread); a full queue drops it, counted."""
        depth = len(self._ticks)
        if depth >= self._max:
            self.stats.ticks_dropped += 1
            return
        self._ticks.append((ts_ns, reading))
        if depth >= self.stats.max_depth:
            self.stats.max_depth = depth + 1

    def stop(self, timeout: float = 10.0) -> bool:
        """Let the writer take every queued tick, then end it; True if it finished in time."""
        if self._thread is None:
            return True
        self._stop.set()
        self._thread.join(timeout)
        finished = not self._thread.is_alive()
        self._thread = None
        return finished

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._drain_s)
            self._drain()
            if stopping:
                return

    def _drain(self) -> None:
        while self._ticks:
            ts_ns, reading = self._ticks.popleft()
            try:
                self._sink(ts_ns, reading)
            except Exception:  # one bad tick costs that tick, never the writer
                self.stats.sink_errors += 1
                log.exception("framing the tick at %d failed", ts_ns)
