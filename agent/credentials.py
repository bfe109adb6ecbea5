"""The agent's secrets: TLS material and the ingest token, read from files at start.

A file that cannot be used is a SecretError naming the file, never its content.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc

from gputel.agent.config import AgentConfig
from gputel.agent.errors import AgentError

log = logging.getLogger(__name__)


def channel_credentials(config: AgentConfig) -> grpc.ChannelCredentials | None:
    """TLS to the collector when a CA or client certificate is configured, else None (plaintext).

    Raises SecretError naming an unreadable file (never its content).
    """
    if not (config.tls_ca or config.tls_cert):
        return None
    if bool(config.tls_cert) != bool(config.tls_key):
        raise SecretError("a client certificate needs its key, and a key its certificate")
    return grpc.ssl_channel_credentials(
        root_certificates=_secret(config.tls_ca, "CA") if config.tls_ca else None,
        private_key=_secret(config.tls_key, "TLS key") if config.tls_key else None,
        certificate_chain=_secret(config.tls_cert, "TLS certificate") if config.tls_cert
        else None)


def ingest_token(config: AgentConfig) -> str | None:
    """The bearer token from the token file's first line, or None."""
    if config.token_file is None:
        return None
    token = _secret(config.token_file, "token").decode().strip().splitlines()[0].strip()
    if not (config.tls_ca or config.tls_cert):
        log.warning("sending the ingest token without TLS: anyone on the path can read it")
    return token


class SecretError(AgentError):
    """A certificate, key or token file cannot be used; the message names the file."""


def _secret(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not data.strip():
        raise SecretError(f"the {what} file {path} is empty")
    return data
