"""HTTP routes for the cluster as a whole: health, overview, history, heatmap, top, statistics,
cost; and alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from gputel.collector.api.http.common import (
    DEFAULT_SIZE,
    ERRORS,
    AggParam,
    End,
    Envelope,
    ErrorEnvelope,
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
    cost_json,
    health_json,
    heatmap_json,
    overview_json,
    statistics_json,
    top_json,
    utilization_json,
)
from gputel.collector.api.http.models import (
    AlertOut,
    CostOut,
    HealthOut,
    HeatmapOut,
    OverviewOut,
    TopOut,
    UsageStatisticsOut,
    UtilizationOut,
)
from gputel.collector.outbound.webhooks import alert_json
from gputel.collector.query.paging import paginate
from gputel.collector.query.services import QueryServices

AlertRule = Literal["over_temperature", "gpu_lost", "node_unreachable", "xid", "allocated_idle"]


def cluster_router(services: QueryServices) -> APIRouter:
    """/health, /overview, /utilization/history, /heatmap, /top, /statistics/usage, /cost."""
    router = APIRouter(prefix="/api/v1", responses=ERRORS)
    cluster = services.cluster

    @router.get("/health", summary="Collector status", response_model=Envelope[HealthOut])
    def health() -> dict[str, Any]:
        return ok(health_json(services.health()))

    @router.get("/overview", summary="The cluster now: nodes, GPUs, utilization, power, alerts",
                response_model=Envelope[OverviewOut])
    def overview() -> dict[str, Any]:
        return ok(overview_json(cluster.overview()))

    @router.get("/utilization/history", summary="Cluster GPU utilization and allocation",
                response_model=Envelope[UtilizationOut])
    def utilization(start: Start = None, end: End = None,
                          step: Step = None) -> dict[str, Any]:
        history = cluster.utilization_history(time_ns("start", start), time_ns("end", end),
                                              duration_ns("step", step))
        return ok(utilization_json(history), points=int(history.grid.n_points))

    @router.get("/heatmap", summary="Top-K GPUs by a metric over time",
                response_model=Envelope[HeatmapOut])
    def heatmap(metric: Annotated[str, Query(description="a metric id",
                                                   examples=["power"])] = "power",
                      start: Start = None, end: End = None, step: Annotated[str | None, Query(
                          description="default: about 60 columns")] = None,
                      k: Annotated[int, Query(ge=1, le=100, description="rows")] = 10,
                      agg: AggParam = "avg") -> dict[str, Any]:
        h = cluster.heatmap(metric, time_ns("start", start), time_ns("end", end),
                            duration_ns("step", step), k, agg)
        return ok(heatmap_json(h), rows=len(h.rows), columns=int(h.grid.n_points))

    @router.get("/top", summary="Top consumers since the collector started",
                response_model=Envelope[TopOut])
    def top(by: Annotated[Literal["workloads", "namespaces"], Query()] = "workloads",
                  metric: Annotated[Literal["energy", "gpuSeconds", "utilization"],
                                    Query()] = "energy",
                  limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        return ok(top_json(cluster.top(by, metric, limit)))

    @router.get("/statistics/usage", summary="Utilization, memory, temperature per GPU and model",
                response_model=Envelope[UsageStatisticsOut])
    def statistics(hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
                         ) -> dict[str, Any]:
        return ok(statistics_json(services.statistics.usage(hours)))

    @router.get("/cost", summary="GPU-hours, energy and cost by namespace, workload and label",
                response_model=Envelope[CostOut])
    def cost(days: Annotated[float, Query(gt=0, le=366)] = 7.0) -> dict[str, Any]:
        return ok(cost_json(services.costs.cost(days)))

    return router


def alerts_router(services: QueryServices) -> APIRouter:
    """/alerts, and acknowledging one (admin)."""
    router = APIRouter(prefix="/api/v1", responses=ERRORS)
    engine = services.alerts

    @router.get("/alerts", summary="Firing (or resolved) alerts",
                response_model=Envelope[list[AlertOut]])
    def alerts(state: Annotated[Literal["firing", "resolved", "all"], Query()] = "firing",
                     rule: Annotated[AlertRule | None, Query()] = None,
                     node: str | None = None,
                     severity: Annotated[Literal["warning", "critical"] | None, Query()] = None,
                     gpu: Annotated[str | None, Query(description="a GPU UUID")] = None,
                     page: PageNumber = 1, page_size: PageSize = DEFAULT_SIZE,
                     ) -> dict[str, Any]:
        cut = paginate(engine.alerts(state, rule, node or None, severity, gpu or None), page,
                       page_size)
        return paged(cut, [alert_json(a) for a in cut.items])

    @router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge a firing alert (admin)",
                 response_model=Envelope[AlertOut],
                 responses={403: {"model": ErrorEnvelope, "description": "FORBIDDEN: read-only"}})
    def acknowledge(alert_id: str, by: Annotated[str, Query(
            max_length=128, description="who acknowledges, for the record")] = "api",
            ) -> dict[str, Any]:
        return ok(alert_json(engine.acknowledge(alert_id, by)))

    return router
