"""HTTP routes for nodes and GPUs: lists with filters and pages, details, range series."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

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
from gputel.collector.api.http.inventory_models import GpuProcessesOut
from gputel.collector.api.http.models import (
    DeviceOut,
    GpuRangeOut,
    NodeDetailOut,
    NodeOut,
    NodeRangeOut,
    NodeWorkloadOut,
)
from gputel.collector.api.http.wire import (
    ERRORS,
    Answer,
    Envelope,
    Paged,
    PointsMeta,
    SeriesMeta,
    ok,
    paged,
)
from gputel.collector.errors import InvalidParameterError
from gputel.collector.query.paging import paginate
from gputel.collector.query.services import QueryServices

NodeStatus = Literal["healthy", "degraded", "unreachable", "faulty"]
GpuStatus = Literal["available", "allocated", "lost"]


def nodes_router(services: QueryServices) -> APIRouter:
    """/nodes and /gpus."""
    core = services.query
    router = APIRouter(prefix="/api/v1", responses=ERRORS)

    @router.get("/nodes", summary="Every node that has reported")
    def nodes(model: Annotated[str | None, Query(
            description="part of a GPU model it has (case-insensitive)")] = None,
                    status: Annotated[NodeStatus | None, Query()] = None,
                    page: PageNumber = 1,
                    page_size: PageSize = DEFAULT_SIZE) -> Paged[NodeOut]:
        cut = paginate(core.list_nodes(model or None, status), page, page_size)
        return paged(cut, NodeOut.from_core)

    @router.get("/nodes/{node}", summary="One node with its GPUs")
    def node(node: str) -> Answer[NodeDetailOut]:
        return ok(NodeDetailOut.from_node(core.get_node(node), core.list_devices(node)))

    @router.get("/nodes/{node}/gpus", summary="The GPUs of a node with latest values")
    def node_gpus(node: str, page: PageNumber = 1,
                  page_size: PageSize = DEFAULT_SIZE) -> Paged[DeviceOut]:
        return paged(paginate(core.list_devices(node), page, page_size), DeviceOut.from_core)

    @router.get("/nodes/{node}/workloads", summary="Workloads on a node, now or over a range")
    def node_workloads(node: str, start: Start = None, end: End = None, page: PageNumber = 1,
                       page_size: PageSize = DEFAULT_SIZE) -> Paged[NodeWorkloadOut]:
        uuids = [v.device.uuid for v in core.list_devices(node)]
        start_ns, end_ns = _window(start, end, core.time_ns())
        cut = paginate(core.workloads.on_node(node, uuids, start_ns, end_ns), page, page_size)
        return paged(cut, NodeWorkloadOut.from_node)

    @router.get("/nodes/{node}/metrics", summary="Range series per GPU of a node")
    def node_metrics(node: str, metric: Metric, start: Start = None, end: End = None,
                           step: Step = None, agg: AggParam = "avg",
                           gpu: Annotated[str | None, Query(description="UUID or index")] = None,
                           ) -> Envelope[NodeRangeOut, SeriesMeta]:
        r = core.query_range(node, metric, time_ns("start", start), time_ns("end", end),
                             duration_ns("step", step), agg, gpu)
        meta = SeriesMeta(points=sum(len(s.ts_ns) for s in r.gpus), series=len(r.gpus))
        return Envelope(data=NodeRangeOut.from_core(r), meta=meta)

    @router.get("/gpus", summary="Every GPU with its latest values")
    def gpus(node: str | None = None, model: Annotated[str | None, Query(
            description="part of its model name (case-insensitive)")] = None,
                   status: Annotated[GpuStatus | None, Query()] = None,
                   allocated: Annotated[bool | None, Query(description="held now")] = None,
                   page: PageNumber = 1,
                   page_size: PageSize = DEFAULT_SIZE) -> Paged[DeviceOut]:
        cut = paginate(core.list_gpus(node or None, model or None, status, allocated), page,
                       page_size)
        return paged(cut, DeviceOut.from_core)

    @router.get("/gpus/{uuid}", summary="One GPU")
    def gpu(uuid: str, node: Annotated[str | None, Query(
            description="its node, when UUIDs repeat across nodes")] = None,
            ) -> Answer[DeviceOut]:
        return ok(DeviceOut.from_core(core.find_device(uuid, node)))

    @router.get("/gpus/{uuid}/processes", summary="The processes on one GPU")
    def gpu_processes(uuid: str, node: Annotated[str | None, Query(
            description="its node, when UUIDs repeat across nodes")] = None,
            ) -> Answer[GpuProcessesOut]:
        return ok(GpuProcessesOut.from_core(core.gpu_processes(uuid, node)))

    @router.get("/gpus/{uuid}/metrics", summary="Range series of one GPU")
    def gpu_metrics(uuid: str, metric: Metric, start: Start = None, end: End = None,
                          step: Step = None, agg: AggParam = "avg",
                          node: str | None = None) -> Envelope[GpuRangeOut, PointsMeta]:
        view = core.find_device(uuid, node)
        r = core.query_range(view.device.node, metric, time_ns("start", start),
                             time_ns("end", end), duration_ns("step", step), agg, uuid)
        answer = GpuRangeOut.from_core(r, uuid, view.device.index)
        return Envelope(data=answer, meta=PointsMeta(points=len(answer.points)))

    return router


def _window(start: str | None, end: str | None, now: int) -> tuple[int | None, int | None]:
    """No start: now (None, None); else [start, end or now]. Raises InvalidParameterError."""
    start_ns, end_ns = time_ns("start", start), time_ns("end", end)
    if start_ns is None:
        if end_ns is not None:
            raise InvalidParameterError("start", "end without start: give both, or neither "
                                        "for the workloads there now")
        return None, None
    end_ns = now if end_ns is None else end_ns
    if end_ns < start_ns:
        raise InvalidParameterError("end", "end is before start")
    return start_ns, end_ns
