"""Who holds each GPU, tick by tick: kubelet allocations joined with the GPU's processes.

The caller calls `observe(ts_ns, processes)` every tick and `drain_changes()` when it
builds a frame; each change says from which tick a device is held by which shares.
A process arriving or leaving changes attribution at the tick the process list
showed it, not a kubelet poll later: the new PID's cgroup names its pod at once,
and that same tick asks the kubelet for a fresh view (rate-limited, see podresources).

Splitting: a device held by one workload is 1.0 to it. A shared device (time-slicing
`::N`, MPS) is split by what each workload's processes used: per-process SM
utilization where the driver gives it, else GPU memory, else evenly; a pod that was
given the device but runs nothing on it gets 0.0. With no process on the device it is
split evenly between the pods the kubelet gave it to. A MIG parent enumerated beside
its MIG devices gets the mean of its children's shares (its fractions sum to the part
of its slices held). Fractions are re-reported once one moves by `fraction_threshold`
or the set of holders changes, so fluctuating utilization does not make a change per tick.

Cost per tick (measured on the development VM, 6 devices): ~0.4 µs with no new
process information, ~1 µs with unchanged process lists, ~10 µs when a shared GPU's
split is recomputed; a kubelet List over its unix socket ~0.2 ms, at most every
`min_gap_ns` and normally every `interval_ns`; /proc is read once per new PID.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from gputel.agent.attribution.cgroups import CgroupResolver, ProcessOrigin
from gputel.agent.attribution.device_ids import device_key
from gputel.agent.attribution.identity import WorkloadBook
from gputel.agent.attribution.model import (
    Allocation,
    AllocationSource,
    AttributionStats,
    Change,
    DeviceLike,
    Share,
    Workload,
)
from gputel.agent.attribution.podlogs import PodLogDirectory
from gputel.agent.backends.base import ProcessSample

_NO_PROCESS = ProcessOrigin("process")
# Changes and workload updates waiting for the frame writer, which drains them every
# frame (~1 s); these bounds only bite while it is stalled.
MAX_PENDING_CHANGES = 65_536
MAX_PENDING_UPDATES = 4_096


@dataclass(frozen=True, slots=True)
class PidOwner:
    """Where one GPU process belongs: its workload id ("" before it was placed), the
    container id its cgroup names and its command name ("" where unknown)."""

    workload_uid: str
    container_id: str = ""
    comm: str = ""


@dataclass(frozen=True, slots=True)
class AttributionView:
    """Who held each device after one tick, with those workloads' metadata; read-only.

    `shares`: device index -> shares (absent: nobody holds it). `workloads`: every
    workload holding or allocated a device, by id. `pids`: each GPU process's owner.
    Safe to keep and read on any thread.
    """

    shares: Mapping[int, tuple[Share, ...]]
    workloads: Mapping[str, Workload]
    pids: Mapping[int, PidOwner] = field(default_factory=lambda: MappingProxyType({}))


_EMPTY_VIEW = AttributionView(MappingProxyType({}), MappingProxyType({}))


class Attributor:
    """Per-device workload shares over time, from PodResources, /proc cgroups and process lists.

    Without a poller (bare metal) only processes attribute; without a resolver (no
    host /proc) a process counts for the pod the kubelet gave its device to when there
    is exactly one. Pod ids: see WorkloadBook. Call `observe` and the other methods
    from one thread (the sampler's); `view()`, `current()` and `workloads()` from any
    thread: they return the snapshot published at the end of the last tick that changed
    something, swapped whole, never a dict the sampler thread is changing.
    `drain_changes()` and `drain_workload_updates()` are the frame writer's, on its own
    thread: what they hand over is held under a lock and bounded (oldest dropped, counted).
    """

    def __init__(self, devices: Sequence[DeviceLike], poller: AllocationSource | None = None,
                 resolver: CgroupResolver | None = None, pod_logs: PodLogDirectory | None = None,
                 fraction_threshold: float = 0.05, *,
                 max_pending_changes: int = MAX_PENDING_CHANGES,
                 max_pending_updates: int = MAX_PENDING_UPDATES) -> None:
        self._indices = frozenset(d.index for d in devices)
        self._children = _mig_children(devices)
        self._parent_of = {c: p for p, kids in self._children.items() for c in kids}
        self._poller = poller
        self._resolver = resolver
        self._pod_logs = pod_logs
        self.stats = AttributionStats()
        self._book = WorkloadBook(max_pending_updates, self.stats)
        self._threshold = fraction_threshold
        self._generation = 0
        self._allocs: Mapping[int, tuple[Allocation, ...]] = {}
        self._held: dict[int, frozenset[str]] = {}
        self._containers: dict[tuple[str, str], tuple[str, ...]] = {}
        self._procs: dict[int, tuple[ProcessSample, ...]] = {}
        self._origins: dict[int, ProcessOrigin] = {}
        self._pid_uid: dict[int, str] = {}
        self._shares: dict[int, tuple[Share, ...]] = {}
        self._changes: deque[Change] = deque()
        self._max_changes = max_pending_changes
        self._changes_lock = threading.Lock()
        self._view = _EMPTY_VIEW
        self._shares_moved = False
        self._pids_moved = False
        self._book_version = self._book.version

    @property
    def available(self) -> bool:
        """Whether the kubelet answered the last poll (False on bare metal)."""
        return self._poller is not None and self._poller.available

    def observe(self, ts_ns: int, processes: Mapping[int, Iterable[ProcessSample]] | None = None,
                ) -> None:
        """Take one tick at ts_ns (Unix ns).

        `processes` maps device index -> every process on it now; a device left out
        keeps its last list and None means no new process information this tick (the
        cheap path: two comparisons unless a kubelet poll is due).
        """
        self.stats.observes += 1
        dirty: set[int] = set()
        pids_changed = processes is not None and self._take_processes(processes, dirty)
        relink = False
        if self._poller is not None:
            self._poller.poll(ts_ns, urgent=pids_changed)
            relink = self._poller.generation != self._generation
            if relink:
                self._take_allocations()
                dirty.update(self._indices)
        if pids_changed or relink:
            self._resolve_pods(ts_ns)
        if relink:
            self._held = {index: frozenset(self._pod_id(ts_ns, a.namespace, a.pod) for a in allocs)
                          for index, allocs in self._allocs.items()}
        if dirty:
            self._recompute(ts_ns, dirty)
        if pids_changed or relink:
            self._collect_garbage()
            self._pids_moved = True
        if self._shares_moved or self._pids_moved or self._book.version != self._book_version:
            self._publish()

    def close(self) -> None:
        """Close the kubelet channel, if any; idempotent."""
        if self._poller is not None:
            self._poller.close()

    def drain_changes(self) -> list[Change]:
        """Changes since the last call, in tick order: (ts_ns, device index, shares).

        Any thread (the frame writer's). At most `max_pending_changes` wait: beyond that
        the oldest is dropped and counted; each change names a device's every holder, so
        the latest change of each device still gives who holds it.
        """
        with self._changes_lock:
            changes, self._changes = list(self._changes), deque()
        return changes

    def view(self) -> AttributionView:
        """Shares and workloads as of the last tick, one consistent read-only snapshot."""
        return self._view

    def current(self) -> Mapping[int, tuple[Share, ...]]:
        """Device index -> the shares last reported for it (absent: nobody holds it); read-only."""
        return self._view.shares

    def workload(self, uid: str) -> Workload | None:
        """Metadata of a workload named in a share, None once it is gone."""
        return self._book.get(uid)

    def workloads(self) -> Mapping[str, Workload]:
        """Every workload currently holding or allocated a device; read-only snapshot."""
        return self._view.workloads

    def drain_workload_updates(self) -> list[Workload]:
        """Workloads new, or whose metadata changed, since the last call, oldest first.

        Any thread (the frame writer's, every frame). At most `max_pending_updates` wait:
        beyond that the oldest is dropped and counted.
        """
        return self._book.drain_updates()

    @property
    def pending_workload_updates(self) -> int:
        """How many workload updates wait for drain_workload_updates()."""
        return self._book.pending_updates

    # -- inputs ---------------------------------------------------------------------

    def _take_processes(self, processes: Mapping[int, Iterable[ProcessSample]],
                        dirty: set[int]) -> bool:
        pids_changed = False
        for index, listed in processes.items():
            procs = tuple(listed)
            old = self._procs.get(index)
            if old == procs or index not in self._indices:
                continue
            self._procs[index] = procs
            dirty.add(index)
            if {p.pid for p in old or ()} != {p.pid for p in procs}:
                pids_changed = True
        if pids_changed:
            self._track_pids()
        return pids_changed

    def _track_pids(self) -> None:
        live = {p.pid for procs in self._procs.values() for p in procs}
        for pid in live - self._origins.keys():
            self._origins[pid] = self._resolver.resolve(pid) if self._resolver else _NO_PROCESS
            self.stats.pids_resolved += 1
        for pid in self._origins.keys() - live:
            del self._origins[pid]
            self._pid_uid.pop(pid, None)

    def _take_allocations(self) -> None:
        assert self._poller is not None
        self._generation = self._poller.generation
        self._allocs = self._poller.allocations()
        containers: dict[tuple[str, str], set[str]] = {}
        for allocs in self._allocs.values():
            for a in allocs:
                containers.setdefault((a.namespace, a.pod), set()).add(a.container)
        self._containers = {k: tuple(sorted(v)) for k, v in containers.items()}
        self._pid_uid.clear()  # joins may resolve differently now

    def _resolve_pods(self, ts_ns: int) -> None:
        """Name the pods of new PIDs before anything else, so pods get their UID as id.

        Two passes: a pod joined by HOSTNAME in the first can leave a single candidate
        for another pod on the same device in the second.
        """
        pending = [(index, p.pid) for index, procs in self._procs.items() for p in procs
                   if p.pid not in self._pid_uid
                   and self._origins.get(p.pid, _NO_PROCESS).kind == "pod"]
        for _ in range(2):
            retry = []
            for index, pid in pending:
                self._workload_of(ts_ns, pid, index)
                if self._book.name_of(self._origins[pid].pod_uid) is None:
                    del self._pid_uid[pid]
                    retry.append((index, pid))
            pending = retry
        for index, pid in pending:
            self._workload_of(ts_ns, pid, index)
        self.stats.pods_unjoined += len(pending)

    # -- shares ---------------------------------------------------------------------

    def _recompute(self, ts_ns: int, dirty: set[int]) -> None:
        leaves = sorted(i for i in dirty if i not in self._children)
        parents = {self._parent_of[i] for i in dirty if i in self._parent_of}
        for index in leaves + sorted(parents | (dirty & self._children.keys())):
            self.stats.recomputes += 1
            if index in self._children:
                shares = self._parent_shares(index)
            else:
                shares = _split(self._usage(ts_ns, index), self._held.get(index, frozenset()))
            if _differs(self._shares.get(index, ()), shares, self._threshold):
                self._record(ts_ns, index, shares)

    def _record(self, ts_ns: int, index: int, shares: tuple[Share, ...]) -> None:
        if shares:
            self._shares[index] = shares
        else:
            self._shares.pop(index, None)
        with self._changes_lock:
            if len(self._changes) >= self._max_changes:
                self._changes.popleft()
                self.stats.changes_dropped += 1
            self._changes.append(Change(ts_ns, index, shares))
        self._shares_moved = True
        self.stats.changes += 1

    def _publish(self) -> None:
        """Swap in a fresh snapshot: one assignment, so a reader sees the old or the new."""
        pids = {pid: PidOwner(self._pid_uid.get(pid, ""), origin.container_id, origin.comm)
                for pid, origin in self._origins.items()}
        self._view = AttributionView(MappingProxyType(dict(self._shares)),
                                     MappingProxyType(dict(self._book.all())),
                                     MappingProxyType(pids))
        self._shares_moved = self._pids_moved = False
        self._book_version = self._book.version

    def _usage(self, ts_ns: int, index: int) -> dict[str, float]:
        procs = self._procs.get(index, ())
        by_util = any(p.sm_util_percent for p in procs)
        usage: dict[str, float] = {}
        for p in procs:
            uid = self._pid_uid.get(p.pid) or self._workload_of(ts_ns, p.pid, index)
            weight = (p.sm_util_percent or 0.0) if by_util else float(p.used_memory_bytes)
            usage[uid] = usage.get(uid, 0.0) + max(weight, 0.0)
        return usage

    def _parent_shares(self, parent: int) -> tuple[Share, ...]:
        kids = self._children[parent]
        total: dict[str, float] = {}
        for kid in kids:
            for share in self._shares.get(kid, ()):
                total[share.workload_uid] = total.get(share.workload_uid, 0.0) + share.fraction
        return tuple(Share(uid, f / len(kids)) for uid, f in sorted(total.items()))

    # -- identities -----------------------------------------------------------------

    def _workload_of(self, ts_ns: int, pid: int, index: int) -> str:
        origin = self._origins.get(pid, _NO_PROCESS)
        held = self._held.get(index, frozenset())
        if origin.kind == "pod":
            uid = self._pod_of_process(ts_ns, pid, origin.pod_uid, index)
        elif origin.kind == "slurm":
            uid = self._book.register(_slurm_workload(origin))
        elif self._resolver is None and len(held) == 1:
            uid = next(iter(held))  # no /proc: the one pod given this device
        else:
            uid = self._book.register(_process_workload(pid, origin))
        self._pid_uid[pid] = uid
        return uid

    def _pod_of_process(self, ts_ns: int, pid: int, pod_uid: str, index: int) -> str:
        name = self._book.name_of(pod_uid) or self._join(ts_ns, pid, pod_uid, index)
        if name is None:
            return self._book.register(Workload(pod_uid, "pod", pod_uid=pod_uid))
        return self._book.pod(name[0], name[1], pod_uid, self._containers.get(name, ()))

    def _join(self, ts_ns: int, pid: int, pod_uid: str, index: int) -> tuple[str, str] | None:
        """Find namespace/name for a pod UID: pod log folder, elimination, then HOSTNAME."""
        found = self._pod_logs.lookup(pod_uid, ts_ns) if self._pod_logs else None
        if found is None:
            found = self._eliminate(pod_uid, index) or self._by_hostname(pid, index)
        if found is not None:
            self._book.learn(pod_uid, *found)
        return found

    def _candidates(self, index: int) -> set[tuple[str, str]]:
        return {(a.namespace, a.pod) for a in self._allocs.get(index, ())
                if not self._book.is_joined(a.namespace, a.pod)}

    def _eliminate(self, pod_uid: str, index: int) -> tuple[str, str] | None:
        """One unjoined pod was given the device and one unjoined pod UID runs on it."""
        candidates = self._candidates(index)
        uids = {self._origins[p.pid].pod_uid for p in self._procs.get(index, ())
                if self._origins.get(p.pid, _NO_PROCESS).kind == "pod"}
        unjoined = {u for u in uids if self._book.name_of(u) is None}
        return candidates.pop() if len(candidates) == 1 and unjoined == {pod_uid} else None

    def _by_hostname(self, pid: int, index: int) -> tuple[str, str] | None:
        if self._resolver is None:
            return None
        host = self._resolver.hostname(pid)
        matches = [c for c in self._candidates(index) if c[1] == host]
        return matches[0] if len(matches) == 1 else None

    def _pod_id(self, ts_ns: int, namespace: str, name: str) -> str:
        uid = self._pod_logs.uid_of(namespace, name, ts_ns) if self._pod_logs else None
        if uid:
            self._book.learn(uid, namespace, name)
        return self._book.pod(namespace, name, uid or "", self._containers.get((namespace, name),
                                                                              ()))

    def _collect_garbage(self) -> None:
        live = {s.workload_uid for shares in self._shares.values() for s in shares}
        live.update(uid for held in self._held.values() for uid in held)
        pod_uids = {o.pod_uid for o in self._origins.values() if o.pod_uid}
        self._book.retain(live, pod_uids)


def _split(usage: dict[str, float], held: Collection[str]) -> tuple[Share, ...]:
    """Fractions by usage (idle holders 0.0); with no usage at all, evenly among holders."""
    total = sum(usage.values())
    if not usage:
        fractions = {uid: 1.0 / len(held) for uid in held}
    elif total <= 0.0:
        fractions = {uid: 1.0 / len(usage) for uid in usage}
    else:
        fractions = {uid: weight / total for uid, weight in usage.items()}
    for uid in held:
        fractions.setdefault(uid, 0.0)
    return tuple(Share(uid, f) for uid, f in sorted(fractions.items()))


def _differs(old: tuple[Share, ...], new: tuple[Share, ...], threshold: float) -> bool:
    """A change worth reporting: other holders, or a fraction moved by `threshold` or more."""
    if len(old) != len(new):
        return True
    return any(a.workload_uid != b.workload_uid or abs(a.fraction - b.fraction) >= threshold
               for a, b in zip(old, new, strict=True))


def _mig_children(devices: Sequence[DeviceLike]) -> dict[int, tuple[int, ...]]:
    """Parent device index -> its MIG devices' indices, for parents the backend enumerates."""
    by_uuid = {device_key(d.uuid): d.index for d in devices if d.uuid}
    children: dict[int, list[int]] = {}
    for d in devices:
        parent = by_uuid.get(device_key(d.mig_parent_uuid)) if d.mig_parent_uuid else None
        if parent is not None:
            children.setdefault(parent, []).append(d.index)
    return {p: tuple(kids) for p, kids in children.items()}


def _slurm_workload(origin: ProcessOrigin) -> Workload:
    env = origin.slurm
    labels = {name.lower(): value for name, value in env.items()}
    return Workload(f"slurm/{origin.slurm_job_id}", "slurm", env.get("SLURM_JOB_USER", ""),
                    env.get("SLURM_JOB_NAME", ""), labels=labels)


def _process_workload(pid: int, origin: ProcessOrigin) -> Workload:
    if origin.container_id:
        short = origin.container_id[:12]
        return Workload(f"container/{short}", "process", container=short,
                        labels={"runtime": origin.runtime} if origin.runtime else {})
    return Workload(f"process/{pid}", "process", container=origin.comm)
