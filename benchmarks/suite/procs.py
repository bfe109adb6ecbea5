"""The two servers under test, as child processes seen from outside: gputel's collector
(`benchmarks/ingest.py` starts it) and Debian's Prometheus 2.42 (the peer).

Only public interfaces: the process (psutil CPU and RSS, signals), its data directory's
size on disk, and its HTTP APIs.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.ingest import CollectorProcess, start_collector

INSTALL_HINT = ("run scripts/install-test-deps.sh (installs the Debian packages prometheus "
                "and victoria-metrics)")
# The collector as the suite runs it: default retention and tiers (what an operator gets),
# no query rate limit (the suite asks thousands of times), room for one GPU's raw hour.
COLLECTOR_FLAGS = ("--retention", "1h", "--rate-limit", "0", "--max-points", "1000000",
                   "--query-queue-timeout", "60s")


class BenchError(RuntimeError):
    """A server would not start or answer; the message says which and why."""


def binary(name: str) -> str:
    """Path of `prometheus`, `promtool` or `victoria-metrics`. Raises BenchError saying how
    to install it."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                  else None)
    if path is None:
        raise BenchError(f"{name} is not installed: {INSTALL_HINT}")
    return path


def wait_for(check: Callable[[], bool], timeout: float, what: str,
             interval: float = 0.01) -> float:
    """Poll check until true; return the seconds it took. Raises BenchError on timeout."""
    t0 = time.perf_counter()
    while not check():
        if time.perf_counter() - t0 > timeout:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - t0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process now."""
    return int(psutil.Process(pid).memory_info().rss)


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under path (st_blocks, as `du` counts), 0 when absent."""
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def file_bytes(path: Path) -> int:
    """Sum of the sizes of the files under path."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Signals:
    """kill (SIGKILL, as a crash) and stop (SIGTERM, a clean shutdown) of a server."""

    def _popen(self) -> subprocess.Popen[bytes] | None:
        raise NotImplementedError

    def _forget(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown."""
        self._end(signal.SIGTERM)

    def _end(self, sig: int) -> None:
        proc = self._popen()
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(120)
        self._forget()


