"""Workload answers of the query core: lists, usage and per-workload series.

Per-workload series are derived from the device series over the intervals each
device was held: extensive metrics (watts, bytes, joules) are the sum of each
device's value times the workload's fraction of it; intensive ones (percent,
degrees, MHz) the fraction-weighted mean.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gputel.collector.errors import NotFoundError, unknown_metric
from gputel.collector.query.kubeview import (
    KubeView,
    PodContext,
    QueueView,
    owner_key,
    rolled_status,
    status_matches,
    status_of,
    visible_owners,
)
from gputel.collector.query.labels import Selector
from gputel.collector.query.limits import charge
from gputel.collector.registry.cluster import OwnerRef
from gputel.collector.registry.workloads import Usage, WorkloadIndex, WorkloadInfo
from gputel.collector.storage.store import SeriesReads
from gputel.proto.metrics import METRICS, Combine

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Aggregate = Callable[[npt.NDArray[np.int64], npt.NDArray[np.floating], int, int, int, str],
                     FloatArray]
JOULES_PER_KWH = 3.6e6
POD_API_VERSION = "v1"  # a Pod is in the core API group


class UsageFigures:
    """Derived figures of a `usage` (Usage): utilization, GPU-hours, kilowatt-hours."""

    __slots__ = ()
    usage: Usage

    @property
    def utilization_percent(self) -> float | None:
        """Busy over allocated GPU-seconds, in percent (None before any allocation)."""
        u = self.usage
        return 100.0 * u.gpu_seconds_busy / u.gpu_seconds_allocated \
            if u.gpu_seconds_allocated else None

    @property
    def gpu_hours(self) -> float:
        """GPU-hours allocated (fraction-weighted)."""
        return self.usage.gpu_seconds_allocated / 3600.0

    @property
    def busy_gpu_hours(self) -> float:
        """GPU-hours busy (fraction x utilization)."""
        return self.usage.gpu_seconds_busy / 3600.0

    @property
    def energy_kwh(self) -> float:
        """Energy in kilowatt-hours."""
        return self.usage.energy_joules / JOULES_PER_KWH


@dataclass(frozen=True, slots=True)
class HeldGpu:
    """A GPU a workload holds now, and its share of it (0..1)."""

    node: str
    uuid: str
    fraction: float


@dataclass(frozen=True, slots=True)
class WorkloadSummary(UsageFigures):
    """A workload with what it holds now and what it used (since the collector's replay).

    `status` is pending, running, succeeded, failed or ended; `context` what the Kubernetes
    API says of a pod; `children` the pod workloads of an owner workload (a Job...), `ref`
    the ownerReference it was made from and `above` the owners above it."""

    info: WorkloadInfo
    running: bool
    gpus: float
    gpu_uuids: list[str]
    power_watts: float | None
    memory_used_bytes: float | None
    usage: Usage
    held: tuple[HeldGpu, ...] = ()
    status: str = ""
    context: PodContext | None = None
    children: tuple[str, ...] = ()
    ref: OwnerRef | None = None
    above: tuple[OwnerRef, ...] = ()

    @property
    def owner_refs(self) -> tuple[OwnerRef, ...]:
        """Its owner chain, nearest first: the Kubernetes API's references (with uid and API
        version) where the watch knows them, else the agent's kinds and names (no uid)."""
        if self.context is not None and self.context.chain:
            return self.context.chain
        return self.above or tuple(OwnerRef(k, n, "") for k, n in self.info.owners)

    @property
    def api_version(self) -> str:
        """Its Kubernetes API version: v1 for a pod, its ownerReference's for an owner
        workload ('' when not known, and off Kubernetes)."""
        if self.ref is not None:
            return self.ref.api_version
        return POD_API_VERSION if self.info.kind == "pod" else ""


@dataclass(frozen=True, slots=True)
class NamespaceSummary(UsageFigures):
    """Sums over a namespace's workloads: its pods (and Slurm jobs), those waiting for GPUs
    among them (`pending`), and `owners`, the owner workloads (Jobs, Deployments...) whose
    figures are already their pods', so never added twice."""

    namespace: str
    workloads: int
    running: int
    gpus: float
    usage: Usage
    pending: int = 0
    owners: int = 0


@dataclass(frozen=True, slots=True)
class LabelGroup:
    """The workloads carrying one value of a label (e.g. a scheduler queue): their uids,
    how many run, and the GPUs they hold now (fraction-weighted)."""

    value: str
    workloads: list[str]
    running: int
    gpus: float


