"""`--compat gpu-monitoring`: the GPU Monitoring API's routes (seed 002).

Envelope `{"success": true, "data": ..., "message": "...", "error": null}`; an error is its
HTTP status plus `{"success": false, "error": "...", "message": null, "data": null}`.
Fields are snake_case; memory in GB (GiB: bytes / 1024^3, as nvidia-gpu-exporter's byte
gauges divided by 1024^3), utilization and memory utilization in percent, temperature in
degrees C, power in watts, timestamps RFC 3339 (the time of the GPU's newest sample);
`memory_free` is total - reserved - used and `power_limit` the enforced limit from the
device inventory (null for a GPU whose agent reported none).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gputel.collector.api.compat.common import envelope_missing, error_route, gib, missing_header
from gputel.collector.errors import GputelError
from gputel.collector.query.core import DeviceView
from gputel.collector.query.services import QueryServices
from gputel.collector.timefmt import format_time

NAME = "gpu-monitoring"
PREFIXES = ("/api/health", "/api/v1/gpu/")


def render_error(status: int, exc: GputelError) -> JSONResponse:
    """The seed's error answer."""
    return JSONResponse({"success": False, "error": exc.message, "message": None, "data": None},
                        status_code=status)


def ok(data: Any, message: str, *missing: str) -> JSONResponse:
    """The seed's success answer."""
    return JSONResponse(envelope_missing({"success": True, "data": data, "message": message,
                                          "error": None}, missing),
                        headers=missing_header(missing))


def router(services: QueryServices) -> APIRouter:
    """/api/health and /api/v1/gpu/{metrics,nodes,utilization}."""
    r = APIRouter(prefix="/api", route_class=error_route(render_error),
                  tags=["compat: gpu-monitoring"])
    core = services.query

    @r.get("/health", summary="GPU Monitoring API: service health")
    def health() -> JSONResponse:
        h = services.health()
        return ok({"status": "healthy" if h.status == "ok" else h.status,
                   "timestamp": format_time(core.time_ns()), "version": h.version},
                  "Service is healthy" if h.status == "ok" else "Service is starting")

    @r.get("/v1/gpu/metrics", summary="GPU Monitoring API: every GPU's metrics")
    def metrics() -> JSONResponse:
        return ok([_metrics(v) for v in core.all_devices()],
                  "GPU metrics retrieved successfully")

    @r.get("/v1/gpu/nodes", summary="GPU Monitoring API: nodes with GPUs")
    def nodes() -> JSONResponse:
        return ok([{"node_name": n.state.name, "gpu_count": len(n.state.devices),
                    "gpu_names": n.gpu_models, "status": "ready" if n.connected else "not_ready",
                    "utilization": n.gpu_utilization, "power_draw": n.power_watts}
                   for n in core.list_nodes()], "GPU nodes retrieved successfully")

    @r.get("/v1/gpu/utilization", summary="GPU Monitoring API: every GPU's utilization")
    def utilization() -> JSONResponse:
        return ok([{"node_name": v.device.node, "gpu_index": v.device.index,
                    "gpu_name": v.device.model, "utilization": v.latest.get("gpu_util"),
                    "timestamp": _when(v)} for v in core.all_devices()],
                  "GPU utilization retrieved successfully")

    return r


def _when(v: DeviceView) -> str | None:
    return format_time(v.latest_ts_ns) if v.latest else None


def _metrics(v: DeviceView) -> dict[str, Any]:
    d = v.device
    used = v.latest.get("mem_used")
    total = v.latest.get("mem_total", float(d.memory_total_bytes) or None)
    return {"node_name": d.node, "gpu_index": d.index, "gpu_name": d.model,
            "gpu_uuid": d.uuid, "utilization": v.latest.get("gpu_util"),
            "memory_used": gib(used), "memory_total": gib(total),
            "memory_free": gib(v.memory_free_bytes),
            "memory_utilization": v.latest.get("mem_util"),
            "temperature": v.latest.get("temperature"), "power_draw": v.latest.get("power"),
            "power_limit": v.inventory.power_limit_watts if v.inventory else None,
            "timestamp": _when(v)}
