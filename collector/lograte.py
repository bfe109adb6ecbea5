"""Rate limit on repeated log lines: at most N records per minute per (logger, template).

A storm of one message (a warning per refused stream, a traceback per bad socket, an error
per failed write batch) would otherwise fill the disk and bury everything else. Records are
keyed by logger name and their unformatted message (`record.msg`), so "refused from %s"
counts as one template whatever the address. Past the limit a record is dropped and
counted; the first record of that template let through in a later window says how many
were dropped before it. The filter goes on handlers (a filter on a logger would not see
records from its children), see `install`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RepeatLimiter"]
WINDOW_SECONDS = 60.0
MAX_TEMPLATES = 4096
_VERDICT = "gputel_rate_limited_verdict"


class RepeatLimiter(logging.Filter):
    """A handler filter passing at most `per_minute` records per template per minute.

    `suppressed_total` counts every record dropped (for /metrics). Templates are tracked in
    an LRU of at most `max_templates`, so memory stays bounded whatever is logged.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 max_templates: int = MAX_TEMPLATES) -> None:
        super().__init__()
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.suppressed_total = 0
        self._clock = clock
        self._max = max_templates
        self._windows: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()  # handlers are called from any thread
        self._installed: list[logging.Handler] = []

    def filter(self, record: logging.LogRecord) -> bool:
        """True to emit (the message then also says how many like it were dropped since the
        last one let through), False to drop. One record seen by several handlers is
        decided once."""
        verdict = record.__dict__.get(_VERDICT)
        if verdict is None:
            verdict = self._decide(record)
            record.__dict__[_VERDICT] = verdict
        return bool(verdict)

    def _decide(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self._clock()
        with self._lock:
            window = self._windows.pop(key, None) or [now, 0.0, 0.0]  # start, passed, dropped
            self._windows[key] = window
            if len(self._windows) > self._max:
                self._windows.popitem(last=False)
            dropped = 0
            if now - window[0] >= WINDOW_SECONDS:
                dropped = int(window[2])
                window[:] = [now, 0.0, 0.0]
            if window[1] >= self.per_minute:
                window[2] += 1
                self.suppressed_total += 1
                return False
            window[1] += 1
        if dropped:  # say so in the record itself: Python 3.11 filters cannot replace it
            record.msg = f"{record.getMessage()} [{dropped} more like this suppressed " \
                         f"in the previous {WINDOW_SECONDS:g} s]"
            record.args = None
        return True

    def install(self, logger: logging.Logger | None = None) -> None:
        """Filter every handler of `logger` (the root logger by default)."""
        for handler in (logger or logging.getLogger()).handlers:
            handler.addFilter(self)
            self._installed.append(handler)

    def uninstall(self) -> None:
        """Take the filter off every handler `install` put it on."""
        for handler in self._installed:
            handler.removeFilter(self)
        self._installed.clear()

