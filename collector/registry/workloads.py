"""The workload index: who held each GPU when, and what each workload used.

Every frame restates, per device, who held it from the frame's first tick and
every change at the tick it happened. The index keeps those holdings as one
timeline per (node, GPU), the metadata of every workload, and running counters
accounted at ingest from the frame's own samples:

- energy: each energy-counter delta between two consecutive samples (joules) goes
  to the holders at the start of that interval, by their fractions; what no
  workload held goes to the device's unattributed joules. So over any set of
  frames, attributed + unattributed = the device's joules, exactly.
- GPU-seconds allocated (fraction x seconds) and busy (fraction x utilization x
  seconds), over the same sample intervals.

Consecutive samples are paired within a frame and across frames: a frame's first tick
with the device's last accounted one before it.

What one node may say is bounded to what it holds:
- a pod (or process) lives on one node: once a node holds a workload, another node
  naming it (metadata or a holding) is refused for that part, counted by reason
  `workload_foreign`; the frame's device data is still stored. Slurm jobs may span
  nodes. A workload whose node no longer holds it may be taken up by another.
- an interval's joules never exceed what the device's own power plausibly drew
  (PLAUSIBLE_POWER_FACTOR x its larger power sample + POWER_SLACK_W, at most
  MAX_DEVICE_WATTS, times the interval); clipped intervals count `energy_implausible`.
  An interval longer than MAX_GAP_PERIODS sample periods (the agent stalled, or was away)
  is a gap: no GPU-seconds, no energy from power, and no workload charged; the device's
  own energy counter still gives its joules across it, exactly (bounded by
  MAX_DEVICE_WATTS over the gap), and they go to its unattributed joules.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

Shares = tuple[tuple[str, float], ...]  # (workload uid, fraction)
DeviceKey = tuple[str, str]  # node, gpu uuid
Holder = tuple[str, str, str]  # pod, namespace, container; all "" for nobody
MAX_DEVICE_WATTS = 5000.0  # above any one GPU package's draw (superchips included)
PLAUSIBLE_POWER_FACTOR = 2.0  # energy counters and power samples disagree this much at most
POWER_SLACK_W = 50.0
MAX_GAP_PERIODS = 10
MULTI_NODE_KINDS = frozenset({"slurm"})


@dataclass(frozen=True, slots=True)
class WorkloadLimits:
    """How long an ended workload is kept (ns after its last held sample) and how many
    workloads the index holds at most (the oldest ended go first when full)."""

    retention_ns: int = 86_400 * 10**9
    max_workloads: int = 10_000


@dataclass(slots=True)
class WorkloadInfo:
    """A workload's metadata and where it ran. Times in Unix ns."""

    uid: str
    kind: str
    namespace: str
    pod: str
    container: str
    labels: dict[str, str]
    owners: list[tuple[str, str]]
    pod_uid: str
    first_ns: int
    last_ns: int
    devices: set[DeviceKey] = field(default_factory=set)


@dataclass(slots=True)
class Usage:
    """Accounted use: joules, GPU-seconds allocated and busy (fraction-weighted)."""

    energy_joules: float = 0.0
    gpu_seconds_allocated: float = 0.0
    gpu_seconds_busy: float = 0.0

    def add(self, energy: float, allocated: float, busy: float) -> None:
        """Accumulate one interval's share."""
        self.energy_joules += energy
        self.gpu_seconds_allocated += allocated
        self.gpu_seconds_busy += busy


@dataclass(slots=True)
class DeviceUsage:
    """A device's accounted joules: all, and those no workload held."""

    energy_joules: float = 0.0
    unattributed_joules: float = 0.0
    seconds: float = 0.0


