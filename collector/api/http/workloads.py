"""HTTP routes for workloads and namespaces."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from gputel.collector.api.http.common import (
    DEFAULT_SIZE,
    ERRORS,
    AggParam,
    End,
    Envelope,
    Metric,
    PageNumber,
    PageSize,
    Start,
    Step,
    duration_ns,
    ok,
    paged,
    time_ns,
)
from gputel.collector.api.http.encode import (
    hierarchy_json,
    namespace_json,
    range_head,
    series_json,
    workload_json,
)
from gputel.collector.api.http.models import (
    HierarchyOut,
    NamespaceOut,
    WorkloadOut,
    WorkloadRangeOut,
)
from gputel.collector.query.labels import parse_selector
from gputel.collector.query.paging import paginate
from gputel.collector.query.services import QueryServices

Uid = Annotated[str, Path(description="a pod UID, namespace/pod, or slurm/<job>")]


def workloads_router(services: QueryServices) -> APIRouter:
    """/workloads and /namespaces."""
    core = services.query
    router = APIRouter(prefix="/api/v1", responses=ERRORS)

    @router.get("/workloads", summary="Workloads (pods, Slurm jobs, and from the Kubernetes "
                "API their owners and the pods waiting for GPUs)",
                response_model=Envelope[list[WorkloadOut]])
    def workloads(
            namespace: str | None = None, kind: str | None = None,
            status: Annotated[Literal["pending", "running", "succeeded", "failed", "ended"]
                              | None, Query()] = None,
            name: Annotated[str | None, Query(description="pod or job name")] = None,
            labels: Annotated[str | None, Query(
                description="Kubernetes label selector: a=b,c!=d,e in (x,y),f notin (z),g,!h",
                examples=["app"])] = None,
            page: PageNumber = 1, page_size: PageSize = DEFAULT_SIZE) -> dict[str, Any]:
        found = core.workloads.summaries(namespace or None, kind or None, None, name or None,
                                         parse_selector(labels), status)
        cut = paginate(found, page, page_size)
        return paged(cut, [workload_json(w) for w in cut.items])

    @router.get("/workloads/{uid:path}/metrics", summary="Range series of one workload",
                response_model=Envelope[WorkloadRangeOut])
    def workload_metrics(uid: Uid, metric: Metric, start: Start = None, end: End = None,
                               step: Step = None, agg: AggParam = "avg") -> dict[str, Any]:
        r = core.workload_range(uid, metric, time_ns("start", start), time_ns("end", end),
                                duration_ns("step", step), agg)
        data = {"workload": uid, **range_head(r), "gpus": [series_json(s) for s in r.gpus],
                "total": series_json(r.node_total)}
        return ok(data, points=len(r.node_total.ts_ns))

    @router.get("/workloads/{uid:path}/hierarchy", summary="Owner chain and children",
                response_model=Envelope[HierarchyOut])
    def workload_hierarchy(uid: Uid) -> dict[str, Any]:
        return ok(hierarchy_json(core.workloads.hierarchy(uid)))

    @router.get("/workloads/{uid:path}", summary="One workload with its GPUs and usage",
                response_model=Envelope[WorkloadOut])
    def workload(uid: Uid) -> dict[str, Any]:
        return ok(workload_json(core.workloads.summary(uid)))

    @router.get("/namespaces", summary="GPU usage per namespace",
                response_model=Envelope[list[NamespaceOut]])
    def namespaces(page: PageNumber = 1, page_size: PageSize = DEFAULT_SIZE) -> dict[str, Any]:
        cut = paginate(core.workloads.namespaces(), page, page_size)
        return paged(cut, [namespace_json(n) for n in cut.items])

    return router
