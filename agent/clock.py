"""Time sources, passed in so that tests and benchmarks can replace them."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time for timestamps, monotonic time for schedules."""

    def time_ns(self) -> int:
        """Unix time in nanoseconds."""

    def monotonic_ns(self) -> int:
        """A clock that never goes back, in nanoseconds."""

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Sleep up to `seconds` or until `stop` is set; True when stopped."""


class SystemClock:
    """The real clocks."""

    def time_ns(self) -> int:
        """Unix time in nanoseconds."""
        return time.time_ns()

    def monotonic_ns(self) -> int:
        """time.monotonic_ns()."""
        return time.monotonic_ns()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Interruptible sleep."""
        return stop.wait(max(0.0, seconds))
