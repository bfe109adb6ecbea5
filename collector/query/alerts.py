"""Alerts: rules evaluated over the query core, each alert firing until its condition clears.

Rules (severity):
- `node_unreachable` (critical): the node's agent is disconnected;
- `gpu_lost` (critical): a connected node's GPU sent no sample for longer than
  HealthPolicy's threshold (the wire has no lost flag);
- `over_temperature` (warning): the latest temperature above the model's threshold
  (AlertRules.temperature_by_model, else temperature_celsius), in degrees C;
- `xid` (critical): the `xid_events` counter rose within xid_window_seconds of the
  GPU's newest sample;
- `allocated_idle` (warning): held by a workload the whole of the last idle_seconds
  (up to the GPU's newest sample) with every utilization sample below idle_util_percent.

`evaluate` compares what holds now with what fired before: new findings fire, findings
gone resolve (kept in a bounded history); each change goes to `notify` (webhooks).

With an AlertBook (a remote store: storage.alertbook), when each alert began firing and
its acknowledgement are shared: every replica and a restarted collector show the recorded
`since` and acknowledgement (times then in whole ms, as the TSDB keeps them). The history
of resolved alerts stays each collector's own: replicas running together list the same
alerts (each evaluates the rules over the same data) with their own `resolved` instants,
and the TSDB keeps no alert's message or value to rebuild one from after a restart.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gputel.collector.errors import InvalidParameterError, NotFoundError
from gputel.collector.query.core import DeviceView, QueryCore
from gputel.collector.query.modeltable import ModelTable, for_model
from gputel.collector.registry.nodes import NodeState
from gputel.collector.storage.alertbook import AlertRecord
from gputel.collector.storage.store import Float64Array, Int64Array
from gputel.collector.storage.windows import Peak, Span

SEVERITY = {"node_unreachable": "critical", "gpu_lost": "critical", "xid": "critical",
            "over_temperature": "warning", "allocated_idle": "warning"}
STATES = ("firing", "resolved", "all")
Samples = tuple[Int64Array, Float64Array]


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Thresholds: degrees C, percent, seconds; how many resolved alerts are kept."""

    temperature_celsius: float = 85.0
    temperature_by_model: ModelTable = ()
    idle_util_percent: float = 5.0
    idle_seconds: float = 600.0
    xid_window_seconds: float = 300.0
    resolved_kept: int = 1000


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. Times in Unix ns; `gpu` is '' and `gpu_index` -1 for a node alert."""

    id: str
    rule: str
    severity: str
    node: str
    gpu: str
    gpu_index: int
    workloads: tuple[str, ...]
    message: str
    value: float | None
    threshold: float | None
    since_ns: int
    updated_ns: int
    resolved_ns: int | None = None
    acknowledged_by: str | None = None
    acknowledged_ns: int | None = None

    @property
    def state(self) -> str:
        """firing or resolved."""
        return "firing" if self.resolved_ns is None else "resolved"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert that fired or resolved (kind)."""

    kind: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class _Finding:
    rule: str
    node: str
    gpu: str
    gpu_index: int
    message: str
    value: float | None
    threshold: float | None
    workloads: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return ":".join(p for p in (self.rule, self.node, self.gpu) if p)


class AlertBook(Protocol):
    """Alert records shared between collectors (storage.alertbook.RemoteAlertBook)."""

    def records(self) -> dict[str, AlertRecord]:
        """Each alert's newest record."""

    def fired(self, ident: str, since_ns: int) -> None:
        """Record a firing (best effort)."""

    def resolved(self, ident: str) -> None:
        """Record a resolution (best effort)."""

    def acknowledged(self, ident: str, by: str, at_ns: int) -> None:
        """Record an acknowledgement. Raises UnavailableError."""


