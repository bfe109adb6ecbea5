"""The Kubernetes API's view joined to the telemetry: names and context, never attribution.

Which device a container holds comes from the kubelet's PodResources API through the agent,
exact to the tick; this module only adds what the API says about those pods (labels,
allow-listed annotations, UID, phase, times, requested GPUs, owner chain), and from it:

- owner workloads: every controller in a pod's chain but ReplicaSets (a Deployment, a Job
  and its CronJob, a PyTorchJob, a JobSet, a RayCluster...) is a workload of its own kind
  whose figures are its pods' summed (its energy is exactly its pods' joules);
- pending workloads: pods that ask for GPUs and are not scheduled yet, with their wait;
- nodes as the API sees them, `agent_missing` where a node has GPUs but no agent streams;
- KAI-Scheduler queues with the GPUs their pods were given and use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from gputel.collector.registry.cluster import (
    ClusterRegistry,
    KindState,
    NodeRecord,
    OwnerRef,
    PodRecord,
    QueueRecord,
)
from gputel.collector.registry.workloads import Usage, WorkloadInfo

HIDDEN_OWNERS = frozenset({"ReplicaSet"})  # an implementation detail of its Deployment
TERMINAL = {"Succeeded": "succeeded", "Failed": "failed"}
STATUSES = ("pending", "running", "succeeded", "failed", "ended")
# `ended` asks for every workload that is over, however it ended: a pod the API says
# succeeded or failed, and one it no longer knows (or, without the watch, any that stopped).
FINISHED = frozenset({"succeeded", "failed", "ended"})


@dataclass(frozen=True, slots=True)
class PodContext:
    """What the API adds to a pod workload: the pod, its owner chain (nearest first) and how
    long it has waited to be scheduled (seconds; None once scheduled)."""

    pod: PodRecord
    chain: tuple[OwnerRef, ...]
    waiting_seconds: float | None


@dataclass(frozen=True, slots=True)
class KubeNode:
    """A node from the API; `agent` whether a gputel agent streams from it now."""

    node: NodeRecord
    agent: bool

    @property
    def agent_missing(self) -> bool:
        """The node has GPUs but no agent (the DaemonSet is not running where it should)."""
        return self.node.gpus > 0 and not self.agent


@dataclass(frozen=True, slots=True)
class QueueView:
    """A queue with its children, the GPUs its pods were given (the scheduler's view: the
    requests of scheduled pods), what they hold now by telemetry, what waits, and use."""

    queue: QueueRecord
    children: tuple[str, ...]
    pods: int
    allocated_gpus: float
    held_gpus: float
    pending_pods: int
    pending_gpus: float
    usage: Usage


@dataclass(frozen=True, slots=True)
class KindView:
    """One watched kind: objects held now and its sync state."""

    kind: str
    objects: int
    state: KindState

    @property
    def stale(self) -> bool:
        """Whether its watch is broken (the last known objects kept) or it was never listed."""
        return bool(self.state.stale_since_ns or not self.state.synced_ns)


class KubeView:
    """Reads of the cluster registry for the query core."""

    def __init__(self, cluster: ClusterRegistry) -> None:
        self.cluster = cluster

    def context(self, info: WorkloadInfo, now_ns: int) -> PodContext | None:
        """The API's pod behind a pod workload (by UID, else namespace/name), or None."""
        if info.kind != "pod":
            return None
        pod = self.cluster.pod(info.pod_uid or info.uid, info.namespace, info.pod)
        if pod is None:
            return None
        return PodContext(pod, tuple(self.cluster.owner_chain(pod)), _waiting(pod, now_ns))

    @staticmethod
    def enrich(info: WorkloadInfo, ctx: PodContext | None) -> WorkloadInfo:
        """The workload with the pod's labels, owner chain and UID (the agent's own labels
        win where both name a key: they were true at the tick)."""
        if ctx is None:
            return info
        owners = [(o.kind, o.name) for o in ctx.chain] or info.owners
        return replace(info, labels={**ctx.pod.labels, **info.labels}, owners=owners,
                       pod_uid=info.pod_uid or ctx.pod.uid, devices=set(info.devices))

    def owner_labels(self, ref: OwnerRef) -> Mapping[str, str] | None:
        """An owner's own labels, or None when its kind is not watched or it is not held."""
        record = self.cluster.owner(ref)
        return record.labels if record is not None else None

    def pending(self, known: Iterable[WorkloadInfo], now_ns: int,
                ) -> list[tuple[WorkloadInfo, PodContext]]:
        """Pods asking for GPUs, not scheduled yet, that no agent reports."""
        seen = {w.pod_uid or w.uid for w in known} | {(w.namespace, w.pod) for w in known}
        out = []
        for pod in self.cluster.pods():
            if (pod.gpus_requested <= 0 or pod.scheduled or pod.phase not in ("Pending", "")
                    or pod.uid in seen or (pod.namespace, pod.name) in seen):
                continue
            ctx = PodContext(pod, tuple(self.cluster.owner_chain(pod)), _waiting(pod, now_ns))
            info = WorkloadInfo(pod.uid, "pod", pod.namespace, pod.name, "", dict(pod.labels),
                                [(o.kind, o.name) for o in ctx.chain], pod.uid,
                                pod.created_ns, pod.created_ns)
            out.append((info, ctx))
        return sorted(out, key=lambda p: p[0].uid)

    def queues(self, used: Iterable[tuple[str, float, Usage]]) -> list[QueueView]:
        """Every queue with its children and its pods' GPUs: `used` is (pod UID, GPUs held
        now, use so far) for each pod workload the agents report."""
        by_pod = {uid: (gpus, usage) for uid, gpus, usage in used}
        pods = self.cluster.pods()
        queues = self.cluster.queues()
        return [self._queue(q, [p for p in pods if p.queue == q.name], by_pod,
                            tuple(c.name for c in queues if c.parent == q.name))
                for q in queues]

    @staticmethod
    def _queue(queue: QueueRecord, pods: list[PodRecord],
               used: dict[str, tuple[float, Usage]], children: tuple[str, ...]) -> QueueView:
        usage = Usage()
        held = 0.0
        for pod in pods:
            gpus, use = used.get(pod.uid, (0.0, Usage()))
            held += gpus
            usage.add(use.energy_joules, use.gpu_seconds_allocated, use.gpu_seconds_busy)
        given = [p for p in pods if p.scheduled and p.phase in ("Pending", "Running")]
        waiting = [p for p in pods if not p.scheduled and p.phase in ("Pending", "")]
        return QueueView(queue, children, len(pods), sum(p.gpus_requested for p in given),
                         held, len(waiting), sum(p.gpus_requested for p in waiting), usage)

    def kinds(self) -> list[KindView]:
        """Every watched kind's state, by kind."""
        return [KindView(k, self.cluster.count(k), s) for k, s in self.cluster.states().items()]

    def nodes(self, agents: Iterable[str]) -> list[KubeNode]:
        """Every node the API lists, with whether an agent streams from it."""
        live = set(agents)
        return [KubeNode(n, n.name in live) for n in self.cluster.nodes()]


