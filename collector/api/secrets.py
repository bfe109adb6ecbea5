"""Secrets both transports use: files read without logging their content, bearer tokens
taken from a header, and a book of known tokens looked up in constant time.

Secrets are read from files (so Kubernetes Secrets can be mounted) and never logged.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


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


def bearer_token(authorization: str | bytes | None) -> str:
    """The token of an `Authorization: Bearer <token>` value (HTTP header or gRPC
    metadata), '' when there is none."""
    value = authorization.decode(errors="replace") if isinstance(authorization, bytes) \
        else authorization or ""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class TokenBook(Generic[T]):
    """Known tokens and what each grants (a role, the nodes it may speak for)."""

    def __init__(self, tokens: Mapping[str, T]) -> None:
        self._tokens = tuple((t.encode(), grant) for t, grant in tokens.items())

    def __len__(self) -> int:
        return len(self._tokens)

    def grant_of(self, token: str) -> T | None:
        """What `token` grants, or None. Compares against every known token in constant
        time each, so timing says nothing about which (or whether one) matched."""
        given = token.encode()
        found = [grant for known, grant in self._tokens if hmac.compare_digest(given, known)]
        return found[0] if found else None


def read_headers(path: Path) -> tuple[tuple[str, str], ...]:
    """HTTP headers from a secret file, one `Name: value` per line (e.g. a remote-write
    endpoint's `Authorization` or a tenant header); blank lines and # comments ignored.
    Raises SecurityConfigError naming the file and line, never the value."""
    found: list[tuple[str, str]] = []
    for number, line in enumerate(read_secret(path, "header").decode().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME.fullmatch(name.strip()) or not value.strip():
            raise SecurityConfigError(f"{path}: line {number} is not 'Name: value'")
        found.append((name.strip(), value.strip()))
    return tuple(found)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
