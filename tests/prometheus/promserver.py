"""Real TSDB servers and promtool for tests: data in a tmp dir, loopback port.

Prometheus and promtool come from the Debian package `prometheus`, VictoriaMetrics
single-node from `victoria-metrics` (scripts/install-test-deps.sh installs both). Both
servers share one harness (`TsdbServer`): start, wait until ready, query, SIGKILL or stop,
restart on the same data and port. A missing binary fails the test that needs it with a
message saying how to install it; it never skips, so a CI machine without them cannot pass
quietly.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx
import pytest

from tests.harness.servers import wait_until

INSTALL_HINT = ("run scripts/install-test-deps.sh (installs the Debian packages prometheus and "
                "victoria-metrics)")


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


class TsdbServer:
    """A TSDB server as a child process; `start()` blocks until `ready_path` answers 200.

    Subclasses give `argv()` and `ready_path`; `kind` names the server in messages.
    """

    kind = "tsdb"
    ready_path = "/-/ready"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        """The command line (binary first)."""
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Self:
        """Start (or restart, same data and port) and wait until ready."""
        log = (self.workdir / f"{self.kind}.log").open("ab")
        self._proc = subprocess.Popen(self.argv(), stdout=log, stderr=log)
        log.close()
        wait_until(self._ready, timeout=timeout, interval=0.05, what=f"{self.kind} ready")
        return self

    def _ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            log = (self.workdir / f"{self.kind}.log").read_text()[-2000:]
            raise AssertionError(f"{self.kind} exited with {self._proc.returncode}:\n{log}")
        try:
            return httpx.get(f"{self.base}{self.ready_path}", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL and reap (a crash); idempotent."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
        self._proc = None

    def stop(self) -> None:
        """SIGTERM and wait (the data is closed cleanly); idempotent."""
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


class PrometheusServer(TsdbServer):
    """`prometheus` with a config in the work dir; `out_of_order_window` (e.g. "1h") lets
    it take samples older than a series' newest (resends after a collector failover)."""

    kind = "prometheus"

    def __init__(self, workdir: Path, scrape_targets: dict[str, str] | None = None,
                 remote_write_receiver: bool = False, scrape_interval: str = "1s",
                 port: int | None = None, out_of_order_window: str = "") -> None:
        super().__init__(workdir, port)
        self._receiver = remote_write_receiver
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in (scrape_targets or {}).items())
        (workdir / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {scrape_interval}\n  scrape_timeout: {scrape_interval}\n"
            f"  evaluation_interval: {scrape_interval}\n"
            + (f"scrape_configs:\n{jobs}" if jobs else "")
            + (f"storage:\n  tsdb:\n    out_of_order_time_window: {out_of_order_window}\n"
               if out_of_order_window else ""))

    def argv(self) -> list[str]:
        """The command line."""
        argv = [binary("prometheus"), f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        if self._receiver:
            argv.append("--web.enable-remote-write-receiver")
        return argv


class VictoriaMetricsServer(TsdbServer):
    """VictoriaMetrics single-node: remote write at /api/v1/write, the Prometheus query API
    at /api/v1/. Started as gputel's README asks: samples of one series and millisecond kept
    once (-dedup.minScrapeInterval=1ms), fresh samples visible at once
    (-search.latencyOffset=0s), no response cache."""

    kind = "victoria-metrics"
    ready_path = "/health"

    def argv(self) -> list[str]:
        """The command line."""
        return [binary("victoria-metrics"), f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}", "-loggerLevel=ERROR",
                "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s",
                "-search.disableCache", "-retentionPeriod=100y"]

    def flush(self) -> None:
        """Make every accepted sample searchable now (VictoriaMetrics buffers ~1 s)."""
        httpx.get(f"{self.base}/internal/force_flush", timeout=10).raise_for_status()


def wait_for_value(server: TsdbServer, promql: str, predicate: Callable[[float], bool],
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