@dataclass(frozen=True, slots=True)
class OwnerGroup:
    """One owner of a workload's chain (nearest first) and every workload it owns, by uid;
    its Kubernetes uid and API version where the watch knows them ('' otherwise)."""

    kind: str
    name: str
    workloads: list[str]
    uid: str = ""
    api_version: str = ""


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """A workload's owner chain, each owner's workloads, and its own children (workloads
    whose owner chain names it), in its namespace."""

    workload: WorkloadSummary
    owners: list[OwnerGroup]
    children: list[str]


@dataclass(frozen=True, slots=True)
class NodeWorkload:
    """A workload seen on one node, with the node's GPUs it held (UUIDs)."""

    workload: WorkloadSummary
    gpus: list[str]


class WorkloadQueries:
    """The workload half of the query core."""

    def __init__(self, index: WorkloadIndex, store: SeriesReads, kube: KubeView | None = None,
                 clock: Callable[[], int] = time.time_ns) -> None:
        """`kube` (the Kubernetes API's view) adds metadata, owner and pending workloads."""
        self._index = index
        self._store = store
        self._kube = kube
        self._clock = clock

    def summaries(self, namespace: str | None = None, kind: str | None = None,
                  running: bool | None = None, name: str | None = None,
                  selector: Selector | None = None,
                  status: str | None = None) -> list[WorkloadSummary]:
        """Every workload, optionally filtered (`name` is the pod, job or owner name), by uid."""
        return [s for s in self._everything()
                if (namespace is None or s.info.namespace == namespace)
                and (kind is None or s.info.kind == kind)
                and (name is None or s.info.pod == name)
                and (selector is None or selector.matches(s.info.labels))
                and (running is None or s.running == running)
                and (status is None or status_matches(s.status, status))]

    def _everything(self) -> list[WorkloadSummary]:
        """The agents' workloads (with the API's metadata), the pods waiting for GPUs, and
        the owners of both, by uid."""
        now = self._clock()
        pods = []
        for info in self._index.workloads():
            ctx = self._kube.context(info, now) if self._kube else None
            pods.append(self._summary(KubeView.enrich(info, ctx), ctx))
        if self._kube is not None:
            pods += [WorkloadSummary(info, False, 0.0, [], None, None, Usage(), (),
                                     status_of(False, ctx), ctx)
                     for info, ctx in self._kube.pending([p.info for p in pods], now)]
        owned = _owners(pods, self._kube.owner_labels if self._kube else _no_labels)
        return sorted(pods + owned, key=lambda s: s.info.uid)

    def on_node(self, node: str, uuids: list[str], start_ns: int | None = None,
                end_ns: int | None = None) -> list[NodeWorkload]:
        """Workloads holding a GPU of `node` now, or (with a range) whose holdings overlap
        [start_ns, end_ns], by uid."""
        found: dict[str, list[str]] = {}
        for uuid in uuids:
            if start_ns is None or end_ns is None:
                shares = self._index.holders(node, uuid)
            else:
                shares = tuple(s for _, _, held in self._index.segments(
                    (node, uuid), start_ns, end_ns + 1) for s in held)
            for uid in dict.fromkeys(u for u, f in shares if f > 0):
                found.setdefault(uid, []).append(uuid)
        return [NodeWorkload(self.summary(uid), gpus) for uid, gpus in sorted(found.items())
                if self._index.workload(uid) is not None]

    def held_mask(self, node: str, uuid: str, times: npt.NDArray[np.int64],
                  until_ns: int) -> npt.NDArray[np.bool_]:
        """At each time (ascending, ns): whether any workload held the GPU; never after
        `until_ns` (a holding is not taken to outlive the GPU's data)."""
        mask = np.zeros(times.size, dtype=bool)
        if not times.size:
            return mask
        end = min(int(times[-1]) + 1, until_ns + 1)
        for a, b, shares in self._index.segments((node, uuid), int(times[0]), end):
            if any(f > 0 for _, f in shares):
                mask[np.searchsorted(times, a):np.searchsorted(times, b)] = True
        return mask

    def segments(self, node: str, uuid: str, start_ns: int,
                 end_ns: int) -> list[tuple[int, int, tuple[tuple[str, float], ...]]]:
        """Holdings of one GPU clipped to [start_ns, end_ns): (from, to, shares)."""
        return self._index.segments((node, uuid), start_ns, end_ns)

    def queues(self) -> list[QueueView]:
        """KAI-Scheduler queues with their pods' GPUs and use ([] without the API)."""
        if self._kube is None:
            return []
        return self._kube.queues((s.context.pod.uid, s.gpus, s.usage)
                                 for s in self._everything()
                                 if s.context is not None and s.info.kind == "pod")

    def info(self, uid: str) -> WorkloadInfo | None:
        """A workload's metadata (with the API's labels and owners), or None."""
        info = self._index.workload(uid)
        if info is None or self._kube is None:
            return info
        return KubeView.enrich(info, self._kube.context(info, self._clock()))

    def hierarchy(self, uid: str) -> Hierarchy:
        """Owner chain and children of one workload. Raises NotFoundError."""
        everything = self._everything()
        summary = next((s for s in everything if s.info.uid == uid), None)
        if summary is None:
            raise NotFoundError("workload", uid)
        info = summary.info
        peers = [s.info for s in everything if s.info.namespace == info.namespace]
        owned = {w.uid: {(k.lower(), n) for k, n in w.owners} for w in peers}
        owners = [OwnerGroup(o.kind, o.name, [u for u, chain in owned.items()
                                              if (o.kind.lower(), o.name) in chain],
                             o.uid, o.api_version)
                  for o in summary.owner_refs]
        me = (info.kind.lower(), info.pod)
        children = [u for u, chain in owned.items() if u != uid and me in chain]
        return Hierarchy(summary, owners, children)

    def summary(self, uid: str) -> WorkloadSummary:
        """One workload. Raises NotFoundError."""
        info = self._index.workload(uid)
        if info is None or self._kube is not None:
            found = next((s for s in self._everything() if s.info.uid == uid), None)
            if found is None:
                raise NotFoundError("workload", uid)
            return found
        return self._summary(info)

    def _summary(self, info: WorkloadInfo, ctx: PodContext | None = None) -> WorkloadSummary:
        gpus = 0.0
        uuids: list[str] = []
        power: list[float] = []
        memory: list[float] = []
        held: list[HeldGpu] = []
        for node, uuid in sorted(info.devices):
            fraction = dict(self._index.holders(node, uuid)).get(info.uid, 0.0)
            if fraction <= 0:
                continue
            gpus += fraction
            uuids.append(uuid)
            held.append(HeldGpu(node, uuid, fraction))
            for metric, into in (("power", power), ("mem_used", memory)):
                latest = self._store.latest((node, uuid, metric))
                if latest is not None:
                    into.append(fraction * latest[1])
        return WorkloadSummary(info, bool(uuids), gpus, uuids, sum(power) if power else None,
                               sum(memory) if memory else None, self._index.usage(info.uid),
                               tuple(held), status_of(bool(uuids), ctx), ctx)

    def label_groups(self, keys: tuple[str, ...]) -> list[LabelGroup]:
        """Workloads grouped by the value of the first of the label `keys` they carry (those
        carrying none are left out), by value."""
        groups: dict[str, list[WorkloadSummary]] = {}
        for summary in self.summaries():
            value = next((summary.info.labels[k] for k in keys if k in summary.info.labels),
                         None)
            if value is not None:
                groups.setdefault(value, []).append(summary)
        return [LabelGroup(value, [w.info.uid for w in items], sum(w.running for w in items),
                           sum(w.gpus for w in items)) for value, items in sorted(groups.items())]

    def namespaces(self) -> list[NamespaceSummary]:
        """Usage per namespace, by name: its pods' (owner workloads only counted)."""
        groups: dict[str, list[WorkloadSummary]] = {}
        for summary in self.summaries():
            groups.setdefault(summary.info.namespace, []).append(summary)
        return [_namespace(name, items) for name, items in sorted(groups.items())]

    def series(self, uid: str, metric: str, start: int, step: int, n_points: int, agg: str,
               aggregate: Aggregate) -> tuple[FloatArray, list[tuple[str, str, FloatArray]]]:
        """(combined, [(node, gpu, per-device weighted row)]) on the grid start + k * step.

        Raises NotFoundError for an unknown workload or metric.
        """
        members = self._members(uid)
        if metric not in METRICS:
            raise unknown_metric(metric)
        end = start + (n_points - 1) * step
        keys = [(m.uid, key) for m in members for key in sorted(m.devices)]
        reads = self._store.read_many([key for _, key in keys], metric, start - step + 1, end)
        rows, weights = [], []
        for (holder, key), (ts, vals) in zip(keys, reads, strict=True):
            row, weight = self._device_row(key, holder, ts, vals, start, end, step, n_points,
                                           agg, aggregate)
            rows.append((key[0], key[1], row))
            weights.append(weight)
        combine = Combine.SUM if agg == "count" else METRICS[metric].combine
        return _combine(rows, weights, combine, n_points), rows

    def _members(self, uid: str) -> list[WorkloadInfo]:
        """The pod workloads whose devices make up `uid`'s series: itself, or an owner's
        pods. Raises NotFoundError."""
        info = self._index.workload(uid)
        if info is not None:
            return [info]
        owner = self.summary(uid)
        return [m for m in (self._index.workload(c) for c in owner.children) if m is not None]

    def _device_row(self, key: tuple[str, str], uid: str, ts: IntArray, vals: FloatArray,
                    start: int, end: int, step: int, n_points: int, agg: str,
                    aggregate: Aggregate) -> tuple[FloatArray, FloatArray]:
        """The device's aggregated values (its samples `ts`, `vals` over the range) where the
        workload held it, times its fraction."""
        charge(int(ts.size))
        fraction = np.zeros(ts.size)
        for a, b, shares in self._index.segments(key, start - step + 1, end + 1):
            held = dict(shares).get(uid, 0.0)
            fraction[(ts >= a) & (ts < b)] = held
        keep = fraction > 0
        row = aggregate(ts[keep], vals[keep], start, step, n_points, agg)
        weight = aggregate(ts[keep], fraction[keep].astype(np.float32), start, step,
                           n_points, "avg")
        if agg == "count":  # samples taken while held, not a share of them
            return row, weight
        return row * weight, weight


