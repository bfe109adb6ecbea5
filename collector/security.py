"""Transport security for the collector: TLS credentials, mutual TLS, bearer tokens from files.

Secrets are read from files (so Kubernetes Secrets can be mounted) and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc

INGEST_PREFIX = "/gputel.v1.IngestService/"


class SecurityConfigError(ValueError):
    """A certificate, key or token file cannot be used; the message names the file."""


def read_secret(path: Path, what: str) -> bytes:
    """The bytes of a secret file. Raises SecurityConfigError naming the file, not its content."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecurityConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not data.strip():
        raise SecurityConfigError(f"the {what} file {path} is empty")
    return data


def read_tokens(path: Path) -> frozenset[str]:
    """Bearer tokens, one per line (blank lines and # comments ignored)."""
    lines = read_secret(path, "token").decode().splitlines()
    tokens = frozenset(t.strip() for t in lines if t.strip() and not t.lstrip().startswith("#"))
    if not tokens:
        raise SecurityConfigError(f"the token file {path} holds no token")
    return tokens


def server_credentials(cert: Path, key: Path,
                       client_ca: Path | None) -> grpc.ServerCredentials:
    """TLS for the gRPC server; with `client_ca`, clients must present a certificate it signed."""
    return grpc.ssl_server_credentials(
        [(read_secret(key, "TLS key"), read_secret(cert, "TLS certificate"))],
        root_certificates=read_secret(client_ca, "client CA") if client_ca else None,
        require_client_auth=client_ca is not None)


class IngestTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses ingest streams without `authorization: Bearer <token>` naming a known token."""

    def __init__(self, tokens: frozenset[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens)
        self._refuse = grpc.stream_stream_rpc_method_handler(_unauthenticated)

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler]],
            handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        """Pass the call on when its token is known; else answer UNAUTHENTICATED."""
        if not handler_call_details.method.startswith(INGEST_PREFIX):
            return await continuation(handler_call_details)
        if self._allowed(dict(handler_call_details.invocation_metadata or ())):
            return await continuation(handler_call_details)
        return self._refuse

    def _allowed(self, metadata: dict[str, str | bytes]) -> bool:
        header = metadata.get("authorization", "")
        value = header.encode() if isinstance(header, str) else header
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return False
        # Compare against every token in constant time, so timing says nothing.
        return any([hmac.compare_digest(token, known) for known in self._tokens])  # noqa: C419


async def _unauthenticated(_requests: AsyncIterator[bytes],
                           context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                        "ingest needs 'authorization: Bearer <token>' with a known token")
    yield b""  # pragma: no cover - abort raises
