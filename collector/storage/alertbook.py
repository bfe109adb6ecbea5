"""Alert state shared through a remote TSDB: when each alert fired and who acknowledged it,
so every replica (and a restarted collector) shows the same `since` and acknowledgement.

Each collector still evaluates the rules over the shared data; what cannot be recomputed
from the data is recorded here:
- `gputel_state_alert{id}` = `time_value(since)` while firing, -1 once resolved (stamped
  when written);
- `gputel_state_alert_ack{id, by}` = `time_value(when acknowledged)`.

The newest record of each id within `window_ns` is read back by `refresh()` (each shared
state pass). The first collector to see an alert fire records its `since`; another that
sees it fire adopts the recorded one (two recording at once: the later write wins and both
adopt it on the next pass). An acknowledgement counts for the firing that began at or
before it, so an alert that resolves and fires again is unacknowledged again. What this
collector wrote stands in for what it cannot read back yet (a record missing, an older
acknowledgement) for OWN_WRITES_NS: a TSDB may take seconds to make a new series
searchable (VictoriaMetrics up to ~15 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gputel.collector.errors import UnavailableError
from gputel.collector.storage.tsdb import TsdbClient, TsdbError, time_value, value_time
from gputel.proto.prometheus import write_request

RESOLVED = -1.0
OWN_WRITES_NS = 30 * 10**9


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """What the TSDB holds of one alert: since (Unix ns, None once resolved) and the newest
    acknowledgement (by, Unix ns), if any."""

    since_ns: int | None
    acknowledged_by: str | None = None
    acknowledged_ns: int | None = None


class RemoteAlertBook:
    """Alert records in a TSDB; thread-safe. Implements query.alerts.AlertBook."""

    def __init__(self, client: TsdbClient, window_ns: int,
                 time_ns: Callable[[], int] = time.time_ns) -> None:
        self._client = client
        self._window_ms = max(1, window_ns // 1_000_000)
        self._time_ns = time_ns
        self._records: dict[str, AlertRecord] = {}
        self._own: dict[str, tuple[int, AlertRecord]] = {}  # written here: (when, record)
        self._lock = threading.Lock()

    def records(self) -> dict[str, AlertRecord]:
        """The records as of the last refresh (and this collector's writes since)."""
        with self._lock:
            return dict(self._records)

    def fired(self, ident: str, since_ns: int) -> None:
        """Record that `ident` fires since `since_ns` (best effort: a failed write is tried
        again at the next evaluation, as the alert is still unrecorded)."""
        if self._write("gputel_state_alert", {"id": ident}, time_value(since_ns)):
            self._keep(ident, AlertRecord(since_ns))

    def resolved(self, ident: str) -> None:
        """Record that `ident` resolved (best effort)."""
        if self._write("gputel_state_alert", {"id": ident}, RESOLVED):
            self._keep(ident, AlertRecord(None))

    def acknowledged(self, ident: str, by: str, at_ns: int) -> None:
        """Record an acknowledgement. Raises UnavailableError when the TSDB refused it."""
        if not self._write("gputel_state_alert_ack", {"id": ident, "by": by},
                           time_value(at_ns)):
            raise UnavailableError("the remote TSDB did not take the acknowledgement; "
                                   "try again")
        with self._lock:
            old = self._records.get(ident, AlertRecord(None))
        self._keep(ident, AlertRecord(old.since_ns, by, at_ns // 1_000_000 * 1_000_000))

    def refresh(self) -> bool:
        """Read every record back; False when the TSDB could not answer."""
        now_ms = self._time_ns() // 1_000_000
        window = f"[{self._window_ms}ms]"
        try:
            states = self._client.query(f"last_over_time(gputel_state_alert{window})", now_ms)
            acks = self._client.query(f"last_over_time(gputel_state_alert_ack{window})", now_ms)
        except TsdbError:
            return False
        newest_ack: dict[str, tuple[int, str]] = {}
        for s in acks:
            ident, at = s["metric"].get("id", ""), value_time(float(s["value"][1]))
            if at >= newest_ack.get(ident, (0, ""))[0]:
                newest_ack[ident] = (at, s["metric"].get("by", ""))
        records = {}
        for s in states:
            value = float(s["value"][1])
            ident = s["metric"].get("id", "")
            at, by = newest_ack.get(ident, (0, ""))
            records[ident] = AlertRecord(None if value < 0 else value_time(value),
                                         by or None, at or None)
        now = self._time_ns()
        with self._lock:
            self._own = {i: (t, r) for i, (t, r) in self._own.items()
                         if now - t < OWN_WRITES_NS}
            self._records = {**{i: r for i, (_, r) in self._own.items()}, **{
                i: _newer_ack(r, self._own.get(i)) for i, r in records.items()}}
        return True

    def _keep(self, ident: str, record: AlertRecord) -> None:
        with self._lock:
            self._records[ident] = record
            self._own[ident] = (self._time_ns(), record)

    def _write(self, name: str, labels: dict[str, str], value: float) -> bool:
        header = write_request.series_header([("__name__", name), *sorted(labels.items())])
        body = write_request.encode([(header, np.array([self._time_ns() // 1_000_000],
                                                       np.int64),
                                      np.array([value], np.float64))])
        try:
            self._client.write_once(body)
        except TsdbError:
            return False
        return True


def _newer_ack(read: AlertRecord, own: tuple[int, AlertRecord] | None) -> AlertRecord:
    """The record read back, with this collector's acknowledgement when that is newer."""
    if own is None or own[1].acknowledged_ns is None:
        return read
    if read.acknowledged_ns is not None and read.acknowledged_ns >= own[1].acknowledged_ns:
        return read
    return AlertRecord(read.since_ns, own[1].acknowledged_by, own[1].acknowledged_ns)
