"""Shared fixtures: a real collector on loopback for each test that asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.servers import CollectorThread


@pytest.fixture
def collector() -> Iterator[CollectorThread]:
    """A collector serving gRPC and HTTP on OS-chosen loopback ports."""
    server = CollectorThread().start()
    yield server
    server.stop()
