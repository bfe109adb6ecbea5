"""HTTP/JSON transport (FastAPI): /api/v1 over the query services, probes, and /metrics.

Success is {"data": ..., "meta": {...}}; an error is its HTTP status plus
{"error": {"code", "message", "details"}}. JSON keys are camelCase, times RFC 3339.
The routes live in one APIRouter per area (nodes, workloads, cluster);
access control (tokens, rate limits) is middleware (access), CORS Starlette's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from gputel.collector.api import compat as compat_api
from gputel.collector.api.access import AccessPolicy
from gputel.collector.api.http.access import AccessMiddleware
from gputel.collector.api.http.cluster import alerts_router, cluster_router
from gputel.collector.api.http.common import strict_query
from gputel.collector.api.http.console import mount_console
from gputel.collector.api.http.events import events_router
from gputel.collector.api.http.forecast import forecast_router
from gputel.collector.api.http.kube import kube_router
from gputel.collector.api.http.nodes import nodes_router
from gputel.collector.api.http.webhooks import webhooks_router
from gputel.collector.api.http.wire import HTTP_STATUS, error_response
from gputel.collector.api.http.workloads import workloads_router
from gputel.collector.errors import GputelError
from gputel.collector.outbound.hooks import HookRegistry
from gputel.collector.query.services import QueryServices
from gputel.proto.version import VERSION

log = logging.getLogger(__name__)
_RATE_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                 "Retry-After"]


def create_app(services: QueryServices, registry: CollectorRegistry,
               ready: Callable[[], bool], access: AccessPolicy | None = None,
               closing: Callable[[], bool] = lambda: False,
               compat: Sequence[str] = (), hooks: HookRegistry | None = None) -> FastAPI:
    """The collector's HTTP app; `ready` reports whether the collector serves yet, `closing`
    that it is stopping (event streams end); `compat` names the compatibility routers to
    mount (collector.api.compat); `hooks`, the webhooks managed through /api/v1/webhooks."""
    app = FastAPI(title="gputel collector", version=VERSION,
                  dependencies=[Depends(strict_query)],
                  description="GPU telemetry at high frequency, per GPU, node and workload. "
                              "Every answer is {data, meta}; every error {error: {code, "
                              "message, details}}. An undeclared or repeated query "
                              "parameter is 400 INVALID_PARAMETER naming it.")
    _install_error_handlers(app)
    for router in (cluster_router(services), nodes_router(services),
                   workloads_router(services), alerts_router(services),
                   kube_router(services), forecast_router(services)):
        app.include_router(router)
    app.include_router(events_router(services, closing))
    policy = access or AccessPolicy()
    if hooks is not None:
        app.include_router(webhooks_router(hooks, policy))
    _add_probes(app, registry, ready)
    app.add_middleware(AccessMiddleware, policy=policy)
    compat_api.mount(app, services, compat, policy, hooks)  # its middleware: outside access
    mount_console(app)  # last: it serves "/" and below, after every API route
    if policy.cors_origins:  # outermost, so preflights need no token
        app.add_middleware(CORSMiddleware, allow_origins=list(policy.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"],
                           expose_headers=_RATE_HEADERS, max_age=600)
    return app


def _add_probes(app: FastAPI, registry: CollectorRegistry, ready: Callable[[], bool]) -> None:
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


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GputelError)
    async def gputel_error(_request: Request, exc: GputelError) -> JSONResponse:
        return error_response(HTTP_STATUS.get(exc.code, 500), exc.code, exc.message, exc.details)

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
