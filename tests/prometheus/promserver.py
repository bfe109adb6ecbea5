"""A real Prometheus server and promtool for tests: config and TSDB in a tmp dir, loopback port.

Both come from the Debian package `prometheus` (scripts/install-test-deps.sh). A missing
binary fails the test that needs it with a message saying how to install it; it never
skips, so a CI machine without them cannot pass quietly.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.servers import wait_until

INSTALL_HINT = "run scripts/install-test-deps.sh (installs the Debian package prometheus)"


def binary(name: str) -> str:
    """Path of `prometheus` or `promtool`; fails the test with how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return path


def promtool_check(text: str) -> tuple[int, str]:
    """`promtool check metrics` over text: (exit code, its complaints)."""
    done = subprocess.run([binary("promtool"), "check", "metrics"], input=text, text=True,
                          capture_output=True, timeout=30, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusServer:
    """`prometheus` as a child process; `start()` blocks until /-/ready answers 200."""

    def __init__(self, workdir: Path, scrape_targets: dict[str, str] | None = None,
                 remote_write_receiver: bool = False, scrape_interval: str = "1s",
                 port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self._receiver = remote_write_receiver
        self._proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in (scrape_targets or {}).items())
        (workdir / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {scrape_interval}\n  scrape_timeout: {scrape_interval}\n"
            f"  evaluation_interval: {scrape_interval}\n"
            + (f"scrape_configs:\n{jobs}" if jobs else ""))

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        """Start (or restart, same TSDB and port) and wait until ready."""
        argv = [binary("prometheus"), f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        if self._receiver:
            argv.append("--web.enable-remote-write-receiver")
        log = (self.workdir / "prometheus.log").open("ab")
        self._proc = subprocess.Popen(argv, stdout=log, stderr=log)
        log.close()
        wait_until(self._ready, timeout=timeout, interval=0.05, what="prometheus ready")
        return self

    def _ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            log = (self.workdir / "prometheus.log").read_text()[-2000:]
            raise AssertionError(f"prometheus exited with {self._proc.returncode}:\n{log}")
        try:
            return httpx.get(f"{self.base}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """SIGTERM and wait (the TSDB is closed cleanly); idempotent."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result list (vector or matrix). Raises AssertionError on error."""
        params: dict[str, str] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = httpx.get(f"{self.base}/api/v1/query", params=params, timeout=10).json()
        assert body["status"] == "success", f"{promql}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def scalar(self, promql: str, at: float | None = None) -> float | None:
        """The single value of a one-series instant query, None when it returned nothing."""
        result = self.query(promql, at)
        if not result:
            return None
        assert len(result) == 1, f"{promql} returned {len(result)} series"
        return float(result[0]["value"][1])

    def samples(self, selector: str, window: str, at: float | None = None
                ) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
        """Raw samples of a range selector: per label set, [(unix seconds, value), ...]."""
        out = {}
        for series in self.query(f"{selector}[{window}]", at):
            key = tuple(sorted(series["metric"].items()))
            out[key] = [(float(t), float(v)) for t, v in series["values"]]
        return out


def wait_for_value(server: PrometheusServer, promql: str, predicate: Callable[[float], bool],
                   timeout: float = 20.0) -> float:
    """Poll an instant query until its single value satisfies `predicate`; return it."""
    seen: list[float | None] = [None]

    def check() -> bool:
        seen[0] = server.scalar(promql)
        return seen[0] is not None and predicate(seen[0])

    try:
        wait_until(check, timeout=timeout, interval=0.1, what=promql)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last value {seen[0]}") from None
    assert seen[0] is not None
    return seen[0]

