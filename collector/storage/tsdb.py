"""A Prometheus-compatible TSDB as the collector's store: where to write and read, and how.

Writes are remote write 1.0 (a snappy-compressed `prometheus.WriteRequest` POSTed), reads
the standard Prometheus HTTP query API (`/api/v1/query`, `/api/v1/query_range`,
`/api/v1/series`, `/api/v1/labels`), so Prometheus (with `--web.enable-remote-write-receiver`),
VictoriaMetrics single-node and cluster, Mimir and Thanos Receive all serve it.

URL layouts (`TsdbEndpoints.build`):
- `prometheus` (Prometheus, VictoriaMetrics single-node, Mimir and Thanos behind one URL):
  write `<url>/api/v1/write`, read `<url>/api/v1/...`; Mimir's `/api/v1/push` and
  `/prometheus` prefix are given as `write_url` / `read_url` directly.
- `vm-cluster`: write `<write_url>/insert/<tenant>/prometheus/api/v1/write` (vminsert),
  read `<read_url>/select/<tenant>/prometheus/api/v1/...` (vmselect).

Answers: 2xx is accepted; 429, 5xx and connection errors are retried with exponential
backoff and full jitter until the caller's deadline (the agent's frame waits meanwhile,
never acknowledged before); another 4xx fails at once (the same bytes cannot succeed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import tenacity

from gputel.proto.version import VERSION

Layout = Literal["prometheus", "vm-cluster"]
LAYOUTS: tuple[Layout, ...] = ("prometheus", "vm-cluster")
RETRYABLE_STATUS = frozenset({429, *range(500, 600)})
WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": f"gputel-collector/{VERSION}",
}


class TsdbError(Exception):
    """The TSDB refused or could not be reached; `status` None when unreachable."""

    def __init__(self, message: str, status: int | None = None,
                 retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class TsdbEndpoints:
    """The remote-write URL and the base of the query API (ending before `/api/v1`)."""

    write: str
    read: str

    @classmethod
    def build(cls, layout: str, url: str = "", write_url: str = "", read_url: str = "",
              tenant: str = "0") -> TsdbEndpoints:
        """Endpoints from a layout and base URLs (`url` serves both unless one is given).

        Raises ValueError naming what is missing or wrong.
        """
        write_base = (write_url or url).rstrip("/")
        read_base = (read_url or url).rstrip("/")
        if not write_base or not read_base:
            raise ValueError("the remote TSDB needs --tsdb-url, or both --tsdb-write-url "
                             "and --tsdb-read-url")
        for name, value in (("write", write_base), ("read", read_base)):
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"the TSDB {name} URL {value!r} is not http(s)")
        if layout == "prometheus":
            write = write_url.rstrip("/") if write_url else f"{write_base}/api/v1/write"
            return cls(write, read_base)
        if layout == "vm-cluster":
            if not tenant or not all(part.isdigit() for part in tenant.split(":", 1)):
                raise ValueError(f"VictoriaMetrics tenant {tenant!r} is not accountID or "
                                 "accountID:projectID")
            return cls(f"{write_base}/insert/{tenant}/prometheus/api/v1/write",
                       f"{read_base}/select/{tenant}/prometheus")
        raise ValueError(f"TSDB layout {layout!r} is not one of {', '.join(LAYOUTS)}")


@dataclass(frozen=True, slots=True)
class TsdbSettings:
    """Endpoints, headers sent with every request (auth, tenant), timeouts (s)."""

    endpoints: TsdbEndpoints
    headers: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float = 10.0
    backoff_initial_seconds: float = 0.1
    backoff_max_seconds: float = 2.0


class TsdbClient:
    """One HTTP connection pool to the TSDB; thread-safe."""

    def __init__(self, settings: TsdbSettings) -> None:
        self.settings = settings
        self._client = httpx.Client(timeout=settings.timeout_seconds,
                                    headers=dict(settings.headers))

    def close(self) -> None:
        """Close the pool; idempotent."""
        self._client.close()

    # --------------------------------------------------------------- writes
    def write(self, body: bytes, deadline_seconds: float, stop: threading.Event,
              on_retry: Callable[[BaseException], object] | None = None) -> None:
        """POST one WriteRequest, retrying retryable answers until the deadline or `stop`
        (`on_retry(error)` before each wait).

        Raises TsdbError (the last answer) when it was not accepted.
        """
        s = self.settings
        retry = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, TsdbError)
                                              and e.retryable),
            wait=tenacity.wait_random_exponential(multiplier=s.backoff_initial_seconds,
                                                  max=s.backoff_max_seconds),
            stop=tenacity.stop_any(tenacity.stop_after_delay(deadline_seconds),
                                   tenacity.stop_when_event_set(stop)),
            sleep=lambda seconds: _wait(stop, seconds), reraise=True,
            before_sleep=lambda state: _report(state, on_retry))
        retry(self.write_once, body)

    def write_once(self, body: bytes) -> None:
        """POST once. Raises TsdbError."""
        url = self.settings.endpoints.write
        try:
            response = self._client.post(url, content=body, headers=WRITE_HEADERS)
        except httpx.TransportError as exc:
            raise TsdbError(f"cannot reach the TSDB at {url}: {exc!r}") from exc
        if not response.is_success:
            code = response.status_code
            raise TsdbError(f"the TSDB at {url} answered {code}: {response.text[:200].strip()}",
                            code, retryable=code in RETRYABLE_STATUS)

    # ---------------------------------------------------------------- reads
    def query(self, promql: str, at_ms: int) -> list[dict[str, Any]]:
        """An instant query at `at_ms` (Unix ms): the result list. Raises TsdbError."""
        got: list[dict[str, Any]] = self._ask("query", {"query": promql,
                                                         "time": _seconds(at_ms)})
        return got

    def query_range(self, promql: str, start_ms: int, end_ms: int,
                    step_ms: int) -> list[dict[str, Any]]:
        """A range query: the matrix. Raises TsdbError."""
        got: list[dict[str, Any]] = self._ask("query_range", {
            "query": promql, "start": _seconds(start_ms), "end": _seconds(end_ms),
            "step": _seconds(step_ms)})
        return got

    def series(self, match: str, start_ms: int, end_ms: int) -> list[dict[str, str]]:
        """Label sets of the series matching a selector in a range. Raises TsdbError."""
        got: list[dict[str, str]] = self._ask("series", {
            "match[]": match, "start": _seconds(start_ms), "end": _seconds(end_ms)})
        return got

    def labels(self) -> list[str]:
        """Every label name. Raises TsdbError."""
        got: list[str] = self._ask("labels", {})
        return got

    def _ask(self, path: str, params: Mapping[str, str]) -> Any:
        """A read of the Prometheus HTTP API, its parameters as a form body (POST, which
        every endpoint used here takes): a long query does not become a long URL."""
        url = f"{self.settings.endpoints.read}/api/v1/{path}"
        try:
            response = self._client.post(url, data=params)
        except httpx.TransportError as exc:
            raise TsdbError(f"cannot reach the TSDB at {url}: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not response.is_success or body.get("status") != "success":
            raise TsdbError(f"the TSDB at {url} answered {response.status_code}: "
                            f"{body.get('error') or response.text[:200].strip()}",
                            response.status_code, response.status_code in RETRYABLE_STATUS)
        data = body["data"]
        return data["result"] if isinstance(data, dict) else data


# Times kept as values are ms since 2020-01-01: 12 decimal digits until 2051, which
# VictoriaMetrics (12 significant digits) and float64 both hold exactly.
TIME_EPOCH_MS = 1_577_836_800_000


def time_value(ns: int) -> float:
    """A Unix-ns time as a value the TSDB keeps exactly (ms since TIME_EPOCH_MS)."""
    return float(ns // 1_000_000 - TIME_EPOCH_MS)


def value_time(value: float) -> int:
    """Back from time_value: Unix ns (whole ms)."""
    return (round(value) + TIME_EPOCH_MS) * 1_000_000


def _wait(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)


def _report(state: tenacity.RetryCallState,
            on_retry: Callable[[BaseException], object] | None) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    if on_retry is not None and error is not None:
        on_retry(error)


def _seconds(ms: int) -> str:
    """Unix ms as the API's decimal seconds."""
    return f"{ms // 1000}.{ms % 1000:03d}"


def label_value(value: str) -> str:
    """A string quoted for a PromQL label matcher."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
