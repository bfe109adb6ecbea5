"""gRPC access control for QueryService: bearer tokens, roles and rate limits.

The same AccessPolicy as HTTP: `authorization: Bearer <token>` metadata, UNAUTHENTICATED
without a known token, PERMISSION_DENIED for a read-only token on an admin RPC,
RESOURCE_EXHAUSTED when the client's rate limit is spent. The check runs inside the call
(where the peer address is known); the quota goes back as trailing metadata
`x-ratelimit-limit`, `-remaining`, `-reset`. Ingest calls pass untouched.

Server reflection (which lists every service and message) needs the same token once tokens
are configured; gRPC health stays open for probes (it says SERVING or not, nothing else).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from gputel.collector.api.access import AccessPolicy
from gputel.collector.api.grpc.ingest import status_of

QUERY_PREFIX = "/gputel.v1.QueryService/"
REFLECTION_PREFIX = "/grpc.reflection."  # v1alpha and v1
ADMIN_METHODS = frozenset({"AcknowledgeAlert"})
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]


def peer_host(peer: str) -> str:
    """`ipv4:10.0.0.1:5000` / `ipv6:[::1]:5000` -> the host part (the port changes per
    connection, so it does not identify a client)."""
    _, _, rest = peer.partition(":")
    host, sep, _ = rest.rpartition(":")
    return (host if sep else rest).strip("[]") or peer


class QueryAccessInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every QueryService handler in the policy's check."""

    def __init__(self, policy: AccessPolicy) -> None:
        self._policy = policy

    async def intercept_service(self, continuation: Continuation,
                                handler_call_details: grpc.HandlerCallDetails,
                                ) -> grpc.RpcMethodHandler:
        """The handler, guarded when it is a QueryService method."""
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self._guarded(method):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        header = metadata.get("authorization")
        authorization = header.decode() if isinstance(header, bytes) else header
        admin = method.removeprefix(QUERY_PREFIX) in ADMIN_METHODS
        check = self._checker(authorization, admin)
        if handler.unary_unary is not None:
            return _guard_unary(handler, check)
        if handler.unary_stream is not None:
            return _guard_stream(handler, check)
        if handler.stream_stream is not None:
            return _guard_bidi(handler, check)
        return handler

    def _guarded(self, method: str) -> bool:
        return method.startswith(QUERY_PREFIX) or (
            method.startswith(REFLECTION_PREFIX) and self._policy.tokens is not None)

    def _checker(self, authorization: str | None,
                 admin: bool) -> Callable[[grpc.aio.ServicerContext], Awaitable[None]]:
        async def check(context: grpc.aio.ServicerContext) -> None:
            verdict = self._policy.check(authorization, admin, peer_host(context.peer()))
            if verdict.quota is not None:
                q = verdict.quota
                context.set_trailing_metadata((("x-ratelimit-limit", str(q.limit)),
                                               ("x-ratelimit-remaining", str(q.remaining)),
                                               ("x-ratelimit-reset", str(q.reset_seconds))))
            if verdict.error is not None:
                await context.abort(status_of(verdict.error), verdict.error.message)
        return check


def _guard_unary(handler: grpc.RpcMethodHandler,
                 check: Callable[[grpc.aio.ServicerContext], Awaitable[None]],
                 ) -> grpc.RpcMethodHandler:
    inner = handler.unary_unary

    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await check(context)
        return await inner(request, context)

    return grpc.unary_unary_rpc_method_handler(
        guarded, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)


def _guard_stream(handler: grpc.RpcMethodHandler,
                  check: Callable[[grpc.aio.ServicerContext], Awaitable[None]],
                  ) -> grpc.RpcMethodHandler:
    inner = handler.unary_stream

    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await check(context)
        async for item in inner(request, context):
            yield item

    return grpc.unary_stream_rpc_method_handler(
        guarded, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)


def _guard_bidi(handler: grpc.RpcMethodHandler,
                check: Callable[[grpc.aio.ServicerContext], Awaitable[None]],
                ) -> grpc.RpcMethodHandler:
    inner = handler.stream_stream

    async def guarded(requests: AsyncIterator[Any],
                      context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await check(context)
        async for item in inner(requests, context):
            yield item

    return grpc.stream_stream_rpc_method_handler(
        guarded, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)
