"""What one query may cost, and how many costly queries run at once.

A range over a node of 1,024 GPUs reads every sample of every GPU in the range and holds
series x points values; a few of those at once took seconds each and hundreds of MiB.
Every costly answer (range series, heatmap, utilization history, usage statistics, cost)
runs inside `QueryGate.heavy()`:

- series x points of the answer is checked before anything is read (`max_series_points`);
- raw samples (and rollup buckets) read are charged as they are read, and the query stops
  with INVALID_PARAMETER past `max_samples`: range series only (a node's or a workload's),
  which a shorter range or one GPU narrows; cluster-wide answers have no such parameter;
- at most `max_concurrent` run at once; one more waits up to `queue_seconds`, then gets
  RATE_LIMITED (HTTP 429, gRPC RESOURCE_EXHAUSTED).

Queries run in worker threads (FastAPI's threadpool, asyncio.to_thread), never on the event
loop, so the gate is a thread semaphore. The budget of the query running in a thread lives
in a context variable, so the store readers charge it without it being passed around.
"""

from __future__ import annotations

import contextvars
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gputel.collector.errors import GputelError, InvalidParameterError

__all__ = ["QueryBusyError", "QueryGate", "QueryLimits", "charge"]


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Per-request bounds (values: series x points; raw samples read) and concurrency."""

    max_series_points: int = 2_000_000
    max_samples: int = 20_000_000
    max_concurrent: int = 4
    queue_seconds: float = 2.0


class QueryBusyError(GputelError):
    """Every slot for costly queries is taken; try again shortly."""

    code = "RATE_LIMITED"


@dataclass(slots=True)
class _Budget:
    limit: int  # -1: unbounded
    used: int = 0


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("gputel_query_budget",
                                                                        default=None)


def charge(samples: int) -> None:
    """Count `samples` read against the running query's budget (no-op outside one).

    Raises InvalidParameterError naming `range` when the budget is spent.
    """
    budget = _BUDGET.get()
    if budget is None or budget.limit < 0:
        return
    budget.used += samples
    if budget.used > budget.limit:
        raise InvalidParameterError(
            "range", f"the query reads more than {budget.limit} raw samples (the collector's "
            "--query-max-samples): ask for a shorter range or one GPU (gpu=...)")


class QueryGate:
    """The limits plus the counters /metrics shows: queries running now, refused by reason
    (`too_large`: series x points or samples; `busy`: no slot within queue_seconds)."""

    def __init__(self, limits: QueryLimits | None = None) -> None:
        self.limits = limits or QueryLimits()
        if self.limits.max_concurrent < 1 or self.limits.max_series_points < 1 \
                or self.limits.max_samples < 1 or self.limits.queue_seconds < 0:
            raise ValueError("query limits must be positive")
        self._slots = threading.BoundedSemaphore(self.limits.max_concurrent)
        self._lock = threading.Lock()
        self.running = 0
        self.refused = {"too_large": 0, "busy": 0}

    def target_points(self, series: int, wanted: int) -> int:
        """Points per series a defaulted step aims for: `wanted`, fewer for many series."""
        return max(2, min(wanted, self.limits.max_series_points // max(series, 1)))

    @contextmanager
    def heavy(self, series: int, points: int, start_ns: int = 0, end_ns: int = 0,
              bound_samples: bool = True) -> Iterator[None]:
        """Run one costly query: check its size, take a slot, budget its reads.

        `bound_samples` False for cluster-wide answers that no parameter can narrow (cost,
        usage statistics, heatmap, utilization history): they only take a slot. Nested
        calls (a query built on another) share the outer slot and budget.
        Raises InvalidParameterError (step, range) or QueryBusyError.
        """
        if _BUDGET.get() is not None:
            yield
            return
        self._check_size(series, points, start_ns, end_ns)
        if not self._slots.acquire(timeout=self.limits.queue_seconds):
            self._count("busy")
            raise QueryBusyError(
                f"{self.limits.max_concurrent} costly queries are running (the collector's "
                "--query-max-concurrent); try again shortly", {"retryAfterSeconds": 1})
        token = _BUDGET.set(_Budget(self.limits.max_samples if bound_samples else -1))
        with self._lock:
            self.running += 1
        try:
            yield
        except InvalidParameterError as exc:
            if exc.parameter == "range":
                self._count("too_large")
            raise
        finally:
            _BUDGET.reset(token)
            with self._lock:
                self.running -= 1
            self._slots.release()

    def _check_size(self, series: int, points: int, start_ns: int, end_ns: int) -> None:
        cap = self.limits.max_series_points
        if series * points <= cap:
            return
        self._count("too_large")
        hint = "ask for one GPU (gpu=...)"
        if end_ns > start_ns and cap // max(series, 1) >= 2:
            least = math.ceil((end_ns - start_ns) / (cap // series - 1) / 1e9)
            hint = f"raise step to at least {least} s or {hint}"
        raise InvalidParameterError(
            "step", f"the answer would hold {series} series x {points} points = "
            f"{series * points} values; the limit is {cap} (the collector's "
            f"--query-max-series-points): {hint}")

    def _count(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] += 1
