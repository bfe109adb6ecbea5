"""One `gputel up` for the console and `gputel top` tests: 4 simulated GPUs, API tokens on
(a read and an admin token), alerts that fire within seconds (an idle GPU held for 1 s; a
training GPU past 34 C), no rate limit (the browser and the test both poll it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.up import UpProcess

READ_TOKEN = "console-read-7f3a"
ADMIN_TOKEN = "console-admin-91c2"


@pytest.fixture(scope="session")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    process = UpProcess(tmp_path_factory.mktemp("up"), args=[
        "--api-tokens", f"{READ_TOKEN}:read,{ADMIN_TOKEN}:admin", "--rate-limit", "0",
        "--alert-interval", "0.5s", "--alert-idle-for", "1s", "--alert-temperature", "34",
        "--gpu-lost-min-seconds", "600"], token=READ_TOKEN)
    process.start()
    yield process
    out = process.stop()
    assert "Traceback" not in out, out


@pytest.fixture(scope="session")
def docs_dir() -> Path | None:
    """Where screenshots for the README go: docs/ when GPUTEL_UPDATE_SCREENSHOTS=1, else
    nowhere (a test run leaves the tracked files alone)."""
    import os  # noqa: PLC0415

    if os.environ.get("GPUTEL_UPDATE_SCREENSHOTS") != "1":
        return None
    return Path(__file__).resolve().parents[2] / "docs"
