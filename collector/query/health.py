"""The collector's health answer (/api/v1/health, gRPC GetHealth), from what each stage holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gputel.collector.registry.nodes import NodeState
from gputel.collector.storage.durable import FrameLog
from gputel.collector.storage.rollups import Tier
from gputel.collector.storage.store import SeriesStore
from gputel.proto.version import VERSION


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """The store: kind (memory, sqlite), status (ok, or degraded after a failed write),
    samples in the head, head retention in seconds, and for sqlite its file, size in bytes,
    failed writes and tiers as (step, retention) seconds."""

    kind: str
    status: str
    samples: int
    retention_seconds: float
    path: str | None = None
    size_bytes: int | None = None
    write_failures: int | None = None
    tiers: tuple[tuple[float, float], ...] = ()


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


def store_health(store: SeriesStore, log: FrameLog | None, retention_seconds: float,
                 tiers: Sequence[Tier]) -> StoreHealth:
    """The store's part: the head (memory) alone, or the SQLite frame log behind it."""
    samples = store.sample_count()
    if log is None:
        return StoreHealth("memory", "ok", samples, retention_seconds)
    return StoreHealth("sqlite", "failing" if log.failing else "ok", samples, retention_seconds,
                       str(log.path), log.size_bytes(), log.stats.failures,
                       tuple((t.step_ns / 1e9, t.retention_ns / 1e9) for t in tiers))


def health_report(ready: bool, nodes: Sequence[NodeState], store: StoreHealth,
                  active_alerts: int, uptime_seconds: float,
                  compat: tuple[str, ...] = ()) -> HealthReport:
    """The whole answer: `ready` says serving (else "starting"); agents count live streams."""
    return HealthReport("ok" if ready else "starting", VERSION, store,
                        sum(1 for n in nodes if n.streams > 0), len(nodes), active_alerts,
                        uptime_seconds, compat)
