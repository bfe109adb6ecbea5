"""`gputel up` as a child process for tests of its clients (the web console, `gputel top`),
with a way to hold its numbers still: the agent is paused (SIGSTOP), so every value the API
answers stays put while a client's screen is compared with it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.harness.servers import wait_until

_HTTP = re.compile(r"HTTP on http://[^:]+:(\d+)")


@dataclass
class UpProcess:
    """`gputel up` on simulated GPUs with loopback ports the OS picks."""

    data_dir: Path
    args: list[str] = field(default_factory=list)
    token: str | None = None
    proc: subprocess.Popen[str] | None = None
    http_port: int = 0
    lines: list[str] = field(default_factory=list)

    def start(self, gpus: int = 4) -> UpProcess:
        argv = [sys.executable, "-m", "gputel.cli", "up", "--host", "127.0.0.1",
                "--grpc-port", "0", "--http-port", "0", "--agent-port", "0", "--node", "laptop",
                "--gpus", str(gpus), "--store", "memory", "--data-dir", str(self.data_dir),
                "--log-level", "warning", *self.args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = _HTTP.search(line)
            if match:
                self.http_port = int(match[1])
                break
        else:
            raise AssertionError(f"gputel up exited before serving: {''.join(self.lines)}")
        wait_until(lambda: self._reporting() == gpus, timeout=30, interval=0.1,
                   what=f"{gpus} GPUs reporting through gputel up")
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1{path}; the `data` of its answer."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.get(f"{self.base}/api/v1{path}", params=params, headers=headers,
                             timeout=10)
        response.raise_for_status()
        return response.json()["data"]

    def _reporting(self) -> int:
        try:
            nodes = self.api("/nodes")
        except httpx.HTTPError:
            return 0
        return next((n["gpuCount"] for n in nodes if n["samplesIngested"] > 0), 0)

    def agent(self) -> psutil.Process:
        assert self.proc is not None
        children = psutil.Process(self.proc.pid).children()
        assert len(children) == 1, children
        return children[0]

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The agent paused: once its last frame is in, the API's numbers hold still. Keep
        it short: the collector's keepalive drops a silent stream after about 10 s."""
        agent = self.agent()
        agent.suspend()
        try:
            last: list[int] = []

            def settled() -> bool:  # the samples ingested stopped growing
                last.append(self.api("/nodes")[0]["samplesIngested"])
                return len(last) >= 3 and last[-1] == last[-3]

            wait_until(settled, timeout=5, interval=0.2, what="the agent's last frame")
            yield
        finally:
            agent.resume()

    def stop(self) -> str:
        """SIGTERM, wait; what it printed."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            rest, _ = self.proc.communicate(timeout=30)
            self.lines.append(rest or "")
        return "".join(self.lines)
