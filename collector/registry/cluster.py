"""What the Kubernetes API says about the cluster: pods, their owners, nodes and queues.

The Kubernetes watcher (collector/kube/) writes here; the query core reads. Records are
immutable and a read takes the lock only to copy references, so a reader never sees half
of a change. Each kind is bounded (`ClusterLimits.max_objects`): past it a new object is
refused and counted in `dropped[kind]`; a relist replaces a kind whole.

While the API server is away the last records stay and `stale(kind)` says so, with the
time of the last successful sync, until a relist succeeds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

POD, NODE, QUEUE = "Pod", "Node", "Queue"
MAX_CHAIN = 8  # owner hops followed at most (a cycle in bad data cannot loop forever)
# The address a node is reached at, by preference (kubectl's INTERNAL-IP first).
ADDRESS_TYPES = ("InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS", "Hostname")


@dataclass(frozen=True, slots=True)
class ClusterLimits:
    """Objects kept per kind at most (past it new ones are refused and counted)."""

    max_objects: int = 200_000


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """One ownerReference: the owner's kind, name, uid and API version (controller first)."""

    kind: str
    name: str
    uid: str
    api_version: str = ""


@dataclass(frozen=True, slots=True)
class PodRecord:
    """A pod as the API describes it. Times in Unix ns (0: not yet); `gpus_requested` sums
    every container's GPU resources (nvidia.com/gpu, amd.com/gpu, MIG profiles...)."""

    uid: str
    namespace: str
    name: str
    node: str
    phase: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]  # only the allow-listed keys
    owners: tuple[OwnerRef, ...]
    gpus_requested: float
    created_ns: int
    started_ns: int
    scheduled: bool
    queue: str = ""
    resource_version: str = ""


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    """A controller of pods (a ReplicaSet, a Job, a Deployment, a PyTorchJob...): its own
    labels and where its own chain leads."""

    kind: str
    uid: str
    namespace: str
    name: str
    owners: tuple[OwnerRef, ...]
    resource_version: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeCondition:
    """One condition of a node's status (Ready, MemoryPressure, DiskPressure...): its status
    ("True", "False", "Unknown"), reason, message and last transition (Unix ns; 0: none)."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition_ns: int = 0


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node: Ready condition, addresses (type -> address), roles, kubelet version, labels,
    capacity and allocatable (resource -> quantity as a number: cores, bytes, devices), and
    every condition of its status."""

    name: str
    uid: str
    ready: bool | None
    addresses: Mapping[str, str]
    roles: tuple[str, ...]
    kubelet_version: str
    labels: Mapping[str, str]
    capacity: Mapping[str, float]
    allocatable: Mapping[str, float]
    resource_version: str = ""
    conditions: tuple[NodeCondition, ...] = ()

    @property
    def address(self) -> str | None:
        """The address the node is reached at: its InternalIP, else ExternalIP, DNS names,
        Hostname (ADDRESS_TYPES), else any it lists; None when it lists none."""
        found = next((self.addresses[t] for t in ADDRESS_TYPES if self.addresses.get(t)), None)
        return found or next((a for a in self.addresses.values() if a), None)

    @property
    def gpus(self) -> float:
        """GPU devices of the node's capacity, over every GPU resource."""
        return sum(v for k, v in self.capacity.items() if is_gpu_resource(k))


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """A KAI-Scheduler Queue: parent, GPU quota and limit (-1: unlimited), over-quota weight."""

    name: str
    uid: str
    parent: str
    gpu_quota: float
    gpu_limit: float
    gpu_over_quota_weight: float
    resource_version: str = ""


Record = PodRecord | OwnerRecord | NodeRecord | QueueRecord


def is_gpu_resource(name: str) -> bool:
    """Whether an extended resource name counts GPUs (whole, MIG slices or shared)."""
    vendor, _, kind = name.partition("/")
    return vendor in ("nvidia.com", "amd.com", "gpu.intel.com") and (
        kind in ("gpu", "gpu.shared") or kind.startswith(("mig-", "gpu")))


@dataclass(slots=True)
class KindState:
    """One kind's sync state: synced once listed, stale since the watch broke (Unix ns)."""

    synced_ns: int = 0
    stale_since_ns: int = 0
    error: str = ""


@dataclass(slots=True)
class _Kind:
    by_uid: dict[str, Record] = field(default_factory=dict)
    state: KindState = field(default_factory=KindState)


