"""`--compat kai-visualizer`: the KAI-Scheduler visualizer's four routes (seed 001).

`/api/v1/visualizer/{summary,queues,jobs,nodes}` answer the visualizer's models as bare JSON
(no envelope), errors `{"error": "..."}` with their HTTP status.

With the Kubernetes watch (`--kube`), queues are KAI's Queue objects as /api/v1/queues
has them, as a tree (roots first, `children` nested): `guaranteed` the GPU quota,
`allocated` the GPUs given to their scheduled pods, `max` the limit (-1: none, as in
KAI), `weight` the over-quota weight. A job is the top of a pod's owner chain (a
PyTorchJob, a Deployment, a CronJob...; a pod without owners is its own), as
/api/v1/workloads has it, its tasks its pods, waiting ones included (status Pending). A
node's `resources` add `cpu` (cores) and `memory` (bytes) capacity and allocatable, and
`role`, from the API's Node.

Without the watch gputel sees what holds GPUs, not the scheduler: a job is a workload
(pod) that held a GPU, its queue the pod's `kai.scheduler/queue` (or `runai/queue`)
label, a queue the set of workloads carrying one value of it with the GPUs they hold now;
quotas, weights, parents and pending jobs are then null or absent, and named in the
`X-Gputel-Missing` header.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gputel.collector.api.compat.common import (
    envelope_missing,
    error_route,
    holder_names,
    missing_header,
)
from gputel.collector.api.compat.kube_nodes import CPU, MEMORY, kube_nodes, resource, role
from gputel.collector.errors import GputelError
from gputel.collector.query.core import DeviceView, NodeSummary, QueryCore
from gputel.collector.query.kubeview import QueueView, visible_owners
from gputel.collector.query.services import QueryServices
from gputel.collector.query.workloads import WorkloadSummary
from gputel.collector.registry.cluster import NodeRecord
from gputel.collector.timefmt import format_time

NAME = "kai-visualizer"
PREFIXES = ("/api/v1/visualizer/",)
QUEUE_LABELS = ("kai.scheduler/queue", "runai/queue")
QUEUES_MISSING = ("queue quotas (guaranteed, max), weights and parents: the scheduler's "
                  "queue objects are not watched; queues are pods' queue labels")
JOBS_MISSING = "pending jobs: gputel sees workloads once they hold a GPU"
NODES_MISSING = ("node CPU and memory resources, role: the Kubernetes API does not list the "
                 "node (or is not watched)")
STATUS = {"running": "Running", "pending": "Pending", "succeeded": "Succeeded",
          "failed": "Failed", "ended": "Ended"}


def render_error(status: int, exc: GputelError) -> JSONResponse:
    """The visualizer's error answer."""
    return JSONResponse({"error": exc.message}, status_code=status)


def _answer(body: Any, *missing: str) -> JSONResponse:
    return JSONResponse(body, headers=missing_header(missing))


def router(services: QueryServices) -> APIRouter:
    """The four routes of seed 001."""
    r = APIRouter(prefix="/api/v1/visualizer", route_class=error_route(render_error),
                  tags=["compat: kai-visualizer"])
    core = services.query

    @r.get("/summary", summary="KAI: cluster health and counts")
    def summary() -> JSONResponse:
        o = services.cluster.overview()
        body: dict[str, Any] = {"totalNodes": o.nodes_total, "healthyNodes": o.nodes_healthy,
                                "totalGPUs": o.gpus_total, "allocatedGPUs": o.gpus_allocated}
        if core.kube is not None:
            jobs = _watched_jobs(core, None)
            return _answer({**body, "totalQueues": len(core.workloads.queues()),
                            "jobCounts": dict(Counter(j["status"] for j in jobs))})
        pods = core.workloads.summaries()
        running = sum(w.running for w in pods)
        body |= {"totalQueues": len(core.workloads.label_groups(QUEUE_LABELS)),
                 "jobCounts": {"Running": running, "Ended": len(pods) - running}}
        return _answer(envelope_missing(body, [JOBS_MISSING, QUEUES_MISSING]), JOBS_MISSING,
                       QUEUES_MISSING)

    @r.get("/queues", summary="KAI: queues (the scheduler's, else pods' queue labels)")
    def queues() -> JSONResponse:
        if core.kube is not None:
            return _answer(_queue_tree(core.workloads.queues()))
        return _answer([{"name": g.value, "parent": None, "weight": None,
                         "resources": {"guaranteed": None, "allocated": {"gpu": g.gpus},
                                       "max": None},
                         "children": [], "jobs": g.workloads}
                        for g in core.workloads.label_groups(QUEUE_LABELS)], QUEUES_MISSING)

    @r.get("/jobs", summary="KAI: jobs and their tasks (pods)")
    def jobs(namespace: Annotated[str | None, Query()] = None) -> JSONResponse:
        if core.kube is not None:
            return _answer(_watched_jobs(core, namespace or None))
        return _answer([_job(w) for w in core.workloads.summaries(namespace or None)],
                       JOBS_MISSING)

    @r.get("/nodes", summary="KAI: nodes, their resources and GPU slots")
    def nodes() -> JSONResponse:
        records = kube_nodes(core)
        shown = [_node(n, core.list_devices(n.state.name), records.get(n.state.name))
                 for n in core.list_nodes()]
        unknown = any(n["resources"]["cpu"] is None for n in shown)
        return _answer(shown, NODES_MISSING if unknown else "")

    return r


