"""HTTP routes for the cluster as a whole: health, overview, history, heatmap, top, statistics,
cost; and alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gputel.collector.api.http.cluster_models import (
    AlertOut,
    CostOut,
    HealthOut,
    HeatmapOut,
    OverviewOut,
    TopOut,
    UsageStatisticsOut,
    UtilizationOut,
)
from gputel.collector.api.http.common import (
    DEFAULT_SIZE,
    AggParam,
    End,
    PageNumber,
    PageSize,
    Start,
    Step,
    duration_ns,
    time_ns,
)
from gputel.collector.api.http.wire import (
    ERRORS,
    Answer,
    Envelope,
    ErrorEnvelope,
    GridMeta,
    Paged,
    PointsMeta,
    ok,
    paged,
)
from gputel.collector.query.paging import paginate
from gputel.collector.query.services import QueryServices

AlertRule = Literal["over_temperature", "gpu_lost", "node_unreachable", "xid", "allocated_idle"]


def cluster_router(services: QueryServices) -> APIRouter:
    """/health, /overview, /utilization/history, /heatmap, /top, /statistics/usage, /cost."""
    router = APIRouter(prefix="/api/v1", responses=ERRORS)
    cluster = services.cluster

    @router.get("/health", summary="Collector status")
    def health() -> Answer[HealthOut]:
        return ok(HealthOut.from_core(services.health()))

    @router.get("/overview", summary="The cluster now: nodes, GPUs, utilization, power, alerts")
    def overview() -> Answer[OverviewOut]:
        return ok(OverviewOut.from_core(cluster.overview()))

    @router.get("/utilization/history", summary="Cluster GPU utilization and allocation")
    def utilization(start: Start = None, end: End = None,
                          step: Step = None) -> Envelope[UtilizationOut, PointsMeta]:
        history = cluster.utilization_history(time_ns("start", start), time_ns("end", end),
                                              duration_ns("step", step))
        return Envelope(data=UtilizationOut.from_core(history),
                        meta=PointsMeta(points=history.grid.n_points))

    @router.get("/heatmap", summary="Top-K GPUs by a metric over time")
    def heatmap(metric: Annotated[str, Query(description="a metric id",
                                                   examples=["power"])] = "power",
                      start: Start = None, end: End = None, step: Annotated[str | None, Query(
                          description="default: about 60 columns")] = None,
                      k: Annotated[int, Query(ge=1, le=100, description="rows")] = 10,
                      agg: AggParam = "avg") -> Envelope[HeatmapOut, GridMeta]:
        h = cluster.heatmap(metric, time_ns("start", start), time_ns("end", end),
                            duration_ns("step", step), k, agg)
        return Envelope(data=HeatmapOut.from_core(h),
                        meta=GridMeta(rows=len(h.rows), columns=h.grid.n_points))

    @router.get("/top", summary="Top consumers since the collector started")
    def top(by: Annotated[Literal["workloads", "namespaces"], Query()] = "workloads",
                  metric: Annotated[Literal["energy", "gpuSeconds", "utilization"],
                                    Query()] = "energy",
                  limit: Annotated[int, Query(ge=1, le=100)] = 10) -> Answer[TopOut]:
        return ok(TopOut.from_core(cluster.top(by, metric, limit)))

    @router.get("/statistics/usage", summary="Utilization, memory, temperature per GPU and model")
    def statistics(hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
                         ) -> Answer[UsageStatisticsOut]:
        return ok(UsageStatisticsOut.from_core(services.statistics.usage(hours)))

    @router.get("/cost", summary="GPU-hours, energy and cost by namespace, workload and label")
    def cost(days: Annotated[float, Query(gt=0, le=366)] = 7.0) -> Answer[CostOut]:
        return ok(CostOut.from_core(services.costs.cost(days)))

    return router


def alerts_router(services: QueryServices) -> APIRouter:
    """/alerts, and acknowledging one (admin)."""
    router = APIRouter(prefix="/api/v1", responses=ERRORS)
    engine = services.alerts

    @router.get("/alerts", summary="Firing (or resolved) alerts")
    def alerts(state: Annotated[Literal["firing", "resolved", "all"], Query()] = "firing",
                     rule: Annotated[AlertRule | None, Query()] = None,
                     node: str | None = None,
                     severity: Annotated[Literal["warning", "critical"] | None, Query()] = None,
                     gpu: Annotated[str | None, Query(description="a GPU UUID")] = None,
                     page: PageNumber = 1, page_size: PageSize = DEFAULT_SIZE,
                     ) -> Paged[AlertOut]:
        cut = paginate(engine.alerts(state, rule, node or None, severity, gpu or None), page,
                       page_size)
        return paged(cut, AlertOut.from_core)

    @router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge a firing alert (admin)",
                 responses={403: {"model": ErrorEnvelope, "description": "FORBIDDEN: read-only"}})
    def acknowledge(alert_id: str, by: Annotated[str, Query(
            max_length=128, description="who acknowledges, for the record")] = "api",
            ) -> Answer[AlertOut]:
        return ok(AlertOut.from_core(engine.acknowledge(alert_id, by)))

    return router
