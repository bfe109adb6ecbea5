"""The collector's two servers built from its settings: TLS and tokens checked and read
once (a bad file stops the start with one line naming it), then the gRPC server (ingest,
query, health, reflection) and the HTTP server (uvicorn) over the same access policy."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import uvicorn
from fastapi import FastAPI

from gputel.collector.api.access import AccessPolicy, RateLimiter, load_tokens
from gputel.collector.api.grpc.access import QueryAccessInterceptor
from gputel.collector.api.grpc.security import (
    IngestTokenInterceptor,
    NodeBinding,
    read_tokens,
    server_credentials,
)
from gputel.collector.api.http.guard import ConnectionGuard
from gputel.collector.api.secrets import SecurityConfigError, TokenBook
from gputel.proto.contract import MAX_MESSAGE_BYTES

_GRPC_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The server's certificate and key (both or neither), and the CA that signs client
    certificates (mutual TLS; needs the server's own)."""

    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None

    def check(self) -> None:
        """Raises SecurityConfigError for a combination that cannot work."""
        if bool(self.cert) != bool(self.key):
            raise SecurityConfigError("TLS needs both a certificate and its key")
        if self.client_ca and not self.cert:
            raise SecurityConfigError("mutual TLS (a client CA) needs the server's TLS certificate")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Query requests per second per client (0: off) and the burst allowed at once."""

    per_second: float = 100.0
    burst: int = 200


@dataclass(frozen=True, slots=True)
class Security:
    """Everything both servers enforce, read from its files once."""

    tls: TlsFiles
    access: AccessPolicy
    node_binding: NodeBinding

    def grpc_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """Ingest tokens first, then the query APIs' tokens and rate limits."""
        found: list[grpc.aio.ServerInterceptor] = []
        if self.node_binding.token_scopes:  # ingest tokens configured
            found.append(IngestTokenInterceptor(self.node_binding.token_scopes))
        if self.access.tokens is not None or self.access.limiter is not None:
            found.append(QueryAccessInterceptor(self.access))
        return found


def load_security(tls: TlsFiles, ingest_token_file: Path | None, api_token_file: Path | None,
                  api_tokens: str, rate: RateLimit, *, metrics_need_token: bool = False,
                  cors_origins: tuple[str, ...] = (), mtls_any_node: bool = False) -> Security:
    """Check the TLS settings and read every token file. Raises SecurityConfigError."""
    tls.check()
    limiter = RateLimiter(rate.per_second, rate.burst) if rate.per_second > 0 else None
    access = AccessPolicy(load_tokens(api_token_file, api_tokens), limiter,
                          metrics_need_token, cors_origins)
    scopes = read_tokens(ingest_token_file) if ingest_token_file else TokenBook({})
    return Security(tls, access,
                    NodeBinding(scopes, cert_names=bool(tls.client_ca) and not mtls_any_node))


def grpc_server(security: Security) -> grpc.aio.Server:
    """A gRPC server with the interceptors and limits of the collector; no port yet."""
    return grpc.aio.server(interceptors=security.grpc_interceptors(), options=_GRPC_OPTIONS)


def add_grpc_port(server: grpc.aio.Server, host: str, port: int, tls: TlsFiles) -> int:
    """Listen on host:port (TLS when configured); the port bound. Raises OSError."""
    address = f"{_bracket(host)}:{port}"
    bound: int
    if tls.cert and tls.key:
        bound = server.add_secure_port(address, server_credentials(tls.cert, tls.key,
                                                                   tls.client_ca))
    else:
        bound = server.add_insecure_port(address)
    if not bound:
        raise OSError(f"cannot listen for gRPC on {address}")
    return bound


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the collector's owner decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """No handlers installed."""
        yield


def http_server(app: FastAPI, guard: ConnectionGuard, tls: TlsFiles) -> QuietServer:
    """uvicorn for `app`, its connections guarded, over TLS when configured."""
    return QuietServer(uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, log_config=None,
        http=guard.protocol(),
        ssl_certfile=str(tls.cert) if tls.cert else None,
        ssl_keyfile=str(tls.key) if tls.key else None))


def bind_http(host: str, port: int) -> socket.socket:
    """A listening socket for the HTTP server (bound before uvicorn starts, so the port is
    known at once). Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, so asyncio sets TCP_NODELAY on each accepted connection (it checks
    # the protocol): without it a keep-alive answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
