"""The hand-off from the tick thread to the frame writer: a bounded queue and one thread.

The sampler's tick must stay short at 100 Hz (10 ms), so it only puts each Reading here;
one writer thread batches ticks into frames, encodes them and writes them to the spool
(a SQLite commit: milliseconds on ext4, more on a busy disk). The queue is bounded: a
tick that finds it full is dropped and counted (`ticks_dropped`), never waited for. A
sink that raises costs that tick (counted, logged), never the writer thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gputel.agent.backends.base import Reading

log = logging.getLogger(__name__)

_STOP = None  # the writer's last item


@dataclass(slots=True)
class HandoffStats:
    """Counters for /metrics."""

    ticks_dropped: int = 0  # the queue was full
    sink_errors: int = 0  # the writer's sink raised
    max_depth: int = 0  # most ticks waiting at once


class TickHandoff:
    """`put(ts_ns, reading)` never blocks; the writer calls `sink(ts_ns, reading)` in order."""

    def __init__(self, sink: Callable[[int, Reading], None], max_ticks: int) -> None:
        if max_ticks < 1:
            raise ValueError("the tick hand-off holds at least one tick")
        self._sink = sink
        self._queue: queue.Queue[tuple[int, Reading] | None] = queue.Queue(max_ticks)
        self._thread: threading.Thread | None = None
        self.stats = HandoffStats()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="gputel-framer", daemon=True)
        self._thread.start()

    def put(self, ts_ns: int, reading: Reading) -> None:
        """Queue one tick for the writer (tick thread); a full queue drops it, counted."""
        try:
            self._queue.put_nowait((ts_ns, reading))
        except queue.Full:
            self.stats.ticks_dropped += 1
            return
        self.stats.max_depth = max(self.stats.max_depth, self._queue.qsize())

    def stop(self, timeout: float = 10.0) -> bool:
        """Let the writer take every queued tick, then end it; True if it finished in time."""
        if self._thread is None:
            return True
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        finished = not self._thread.is_alive()
        self._thread = None
        return finished

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            ts_ns, reading = item
            try:
                self._sink(ts_ns, reading)
            except Exception:  # one bad tick costs that tick, never the writer
                self.stats.sink_errors += 1
                log.exception("framing the tick at %d failed", ts_ns)
