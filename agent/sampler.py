"""The sampling loop: one backend read per tick on a fixed schedule that does not drift.

Tick k is due at start + k * period on the monotonic clock and is stamped
wall_start + k * period, so every tick of every device shares one timestamp and
ticks are exactly one period apart. A tick that falls more than a period behind
is skipped and counted, never bunched up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gputel.agent.backends.base import Backend, Reading
from gputel.agent.clock import Clock

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SamplerStats:
    """Counters the exporter reads. Durations in seconds."""

    ticks: int = 0
    ticks_missed: int = 0
    read_errors: int = 0
    last_read_seconds: float = 0.0
    max_read_seconds: float = 0.0


class Sampler:
    """Calls backend.read at `rate_hz` and hands each Reading to `sink(ts_ns, reading)`."""

    def __init__(self, backend: Backend, rate_hz: float, sink: Callable[[int, Reading], None],
                 clock: Clock, max_ticks: int | None = None) -> None:
        if not 0 < rate_hz <= 1000:
            raise ValueError(f"sample rate {rate_hz} Hz is outside (0, 1000]")
        self._backend = backend
        self._period_ns = round(1e9 / rate_hz)
        self._sink = sink
        self._clock = clock
        self._max_ticks = max_ticks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = SamplerStats()
        self.finished = threading.Event()

    @property
    def period_ns(self) -> int:
        """Nanoseconds between ticks."""
        return self._period_ns

    def start(self) -> None:
        """Start the sampling thread."""
        self._thread = threading.Thread(target=self._run, name="gputel-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current tick; idempotent."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self.finished.set()

    def _loop(self) -> None:
        mono0 = self._clock.monotonic_ns()
        wall0 = self._clock.time_ns()
        k = 0
        while not self._stop.is_set():
            if self._max_ticks is not None and self.stats.ticks >= self._max_ticks:
                return
            due = mono0 + k * self._period_ns
            now = self._clock.monotonic_ns()
            if now - due > self._period_ns:  # fell behind: skip to the next due tick
                skipped = (now - due) // self._period_ns
                self.stats.ticks_missed += int(skipped)
                k += int(skipped)
                continue
            if due > now and self._clock.wait(self._stop, (due - now) / 1e9):
                return
            self._tick(wall0 + k * self._period_ns)
            k += 1

    def _tick(self, ts_ns: int) -> None:
        t0 = self._clock.monotonic_ns()
        try:
            reading = self._backend.read(ts_ns)
        except Exception:  # a failed library costs this tick, never the agent
            self.stats.read_errors += 1
            log.exception("backend read failed")
            return
        took = (self._clock.monotonic_ns() - t0) / 1e9
        self.stats.last_read_seconds = took
        self.stats.max_read_seconds = max(self.stats.max_read_seconds, took)
        self.stats.ticks += 1
        self._sink(ts_ns, reading)