@dataclass
class Gputel(Signals):
    """A collector process over a data directory; restartable on the same directory."""

    data_dir: Path
    launcher: tuple[str, ...] = ()
    proc: CollectorProcess | None = None
    http: httpx.Client = field(default_factory=httpx.Client)  # replaced at each start
    store: str = "duckdb"  # or remote, with --tsdb-url in `flags`
    flags: tuple[str, ...] = ()

    def start(self) -> float:
        """Start and wait until /readyz answers 200; return the seconds from exec."""
        t0 = time.perf_counter()
        self.http.close()
        self.http = httpx.Client(timeout=300)
        self.proc = start_collector(self.store, str(self.data_dir),
                                    (*COLLECTOR_FLAGS, *self.flags),
                                    self.launcher or (sys.executable, "-m", "gputel.cli"),
                                    log_path=str(self.data_dir.parent / "collector.log"))
        wait_for(self._ready, 600, "the collector's /readyz")
        return time.perf_counter() - t0

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.proc.poll() is not None:
            log = (self.data_dir.parent / "collector.log").read_text(errors="replace")
            raise BenchError(f"collector exited {self.proc.proc.returncode}: {log[-2000:]}")
        try:
            return self.http.get(f"{self.proc.base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def pid(self) -> int:
        """The collector's process id."""
        assert self.proc is not None
        return self.proc.proc.pid

    @property
    def target(self) -> str:
        """gRPC address."""
        assert self.proc is not None
        return self.proc.target

    def get(self, path: str, **params: str | float) -> dict[str, Any]:
        """GET an /api/v1 route; its `data`. Raises BenchError on an error answer."""
        assert self.proc is not None
        answer = self.http.get(f"{self.proc.base}/api/v1{path}", params=params)
        if answer.status_code != 200:
            raise BenchError(f"gputel {path}: {answer.status_code} {answer.text[:300]}")
        data: dict[str, Any] = answer.json()["data"]
        return data

    def _popen(self) -> subprocess.Popen[bytes] | None:
        return None if self.proc is None else self.proc.proc

    def _forget(self) -> None:
        self.proc = None
        self.http.close()


class _Server(Signals):
    """A TSDB server process in workdir on a free loopback port, restartable on its data.
    Subclasses give `kind`, `ready_path` and `argv()`."""

    kind = "server"
    ready_path = "/-/ready"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client()  # replaced at each start
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def base(self) -> str:
        """Its HTTP base URL."""
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        """The command line."""
        raise NotImplementedError

    def start(self) -> float:
        """Start (or restart on the same data) and wait until ready; return seconds."""
        argv = self.argv()
        t0 = time.perf_counter()
        self.http.close()
        self.http = httpx.Client(timeout=300)
        with (self.workdir / f"{self.kind}.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        wait_for(self._ready, 600, f"{self.kind} {self.ready_path}")
        return time.perf_counter() - t0

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.workdir / f"{self.kind}.log").read_text(errors="replace")
            raise BenchError(f"{self.kind} exited {self.proc.returncode}: {log[-2000:]}")
        try:
            return self.http.get(f"{self.base}{self.ready_path}", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def pid(self) -> int:
        """Its process id."""
        assert self.proc is not None
        return self.proc.pid

    def _popen(self) -> subprocess.Popen[bytes] | None:
        return self.proc

    def _forget(self) -> None:
        self.proc = None
        self.http.close()


class Prometheus(_Server):
    """Prometheus 2.42 with its remote-write receiver, TSDB in workdir/tsdb."""

    kind = "prometheus"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        (workdir / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")

    @property
    def tsdb(self) -> Path:
        """Its data directory."""
        return self.workdir / "tsdb"

    def argv(self) -> list[str]:
        """The command line."""
        return [binary("prometheus"), f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.tsdb}", "--storage.tsdb.retention.time=30d",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
                "--web.enable-remote-write-receiver"]

    def write(self, body: bytes, client: httpx.Client | None = None) -> None:
        """POST one remote-write body. Raises BenchError unless it was accepted (2xx)."""
        answer = (client or self.http).post(
            f"{self.base}/api/v1/write", content=body,
            headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                     "X-Prometheus-Remote-Write-Version": "0.1.0"})
        if answer.status_code // 100 != 2:
            raise BenchError(f"prometheus refused a write: {answer.status_code} "
                             f"{answer.text[:300]}")

    def appended(self) -> float:
        """Samples its head accepted so far (prometheus_tsdb_head_samples_appended_total)."""
        text = self.http.get(f"{self.base}/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("prometheus_tsdb_head_samples_appended_total"))

    def query(self, promql: str, at: float) -> list[dict[str, Any]]:
        """An instant query's result. Raises BenchError on an error answer."""
        return self._api("query", query=promql, time=f"{at:.3f}")

    def query_range(self, promql: str, start: float, end: float, step: float
                    ) -> list[dict[str, Any]]:
        """A range query's result. Raises BenchError on an error answer."""
        return self._api("query_range", query=promql, start=f"{start:.3f}", end=f"{end:.3f}",
                         step=f"{step:g}")

    def _api(self, route: str, **params: str) -> list[dict[str, Any]]:
        body = self.http.get(f"{self.base}/api/v1/{route}", params=params).json()
        if body.get("status") != "success":
            raise BenchError(f"prometheus {route} {params}: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


class VictoriaMetrics(_Server):
    """VictoriaMetrics single-node, flagged as gputel's README asks for `--store remote`."""

    kind = "victoria-metrics"
    ready_path = "/health"

    def argv(self) -> list[str]:
        """The command line."""
        return [binary("victoria-metrics"), f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}", "-loggerLevel=ERROR",
                "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s",
                "-retentionPeriod=100y"]

    def flush(self) -> None:
        """Make every accepted sample searchable now."""
        self.http.get(f"{self.base}/internal/force_flush").raise_for_status()

    def gputel_samples(self) -> int:
        """Samples of gputel's series it holds (after a flush)."""
        self.flush()
        body = self.http.get(f"{self.base}/api/v1/query", params={
            "query": 'sum(count_over_time({__name__=~"gputel_store_.+"}[100d]))'}).json()
        result = body["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0
