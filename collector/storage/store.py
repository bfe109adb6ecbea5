"""In-memory columnar series: per (node, gpu, metric) chunks of int64 timestamps and float32 values.

Appends go into the open chunk of a series; full chunks are sealed. Retention is
by age: chunks whose newest sample is older than `retention_ns` are dropped, so
memory is bounded by rate x retention, not by run time.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]
SeriesKey = tuple[str, str, str]  # node, gpu uuid, metric id

CHUNK = 4096
FIRST = 64


@dataclass(slots=True)
class _Chunk:
    """Up to CHUNK samples; its arrays grow by doubling, so a new series costs little."""

    ts: Int64Array = field(default_factory=lambda: np.empty(FIRST, dtype=np.int64))
    values: Float32Array = field(default_factory=lambda: np.empty(FIRST, dtype=np.float32))
    n: int = 0
    sorted: bool = True

    def append(self, ts: Int64Array, values: Float32Array) -> int:
        take = min(CHUNK - self.n, ts.size)
        if self.n + take > self.ts.size:
            size = min(CHUNK, max(self.ts.size * 2, self.n + take))
            self.ts = np.resize(self.ts, size)
            self.values = np.resize(self.values, size)
        if take and self.n and ts[0] <= self.ts[self.n - 1]:
            self.sorted = False
        self.ts[self.n:self.n + take] = ts[:take]
        self.values[self.n:self.n + take] = values[:take]
        self.n += take
        return take


@dataclass(slots=True)
class _Series:
    chunks: list[_Chunk] = field(default_factory=list)
    held: int = 0  # samples in `chunks` now (appended minus aged out)
    latest_ts: int = 0
    latest_value: float = float("nan")


class SeriesStore:
    """Thread-safe store of every series; reads return copies.

    `max_samples` bounds what memory holds whatever the input: past it, the oldest chunks
    go first (counted in `evicted`); they stay durable on disk.
    """

    def __init__(self, retention_ns: int, max_samples: int = 0) -> None:
        if retention_ns <= 0:
            raise ValueError("retention must be positive")
        self._retention_ns = retention_ns
        self._max_samples = max_samples
        self._series: dict[SeriesKey, _Series] = {}
        self._order: deque[tuple[SeriesKey, _Chunk]] = deque()  # every chunk, oldest first
        self._held = 0
        self.evicted = 0
        self._lock = threading.Lock()

    def append(self, key: SeriesKey, ts: Int64Array, values: Float32Array) -> int:
        """Add samples (NaN values skipped); return how many were stored."""
        keep = ~np.isnan(values)
        ts, values = ts[keep], values[keep]
        if not ts.size:
            return 0
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series()
            done = 0
            while done < ts.size:
                if not series.chunks or series.chunks[-1].n == CHUNK:
                    series.chunks.append(_Chunk())
                    self._order.append((key, series.chunks[-1]))
                done += series.chunks[-1].append(ts[done:], values[done:])
            series.held += int(ts.size)
            self._held += int(ts.size)
            self._evict()
            last = int(np.argmax(ts))
            if ts[last] >= series.latest_ts:
                series.latest_ts, series.latest_value = int(ts[last]), float(values[last])
        return int(ts.size)

    def read(self, key: SeriesKey, start_ns: int, end_ns: int) -> tuple[Int64Array, Float32Array]:
        """Samples with start_ns <= ts <= end_ns, sorted by time."""
        with self._lock:
            series = self._series.get(key)
            parts = [] if series is None else [
                (c.ts[:c.n].copy(), c.values[:c.n].copy(), c.sorted) for c in series.chunks
                if c.n and c.ts[:c.n].min() <= end_ns and c.ts[:c.n].max() >= start_ns]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ts = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
        if not all(p[2] for p in parts) or np.any(np.diff(ts) < 0):
            order = np.argsort(ts, kind="stable")
            ts, values = ts[order], values[order]
        sel = (ts >= start_ns) & (ts <= end_ns)
        return ts[sel], values[sel]

    def latest(self, key: SeriesKey) -> tuple[int, float] | None:
        """(ts_ns, value) of the newest sample, or None."""
        with self._lock:
            series = self._series.get(key)
            if series is None:  # a series exists from its first stored sample on
                return None
            return series.latest_ts, series.latest_value

    def sample_count(self, node: str | None = None) -> int:
        """Samples held (after retention), for one node or all; all is a counter (scrapes)."""
        with self._lock:
            if node is None:
                return self._held
            return sum(s.held for k, s in self._series.items() if k[0] == node)

    def shrink(self, fraction: float = 0.5, floor: int = 100_000) -> int:
        """Memory pressure: lower the bound to `fraction` of what is held (not below
        `floor`) and evict the oldest down to it; return how many samples went."""
        with self._lock:
            before = self._held
            self._max_samples = max(floor, int(self._held * fraction))
            self._evict()
            return before - self._held

    def _evict(self) -> None:
        """Drop the oldest chunks while over max_samples (under the lock)."""
        while self._max_samples and self._held > self._max_samples and self._order:
            key, chunk = self._order.popleft()
            series = self._series.get(key)
            if series is None or not any(c is chunk for c in series.chunks):
                continue  # already gone by retention
            series.chunks = [c for c in series.chunks if c is not chunk]
            series.held -= chunk.n
            self._held -= chunk.n
            self.evicted += chunk.n

    def enforce_retention(self, now_ns: int) -> int:
        """Drop chunks, full or not, whose newest sample is older than the retention, and
        series left empty; return how many samples went."""
        horizon = now_ns - self._retention_ns
        dropped = 0
        with self._lock:
            for key in list(self._series):
                series = self._series[key]
                keep = []
                for c in series.chunks:
                    if c.n and c.ts[:c.n].max() < horizon:
                        dropped += c.n
                        series.held -= c.n
                    else:
                        keep.append(c)
                series.chunks = keep
                if not keep and series.latest_ts < horizon:
                    del self._series[key]
            self._order = deque((k, c) for k, c in self._order
                                if k in self._series and c.n and c.ts[:c.n].max() >= horizon)
            self._held -= dropped
        return dropped

    def series_count(self) -> int:
        """Series held now."""
        with self._lock:
            return len(self._series)
