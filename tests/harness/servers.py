"""Real servers for tests: a collector in a thread or in its own process, agents on sim GPUs."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

from gputel.agent.backends.base import BackendHealth, DeviceInfo, Inventory, Reading
from gputel.agent.backends.sim import SimBackend
from gputel.agent.runtime import Agent, AgentConfig
from gputel.agent.spool import Spool
from gputel.collector.server import Collector, CollectorConfig
from gputel.proto.metrics import wire_per_unit

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port free right now (for servers that must restart on the same port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0,
               interval: float = 0.02, what: str = "condition") -> None:
    """Re-check predicate until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class CollectorThread:
    """A Collector on its own asyncio loop in a background thread, ports chosen by the OS."""

    def __init__(self, **config: object) -> None:
        base = {"grpc_host": "127.0.0.1", "grpc_port": 0, "http_host": "127.0.0.1",
                "http_port": 0}
        self.collector = Collector(CollectorConfig(**{**base, **config}))  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> CollectorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.collector.start(), self._loop).result(20)
        return self

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the collector's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.collector.stop(0.2), self._loop).result(20)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(20)
        self._loop.close()

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.collector.grpc_port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.collector.http_port}"


_COLLECTOR_LINE = re.compile(r"gRPC on [^:]+:(\d+), HTTP on http://[^:]+:(\d+)")


@dataclass
class CollectorProcess:
    """`gputel collector` as a real child process (so it can be SIGKILLed)."""

    data_dir: str
    grpc_port: int = 0
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None
    http_port: int = 0

    def start(self) -> CollectorProcess:
        argv = [sys.executable, "-m", "gputel.cli", "collector", "--host", "127.0.0.1",
                "--grpc-port", str(self.grpc_port), "--http-port", "0", "--log-level",
                "warning", "--data-dir", self.data_dir, *self.args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # the collector prints its ports once it listens
            match = _COLLECTOR_LINE.search(line)
            if match:
                self.grpc_port, self.http_port = int(match[1]), int(match[2])
                return self
        raise AssertionError(f"collector exited with {self.proc.wait()} before listening")

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


class RecordingBackend:
    """Wraps a backend and keeps every (ts_ns, values) it returned, to check what arrives:
    values in the catalogue's API units (watts, joules), as the collector keeps them."""

    def __init__(self, inner: SimBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.ticks: list[tuple[int, np.ndarray]] = []
        self._per_unit = np.array(wire_per_unit(inner.metrics()), dtype=np.float64)

    def open(self) -> None:
        self.inner.open()

    def devices(self) -> list[DeviceInfo]:
        return self.inner.devices()

    def metrics(self) -> tuple[str, ...]:
        return self.inner.metrics()

    def read(self, ts_ns: int) -> Reading:
        reading = self.inner.read(ts_ns)
        self.ticks.append((ts_ns, reading.values / self._per_unit))
        return reading

    def health(self) -> BackendHealth:
        return self.inner.health()

    def inventory(self) -> list[Inventory]:
        return self.inner.inventory()

    def close(self) -> None:
        self.inner.close()


@contextmanager
def running_agent(target: str, node: str = "node-a", gpus: int = 4, rate_hz: float = 10.0,
                  max_ticks: int | None = None, flush_seconds: float = 1.0,
                  seed: int = 7, wrap: Callable[[SimBackend], Any] | None = None,
                  spool_factory: Callable[[Path], Spool] = Spool,
                  **config: object) -> Iterator[Agent]:
    """A started agent on recorded sim GPUs (optionally wrapped); stopped and drained on exit."""
    sim = SimBackend(gpus=gpus, seed=seed, salt=node)
    backend = RecordingBackend(wrap(sim) if wrap else sim)
    settings: dict[str, Any] = {"backoff_max_seconds": 0.5, **config}
    agent = Agent(AgentConfig(node=node, collector=target, rate_hz=rate_hz, http_host="127.0.0.1",
                              http_port=0, max_ticks=max_ticks, flush_seconds=flush_seconds,
                              **settings),
                  backend, spool_factory=spool_factory)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop(drain_timeout=5.0)


def wait_sampled(agent: Agent, timeout: float) -> bool:
    """Block until the agent's sampler has stopped by itself (max_ticks reached)."""
    assert agent.sampler is not None
    return agent.sampler.finished.wait(timeout)


def get_json(url: str, **params: object) -> tuple[int, dict]:
    """GET url and return (status, parsed JSON body)."""
    response = httpx.get(url, params=params, timeout=10)
    return response.status_code, response.json()
