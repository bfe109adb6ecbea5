"""`--compat kai-visualizer`: the KAI-Scheduler visualizer's four routes (seed 001).

`/api/v1/visualizer/{summary,queues,jobs,nodes}` answer the visualizer's models as bare JSON
(no envelope), errors `{"error": "..."}` with their HTTP status. gputel sees what holds
GPUs, not the scheduler: a job is a workload (pod) that held a GPU, its queue the pod's
`kai.scheduler/queue` (or `runai/queue`) label, a queue the set of workloads carrying
one value of it with the GPUs they hold now. Quotas (guaranteed, max, weight), queue
parents and pending jobs are the scheduler's own state: null or absent, and named in the
`X-Gputel-Missing` header until Kubernetes metadata reaches the collector.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gputel.collector.api.compat.common import (
    envelope_missing,
    error_route,
    holder_names,
    missing_header,
)
from gputel.collector.errors import GputelError
from gputel.collector.query.core import DeviceView, NodeSummary
from gputel.collector.query.services import QueryServices
from gputel.collector.query.workloads import WorkloadSummary
from gputel.collector.timefmt import format_time

NAME = "kai-visualizer"
PREFIXES = ("/api/v1/visualizer/",)
QUEUE_LABELS = ("kai.scheduler/queue", "runai/queue")
QUEUES_MISSING = ("queue quotas (guaranteed, max), weights and parents: the scheduler's "
                  "queue objects are not watched; queues are pods' queue labels")
JOBS_MISSING = "pending jobs: gputel sees workloads once they hold a GPU"
NODES_MISSING = "node CPU and memory resources: agents report GPUs only"


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
        jobs = core.workloads.summaries()
        running = sum(w.running for w in jobs)
        body = {"totalNodes": o.nodes_total, "healthyNodes": o.nodes_healthy,
                "totalGPUs": o.gpus_total, "allocatedGPUs": o.gpus_allocated,
                "totalQueues": len(core.workloads.label_groups(QUEUE_LABELS)),
                "jobCounts": {"Running": running, "Ended": len(jobs) - running}}
        return _answer(envelope_missing(body, [JOBS_MISSING, QUEUES_MISSING]), JOBS_MISSING,
                       QUEUES_MISSING)

    @r.get("/queues", summary="KAI: queues (from pods' queue labels) and their GPUs")
    def queues() -> JSONResponse:
        return _answer([{"name": g.value, "parent": None, "weight": None,
                         "resources": {"guaranteed": None, "allocated": {"gpu": g.gpus},
                                       "max": None},
                         "children": [], "jobs": g.workloads}
                        for g in core.workloads.label_groups(QUEUE_LABELS)], QUEUES_MISSING)

    @r.get("/jobs", summary="KAI: jobs (workloads that held GPUs) and their tasks")
    def jobs(namespace: Annotated[str | None, Query()] = None) -> JSONResponse:
        return _answer([_job(w) for w in core.workloads.summaries(namespace or None)],
                       JOBS_MISSING)

    @r.get("/nodes", summary="KAI: nodes and their GPU slots")
    def nodes() -> JSONResponse:
        return _answer([_node(n, core.list_devices(n.state.name)) for n in core.list_nodes()],
                       NODES_MISSING)

    return r


def _job(w: WorkloadSummary) -> dict[str, Any]:
    i = w.info
    status = "Running" if w.running else "Ended"
    queue = next((i.labels[k] for k in QUEUE_LABELS if k in i.labels), None)
    nodes = sorted({h.node for h in w.held} or {node for node, _ in i.devices})
    return {"uid": i.uid, "name": i.pod, "namespace": i.namespace, "queue": queue,
            "status": status, "createTime": format_time(i.first_ns),
            "tasks": [{"name": i.pod, "status": status, "nodeName": node} for node in nodes]}


def _node(n: NodeSummary, devices: list[DeviceView]) -> dict[str, Any]:
    return {"name": n.state.name, "status": "Ready" if n.connected else "NotReady",
            "resources": {"gpu": {"capacity": len(devices), "allocated": n.gpus_allocated}},
            "gpuSlots": [{"id": v.device.index, "uuid": v.device.uuid,
                          "occupiedBy": holder_names(v.holders),
                          "fragmented": any(0 < f < 1 for _, f in v.holders)}
                         for v in devices]}
