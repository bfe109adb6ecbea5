"""HTTP routes for what the Kubernetes API says: queues, nodes, and the watch's state."""

from __future__ import annotations

from fastapi import APIRouter

from gputel.collector.api.http.common import DEFAULT_SIZE, PageNumber, PageSize
from gputel.collector.api.http.wire import ERRORS, Answer, ApiModel, Paged, ok, paged
from gputel.collector.query.kubeview import KindView, KubeNode, QueueView
from gputel.collector.query.paging import paginate
from gputel.collector.query.services import QueryServices
from gputel.collector.registry.cluster import NodeCondition
from gputel.collector.timefmt import format_time


class QueueOut(ApiModel):
    """A KAI-Scheduler queue: parent, children, GPU quota/limit (-1: unlimited), over-quota
    weight; GPUs given to its scheduled pods (their requests), held now by telemetry, asked
    for by its waiting pods; and its pods' use so far."""

    name: str
    parent: str | None
    children: list[str]
    gpu_quota: float
    gpu_limit: float
    gpu_over_quota_weight: float
    pods: int
    allocated_gpus: float
    held_gpus: float
    pending_pods: int
    pending_gpus: float
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float

    @classmethod
    def from_core(cls, v: QueueView) -> QueueOut:
        """The answer for one queue."""
        q = v.queue
        return cls(name=q.name, parent=q.parent or None, children=list(v.children),
                   gpu_quota=q.gpu_quota, gpu_limit=q.gpu_limit,
                   gpu_over_quota_weight=q.gpu_over_quota_weight, pods=v.pods,
                   allocated_gpus=v.allocated_gpus, held_gpus=v.held_gpus,
                   pending_pods=v.pending_pods, pending_gpus=v.pending_gpus,
                   energy_joules=v.usage.energy_joules,
                   gpu_seconds_allocated=v.usage.gpu_seconds_allocated,
                   gpu_seconds_busy=v.usage.gpu_seconds_busy)


class NodeConditionOut(ApiModel):
    """One condition of a node: status "True", "False" or "Unknown", as the API says."""

    type: str
    status: str
    reason: str | None
    message: str | None
    last_transition_time: str | None

    @classmethod
    def from_core(cls, c: NodeCondition) -> NodeConditionOut:
        """The answer for one condition."""
        return cls(type=c.type, status=c.status, reason=c.reason or None,
                   message=c.message or None,
                   last_transition_time=format_time(c.last_transition_ns)
                   if c.last_transition_ns else None)


class KubeNodeOut(ApiModel):
    """A node as the API sees it: Ready (None: no condition yet) and every condition,
    addresses by type and `address` (InternalIP first), roles, kubelet version, labels,
    capacity and allocatable (cores, bytes, devices); whether a gputel agent streams from
    it, and `agentMissing` when it has GPUs but none does."""

    name: str
    ready: bool | None
    conditions: list[NodeConditionOut]
    address: str | None
    addresses: dict[str, str]
    roles: list[str]
    kubelet_version: str
    labels: dict[str, str]
    capacity: dict[str, float]
    allocatable: dict[str, float]
    gpus: float
    agent: bool
    agent_missing: bool

    @classmethod
    def from_core(cls, v: KubeNode) -> KubeNodeOut:
        """The answer for one node."""
        n = v.node
        return cls(name=n.name, ready=n.ready,
                   conditions=[NodeConditionOut.from_core(c) for c in n.conditions],
                   address=n.address, addresses=dict(n.addresses),
                   roles=list(n.roles), kubelet_version=n.kubelet_version,
                   labels=dict(n.labels), capacity=dict(n.capacity),
                   allocatable=dict(n.allocatable), gpus=n.gpus, agent=v.agent,
                   agent_missing=v.agent_missing)


class KindStateOut(ApiModel):
    """One watched kind: objects held, when last listed, stale since when and why (a kind
    not served, such as a CRD not installed, is synced with none and its 404 as `error`)."""

    kind: str
    objects: int
    synced_at: str | None
    stale: bool
    stale_since: str | None
    error: str | None

    @classmethod
    def from_core(cls, v: KindView) -> KindStateOut:
        """The answer for one kind."""
        s = v.state
        return cls(kind=v.kind, objects=v.objects,
                   synced_at=format_time(s.synced_ns) if s.synced_ns else None,
                   stale=v.stale,
                   stale_since=format_time(s.stale_since_ns) if s.stale_since_ns else None,
                   error=s.error or None)


class KubeStateOut(ApiModel):
    """Whether the collector watches the Kubernetes API, and each kind's state."""

    enabled: bool
    stale: bool
    kinds: list[KindStateOut]

    @classmethod
    def from_core(cls, kinds: list[KindView] | None) -> KubeStateOut:
        """The watch's state (`kinds` None: the collector does not watch the API)."""
        found = kinds or []
        return cls(enabled=kinds is not None, stale=any(k.stale for k in found),
                   kinds=[KindStateOut.from_core(k) for k in found])


def kube_router(services: QueryServices) -> APIRouter:
    """/queues, /kubernetes/nodes and /kubernetes."""
    core = services.query
    router = APIRouter(prefix="/api/v1", responses=ERRORS)

    @router.get("/queues", summary="KAI-Scheduler queues: hierarchy, quotas, GPUs given and used")
    def queues(page: PageNumber = 1, page_size: PageSize = DEFAULT_SIZE) -> Paged[QueueOut]:
        return paged(paginate(core.workloads.queues(), page, page_size), QueueOut.from_core)

    @router.get("/kubernetes/nodes", summary="Nodes as the Kubernetes API sees them")
    def kube_nodes(page: PageNumber = 1,
                   page_size: PageSize = DEFAULT_SIZE) -> Paged[KubeNodeOut]:
        return paged(paginate(core.kube_nodes(), page, page_size), KubeNodeOut.from_core)

    @router.get("/kubernetes", summary="The Kubernetes API watch: per kind, synced or stale")
    def kube_state() -> Answer[KubeStateOut]:
        return ok(KubeStateOut.from_core(core.kube.kinds() if core.kube is not None else None))

    return router
