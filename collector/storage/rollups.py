"""Rollup tiers: per (node, GPU, metric) and bucket, min/max/sum/count/last at coarser steps.

The engine computes them with SQL as head rows seal into a block (engine.Engine.seal), in
the transaction that removes those rows from the head, so each sample is rolled up once.
A bucket spanning two seals has two partial rows; `RollupReader` merges them as it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gputel.collector.storage.engine import Engine, Tier

__all__ = ["DEFAULT_TIERS", "BucketReads", "Buckets", "RollupReader", "Tier"]

DEFAULT_TIERS = (Tier(10 * 10**9, 7 * 86400 * 10**9), Tier(300 * 10**9, 90 * 86400 * 10**9))


@dataclass(frozen=True, slots=True)
class Buckets:
    """Rollup buckets of one series, ascending: start (ns) and the five aggregates."""

    start_ns: npt.NDArray[np.int64]
    min: npt.NDArray[np.float64]
    max: npt.NDArray[np.float64]
    sum: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]
    last: npt.NDArray[np.float64]


class BucketReads(Protocol):
    """What the query side reads of rollups: RollupReader (embedded) or
    storage.remote.RemoteRollups (computed by a remote TSDB)."""

    def read(self, tier_ns: int, node: str, gpu: str, metric: str, start_ns: int,
             end_ns: int) -> Buckets:
        """Buckets whose start lies in [start_ns, end_ns]."""


class RollupReader:
    """Reads rollup buckets from the engine (any thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read(self, tier_ns: int, node: str, gpu: str, metric: str, start_ns: int,
             end_ns: int) -> Buckets:
        """Buckets whose start lies in [start_ns, end_ns]."""
        got = self._engine.cursor().execute(
            "SELECT bucket, min(min) AS mn, max(max) AS mx, sum(sum) AS sm, "
            "sum(count)::BIGINT AS n, arg_max(last, last_ts) AS last FROM rollups "
            "WHERE tier = ? AND node = ? AND gpu = ? AND metric = ? AND bucket BETWEEN ? AND ? "
            "GROUP BY bucket ORDER BY bucket",
            [tier_ns, node, gpu, metric, start_ns, end_ns]).fetchnumpy()
        return Buckets(np.asarray(got["bucket"], dtype=np.int64),
                       np.asarray(got["mn"], dtype=np.float64),
                       np.asarray(got["mx"], dtype=np.float64),
                       np.asarray(got["sm"], dtype=np.float64),
                       np.asarray(got["n"], dtype=np.int64),
                       np.asarray(got["last"], dtype=np.float64))

    def count(self, tier_ns: int) -> int:
        """Rollup rows held in one tier (a bucket spanning two seals has two)."""
        rows = self._engine.cursor().execute("SELECT count(*) FROM rollups WHERE tier = ?",
                                             [tier_ns]).fetchall()  # to the end: a half-read
        return int(rows[0][0]) if rows else 0  # result would block this thread's cursor
