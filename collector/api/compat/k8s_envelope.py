"""The Kubernetes GPU Management API's (seed 004) envelope, error codes, rate-limit headers,
and its control-plane routes, which gputel refuses.

Success `{"status": "success", "data": ..., "timestamp": ...}`; an error is its HTTP status
plus `{"status": "error", "error": {"code", "message", "details"}, "timestamp"}` with the
seed's codes (RESOURCE_NOT_FOUND, INVALID_PARAMETER, UNAUTHORIZED, FORBIDDEN,
RATE_LIMIT_EXCEEDED with `retryAfter`, INTERNAL_ERROR). Every answer under its prefix
carries X-RateLimit-Limit, -Remaining and -Reset, Reset being the Unix time (seconds) at
which the client's bucket is full again, from gputel's own rate limiter and tokens
(`AccessPolicy`): this middleware guards the prefix as AccessMiddleware guards /api/.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gputel.collector.api.access import AccessPolicy, Quota
from gputel.collector.api.compat.common import envelope_missing, missing_header
from gputel.collector.errors import GputelError
from gputel.collector.timefmt import format_time

PREFIX = "/k8s-monitor/api/v1"
CODES = {"NOT_FOUND": "RESOURCE_NOT_FOUND", "INVALID_PARAMETER": "INVALID_PARAMETER",
         "UNAUTHORIZED": "UNAUTHORIZED", "FORBIDDEN": "FORBIDDEN",
         "RATE_LIMITED": "RATE_LIMIT_EXCEEDED", "NOT_IMPLEMENTED": "NOT_IMPLEMENTED"}
_READS = frozenset({"GET", "HEAD"})
OBSERVER = ("gputel observes GPUs and does not allocate, partition or configure them: "
            "{what} is the scheduler's or the device plugin's job")
# (method, path, what it would do): the seed's control-plane writes.
CONTROL_PLANE = (
    ("POST", "/gpu/devices", "registering a GPU device"),
    ("PUT", "/gpu/devices/{device_id}/status", "setting a device's status"),
    ("POST", "/gpu/mig/devices/{device_id}", "creating MIG instances"),
    ("DELETE", "/gpu/mig/devices/{device_id}", "deleting MIG instances"),
    ("POST", "/gpu/allocations", "allocating GPUs"),
    ("DELETE", "/gpu/allocations/{allocation_id}", "releasing an allocation"),
    ("POST", "/gpu/metrics/collect", "triggering a collection (gputel samples continuously)"),
    ("POST", "/batch/metrics/collect", "triggering a collection (gputel samples continuously)"),
    ("POST", "/batch/allocations", "allocating GPUs"),
)


class NotImplementedByGputelError(GputelError):
    """A route of the seed gputel does not answer (a control-plane write, or a read it
    cannot answer yet); HTTP 501."""

    code = "NOT_IMPLEMENTED"


def now_text() -> str:
    """The envelope's timestamp: now, RFC 3339."""
    return format_time(time.time_ns())


def error_body(code: str, message: str, details: object = None,
               **extra: object) -> dict[str, Any]:
    """The seed's error envelope."""
    return {"status": "error", "error": {"code": code, "message": message, "details": details,
                                         **extra}, "timestamp": now_text()}


def render_error(status: int, exc: GputelError) -> JSONResponse:
    """A gputel error in the seed's envelope (501 for NotImplementedByGputelError)."""
    if isinstance(exc, NotImplementedByGputelError):
        status = 501
    extra = {}
    if exc.code == "RATE_LIMITED":
        extra["retryAfter"] = exc.details.get("retryAfterSeconds", 1)
    return JSONResponse(error_body(CODES.get(exc.code, "INTERNAL_ERROR"), exc.message,
                                   exc.details or None, **extra), status_code=status)


def ok(data: Any, *missing: str) -> JSONResponse:
    """The seed's success envelope; what gputel lacks named in `missing` and the header."""
    return JSONResponse(envelope_missing({"status": "success", "data": data,
                                          "timestamp": now_text()}, missing),
                        headers=missing_header(missing))


def add_control_plane(r: APIRouter) -> None:
    """The seed's write routes: 501 with the reason."""
    for method, path, what in CONTROL_PLANE:
        r.add_api_route(path, _refuse(what), methods=[method], status_code=501,
                        summary=f"K8s GPU: {what} (501: gputel does not allocate)")


def _refuse(what: str) -> Callable[..., JSONResponse]:
    def refuse() -> JSONResponse:
        raise NotImplementedByGputelError(OBSERVER.format(what=what))
    return refuse


def not_yet(feature: str) -> NotImplementedByGputelError:
    """The 501 of a read gputel cannot answer yet."""
    return NotImplementedByGputelError(f"{feature} is not available in this gputel version")


def rate_headers(quota: Quota | None, now_s: float) -> dict[str, str]:
    """X-RateLimit-* with Reset as the Unix time the bucket is full again."""
    if quota is None:
        return {}
    out = {"X-RateLimit-Limit": str(quota.limit), "X-RateLimit-Remaining": str(quota.remaining),
           "X-RateLimit-Reset": str(math.ceil(now_s) + quota.reset_seconds)}
    if not quota.allowed:
        out["Retry-After"] = str(quota.retry_after_seconds)
    return out


class K8sAccessMiddleware:
    """gputel's access policy (tokens, roles, rate limit) over the seed's prefix, answered
    in the seed's envelope and headers."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy,
                 clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.policy = policy
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse in the seed's envelope, or pass on with its rate-limit headers."""
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        verdict = self.policy.check(Headers(scope=scope).get("authorization"),
                                    scope["method"] not in _READS,
                                    client[0] if client else "unknown")
        extra = rate_headers(verdict.quota, self._clock())
        if verdict.error is not None:
            response = render_error(_status(verdict.error.code), verdict.error)
            response.headers.update(extra)
            if verdict.error.code == "UNAUTHORIZED":
                response.headers["WWW-Authenticate"] = 'Bearer realm="gputel"'
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = [*message.get("headers", []),
                                      *((k.lower().encode(), v.encode())
                                        for k, v in extra.items())]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _status(code: str) -> int:
    return {"UNAUTHORIZED": 401, "FORBIDDEN": 403, "RATE_LIMITED": 429}.get(code, 500)