def _combine(rows: list[tuple[str, str, FloatArray]], weights: list[FloatArray],
             combine: Combine, n_points: int) -> FloatArray:
    if not rows:
        return np.full(n_points, np.nan)
    values = np.vstack([r[2] for r in rows])
    w = np.vstack(weights)
    present = ~np.isnan(values).all(axis=0)
    total = np.nansum(values, axis=0)
    out = np.full(n_points, np.nan)
    if combine is Combine.SUM:
        out[present] = total[present]
    else:
        out[present] = total[present] / np.nansum(w, axis=0)[present]
    return out


def _namespace(name: str, items: list[WorkloadSummary]) -> NamespaceSummary:
    leaves = [i for i in items if not i.children]
    total = Usage()
    for item in leaves:
        total.add(item.usage.energy_joules, item.usage.gpu_seconds_allocated,
                  item.usage.gpu_seconds_busy)
    return NamespaceSummary(name, len(leaves), sum(i.running for i in leaves),
                            sum(i.gpus for i in leaves), total,
                            sum(i.status == "pending" for i in leaves), len(items) - len(leaves))


def _no_labels(_: OwnerRef) -> None:
    return None


def _owners(pods: list[WorkloadSummary],
            labels_of: Callable[[OwnerRef], Mapping[str, str] | None],
            ) -> list[WorkloadSummary]:
    """One workload per owner in the pods' chains (a Job, a Deployment, a PyTorchJob...),
    its figures its pods' summed; its labels its own (`labels_of`), else, when its kind is
    not watched, those all its pods share."""
    groups: dict[str, list[WorkloadSummary]] = {}
    refs = {}
    for pod in pods:
        chain = visible_owners(pod.context.chain) if pod.context else []
        for i, ref in enumerate(chain):
            key = owner_key(ref, pod.info.namespace)
            groups.setdefault(key, []).append(pod)
            refs[key] = (ref, chain[i + 1:])
    return [_owner(key, *refs[key], kids, labels_of(refs[key][0]))
            for key, kids in groups.items()]


