"""The agent's one error tree: every error it raises on purpose is an AgentError, which the
CLI turns into one line and an exit code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gputel.agent.attribution.podresources import PodResourcesError
from gputel.agent.backends.base import BackendError, BackendUnavailable
from gputel.agent.backends.nvml_device import DeviceLostError
from gputel.agent.credentials import SecretError
from gputel.agent.errors import AgentError
from gputel.agent.spool import SpoolError, SpoolFullError
from gputel.agent.stream import StreamBrokenError


@pytest.mark.parametrize("kind", [BackendError, BackendUnavailable, DeviceLostError, SecretError,
                                  SpoolError, SpoolFullError, StreamBrokenError,
                                  PodResourcesError])
def test_every_agent_error_is_an_agent_error(kind: type[Exception]) -> None:
    assert issubclass(kind, AgentError)


def test_an_unreadable_token_file_exits_with_one_line(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gputel.cli", "agent", "--backend", "sim", "--agent-port", "0",
         "--token-file", "/nonexistent/token", "--spool-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "/nonexistent/token" in done.stderr