class Timeline:
    """Holdings of one device in time order; each lasts until the next, the last until
    `closed_ns` once its node's stream ended (None while it streams)."""

    def __init__(self) -> None:
        self.since: list[int] = []
        self.shares: list[Shares] = []
        self.closed_ns: int | None = None

    def set(self, since_ns: int, shares: Shares) -> None:
        """Record a holding (and reopen a closed timeline); a restatement of the holding in
        force changes nothing, so the timeline grows with real changes only."""
        self.closed_ns = None
        i = bisect.bisect_left(self.since, since_ns)
        if i < len(self.since) and self.since[i] == since_ns:
            self.shares[i] = shares
        elif i > 0 and self.shares[i - 1] == shares:
            return  # the same holders continue
        else:
            self.since.insert(i, since_ns)
            self.shares.insert(i, shares)
        if i + 1 < len(self.since) and self.shares[i + 1] == shares:  # merge with the next
            del self.since[i + 1]
            del self.shares[i + 1]
        if i > 0 and self.shares[i - 1] == self.shares[i]:  # a replacement now repeats
            del self.since[i]
            del self.shares[i]

    def forget_before(self, horizon_ns: int) -> None:
        """Drop holdings that ended before horizon_ns (the one in force then stays)."""
        cut = bisect.bisect_right(self.since, horizon_ns) - 1
        if cut > 0:
            del self.since[:cut]
            del self.shares[:cut]

    def at(self, ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Index of the holding in force at each timestamp (-1 before the first)."""
        return np.searchsorted(np.array(self.since, dtype=np.int64), ts_ns, side="right") - 1

    def segments(self, start: int, end: int) -> list[tuple[int, int, Shares]]:
        """(from, to, shares) clipped to [start, end); the last holding runs to `end`, or to
        `closed_ns` when closed."""
        out = []
        last = end if self.closed_ns is None else min(end, self.closed_ns)
        for i, since in enumerate(self.since):
            until = self.since[i + 1] if i + 1 < len(self.since) else last
            a, b = max(since, start), min(until, end)
            if a < b:
                out.append((a, b, self.shares[i]))
        return out

    def current(self) -> Shares:
        """The latest holding, () when none or closed."""
        return self.shares[-1] if self.shares and self.closed_ns is None else ()


@dataclass(slots=True)
class _Edge:
    """A device's last sample seen in order: time, and energy (J), power (W), utilization (%)."""

    ts: int
    values: tuple[float, ...]


@dataclass(slots=True)
class NodeSlice:
    """What the index holds of one node (a remote TSDB carries it between collectors):
    workloads it held with their usage, its devices' usage and holdings timelines
    (since ns, shares), its attribution state, and when its holdings ended (None: live)."""

    workloads: list[tuple[WorkloadInfo, Usage]] = field(default_factory=list)
    devices: dict[DeviceKey, DeviceUsage] = field(default_factory=dict)
    timelines: dict[DeviceKey, list[tuple[int, Shares]]] = field(default_factory=dict)
    attribution: int = 0
    closed_ns: int | None = None


class WorkloadIndex:
    """Thread-safe; `apply` is called once per stored frame (live or replayed)."""

    def __init__(self, on_refuse: Callable[[str], None] | None = None,
                 limits: WorkloadLimits | None = None) -> None:
        """`on_refuse(reason)` counts what a frame said and the index refused."""
        self._on_refuse = on_refuse
        self.limits = limits or WorkloadLimits()
        self.dropped: dict[str, int] = {}  # workloads forgotten, by reason (retention, cap)
        self._refused: list[str] = []
        self._home: dict[str, str] = {}  # workload uid -> the node that holds it
        self._timelines: dict[DeviceKey, Timeline] = {}
        self._workloads: dict[str, WorkloadInfo] = {}
        self._usage: dict[str, Usage] = {}
        self._devices: dict[DeviceKey, DeviceUsage] = {}
        self._edges: dict[DeviceKey, _Edge] = {}
        self._state: dict[str, int] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- ingest
    def apply(self, node: str, uuids: list[str], metric_ids: list[str], period_ns: int,
              blocks: list[frames.Block], frame: pb.Frame) -> None:
        """Take a frame's holdings and workloads, and account its samples; what the node
        may not say (another node's pod, implausible energy) is refused and counted."""
        with self._lock:
            self._state[node] = frame.attribution
            for w in frame.workloads:
                if self._foreign(node, w.uid, w.kind):
                    self._refused.append("workload_foreign")
                else:
                    self._remember(w)
            newest = {b.device: int(b.ts_ns.max()) for b in blocks if b.ts_ns.size}
            for h in frame.holdings:
                if h.device < len(uuids):
                    self._hold(node, uuids[h.device], h, newest.get(h.device, h.since_ts_ns))
            for group in _same_ticks(blocks, metric_ids):
                self._account(node, [uuids[b.device] for b in group.blocks], period_ns, group)
            refused, self._refused = self._refused, []
        for reason in refused:
            if self._on_refuse is not None:
                self._on_refuse(reason)

    def _hold(self, node: str, uuid: str, h: pb.Holding, newest_ns: int) -> None:
        """Record one holding, without shares of workloads another node holds."""
        key = (node, uuid)
        shares = tuple((s.workload, float(s.fraction)) for s in h.shares)
        mine = tuple(s for s in shares if not self._foreign(node, s[0], None))
        if len(mine) < len(shares):
            self._refused.append("workload_foreign")
        self._timelines.setdefault(key, Timeline()).set(h.since_ts_ns, mine)
        last = max(h.since_ts_ns, newest_ns)
        for uid, _ in mine:
            self._home[uid] = node
            self._touch(uid, key, h.since_ts_ns, last)

    def _foreign(self, node: str, uid: str, kind: str | None) -> bool:
        """True when another node holds the workload now (a pod lives on one node)."""
        if kind is None:
            info = self._workloads.get(uid)
            kind = info.kind if info is not None else uid.split(":", 1)[0]
        home = self._home.get(uid)
        if kind in MULTI_NODE_KINDS or home is None or home == node:
            return False
        return any(k[0] == home and any(u == uid for u, _ in t.current())
                   for k, t in self._timelines.items())

    def close_node(self, node: str) -> None:
        """The node's stream ended: each of its holdings ends after the device's newest
        accounted sample (or where it began), until a frame restates it."""
        with self._lock:
            for key, timeline in self._timelines.items():
                if key[0] == node and timeline.since and timeline.closed_ns is None:
                    edge = self._edges.get(key)
                    newest = max(timeline.since[-1], edge.ts if edge is not None else 0)
                    timeline.closed_ns = newest + 1

    def _remember(self, w: pb.Workload) -> None:
        info = self._workloads.get(w.uid)
        if info is None and not self._make_room():
            self._refused.append("workload_cap")
            return
        if info is None:
            self._workloads[w.uid] = WorkloadInfo(
                w.uid, w.kind, w.namespace, w.pod, w.container, dict(w.labels),
                [(o.kind, o.name) for o in w.owners], w.pod_uid, 2**63 - 1, 0)
            self._usage[w.uid] = Usage()
        else:  # metadata may grow (a UID or labels learned later); identity never changes
            info.labels.update(w.labels)
            info.owners = [(o.kind, o.name) for o in w.owners] or info.owners
            info.pod_uid = w.pod_uid or info.pod_uid

    def _make_room(self) -> bool:
        """Below the cap, or made so by forgetting the oldest ended workload; False when
        every workload held is running."""
        if len(self._workloads) < self.limits.max_workloads:
            return True
        held = self._held_now()
        ended = [w for uid, w in self._workloads.items() if uid not in held]
        if not ended:
            return False
        self._forget(min(ended, key=lambda w: (w.last_ns, w.uid)).uid, "cap")
        return True

    def _held_now(self) -> set[str]:
        return {uid for t in self._timelines.values() for uid, _ in t.current()}

    def _forget(self, uid: str, reason: str) -> None:
        self._workloads.pop(uid, None)
        self._usage.pop(uid, None)
        self._home.pop(uid, None)
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def enforce_retention(self, now_ns: int) -> int:
        """Forget workloads ended longer than the retention ago, and holdings that ended
        before then; return how many workloads went."""
        horizon = now_ns - self.limits.retention_ns
        with self._lock:
            held = self._held_now()
            old = [uid for uid, w in self._workloads.items()
                   if uid not in held and w.last_ns < horizon]
            for uid in old:
                self._forget(uid, "retention")
            for uid in [u for u in self._usage if u not in self._workloads and u not in held]:
                del self._usage[uid]  # accounted for a uid never described
            for timeline in self._timelines.values():
                timeline.forget_before(horizon)
            return len(old)

    def held_workloads(self) -> int:
        """Workloads in memory now."""
        with self._lock:
            return len(self._workloads)

    def _touch(self, uid: str, key: DeviceKey, since_ns: int, last_ns: int) -> None:
        """The workload held `key` from since_ns through last_ns (the frame's newest tick of
        that device), so its lastSeen is its last held sample, not the frame's first."""
        info = self._workloads.get(uid)
        if info is not None:
            info.devices.add(key)
            info.first_ns = min(info.first_ns, since_ns)
            info.last_ns = max(info.last_ns, last_ns)

    def _account(self, node: str, uuids: list[str], period_ns: int, group: _Ticks) -> None:
        """Account the intervals of devices that share their ticks, all at once: rows are
        (device, energy / power / utilization, tick)."""
        keys = [(node, u) for u in uuids]
        edges = [self._edges.get(k) for k in keys]
        ts, rows = group.ts, group.rows
        paired = [e is not None and e.ts < ts[0] for e in edges]
        since = {e.ts for e in edges if e is not None and e.ts < ts[0]}
        if len(keys) > 1 and ((any(paired) and not all(paired)) or len(since) > 1):
            for i in range(len(keys)):  # some devices continue, others start over, or
                self._account(node, [uuids[i]], period_ns, group.part(i))  # from elsewhere
            return
        if paired and paired[0]:  # pair up with each device's last sample (a gap or not)
            ts = np.concatenate(([since.pop()], ts))
            before = np.array([e.values for e in edges if e is not None])[:, :, None]
            rows = np.concatenate((before, rows), axis=2)
        for key, edge, last in zip(keys, edges, rows[:, :, -1].tolist(), strict=True):
            if edge is None or ts[-1] > edge.ts:
                self._edges[key] = _Edge(int(ts[-1]), tuple(last))
        if ts.size < 2:
            return
        steps = np.diff(ts)
        gap = steps > MAX_GAP_PERIODS * period_ns
        elapsed = steps / 1e9
        seconds = np.where(gap, 0.0, elapsed)  # held and busy time: not across a gap
        joules = np.diff(rows[:, 0], axis=1)
        counted = ~np.isnan(joules)  # the device's own counter: exact across a gap too
        by_power = rows[:, 1, :-1] * seconds  # where the driver has no energy counter
        joules = np.where(counted, joules, by_power)
        joules = self._plausible(joules, rows[:, 1], np.where(counted, elapsed, seconds), gap)
        self._account_intervals(keys, ts, joules, seconds, rows[:, 2, :-1], gap)

    def _plausible(self, joules: npt.NDArray[np.float64], power: npt.NDArray[np.float64],
                   seconds: npt.NDArray[np.float64], gap: npt.NDArray[np.bool_]
                   ) -> npt.NDArray[np.float64]:
        """Joules per interval (device, interval) clipped to what each device's own power
        samples (W) at its ends allow over `seconds`; MAX_DEVICE_WATTS where it reports no
        power, and over a gap (the samples at its ends say nothing of the draw between).
        Each device with a clipped interval counts once."""
        watts = np.fmax(power[:, :-1], power[:, 1:])
        ceiling = np.where(np.isnan(watts) | gap, MAX_DEVICE_WATTS, np.minimum(
            MAX_DEVICE_WATTS, PLAUSIBLE_POWER_FACTOR * np.maximum(watts, 0.0) + POWER_SLACK_W))
        limit = ceiling * seconds
        over = joules > limit
        self._refused.extend(["energy_implausible"] * int(np.count_nonzero(over.any(axis=1))))
        return np.where(over, limit, joules)

    def _account_intervals(self, keys: list[DeviceKey], ts: npt.NDArray[np.int64],
                           joules: npt.NDArray[np.float64], seconds: npt.NDArray[np.float64],
                           util: npt.NDArray[np.float64], gap: npt.NDArray[np.bool_]) -> None:
        """Each interval's joules to the device, and to the holders at its start by fraction
        (what no workload held, or a gap's, to the device's unattributed joules)."""
        joules = np.where(np.isnan(joules) | (joules < 0), 0.0, joules)  # counter reset: skip
        busy = np.where(np.isnan(util), 0.0, util / 100.0) * seconds
        total_s = float(seconds.sum())
        for i, (key, energy) in enumerate(zip(keys, joules.sum(axis=1).tolist(), strict=True)):
            device = self._devices.setdefault(key, DeviceUsage())
            device.energy_joules += energy
            device.seconds += total_s
            timeline = self._timelines.get(key)
            if timeline is None or not timeline.since:
                device.unattributed_joules += energy
                continue
            held = np.zeros(joules.shape[1])
            spans: list[tuple[int, slice | npt.NDArray[np.bool_]]]
            charged: slice | npt.NDArray[np.bool_] = ~gap if gap.any() else slice(None)
            if timeline.since[-1] <= ts[0]:  # the usual frame: one holding throughout
                spans = [(len(timeline.since) - 1, charged)]
            else:
                which = timeline.at(ts[:-1])
                spans = [(h, (which == h) & ~gap) for h in np.unique(which[which >= 0]).tolist()]
            for h, sel in spans:
                for uid, fraction in timeline.shares[h]:
                    usage = self._usage.setdefault(uid, Usage())
                    usage.add(fraction * float(joules[i, sel].sum()),
                              fraction * float(seconds[sel].sum()),
                              fraction * float(busy[i, sel].sum()))
                    held[sel] += fraction
            device.unattributed_joules += float((joules[i] * (1.0 - held)).sum())

    # ----------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        """Everything the index holds, as JSON-ready lists (the store's state snapshot), so a
        restart restores it without reading frames back."""
        with self._lock:
            return {
                "workloads": [[w.uid, w.kind, w.namespace, w.pod, w.container, w.labels,
                               w.owners, w.pod_uid, w.first_ns, w.last_ns, sorted(w.devices)]
                              for w in self._workloads.values()],
                "usage": [[uid, u.energy_joules, u.gpu_seconds_allocated, u.gpu_seconds_busy]
                          for uid, u in self._usage.items()],
                "devices": [[*k, d.energy_joules, d.unattributed_joules, d.seconds]
                            for k, d in self._devices.items()],
                "timelines": [[*k, t.since, [[list(s) for s in sh] for sh in t.shares],
                               t.closed_ns] for k, t in self._timelines.items()],
                "edges": [[*k, e.ts, list(e.values)] for k, e in self._edges.items()],
                "home": self._home, "attribution": self._state, "dropped": self.dropped}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `state()` gave (at start-up, before any frame)."""
        with self._lock:
            for uid, kind, ns, pod, container, labels, owners, pod_uid, first, last, devices \
                    in state["workloads"]:
                self._workloads[uid] = WorkloadInfo(
                    uid, kind, ns, pod, container, dict(labels),
                    [(str(k), str(n)) for k, n in owners], pod_uid, int(first), int(last),
                    {(str(n), str(u)) for n, u in devices})
            for uid, energy, allocated, busy in state["usage"]:
                self._usage[uid] = Usage(energy, allocated, busy)
            for node, uuid, energy, unattributed, seconds in state["devices"]:
                self._devices[(node, uuid)] = DeviceUsage(energy, unattributed, seconds)
            for node, uuid, since, shares, closed in state["timelines"]:
                timeline = self._timelines[(node, uuid)] = Timeline()
                timeline.since = [int(t) for t in since]
                timeline.shares = [tuple((str(u), float(f)) for u, f in sh) for sh in shares]
                timeline.closed_ns = closed
            for node, uuid, ts, values in state["edges"]:
                self._edges[(node, uuid)] = _Edge(int(ts), tuple(float(v) for v in values))
            self._home.update(state["home"])
            self._state.update({k: int(v) for k, v in state["attribution"].items()})
            for reason, n in state["dropped"].items():
                self.dropped[reason] = self.dropped.get(reason, 0) + int(n)

    # ------------------------------------------------------- shared state
    def node_slice(self, node: str) -> NodeSlice:
        """A copy of what the index holds of one node (timelines left out)."""
        with self._lock:
            held = [(self._copy(w), Usage(u.energy_joules, u.gpu_seconds_allocated,
                                          u.gpu_seconds_busy))
                    for uid, w in self._workloads.items()
                    if any(k[0] == node for k in w.devices)
                    for u in (self._usage.get(uid, Usage()),)]
            devices = {k: DeviceUsage(d.energy_joules, d.unattributed_joules, d.seconds)
                       for k, d in self._devices.items() if k[0] == node}
            return NodeSlice(held, devices, {}, self._state.get(node, 0))

    def replace_node(self, node: str, part: NodeSlice) -> None:
        """Take another collector's view of a node (from the TSDB): its workloads, usage,
        holdings (appended to the timelines: restatements change nothing)."""
        with self._lock:
            for info, usage in part.workloads:
                self._workloads[info.uid] = info
                self._usage[info.uid] = usage
                self._home[info.uid] = node
            self._devices.update(part.devices)
            for key, changes in part.timelines.items():
                timeline = self._timelines.setdefault(key, Timeline())
                closed = timeline.closed_ns
                for since, shares in changes:
                    timeline.set(since, shares)
                timeline.closed_ns = closed
            for key, timeline in self._timelines.items():
                if key[0] == node and timeline.since:
                    timeline.closed_ns = (None if part.closed_ns is None
                                          else max(part.closed_ns, timeline.since[-1] + 1))
            self._state[node] = part.attribution

    # ----------------------------------------------------------------- reads
    def workloads(self) -> list[WorkloadInfo]:
        """Every workload seen, by uid."""
        with self._lock:
            return [self._copy(w) for _, w in sorted(self._workloads.items())]

    def workload(self, uid: str) -> WorkloadInfo | None:
        """One workload, or None."""
        with self._lock:
            w = self._workloads.get(uid)
            return None if w is None else self._copy(w)

    @staticmethod
    def _copy(w: WorkloadInfo) -> WorkloadInfo:
        return WorkloadInfo(w.uid, w.kind, w.namespace, w.pod, w.container, dict(w.labels),
                            list(w.owners), w.pod_uid, w.first_ns, w.last_ns, set(w.devices))

    def usage(self, uid: str) -> Usage:
        """Accounted use of one workload since the collector started (or its replay)."""
        with self._lock:
            u = self._usage.get(uid, Usage())
            return Usage(u.energy_joules, u.gpu_seconds_allocated, u.gpu_seconds_busy)

    def device_usage(self, node: str, uuid: str) -> DeviceUsage:
        """Accounted joules of one device, all and unattributed."""
        with self._lock:
            d = self._devices.get((node, uuid), DeviceUsage())
            return DeviceUsage(d.energy_joules, d.unattributed_joules, d.seconds)

    def holders(self, node: str, uuid: str) -> Shares:
        """Who holds the device now (its latest holding)."""
        with self._lock:
            timeline = self._timelines.get((node, uuid))
            return timeline.current() if timeline else ()

    def segments(self, key: DeviceKey, start: int, end: int) -> list[tuple[int, int, Shares]]:
        """Holdings of one device clipped to [start, end)."""
        with self._lock:
            timeline = self._timelines.get(key)
            return timeline.segments(start, end) if timeline else []

    def largest_holders(self, node: str, uuid: str, start_ns: int, end_ns: int,
                        ) -> list[tuple[int, Holder]]:
        """[(from ns, holder)] over [start_ns, end_ns]: the largest holder in force at start_ns,
        then each change, as the agent's /metrics labels a GPU (pod, namespace, container)."""
        with self._lock:
            timeline = self._timelines.get((node, uuid))
            if timeline is None:
                return [(start_ns, ("", "", ""))]
            first = bisect.bisect_right(timeline.since, start_ns) - 1
            out = [(start_ns, self._largest(timeline.shares[first]) if first >= 0
                    else ("", "", ""))]
            for i in range(first + 1, len(timeline.since)):
                if timeline.since[i] > end_ns:
                    break
                out.append((timeline.since[i], self._largest(timeline.shares[i])))
            return out

    def _largest(self, shares: Shares) -> Holder:
        """The known workload with the largest fraction (the first on a tie); caller locks."""
        known = [(fraction, self._workloads[uid]) for uid, fraction in shares
                 if uid in self._workloads]
        if not known:
            return ("", "", "")
        w = max(known, key=lambda k: k[0])[1]
        return (w.pod, w.namespace, w.container)

    def attribution_state(self, node: str) -> int:
        """The node's latest AttributionState."""
        with self._lock:
            return self._state.get(node, pb.ATTRIBUTION_STATE_UNSPECIFIED)

    def namespaces(self) -> Mapping[str, list[str]]:
        """Namespace -> workload uids."""
        with self._lock:
            out: dict[str, list[str]] = {}
            for uid, w in sorted(self._workloads.items()):
                out.setdefault(w.namespace, []).append(uid)
            return out


ACCOUNTED = ("energy", "power", "gpu_util")  # the rows _account reads, in this order


@dataclass(frozen=True, slots=True)
class _Ticks:
    """Blocks of one frame with the same ticks: `rows[device, ACCOUNTED, tick]` (float64,
    NaN where a block has no such metric)."""

    blocks: list[frames.Block]
    ts: npt.NDArray[np.int64]
    rows: npt.NDArray[np.float64]

    def part(self, i: int) -> _Ticks:
        """The i-th device alone."""
        return _Ticks([self.blocks[i]], self.ts, self.rows[i:i + 1])


def _same_ticks(blocks: list[frames.Block], metric_ids: list[str]) -> list[_Ticks]:
    """A frame's blocks with ticks and an accounted metric, grouped by identical ticks and
    rows (an agent's blocks share their ticks: one group a frame)."""
    groups: dict[tuple[bytes, int, tuple[int, ...]], list[frames.Block]] = {}
    wheres: dict[tuple[int, ...], tuple[int, ...]] = {}  # a frame's blocks share their rows
    for block in blocks:
        where = wheres.get(block.metrics)
        if where is None:
            names = [metric_ids[m] for m in block.metrics]
            where = wheres[block.metrics] = tuple(names.index(m) if m in names else -1
                                                  for m in ACCOUNTED)
        if block.ts_ns.size and max(where) >= 0:
            key = (block.ts_ns.tobytes(), len(block.metrics), where)
            groups.setdefault(key, []).append(block)
    out = []
    for (_, _, where), group in groups.items():
        values = np.stack([b.values for b in group]).astype(np.float64, copy=False)
        if min(where) < 0:  # -1: a NaN row
            values = np.concatenate((values, np.full(values[:, :1].shape, np.nan)), axis=1)
        out.append(_Ticks(group, group[0].ts_ns, values[:, list(where)]))
    return out