def _shared_labels(kids: list[WorkloadSummary]) -> dict[str, str]:
    shared = dict(kids[0].info.labels)
    for kid in kids[1:]:
        shared = {k: v for k, v in shared.items() if kid.info.labels.get(k) == v}
    return shared


def _owner(uid: str, ref: OwnerRef, above: list[OwnerRef], kids: list[WorkloadSummary],
           own_labels: Mapping[str, str] | None) -> WorkloadSummary:
    usage = Usage()
    for kid in kids:
        usage.add(kid.usage.energy_joules, kid.usage.gpu_seconds_allocated,
                  kid.usage.gpu_seconds_busy)
    labels = dict(own_labels) if own_labels is not None else _shared_labels(kids)
    info = WorkloadInfo(uid, ref.kind, kids[0].info.namespace, ref.name, "", labels,
                        [(o.kind, o.name) for o in above], "",
                        min(k.info.first_ns for k in kids), max(k.info.last_ns for k in kids),
                        {d for k in kids for d in k.info.devices})
    status = rolled_status(k.status for k in kids)

    def total(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    return WorkloadSummary(
        info, status == "running", sum(k.gpus for k in kids),
        [u for k in kids for u in k.gpu_uuids], total([k.power_watts for k in kids]),
        total([k.memory_used_bytes for k in kids]), usage,
        tuple(h for k in kids for h in k.held), status, None,
        tuple(sorted(k.info.uid for k in kids)), ref, tuple(above))