def _job(w: WorkloadSummary) -> dict[str, Any]:
    i = w.info
    status = "Running" if w.running else "Ended"
    queue = next((i.labels[k] for k in QUEUE_LABELS if k in i.labels), None)
    nodes = sorted({h.node for h in w.held} or {node for node, _ in i.devices})
    return {"uid": i.uid, "name": i.pod, "namespace": i.namespace, "queue": queue,
            "status": status, "createTime": format_time(i.first_ns),
            "tasks": [{"name": i.pod, "status": status, "nodeName": node} for node in nodes]}


def _queue_tree(views: list[QueueView]) -> list[dict[str, Any]]:
    """KAI's queue tree: roots (no parent, or one not listed), each with its children."""
    by_name = {v.queue.name: v for v in views}

    def node(v: QueueView, seen: frozenset[str]) -> dict[str, Any]:
        q = v.queue
        kids = [by_name[c] for c in v.children if c in by_name and c not in seen]
        return {"name": q.name, "parent": q.parent or None, "weight": q.gpu_over_quota_weight,
                "resources": {"guaranteed": {"gpu": q.gpu_quota},
                              "allocated": {"gpu": v.allocated_gpus},
                              "max": {"gpu": q.gpu_limit}},
                "heldGpus": v.held_gpus, "pendingPods": v.pending_pods,
                "pendingGpus": v.pending_gpus,
                "children": [node(k, seen | {k.queue.name}) for k in kids]}

    return [node(v, frozenset({v.queue.name})) for v in views
            if not v.queue.parent or v.queue.parent not in by_name]


def _is_job(w: WorkloadSummary) -> bool:
    """The top of an owner chain: an owner with none above it, or a pod with no owner."""
    if w.children:
        return not w.info.owners
    return w.context is None or not visible_owners(w.context.chain)


def _watched_jobs(core: QueryCore, namespace: str | None) -> list[dict[str, Any]]:
    """Every job (the top of each pod's owner chain) with its pods as tasks."""
    found = core.workloads.summaries(namespace)
    by_uid = {w.info.uid: w for w in found}
    out = []
    for w in found:
        if not _is_job(w):
            continue
        pods = [by_uid[c] for c in w.children if c in by_uid] or [w]
        queue = next((q for q in (_queue_of(x) for x in (w, *pods)) if q), None)
        out.append({"uid": w.info.uid, "name": w.info.pod, "namespace": w.info.namespace,
                    "kind": w.info.kind, "queue": queue, "status": STATUS[w.status],
                    "createTime": format_time(w.info.first_ns),
                    "tasks": [{"name": p.info.pod, "status": STATUS[p.status],
                               "nodeName": _node_of(p)} for p in pods]})
    return out


def _queue_of(w: WorkloadSummary) -> str | None:
    labels = w.info.labels
    return next((labels[k] for k in QUEUE_LABELS if k in labels),
                w.context.pod.queue if w.context is not None else None) or None


def _node_of(pod: WorkloadSummary) -> str:
    """Where a pod runs: its GPUs' node, else the API's, else where it held GPUs ('' while
    it waits)."""
    nodes = sorted({h.node for h in pod.held})
    if nodes:
        return nodes[0]
    if pod.context is not None and pod.context.pod.node:
        return pod.context.pod.node
    return min((node for node, _ in pod.info.devices), default="")


def _node(n: NodeSummary, devices: list[DeviceView],
          record: NodeRecord | None) -> dict[str, Any]:
    """A node: its GPUs and slots (telemetry), CPU (cores) and memory (bytes) capacity and
    allocatable and its role (the Kubernetes API's; null without it)."""
    resources: dict[str, Any] = {"gpu": {"capacity": len(devices),
                                         "allocated": n.gpus_allocated}}
    for name in (CPU, MEMORY):
        capacity, allocatable = resource(record, name)
        resources[name] = None if record is None else {"capacity": capacity,
                                                       "allocatable": allocatable}
    return {"name": n.state.name, "status": "Ready" if n.connected else "NotReady",
            "role": role(record), "resources": resources,
            "gpuSlots": [{"id": v.device.index, "uuid": v.device.uuid,
                          "occupiedBy": holder_names(v.holders),
                          "fragmented": any(0 < f < 1 for _, f in v.holders)}
                         for v in devices]}
