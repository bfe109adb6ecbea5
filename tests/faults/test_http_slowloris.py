"""Slow HTTP clients (slowloris) cannot take the collector's descriptors, probes or ingest.

Issue 11 item 9: 1,100 sockets that never finish their request headers exhausted the
collector's file descriptors; /readyz failed and agents were refused.
"""

from __future__ import annotations

import resource
import socket
from collections.abc import Iterator

import httpx
import pytest

from gputel.collector.api.http.guard import ConnectionGuard
from gputel.collector.server import raise_fd_limit
from tests.harness.servers import CollectorThread, running_agent, wait_sampled, wait_until

SLOW = 300
LIMIT = 40
PARTIAL = b"GET /readyz HTTP/1.1\r\nHost: collector\r\nX-Slow: "  # headers never end


@pytest.fixture
def guarded() -> Iterator[CollectorThread]:
    server = CollectorThread(http_max_connections=LIMIT, http_header_timeout_seconds=1.5,
                             rate_limit_per_second=0).start()
    yield server
    server.stop()


def _slow_sockets(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(PARTIAL)
        out.append(s)
    return out


def _closed_by_server(s: socket.socket) -> bool:
    """Read (at most 10 s) until the server closes; True when it did."""
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_slow_sockets_are_bounded_and_closed_while_probes_and_agents_work(
        guarded: CollectorThread) -> None:
    guard = guarded.collector.http_guard
    slow = _slow_sockets(guarded.collector.http_port, SLOW)
    try:
        wait_until(lambda: guard.counts.open + sum(guard.counts.closed.values()) >= SLOW,
                   what="every slow socket accepted")
        assert guard.counts.open <= LIMIT
        # The table is full of slow sockets: a probe still gets in (the oldest slow one goes)
        probe = httpx.get(f"{guarded.http_base}/readyz", timeout=5)
        assert probe.status_code == 200
        assert probe.json() == {"status": "ok"}
        # ... and so does an agent over gRPC
        with running_agent(guarded.grpc_target, node="after-slowloris", gpus=2,
                           max_ticks=5) as agent:
            assert wait_sampled(agent, timeout=30)
            assert agent.stop(drain_timeout=10), "every frame should be acknowledged"
        assert guarded.collector.store.sample_count("after-slowloris") > 0
        # every slow socket is closed by the server: evicted, or after the header timeout
        wait_until(lambda: guard.counts.open == 0, what="slow sockets closed")
        assert all(_closed_by_server(s) for s in slow)
    finally:
        for s in slow:
            s.close()
    assert guard.counts.closed["evicted"] >= SLOW - LIMIT
    assert guard.counts.closed["header_timeout"] >= 1
    assert guard.counts.closed["evicted"] + guard.counts.closed["header_timeout"] >= SLOW
    metrics = httpx.get(f"{guarded.http_base}/metrics", timeout=5).text
    assert 'gputel_collector_http_connections_closed_total{reason="header_timeout"}' in metrics
    assert "gputel_collector_http_connections_limit 40.0" in metrics


def test_a_slow_request_after_a_response_on_the_same_connection_also_times_out(
        guarded: CollectorThread) -> None:
    with socket.create_connection(("127.0.0.1", guarded.collector.http_port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: collector\r\n\r\n")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        s.sendall(PARTIAL)  # keep-alive, then a request whose headers never end
        assert _closed_by_server(s)
    assert guarded.collector.http_guard.counts.closed["header_timeout"] == 1


class _Conn:
    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.closed = False

    def close_waiting(self) -> None:
        self.closed = True
        self.guard.waiting(self, False)  # type: ignore[arg-type]


def test_a_full_table_of_busy_connections_refuses_the_next() -> None:
    guard = ConnectionGuard(max_connections=2, header_timeout_seconds=1.0)
    a, b, c, d = (_Conn(guard) for _ in range(4))
    assert guard.admit(a)
    assert guard.admit(b)
    guard.waiting(a, True)  # type: ignore[arg-type]
    assert guard.admit(c)  # type: ignore[arg-type]
    assert a.closed
    assert guard.counts.closed["evicted"] == 1
    guard.release()  # a's connection_lost
    assert not guard.admit(d)  # type: ignore[arg-type]  # b and c are busy with requests
    assert guard.counts.closed["limit"] == 1
    assert guard.counts.open == 2


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    raise_fd_limit()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or hard == resource.RLIM_INFINITY