class AlertEngine:
    """Evaluates the rules and keeps firing and recently resolved alerts; thread-safe."""

    def __init__(self, core: QueryCore, rules: AlertRules | None = None,
                 notify: Callable[[AlertEvent], None] | None = None,
                 book: AlertBook | None = None) -> None:
        self._core = core
        self.rules = rules or AlertRules()
        self._notify = notify
        self._book = book
        self._firing: dict[str, Alert] = {}
        self._resolved: deque[Alert] = deque(maxlen=max(1, self.rules.resolved_kept))
        self._lock = threading.Lock()

    # ------------------------------------------------------------ evaluate
    def evaluate(self) -> list[AlertEvent]:
        """Check every rule now; return (and notify) what fired or resolved."""
        findings = {f.id: f for f in self._findings()}
        now = self._now()
        records = self._book.records() if self._book is not None else None
        events: list[AlertEvent] = []
        unrecorded: list[Alert] = []
        with self._lock:
            firing: dict[str, Alert] = {}
            for ident, f in sorted(findings.items()):
                old = self._firing.get(ident)
                alert = _alert(f, now, old)
                if records is not None:
                    alert = _as_recorded(alert, records.get(ident), unrecorded)
                if old is None:
                    events.append(AlertEvent("firing", alert))
                firing[ident] = alert
            for ident, old in sorted(self._firing.items()):
                if ident not in firing:
                    gone = dataclasses.replace(old, resolved_ns=now, updated_ns=now)
                    self._resolved.append(gone)
                    events.append(AlertEvent("resolved", gone))
            self._firing = firing
        self._record(unrecorded, [e.alert for e in events if e.kind == "resolved"])
        for event in events:
            if self._notify is not None:
                self._notify(event)
        return events

    def _now(self) -> int:
        """Now; in whole ms when alerts are shared (the TSDB keeps ms)."""
        now = self._core.time_ns()
        return now // 1_000_000 * 1_000_000 if self._book is not None else now

    def _record(self, fired: list[Alert], resolved: list[Alert]) -> None:
        if self._book is None:
            return
        for alert in fired:
            self._book.fired(alert.id, alert.since_ns)
        for alert in resolved:
            self._book.resolved(alert.id)

    def _findings(self) -> list[_Finding]:
        out = []
        devices: list[tuple[NodeState, DeviceView]] = []
        for state in self._core.node_states():
            if state.streams <= 0:
                out.append(_Finding("node_unreachable", state.name, "", -1,
                                    f"node {state.name}: its agent is disconnected", None, None))
                continue
            devices += [(state, view) for view in self._core.list_devices(state.name)]
        xids = self._xid_reads([view for _, view in devices if view.status != "lost"])
        idle = self._idle_peaks([(s, v) for s, v in devices if v.status != "lost"])
        for state, view in devices:
            out.extend(self._device_findings(state, view, xids, idle))
        return out

    def _xid_reads(self, views: list[DeviceView]) -> dict[tuple[str, str], Samples]:
        """Every device's XID samples over the rule's window before its newest sample, in one
        store read when the devices' newest samples are close together (as when live): one
        query per pass, not one per GPU. Missing devices are read one by one (`_xid`)."""
        window = int(self.rules.xid_window_seconds * 1e9)
        ends = [v.latest_ts_ns for v in views if v.latest_ts_ns]
        if not ends or max(ends) - min(ends) > window:
            return {}
        keys = [(v.device.node, v.device.uuid) for v in views if v.latest_ts_ns]
        reads = self._core.store.read_many(keys, "xid_events", min(ends) - window, max(ends))
        return dict(zip(keys, reads, strict=True))

    def _idle_peaks(self, devices: list[tuple[NodeState, DeviceView]]
                    ) -> dict[tuple[str, str], tuple[Span, Peak | None]]:
        """The utilization peak over the idle window of every GPU a workload held for all of
        it: one store statement per group of GPUs whose newest samples lie within a window
        of each other (all of them when live), not one read of each GPU's window per pass
        (at 400 nodes those reads were a quarter of the collector's CPU)."""
        asked: list[tuple[tuple[str, str], Span]] = []
        for state, view in devices:
            span = self._idle_span(state, view)
            if span is not None and self._held_through(view, span):
                asked.append(((view.device.node, view.device.uuid), span))
        asked.sort(key=lambda a: a[1][2])
        window = int(self.rules.idle_seconds * 1e9)
        out: dict[tuple[str, str], tuple[Span, Peak | None]] = {}
        while asked:
            cut = next((i for i, a in enumerate(asked) if a[1][2] - asked[0][1][2] > window),
                       len(asked))
            group, asked = asked[:cut], asked[cut:]
            peaks = self._core.store.read_peaks([k for k, _ in group], "gpu_util",
                                                [span for _, span in group])
            out.update((k, (span, peak)) for (k, span), peak in zip(group, peaks, strict=True))
        return out

    def _idle_span(self, state: NodeState, view: DeviceView) -> Span | None:
        """(lead, begin, end) of the idle window before the GPU's newest sample, the lead two
        sample periods before it (a sample there shows the window was sampled from its
        start); None when no workload holds the GPU now or it has no sample."""
        if not any(f > 0 for _, f in view.holders) or not view.latest_ts_ns:
            return None
        end = view.latest_ts_ns
        begin = end - int(self.rules.idle_seconds * 1e9)
        period = int(1e9 / state.sample_rate_hz) if state.sample_rate_hz > 0 else 10**9
        return begin - 2 * period, begin, end

    def _held_through(self, view: DeviceView, span: Span) -> bool:
        """Whether workloads held the GPU for the whole of the span's window."""
        _, begin, end = span
        segments = self._core.workloads.segments(view.device.node, view.device.uuid, begin,
                                                 end + 1)
        return bool(segments) and segments[0][0] <= begin and all(
            any(f > 0 for _, f in shares) for _, _, shares in segments)

    def _device_findings(self, state: NodeState, view: DeviceView,
                         xids: dict[tuple[str, str], Samples],
                         idle: dict[tuple[str, str], tuple[Span, Peak | None]]
                         ) -> list[_Finding]:
        d = view.device
        where = f"GPU {d.index} ({d.uuid}) of {d.node}"
        if view.status == "lost":
            limit = self._core.policy.lost_after_ns(state.sample_rate_hz) / 1e9
            age = (self._core.time_ns() - (view.latest_ts_ns or state.first_seen_ns)) / 1e9
            return [_Finding("gpu_lost", d.node, d.uuid, d.index,
                             f"{where}: no sample for {age:.0f} s", age, limit)]
        out = []
        temperature = view.latest.get("temperature")
        limit = for_model(self.rules.temperature_by_model, d.model, self.rules.temperature_celsius)
        if temperature is not None and temperature > limit:
            out.append(_Finding("over_temperature", d.node, d.uuid, d.index,
                                f"{where}: {temperature:.1f} C, above {limit:g} C",
                                temperature, limit))
        out.extend(self._xid(view, where, xids.get((d.node, d.uuid))))
        out.extend(self._idle(view, where, idle.get((d.node, d.uuid))))
        return out

    def _xid(self, view: DeviceView, where: str, held: Samples | None) -> list[_Finding]:
        """XID events in the window before the device's newest sample (`held`: read already,
        over a range that covers the window)."""
        d = view.device
        end = view.latest_ts_ns
        begin = end - int(self.rules.xid_window_seconds * 1e9)
        if held is None:
            _, values = self._core.store.read((d.node, d.uuid, "xid_events"), begin, end)
        else:
            values = held[1][(held[0] >= begin) & (held[0] <= end)]
        rise = float(np.clip(np.diff(values.astype(np.float64)), 0, None).sum())
        if rise <= 0:
            return []
        return [_Finding("xid", d.node, d.uuid, d.index,
                         f"{where}: {rise:g} XID error event(s) in the last "
                         f"{self.rules.xid_window_seconds:g} s", rise, 0.0)]

    def _idle(self, view: DeviceView, where: str,
              found: tuple[Span, Peak | None] | None) -> list[_Finding]:
        """allocated_idle when the GPU was held the whole window (its peak is read only
        then), sampled from its start, and never reached the utilization limit in it."""
        if found is None:
            return []
        (_, begin, _), peak = found
        if peak is None or not peak.count or peak.first_ns > begin:
            return []  # not sampled over the whole window (yet)
        limit = self.rules.idle_util_percent
        if peak.value >= limit:
            return []
        d = view.device
        holders = tuple(uid for uid, f in view.holders if f > 0)
        return [_Finding("allocated_idle", d.node, d.uuid, d.index,
                         f"{where}: held by {', '.join(holders)} but under {limit:g} % "
                         f"utilization for {self.rules.idle_seconds:g} s", peak.value, limit,
                         holders)]

    # --------------------------------------------------------------- reads
    def alerts(self, state: str = "firing", rule: str | None = None, node: str | None = None,
               severity: str | None = None, gpu: str | None = None) -> list[Alert]:
        """Alerts by state (firing, resolved, all), optionally filtered, oldest first.

        Raises InvalidParameterError (state, rule, severity).
        """
        _check("state", state, STATES)
        if rule is not None:
            _check("rule", rule, tuple(SEVERITY))
        if severity is not None:
            _check("severity", severity, ("warning", "critical"))
        with self._lock:
            pool = list(self._firing.values()) if state != "resolved" else []
            if state != "firing":
                pool += list(self._resolved)
        return sorted((a for a in pool if rule in (None, a.rule) and node in (None, a.node)
                       and severity in (None, a.severity) and gpu in (None, a.gpu)),
                      key=lambda a: (a.since_ns, a.id, a.resolved_ns or 0))

    def active_count(self) -> int:
        """How many alerts fire now."""
        with self._lock:
            return len(self._firing)

    def acknowledge(self, ident: str, by: str) -> Alert:
        """Mark a firing alert acknowledged by `by`. Raises NotFoundError, and
        UnavailableError when a shared acknowledgement could not be recorded."""
        with self._lock:
            if ident not in self._firing:
                raise NotFoundError("alert", ident)
        now = self._now()
        if self._book is not None:  # shared first: an acknowledgement not kept is refused
            self._book.acknowledged(ident, by, now)
        with self._lock:
            alert = self._firing.get(ident)
            if alert is None:
                raise NotFoundError("alert", ident)
            alert = dataclasses.replace(alert, acknowledged_by=by, acknowledged_ns=now)
            self._firing[ident] = alert
            return alert


def _alert(f: _Finding, now: int, old: Alert | None) -> Alert:
    return Alert(f.id, f.rule, SEVERITY[f.rule], f.node, f.gpu, f.gpu_index, f.workloads,
                 f.message, f.value, f.threshold, old.since_ns if old else now, now,
                 acknowledged_by=old.acknowledged_by if old else None,
                 acknowledged_ns=old.acknowledged_ns if old else None)


def _as_recorded(alert: Alert, record: AlertRecord | None, unrecorded: list[Alert]) -> Alert:
    """The alert with the shared record's since and acknowledgement; one with no firing
    record goes to `unrecorded` (to be recorded) as it is."""
    if record is None or record.since_ns is None:
        unrecorded.append(alert)
        return alert
    acked = record.acknowledged_ns is not None and record.acknowledged_ns >= record.since_ns
    return dataclasses.replace(alert, since_ns=record.since_ns,
                               acknowledged_by=record.acknowledged_by if acked else None,
                               acknowledged_ns=record.acknowledged_ns if acked else None)


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidParameterError(name, f"{value!r} is not one of {', '.join(allowed)}")
