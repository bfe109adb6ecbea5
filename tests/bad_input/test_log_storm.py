"""A storm of bad input costs a bounded number of log lines (issue 11 item 9).

Before: one WARNING per refused ingest stream (3,271 in 10 s), one traceback per bad socket.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import grpc
import httpx

from gputel.collector.lograte import RepeatLimiter
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.servers import CollectorThread

REFUSALS = 1000
LIMIT = 10


class _Lines(logging.Handler):
    """Counts what would reach the log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def _refuse_many(target: str, n: int) -> list[grpc.StatusCode]:
    """Open n ingest streams whose first message is empty: each is refused."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.IngestServiceStub(channel)

        async def one() -> grpc.StatusCode:
            call = stub.Stream(iter([pb.AgentMessage()]))
            try:
                async for _ in call:
                    pass
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        codes: list[grpc.StatusCode] = []
        for _ in range(n // 100):
            codes += await asyncio.gather(*(one() for _ in range(100)))
        return codes


def test_a_thousand_refused_streams_log_a_bounded_number_of_lines() -> None:
    lines = _Lines()
    root = logging.getLogger()
    root.addHandler(lines)
    server = CollectorThread(log_repeat_limit=LIMIT).start()
    try:
        codes = asyncio.run(_refuse_many(server.grpc_target, REFUSALS))
        metrics = httpx.get(f"{server.http_base}/metrics", timeout=10).text
    finally:
        server.stop()
        root.removeHandler(lines)
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * REFUSALS
    refused = [line for line in lines.lines if "refused" in line]
    assert 1 <= len(refused) <= LIMIT
    assert server.collector.log_filter is not None
    assert server.collector.log_filter.suppressed_total >= REFUSALS - LIMIT
    assert "gputel_collector_log_lines_suppressed_total" in metrics
    # the filter is the collector's only while it runs
    assert not any(isinstance(f, RepeatLimiter) for f in lines.filters)


def test_a_storm_of_bad_http_requests_logs_a_bounded_number_of_lines() -> None:
    lines = _Lines()
    root = logging.getLogger()
    root.addHandler(lines)
    server = CollectorThread(log_repeat_limit=LIMIT).start()
    try:
        for _ in range(200):  # uvicorn warns once per unparsable request
            with socket.create_connection(("127.0.0.1", server.collector.http_port)) as s:
                s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                assert s.recv(4096).startswith(b"HTTP/1.1 400")
    finally:
        server.stop()
        root.removeHandler(lines)
    invalid = [line for line in lines.lines if "Invalid HTTP request" in line]
    assert 1 <= len(invalid) <= LIMIT


def _record(msg: str, *args: object, name: str = "gputel.test") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)


def test_past_the_limit_a_template_is_dropped_then_the_next_window_says_how_many() -> None:
    now = [0.0]
    limiter = RepeatLimiter(3, clock=lambda: now[0])
    passed = [limiter.filter(_record("refused from %s", f"peer-{i}")) for i in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert limiter.filter(_record("another message"))  # other templates are not affected
    assert limiter.filter(_record("refused from %s", "x", name="other.logger"))
    now[0] = 61.0
    note = _record("refused from %s", "peer-late")
    assert limiter.filter(note)
    assert note.getMessage() == ("refused from peer-late [7 more like this suppressed in the "
                                 "previous 60 s]")
    assert limiter.suppressed_total == 7


def test_one_record_through_two_handlers_is_counted_once() -> None:
    limiter = RepeatLimiter(1)
    record = _record("same")
    assert limiter.filter(record)
    assert limiter.filter(record)  # the second handler sees the same verdict
    assert not limiter.filter(_record("same"))


def test_the_templates_tracked_are_bounded() -> None:
    limiter = RepeatLimiter(1, max_templates=100)
    for i in range(1000):
        limiter.filter(_record(f"distinct message {i}"))
    assert len(limiter._windows) == 100
