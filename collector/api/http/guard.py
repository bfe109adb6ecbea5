"""Bounds on the HTTP server's connections: how many are open, and how long headers may take.

uvicorn's own `limit_concurrency` answers 503 but keeps the socket, so slow clients
(slowloris: a connection that sends its request headers a byte at a time, or never) still
hold one file descriptor each until the process runs out. Here every connection beyond
`max_connections` is closed as soon as it is accepted; before that, the oldest connection
still waiting for its request headers is closed to make room (so a probe or a dashboard
gets in while slow sockets fill the table); and a connection whose request headers are
not complete `header_timeout_seconds` after it opened (or after its previous response) is
closed. Each closing is counted by reason for /metrics.

All of it runs on the event loop that serves HTTP, so the counts need no lock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ConnectionCounts", "ConnectionGuard"]

REASONS = ("limit", "evicted", "header_timeout")


@dataclass(slots=True)
class ConnectionCounts:
    """HTTP connections open now, and closed by the guard since start, by reason:
    `limit` (refused: every slot busy with a request), `evicted` (waiting for headers,
    closed to make room for a new one), `header_timeout`."""

    open: int = 0
    closed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))


class ConnectionGuard:
    """The limits plus the connections waiting for headers, oldest first."""

    def __init__(self, max_connections: int, header_timeout_seconds: float) -> None:
        if max_connections < 1 or header_timeout_seconds <= 0:
            raise ValueError("max_connections must be >= 1 and the header timeout positive")
        self.max_connections = max_connections
        self.header_timeout_seconds = header_timeout_seconds
        self.counts = ConnectionCounts()
        self._waiting: dict[GuardedH11Protocol, None] = {}  # insertion order = age

    def protocol(self) -> type[asyncio.Protocol]:
        """The uvicorn protocol class (uvicorn.Config(http=...)) bound to this guard."""
        class Bound(GuardedH11Protocol):
            pass

        Bound.guard = self
        return Bound

    def admit(self, conn: GuardedH11Protocol) -> bool:
        """Take a slot for `conn`, evicting the oldest header-waiting one when full."""
        if self.counts.open >= self.max_connections:
            if not self._waiting:
                self.counts.closed["limit"] += 1
                return False
            oldest = next(iter(self._waiting))
            self.counts.closed["evicted"] += 1
            oldest.close_waiting()
        self.counts.open += 1
        return True

    def release(self) -> None:
        """A connection that held a slot has gone."""
        self.counts.open -= 1

    def waiting(self, conn: GuardedH11Protocol, is_waiting: bool) -> None:
        """Track whether `conn` is waiting for request headers."""
        if is_waiting:
            self._waiting[conn] = None
        else:
            self._waiting.pop(conn, None)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol under a ConnectionGuard (see the module docstring)."""

    guard: ConnectionGuard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Refuse (close at once) when every slot is busy; else serve with a header deadline."""
        self._admitted = self.guard.admit(self)
        self._holds_slot = self._admitted
        self._header_timer: asyncio.TimerHandle | None = None
        if not self._admitted:
            transport.abort()  # frees the descriptor now; nothing was read or sent
            return
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        """Free the slot, then let uvicorn clean up."""
        if not self._admitted:
            return
        self._admitted = False
        self._stop_waiting()
        self._free_slot()
        super().connection_lost(exc)

    def _free_slot(self) -> None:
        """Give the slot back once: at close, or at once when evicted (the transport's
        connection_lost comes a loop turn later, and the newcomer needs the slot now)."""
        if self._holds_slot:
            self._holds_slot = False
            self.guard.release()

    def handle_events(self) -> None:
        """uvicorn's parsing; once a request's headers are in, its deadline no longer applies."""
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._stop_waiting()

    def on_response_complete(self) -> None:
        """After a response the next request's headers get a fresh deadline."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_headers()

    def close_waiting(self) -> None:
        """Close a connection that has not sent a complete request head."""
        self._stop_waiting()
        self._free_slot()
        self.transport.abort()

    def _await_headers(self) -> None:
        self._stop_waiting()
        self.guard.waiting(self, True)
        self._header_timer = self.loop.call_later(self.guard.header_timeout_seconds,
                                                  self._header_timeout)

    def _stop_waiting(self) -> None:
        self.guard.waiting(self, False)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.guard.counts.closed["header_timeout"] += 1
            self.close_waiting()
        else:
            self.guard.waiting(self, False)
