"""HTTP routes for workloads and namespaces."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from gputel.collector.api.http.common import (
    DEFAULT_SIZE,
    AggParam,
    End,
    Metric,
    PageNumber,
    PageSize,
    Start,
    Step,
    duration_ns,
    time_ns,
)
from gputel.collector.api.http.models import (
    HierarchyOut,
    NamespaceOut,
    WorkloadOut,
    WorkloadRangeOut,
)
from gputel.collector.api.http.wire import ERRORS, Answer, Envelope, Paged, PointsMeta, ok, paged
from gputel.collector.query.labels import parse_selector
from gputel.collector.query.paging import paginate
from gputel.collector.query.services import QueryServices

Uid = Annotated[str, Path(description="a pod UID, namespace/pod, or slurm/<job>")]


def workloads_router(services: QueryServices) -> APIRouter:
    """/workloads and /namespaces."""
    core = services.query
    router = APIRouter(prefix="/api/v1", responses=ERRORS)

    @router.get("/workloads", summary="Workloads (pods, Slurm jobs, and from the Kubernetes "
                "API their owners and the pods waiting for GPUs)")
    def workloads(
            namespace: str | None = None, kind: str | None = None,
            status: Annotated[Literal["pending", "running", "succeeded", "failed", "ended"]
                              | None, Query()] = None,
            name: Annotated[str | None, Query(description="pod or job name")] = None,
            labels: Annotated[str | None, Query(
                description="Kubernetes label selector: a=b,c!=d,e in (x,y),f notin (z),g,!h",
                examples=["app"])] = None,
            page: PageNumber = 1,
            page_size: PageSize = DEFAULT_SIZE) -> Paged[WorkloadOut]:
        found = core.workloads.summaries(namespace or None, kind or None, None, name or None,
                                         parse_selector(labels), status)
        return paged(paginate(found, page, page_size), WorkloadOut.from_core)

    @router.get("/workloads/{uid:path}/metrics", summary="Range series of one workload")
    def workload_metrics(uid: Uid, metric: Metric, start: Start = None, end: End = None,
                               step: Step = None,
                               agg: AggParam = "avg",
                               ) -> Envelope[WorkloadRangeOut, PointsMeta]:
        r = core.workload_range(uid, metric, time_ns("start", start), time_ns("end", end),
                                duration_ns("step", step), agg)
        return Envelope(data=WorkloadRangeOut.from_core(r, uid),
                        meta=PointsMeta(points=len(r.node_total.ts_ns)))

    @router.get("/workloads/{uid:path}/hierarchy", summary="Owner chain and children")
    def workload_hierarchy(uid: Uid) -> Answer[HierarchyOut]:
        return ok(HierarchyOut.from_core(core.workloads.hierarchy(uid)))

    @router.get("/workloads/{uid:path}", summary="One workload with its GPUs and usage")
    def workload(uid: Uid) -> Answer[WorkloadOut]:
        return ok(WorkloadOut.from_core(core.workloads.summary(uid)))

    @router.get("/namespaces", summary="GPU usage per namespace")
    def namespaces(page: PageNumber = 1,
                   page_size: PageSize = DEFAULT_SIZE) -> Paged[NamespaceOut]:
        cut = paginate(core.workloads.namespaces(), page, page_size)
        return paged(cut, NamespaceOut.from_core)

    return router