def status_of(running: bool, ctx: PodContext | None) -> str:
    """A pod workload's status: running while it holds a GPU, else what its phase says."""
    if running:
        return "running"
    if ctx is None:
        return "ended"
    if ctx.waiting_seconds is not None and ctx.pod.phase in ("Pending", ""):
        return "pending"
    return TERMINAL.get(ctx.pod.phase, "ended")


def status_matches(status: str, wanted: str) -> bool:
    """Whether a workload of `status` answers a `status=wanted` filter (`ended`: FINISHED)."""
    return status == wanted or (wanted == "ended" and status in FINISHED)


def rolled_status(children: Iterable[str]) -> str:
    """An owner's status from its pods': running if any runs, else pending if any waits,
    else failed if any failed, else succeeded if all did, else ended."""
    found = set(children)
    for status in ("running", "pending", "failed"):
        if status in found:
            return status
    return "succeeded" if found == {"succeeded"} else "ended"


def owner_key(ref: OwnerRef, namespace: str) -> str:
    """An owner workload's uid: its Kubernetes UID, else kind/namespace/name."""
    return ref.uid or f"{ref.kind}/{namespace}/{ref.name}"


def visible_owners(chain: Iterable[OwnerRef]) -> list[OwnerRef]:
    """The owners of a chain that become workloads (all but ReplicaSets)."""
    return [o for o in chain if o.kind not in HIDDEN_OWNERS]


def _waiting(pod: PodRecord, now_ns: int) -> float | None:
    if pod.scheduled or not pod.created_ns:
        return None
    return max(0.0, (now_ns - pod.created_ns) / 1e9)
