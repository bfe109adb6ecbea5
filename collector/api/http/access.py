"""HTTP access control as ASGI middleware: bearer tokens, roles, rate-limit headers and 429s.

Guarded: everything under /api/ (and /metrics when so configured); the probes /healthz and
/readyz and the docs stay open. Reads (GET, HEAD) need a read token, anything else an admin
token. Every guarded answer carries X-RateLimit-Limit (the bucket size), -Remaining and
-Reset (seconds until the bucket is full again) when rate limiting is on.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gputel.collector.api.access import AccessPolicy, Quota, Verdict
from gputel.collector.api.http.wire import HTTP_STATUS, error_response

_READS = frozenset({"GET", "HEAD"})


def rate_headers(quota: Quota | None) -> dict[str, str]:
    """The X-RateLimit-* headers (and Retry-After when refused) of a quota."""
    if quota is None:
        return {}
    out = {"X-RateLimit-Limit": str(quota.limit), "X-RateLimit-Remaining": str(quota.remaining),
           "X-RateLimit-Reset": str(quota.reset_seconds)}
    if not quota.allowed:
        out["Retry-After"] = str(quota.retry_after_seconds)
    return out


class AccessMiddleware:
    """Checks each guarded request against the policy before the app sees it."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse with the error envelope, or pass on and add the rate-limit headers."""
        if scope["type"] != "http" or not self._guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        verdict = self.policy.check(Headers(scope=scope).get("authorization"),
                                    scope["method"] not in _READS, address)
        extra = rate_headers(verdict.quota)
        if verdict.error is not None:
            await self._refuse(verdict, extra)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = [*message.get("headers", []),
                                      *((k.lower().encode(), v.encode())
                                        for k, v in extra.items())]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _guarded(self, path: str) -> bool:
        return path.startswith("/api/") or (path == "/metrics" and self.policy.metrics_need_token)

    @staticmethod
    def _refuse(verdict: Verdict, headers: dict[str, str]) -> ASGIApp:
        error = verdict.error
        assert error is not None
        if error.code == "UNAUTHORIZED":
            headers = {**headers, "WWW-Authenticate": 'Bearer realm="gputel"'}
        return error_response(HTTP_STATUS.get(error.code, 500), error.code, error.message,
                              error.details, headers)
