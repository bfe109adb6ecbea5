"""Who may ask the query APIs what, and how often: bearer tokens with roles, rate limits.

Tokens come from a file of `token: role` lines (role `read` or `admin`; a bare token is
`read`; blank lines and `#` comments ignored) and/or an inline `token:role,...` list the
CLI takes from the environment. With no token configured every request is allowed, as
before; with tokens, a request without a known one is UNAUTHORIZED and a `read` token on
an admin action FORBIDDEN. Tokens are compared in constant time and never logged.

Rate limiting is a token bucket per client: `burst` requests at once, refilled at
`per_second`; the client is its token when it presented a valid one, else its address.
Both transports (HTTP middleware, gRPC interceptor) call `AccessPolicy.check`.
"""

from __future__ import annotations

import enum
import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gputel.collector.api.secrets import SecurityConfigError, TokenBook, bearer_token, read_secret
from gputel.collector.errors import GputelError

_ROLES = {"read": 1, "readonly": 1, "read-only": 1, "admin": 2}


class Role(enum.IntEnum):
    """What a token may do: read every GET / unary query, or also act (admin)."""

    READ = 1
    ADMIN = 2


class UnauthorizedError(GputelError):
    """No bearer token, or one the collector does not know."""

    code = "UNAUTHORIZED"


class ForbiddenError(GputelError):
    """A known token whose role does not allow the action."""

    code = "FORBIDDEN"


class RateLimitedError(GputelError):
    """The client used up its request budget; `details['retryAfterSeconds']` says when."""

    code = "RATE_LIMITED"


def parse_tokens(text: str, source: str) -> dict[str, Role]:
    """`token: role` lines or `token:role,...` items -> {token: role}.

    Raises SecurityConfigError naming `source` (never the token) for an unknown role.
    """
    out: dict[str, Role] = {}
    items = [i for line in text.splitlines() for i in line.split(",")]
    for number, raw in enumerate(items, 1):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        token, sep, role = item.rpartition(":")
        if not sep:
            token, role = item, "read"
        if role.strip().lower() not in _ROLES or not token.strip():
            raise SecurityConfigError(f"{source}: entry {number} is not 'token: read|admin'")
        out[token.strip()] = Role(_ROLES[role.strip().lower()])
    return out


def load_tokens(path: Path | None, inline: str = "") -> TokenBook[Role] | None:
    """The tokens of a file and an inline list; None when neither names one.

    Raises SecurityConfigError (unreadable or empty file, unknown role).
    """
    tokens: dict[str, Role] = {}
    if path is not None:
        tokens.update(parse_tokens(read_secret(path, "API token").decode(), str(path)))
        if not tokens:
            raise SecurityConfigError(f"the API token file {path} holds no token")
    if inline.strip():
        tokens.update(parse_tokens(inline, "the inline API token list"))
    return TokenBook(tokens) if tokens else None


@dataclass(frozen=True, slots=True)
class Quota:
    """A client's budget after one request: bucket size, requests left, seconds until the
    bucket is full again, and (refused) seconds until the next request may pass."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int = 0


class RateLimiter:
    """Token buckets per client; thread-safe. Idle full buckets are forgotten."""

    def __init__(self, per_second: float, burst: int,
                 monotonic: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = burst
        self._monotonic = monotonic
        self._max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> Quota:
        """Spend one request of `client`'s budget if it has one."""
        now = self._monotonic()
        with self._lock:
            tokens = self._level(client, now)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self._max_clients:
                self._forget_full(now)
        reset = math.ceil((self.burst - tokens) / self.per_second)
        retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / self.per_second))
        return Quota(allowed, self.burst, int(tokens), reset, retry)

    def _level(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.per_second)

    def _forget_full(self, now: float) -> None:
        for client in [c for c in self._buckets if self._level(c, now) >= self.burst]:
            del self._buckets[client]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check: the error to answer (None: go on) and the client's quota."""

    error: GputelError | None
    quota: Quota | None
    role: Role | None = None


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Tokens (None: open), the rate limiter (None: unlimited), whether HTTP /metrics needs a
    token, and the browser origins allowed by CORS."""

    tokens: TokenBook[Role] | None = None
    limiter: RateLimiter | None = None
    metrics_need_token: bool = False
    cors_origins: tuple[str, ...] = ()

    def check(self, authorization: str | None, admin: bool, address: str) -> Verdict:
        """Authenticate `authorization` (`Bearer <token>`), authorize, then rate-limit."""
        error: GputelError | None = None
        role: Role | None = Role.ADMIN
        token = bearer_token(authorization)
        if self.tokens is not None:
            role = self.tokens.grant_of(token) if token else None
            if role is None:
                error = UnauthorizedError("a known bearer token is required: "
                                          "'Authorization: Bearer <token>'")
            elif admin and role < Role.ADMIN:
                error = ForbiddenError("this action needs an admin token; this token is "
                                       "read-only")
        quota = None
        if self.limiter is not None:
            client = (f"token:{hashlib.sha256(token.encode()).hexdigest()[:24]}"
                      if token and self.tokens is not None and role is not None
                      else f"address:{address}")
            quota = self.limiter.take(client)
            if not quota.allowed:
                error = RateLimitedError(
                    f"rate limit of {self.limiter.burst} requests, refilled at "
                    f"{self.limiter.per_second:g}/s, exceeded; retry in "
                    f"{quota.retry_after_seconds} s",
                    {"retryAfterSeconds": quota.retry_after_seconds})
        return Verdict(error, quota, role)

