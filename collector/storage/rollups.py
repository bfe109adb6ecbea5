"""Rollup tiers: per (node, GPU, metric) and bucket, min/max/sum/count/last at coarser steps.

`fold_frames` turns stored frames into rows for the rollup table (written by the
frame log); `RollupReader` reads them back for range queries older than the head.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import METRICS

RollupRow = tuple[int, str, str, str, int, float, float, float, int, float, int]


@dataclass(frozen=True, slots=True)
class Tier:
    """One rollup tier: bucket width and how long its buckets are kept (ns)."""

    step_ns: int
    retention_ns: int


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


def fold_frames(decoded: Iterable[tuple[str, str, pb.Hello, pb.Frame]],
                tiers: tuple[Tier, ...],
                on_bad: Callable[[str, str, int, Exception], object]) -> list[RollupRow]:
    """Aggregate every sample of the frames into one row per (tier, series, bucket).

    Each item is (node, agent instance, hello, frame); a frame that does not decode
    against its hello is passed to `on_bad` (node, instance, seq, error) and skipped.
    """
    series: dict[tuple[str, str, str], list[tuple[npt.NDArray[np.int64],
                                                  npt.NDArray[np.floating]]]] = {}
    for node, instance, hello, frame in decoded:
        try:
            blocks = frames.decode_frame(frame, len(hello.devices), hello.metrics)
        except frames.FrameError as exc:
            on_bad(node, instance, frame.seq, exc)
            continue
        for block in blocks:
            uuid = hello.devices[block.device].uuid
            for row, m in enumerate(block.metrics):
                metric = hello.metrics[m]
                if metric in METRICS:
                    series.setdefault((node, uuid, metric), []).append(
                        (block.ts_ns, block.values[row]))
    rows: list[RollupRow] = []
    for (node, uuid, metric), parts in series.items():
        ts = np.concatenate([p[0] for p in parts])
        vals = np.concatenate([p[1] for p in parts]).astype(np.float64)
        keep = ~np.isnan(vals)
        ts, vals = ts[keep], vals[keep]
        if not ts.size:
            continue
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        for tier in tiers:
            rows.extend(_bucket_rows(tier.step_ns, node, uuid, metric, ts, vals))
    return rows


def _bucket_rows(step: int, node: str, uuid: str, metric: str, ts: npt.NDArray[np.int64],
                 vals: npt.NDArray[np.float64]) -> list[RollupRow]:
    bucket = ts // step * step
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    ends = np.append(starts[1:], ts.size)
    mins = np.minimum.reduceat(vals, starts)
    maxs = np.maximum.reduceat(vals, starts)
    sums = np.add.reduceat(vals, starts)
    return [(step, node, uuid, metric, int(bucket[s]), float(mins[i]), float(maxs[i]),
             float(sums[i]), int(e - s), float(vals[e - 1]), int(ts[e - 1]))
            for i, (s, e) in enumerate(zip(starts, ends, strict=True))]


class RollupReader:
    """Reads rollup buckets: one read-only connection per thread, beside the WAL writer."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def read(self, tier_ns: int, node: str, gpu: str, metric: str, start_ns: int,
             end_ns: int) -> Buckets:
        """Buckets whose start lies in [start_ns, end_ns]."""
        rows = self._db().execute(
            "SELECT bucket_ns, min, max, sum, count, last FROM rollups WHERE tier = ? AND "
            "node = ? AND gpu = ? AND metric = ? AND bucket_ns BETWEEN ? AND ? "
            "ORDER BY bucket_ns", (tier_ns, node, gpu, metric, start_ns, end_ns)).fetchall()
        cols = list(zip(*rows, strict=True)) if rows else [()] * 6
        return Buckets(np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=np.float64),
                       np.array(cols[2], dtype=np.float64), np.array(cols[3], dtype=np.float64),
                       np.array(cols[4], dtype=np.int64), np.array(cols[5], dtype=np.float64))

    def count(self, tier_ns: int) -> int:
        """Rows in one tier."""
        row = self._db().execute("SELECT count(*) FROM rollups WHERE tier = ?",
                                 (tier_ns,)).fetchone()
        return int(row[0])