class ClusterRegistry:
    """Thread-safe store of cluster objects by kind and uid, bounded per kind."""

    def __init__(self, limits: ClusterLimits | None = None) -> None:
        self.limits = limits or ClusterLimits()
        self.dropped: dict[str, int] = {}  # objects refused past max_objects, by kind
        self._kinds: dict[str, _Kind] = {}
        self._pods_by_name: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- writes
    def replace(self, kind: str, records: Iterable[Record], now_ns: int) -> None:
        """A fresh list of one kind: it replaces what was held, and the kind is synced."""
        fresh: dict[str, Record] = {}
        refused = 0
        for record in records:
            if len(fresh) < self.limits.max_objects or record.uid in fresh:
                fresh[record.uid] = record
            else:
                refused += 1
        with self._lock:
            held = self._kinds.setdefault(kind, _Kind())
            held.by_uid = fresh
            held.state = KindState(synced_ns=now_ns)
            if kind == POD:
                self._pods_by_name = {(p.namespace, p.name): p.uid for p in fresh.values()
                                      if isinstance(p, PodRecord)}
            self._count(kind, refused)

    def upsert(self, kind: str, record: Record) -> None:
        """An object added or modified; refused and counted when the kind is full."""
        with self._lock:
            held = self._kinds.setdefault(kind, _Kind())
            if record.uid not in held.by_uid and len(held.by_uid) >= self.limits.max_objects:
                self._count(kind, 1)
                return
            held.by_uid[record.uid] = record
            if isinstance(record, PodRecord):
                self._pods_by_name[(record.namespace, record.name)] = record.uid

    def delete(self, kind: str, uid: str) -> None:
        """An object deleted."""
        with self._lock:
            record = self._kinds.setdefault(kind, _Kind()).by_uid.pop(uid, None)
            if isinstance(record, PodRecord):
                self._pods_by_name.pop((record.namespace, record.name), None)

    def mark_stale(self, kind: str, now_ns: int, error: str) -> None:
        """The kind's watch broke: what is held stays, marked stale from now on."""
        with self._lock:
            state = self._kinds.setdefault(kind, _Kind()).state
            state.stale_since_ns = state.stale_since_ns or now_ns
            state.error = error

    def mark_absent(self, kind: str, now_ns: int, error: str) -> None:
        """The kind is not served (a CRD not installed): none exist; synced, with the error."""
        self.replace(kind, (), now_ns)
        with self._lock:
            self._kinds[kind].state.error = error

    def _count(self, kind: str, n: int) -> None:
        if n:
            self.dropped[kind] = self.dropped.get(kind, 0) + n

    # ----------------------------------------------------------------- reads
    def states(self) -> dict[str, KindState]:
        """Every kind's sync state (copies)."""
        with self._lock:
            return {k: KindState(v.state.synced_ns, v.state.stale_since_ns, v.state.error)
                    for k, v in sorted(self._kinds.items())}

    def stale(self) -> bool:
        """Whether any kind is stale or was never synced."""
        return any(s.stale_since_ns or not s.synced_ns for s in self.states().values())

    def count(self, kind: str) -> int:
        """Objects of one kind held now."""
        with self._lock:
            held = self._kinds.get(kind)
            return len(held.by_uid) if held else 0

    def pods(self) -> list[PodRecord]:
        """Every pod held."""
        return [r for r in self._values(POD) if isinstance(r, PodRecord)]

    def nodes(self) -> list[NodeRecord]:
        """Every node held, by name."""
        return sorted((r for r in self._values(NODE) if isinstance(r, NodeRecord)),
                      key=lambda n: n.name)

    def queues(self) -> list[QueueRecord]:
        """Every queue held, by name."""
        return sorted((r for r in self._values(QUEUE) if isinstance(r, QueueRecord)),
                      key=lambda q: q.name)

    def _values(self, kind: str) -> list[Record]:
        with self._lock:
            held = self._kinds.get(kind)
            return list(held.by_uid.values()) if held else []

    def pod(self, pod_uid: str = "", namespace: str = "", name: str = "") -> PodRecord | None:
        """A pod by uid, else by namespace and name."""
        with self._lock:
            pods = self._kinds.get(POD)
            if pods is None:
                return None
            uid = pod_uid if pod_uid in pods.by_uid else self._pods_by_name.get((namespace, name))
            record = pods.by_uid.get(uid) if uid else None
            return record if isinstance(record, PodRecord) else None

    def owner(self, ref: OwnerRef) -> OwnerRecord | None:
        """The owner object an ownerReference names, when its kind is watched and held."""
        with self._lock:
            return self._owner(ref)

    def _owner(self, ref: OwnerRef) -> OwnerRecord | None:
        held = self._kinds.get(ref.kind)
        record = held.by_uid.get(ref.uid) if held else None
        return record if isinstance(record, OwnerRecord) else None

    def owner_chain(self, pod: PodRecord) -> list[OwnerRef]:
        """The pod's controllers from the nearest up, as far as the held owners tell
        (ReplicaSet -> Deployment, Job -> CronJob, ...)."""
        chain: list[OwnerRef] = []
        refs = pod.owners
        with self._lock:
            while refs and len(chain) < MAX_CHAIN:
                ref = refs[0]
                chain.append(ref)
                record = self._owner(ref)
                refs = record.owners if record is not None else ()
        return chain
