"""HTTP/JSON transport (FastAPI): /api/v1 over the query core, probes, and /metrics.

Success is {"data": ..., "meta": {...}}; an error is its HTTP status plus
{"error": {"code", "message", "details"}}. JSON keys are camelCase, times RFC 3339.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from gputel.collector.errors import GputelError, InvalidParameterError
from gputel.collector.query import DeviceView, NodeSummary, QueryCore, Series
from gputel.collector.timefmt import format_time, parse_duration, parse_time
from gputel.collector.workload_query import NamespaceSummary, WorkloadSummary
from gputel.collector.workloads import Usage

log = logging.getLogger(__name__)
_HTTP_STATUS = {"INVALID_PARAMETER": 400, "INVALID_ARGUMENT": 400, "UNAUTHORIZED": 401,
                "FORBIDDEN": 403, "NOT_FOUND": 404, "RATE_LIMITED": 429, "UNAVAILABLE": 503}

Health = Callable[[], dict[str, Any]]


def error_response(status: int, code: str, message: str,
                   details: dict[str, object] | None = None) -> JSONResponse:
    """The error envelope."""
    return JSONResponse({"error": {"code": code, "message": message, "details": details or {}}},
                        status_code=status)


def create_app(core: QueryCore, registry: CollectorRegistry, health: Health,
               ready: Callable[[], bool]) -> FastAPI:
    """The collector's HTTP app; `health` and `ready` report on the whole collector."""
    app = FastAPI(title="gputel collector", version="0.1.0",
                  description="GPU telemetry at high frequency, per GPU, node and workload.")
    _install_error_handlers(app)

    @app.get("/api/v1/health", summary="Collector status")
    async def api_health() -> dict[str, Any]:
        return {"data": health(), "meta": {}}

    @app.get("/api/v1/nodes", summary="Every node that has reported")
    async def nodes() -> dict[str, Any]:
        items = [node_json(n) for n in core.list_nodes()]
        return {"data": items, "meta": {"total": len(items)}}

    @app.get("/api/v1/nodes/{node}", summary="One node with its GPUs")
    async def node(node: str) -> dict[str, Any]:
        summary = core.get_node(node)
        body = node_json(summary)
        body["gpus"] = [device_json(v) for v in core.list_devices(node)]
        return {"data": body, "meta": {}}

    @app.get("/api/v1/nodes/{node}/gpus", summary="The GPUs of a node with latest values")
    async def gpus(node: str) -> dict[str, Any]:
        items = [device_json(v) for v in core.list_devices(node)]
        return {"data": items, "meta": {"total": len(items)}}

    @app.get("/api/v1/nodes/{node}/metrics", summary="Range series per GPU of a node")
    async def metrics(node: str, metric: str, start: str | None = None, end: str | None = None,
                      step: str | None = None, agg: str = "avg",
                      gpu: str | None = None) -> dict[str, Any]:
        r = core.query_range(
            node, metric,
            None if start is None else parse_time("start", start),
            None if end is None else parse_time("end", end),
            None if step is None else parse_duration("step", step), agg, gpu)
        data = {"node": r.node, "metric": r.metric, "unit": r.unit, "agg": r.agg,
                "start": format_time(r.start_ns), "end": format_time(r.end_ns),
                "stepSeconds": r.step_ns / 1e9,
                "gpus": [series_json(s) for s in r.gpus],
                "nodeTotal": series_json(r.node_total)}
        points = sum(len(s.ts_ns) for s in r.gpus)
        return {"data": data, "meta": {"points": points, "series": len(r.gpus)}}

    @app.get("/api/v1/workloads", summary="Workloads (pods, Slurm jobs) that held GPUs")
    async def workloads(namespace: str | None = None, kind: str | None = None,
                        status: str | None = None) -> dict[str, Any]:
        running = _status_filter(status)
        items = [workload_json(w) for w in core.workloads.summaries(namespace, kind, running)]
        return {"data": items, "meta": {"total": len(items)}}

    @app.get("/api/v1/workloads/{uid:path}/metrics", summary="Range series of one workload")
    async def workload_metrics(uid: str, metric: str, start: str | None = None,
                               end: str | None = None, step: str | None = None,
                               agg: str = "avg") -> dict[str, Any]:
        r = core.workload_range(
            uid, metric, None if start is None else parse_time("start", start),
            None if end is None else parse_time("end", end),
            None if step is None else parse_duration("step", step), agg)
        data = {"workload": uid, "metric": r.metric, "unit": r.unit, "agg": r.agg,
                "start": format_time(r.start_ns), "end": format_time(r.end_ns),
                "stepSeconds": r.step_ns / 1e9, "gpus": [series_json(s) for s in r.gpus],
                "total": series_json(r.node_total)}
        return {"data": data, "meta": {"points": len(r.node_total.ts_ns)}}

    @app.get("/api/v1/workloads/{uid:path}", summary="One workload with its GPUs and usage")
    async def workload(uid: str) -> dict[str, Any]:
        return {"data": workload_json(core.workloads.summary(uid)), "meta": {}}

    @app.get("/api/v1/namespaces", summary="GPU usage per namespace")
    async def namespaces() -> dict[str, Any]:
        items = [namespace_json(n) for n in core.workloads.namespaces()]
        return {"data": items, "meta": {"total": len(items)}}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        if ready():
            return JSONResponse({"status": "ok"})
        return error_response(503, "UNAVAILABLE", "collector is not ready")

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GputelError)
    async def gputel_error(_request: Request, exc: GputelError) -> JSONResponse:
        return error_response(_HTTP_STATUS.get(exc.code, 500), exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
        name = ".".join(loc) or "request"
        return error_response(400, "INVALID_PARAMETER", f"{name}: {first.get('msg', 'invalid')}",
                              {"parameter": name})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(404, "NOT_FOUND", f"no route {request.url.path}")
        if exc.status_code == 405:
            return error_response(405, "INVALID_PARAMETER",
                                  f"method {request.method} is not allowed here")
        return error_response(exc.status_code, "INTERNAL", str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error answering a request", exc_info=exc)
        return error_response(500, "INTERNAL", "internal error; the collector log has details")


def _status_filter(status: str | None) -> bool | None:
    if status in (None, ""):
        return None
    if status not in ("running", "ended"):
        raise InvalidParameterError("status", f"{status!r} is not running or ended")
    return status == "running"


def _usage_json(u: Usage) -> dict[str, float]:
    return {"energyJoules": u.energy_joules, "gpuSecondsAllocated": u.gpu_seconds_allocated,
            "gpuSecondsBusy": u.gpu_seconds_busy}


def workload_json(w: WorkloadSummary) -> dict[str, Any]:
    """A workload as the API shows it."""
    i = w.info
    return {"uid": i.uid, "kind": i.kind, "namespace": i.namespace, "pod": i.pod,
            "container": i.container, "podUid": i.pod_uid or None, "labels": i.labels,
            "owners": [{"kind": k, "name": n} for k, n in i.owners],
            "status": "running" if w.running else "ended",
            "firstSeen": format_time(i.first_ns), "lastSeen": format_time(i.last_ns),
            "gpus": w.gpus, "gpuUuids": w.gpu_uuids, "powerWatts": w.power_watts,
            "memoryUsedBytes": w.memory_used_bytes,
            "utilizationPercent": w.utilization_percent, **_usage_json(w.usage)}


def namespace_json(n: NamespaceSummary) -> dict[str, Any]:
    """A namespace's usage."""
    return {"namespace": n.namespace, "workloads": n.workloads, "running": n.running,
            "gpus": n.gpus, "utilizationPercent": n.utilization_percent,
            **_usage_json(n.usage)}


def node_json(n: NodeSummary) -> dict[str, Any]:
    """A node as the API shows it."""
    s = n.state
    return {"name": s.name, "connected": n.connected, "backend": s.backend,
            "agentInstance": s.agent_instance, "agentVersion": s.agent_version,
            "sampleRateHz": s.sample_rate_hz, "gpuCount": len(s.devices),
            "gpuModels": n.gpu_models, "gpuUtilization": n.gpu_utilization,
            "powerWatts": n.power_watts, "attribution": n.attribution,
            "firstSeen": format_time(s.first_seen_ns),
            "lastSeen": format_time(s.last_seen_ns), "framesIngested": s.frames,
            "samplesIngested": s.samples}


def device_json(v: DeviceView) -> dict[str, Any]:
    """A GPU with its latest values."""
    d = v.device
    return {"node": d.node, "index": d.index, "uuid": d.uuid, "vendor": d.vendor,
            "model": d.model, "memoryTotalBytes": d.memory_total_bytes,
            "migParentUuid": d.mig_parent_uuid or None, "pciBusId": d.pci_bus_id or None,
            "latest": v.latest, "latestTime": format_time(v.latest_ts_ns) if v.latest else None,
            "heldBy": [{"workload": uid, "fraction": f} for uid, f in v.holders],
            "energyJoules": v.energy_joules, "unattributedEnergyJoules": v.unattributed_joules}


def series_json(s: Series) -> dict[str, Any]:
    """A series as [[time, value], ...] pairs."""
    body: dict[str, Any] = {"points": [[format_time(int(t)), float(v)]
                                       for t, v in zip(s.ts_ns, s.values, strict=True)]}
    if s.gpu:
        body = {"gpu": s.gpu, "index": s.index, **body}
    return body
