"""gRPC transport security: TLS credentials, mutual TLS, ingest tokens and the nodes each
may speak for (secret files and token lookup: api.secrets)."""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from gputel.collector.api.secrets import SecurityConfigError, TokenBook, bearer_token, read_secret

INGEST_PREFIX = "/gputel.v1.IngestService/"


def read_tokens(path: Path) -> TokenBook[tuple[str, ...]]:
    """Ingest bearer tokens and the nodes each may speak for, one token per line:
    `TOKEN` (any node) or `TOKEN: PATTERN[,PATTERN...]` (node names, shell-style globs
    such as `gpu-a-*`). Blank lines and # comments are ignored."""
    scopes: dict[str, tuple[str, ...]] = {}
    for line in read_secret(path, "token").decode().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        token, _, scope = line.partition(":")
        patterns = tuple(p.strip() for p in scope.split(",") if p.strip())
        if token.strip():
            scopes[token.strip()] = patterns
    if not scopes:
        raise SecurityConfigError(f"the token file {path} holds no token")
    return TokenBook(scopes)


@dataclass(frozen=True, slots=True)
class NodeBinding:
    """Which nodes an ingest client may speak for.

    With ingest tokens, a token scoped to node patterns allows only those nodes. With
    mutual TLS and `cert_names`, the node must be the client certificate's common name
    or one of its DNS names. With neither, any client may speak for any node.
    """

    token_scopes: TokenBook[tuple[str, ...]] = field(default_factory=lambda: TokenBook({}))
    cert_names: bool = False

    def problem(self, node: str, metadata: Mapping[str, str | bytes],
                auth: Mapping[str, Sequence[bytes]]) -> str:
        """Why this client may not stream as `node`, or '' when it may."""
        if self.token_scopes:
            scope = self.token_scopes.grant_of(bearer_token(metadata.get("authorization")))
            if scope and not any(fnmatch.fnmatchcase(node, p) for p in scope):
                return f"this token may not stream as node {node!r}"
        if self.cert_names:
            names = {v.decode(errors="replace") for key in _CERT_NAME_KEYS
                     for v in auth.get(key, ())}
            if node not in names:
                return f"the client certificate does not name node {node!r}"
        return ""


_CERT_NAME_KEYS = ("x509_common_name", "x509_subject_alternative_name")


def server_credentials(cert: Path, key: Path,
                       client_ca: Path | None) -> grpc.ServerCredentials:
    """TLS for the gRPC server; with `client_ca`, clients must present a certificate it signed."""
    return grpc.ssl_server_credentials(
        [(read_secret(key, "TLS key"), read_secret(cert, "TLS certificate"))],
        root_certificates=read_secret(client_ca, "client CA") if client_ca else None,
        require_client_auth=client_ca is not None)


class IngestTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses ingest streams without `authorization: Bearer <token>` naming a known token."""

    def __init__(self, tokens: TokenBook[tuple[str, ...]]) -> None:
        self._tokens = tokens
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
        token = bearer_token(metadata.get("authorization"))
        return bool(token) and self._tokens.grant_of(token) is not None


async def _unauthenticated(_requests: AsyncIterator[bytes],
                           context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                        "ingest needs 'authorization: Bearer <token>' with a known token")
    yield b""  # pragma: no cover - abort raises
