"""A node's firstSeen survives collector restarts: it is its first hello ever, not the last."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gputel.collector.timefmt import parse_time
from tests.harness.held_frames import open_node
from tests.harness.servers import CollectorThread, get_json


def _first_seen(server: CollectorThread) -> int:
    status, body = get_json(f"{server.http_base}/api/v1/nodes/n1")
    assert status == 200
    return parse_time("firstSeen", body["data"]["firstSeen"])


@contextmanager
def _collector(data_dir: Path) -> Iterator[CollectorThread]:
    """A collector on data_dir, stopped (its store closed) even when the test fails in it."""
    server = CollectorThread(data_dir=data_dir).start()
    try:
        yield server
    finally:
        server.stop()


def test_first_seen_is_the_first_hello_across_restarts(tmp_path: Path) -> None:
    before = time.time_ns()
    with _collector(tmp_path) as first:
        open_node(first.grpc_target, "n1").close()
        seen = _first_seen(first)
        assert seen >= before - 10**6  # RFC 3339 keeps microseconds
    for _ in range(2):  # each restart: the agent says hello again, later
        with _collector(tmp_path) as again:
            assert _first_seen(again) == seen
            open_node(again.grpc_target, "n1").close()
            assert _first_seen(again) == seen
