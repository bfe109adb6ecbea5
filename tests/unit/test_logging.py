"""The process's log: httpx's one INFO line per request stays out of it (issue 12)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from gputel.cli.main import configure_logging
from gputel.collector.outbound.remote_write import RemoteWriteConfig, RemoteWriter

CLIENT_LOGGERS = ("httpx", "httpcore")
REQUESTS = 5


@pytest.fixture
def restore_levels() -> Iterator[None]:
    """configure_logging sets process-wide levels: start from the libraries' own (NOTSET,
    whatever an earlier test in this process configured) and put them back after."""
    root = logging.getLogger()
    before = {name: logging.getLogger(name).level for name in CLIENT_LOGGERS}
    root_level = root.level
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)
    root.setLevel(root_level)


def _write_requests(count: int) -> int:
    """Send `count` remote-write requests to an endpoint that accepts them; return how many."""
    seen: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    writer = RemoteWriter(RemoteWriteConfig("http://rw.test/api/v1/write", batch_samples=1),
                          client=httpx.Client(transport=httpx.MockTransport(accept)))
    writer.start()
    for k in range(count):  # batch_samples=1: one request per sample
        writer.enqueue((("__name__", "gputel_test_watts"),), np.array([10**18 + k * 10**6]),
                       np.array([1.0]))
    assert writer.stop(timeout=10)
    return len(seen)


@pytest.mark.usefixtures("restore_levels")
def test_remote_write_requests_log_no_info_lines_from_httpx(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert _write_requests(REQUESTS) == REQUESTS
    noisy = [r for r in caplog.records if r.name in CLIENT_LOGGERS and r.levelno == logging.INFO]
    assert len(noisy) == REQUESTS  # what the collector logged before: one line per request
    caplog.clear()

    configure_logging("info")  # what `gputel collector` and `gputel up` do first
    caplog.set_level(logging.INFO)
    assert _write_requests(REQUESTS) == REQUESTS
    assert [r.getMessage() for r in caplog.records if r.name.split(".")[0] in CLIENT_LOGGERS
            and r.levelno < logging.WARNING] == []
    logging.getLogger("gputel.collector").info("still heard")
    assert "still heard" in caplog.messages  # gputel's own INFO lines are kept


@pytest.mark.usefixtures("restore_levels")
def test_debug_lets_the_http_client_speak() -> None:
    configure_logging("debug")
    assert all(logging.getLogger(name).getEffectiveLevel() <= logging.DEBUG
               for name in CLIENT_LOGGERS)
