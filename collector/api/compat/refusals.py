"""Access refusals on the seeds' /api/ paths in the seed's own error form.

gputel's AccessMiddleware guards every /api/ path and refuses (401, 403, 429) in gputel's
envelope, before any router runs. For a path that belongs to a mounted compatibility
router, this middleware (outside AccessMiddleware) re-renders such a refusal with that
router's error renderer, keeping the status and the headers (X-RateLimit-*, Retry-After,
WWW-Authenticate). Seed 004's prefix is not under /api/; K8sAccessMiddleware guards it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gputel.collector.api.compat.common import ErrorRenderer
from gputel.collector.errors import GputelError

REFUSALS = frozenset({401, 403, 429})
_KEPT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                 "retry-after", "www-authenticate")


class _RefusalError(GputelError):
    """A refusal read back from gputel's envelope."""

    def __init__(self, code: str, message: str, details: dict[str, object]) -> None:
        super().__init__(message, details)
        self.code = code


class SeedRefusalMiddleware:
    """Re-renders 401/403/429 answers under each prefix with its seed's renderer."""

    def __init__(self, app: ASGIApp, renderers: Sequence[tuple[str, ErrorRenderer]]) -> None:
        self.app = app
        self.renderers = tuple(renderers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, except a refusal on a seed's path."""
        render = self._renderer(scope)
        if render is None:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def translate(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in REFUSALS:
                held.append(message)
                return
            if not held:
                await send(message)
                return
            held.append(message)
            if not message.get("more_body", False):
                await self._rerender(held, render, send)

        await self.app(scope, receive, translate)

    def _renderer(self, scope: Scope) -> ErrorRenderer | None:
        if scope["type"] != "http":
            return None
        path = scope["path"]
        return next((r for prefix, r in self.renderers if path.startswith(prefix)), None)

    @staticmethod
    async def _rerender(held: list[Message], render: ErrorRenderer, send: Send) -> None:
        start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
        try:
            error = json.loads(body)["error"]
            refusal = _RefusalError(str(error["code"]), str(error["message"]),
                               dict(error.get("details") or {}))
        except (ValueError, KeyError, TypeError):  # not gputel's envelope: leave it be
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        response = render(start["status"], refusal)
        old = MutableHeaders(raw=start["headers"])
        for name in _KEPT_HEADERS:
            if name in old:
                response.headers[name] = old[name]
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
