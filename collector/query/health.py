"""The collector's health answer (/api/v1/health, gRPC GetHealth), from what each stage holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gputel.collector.errors import UnavailableError
from gputel.collector.registry.nodes import NodeState
from gputel.collector.storage.durable import DurableStore
from gputel.collector.storage.rollups import Tier
from gputel.collector.storage.store import SeriesReads, SeriesStore
from gputel.proto.version import VERSION


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """The store: kind (memory, duckdb), status (ok; failing while writes fail; degraded
    after damage was found: a file quarantined, a truncated database), samples held, full-rate
    retention in seconds, and on disk its directory, size in bytes, failed writes, tiers as
    (step, retention) seconds and what damage was found."""

    kind: str
    status: str
    samples: int
    retention_seconds: float
    path: str | None = None
    size_bytes: int | None = None
    write_failures: int | None = None
    tiers: tuple[tuple[float, float], ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The collector: status (ok, starting), version, store, agents, alerts, uptime (s), and
    the compatibility APIs it serves."""

    status: str
    version: str
    store: StoreHealth
    connected_agents: int
    nodes: int
    active_alerts: int
    uptime_seconds: float
    compat: tuple[str, ...] = ()


def store_health(store: SeriesStore, durable: DurableStore, retention_seconds: float,
                 tiers: Sequence[Tier]) -> StoreHealth:
    """The store's part: in memory, or on disk (DuckDB and its blocks)."""
    samples = store.sample_count()
    engine = durable.engine
    status = "failing" if durable.failing else "degraded" if engine.problems else "ok"
    if engine.data_dir is None:
        return StoreHealth("memory", status, samples, retention_seconds)
    return StoreHealth("duckdb", status, samples, retention_seconds,
                       str(engine.data_dir), durable.size_bytes(), durable.stats.failures,
                       tuple((t.step_ns / 1e9, t.retention_ns / 1e9) for t in tiers),
                       tuple(engine.problems))


def remote_health(store: SeriesReads, failing: str, path: str,
                  retention_seconds: float) -> StoreHealth:
    """The store's part over a remote TSDB: kind `remote`, failing while writes fail,
    samples within the retention (-1 when the TSDB cannot say), the write URL as path."""
    try:
        samples = store.sample_count()
    except UnavailableError:
        samples, failing = -1, failing or "the TSDB cannot answer queries"
    return StoreHealth("remote", "failing" if failing else "ok", samples, retention_seconds,
                       path, problems=(failing,) if failing else ())


def health_report(ready: bool, nodes: Sequence[NodeState], store: StoreHealth,
                  active_alerts: int, uptime_seconds: float,
                  compat: tuple[str, ...] = ()) -> HealthReport:
    """The whole answer: `ready` says serving (else "starting"); agents count live streams."""
    return HealthReport("ok" if ready else "starting", VERSION, store,
                        sum(1 for n in nodes if n.streams > 0), len(nodes), active_alerts,
                        uptime_seconds, compat)
