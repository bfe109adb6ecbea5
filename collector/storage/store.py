"""The series store as the query side sees it: reads over the columnar engine, and the newest
value of each series in memory.

Samples live in the engine (engine.py): its head table and sealed blocks, in DuckDB whether
on disk or in memory. What memory holds here is one (ts, value) per series, the newest: node
lists, GPU states, Watch and /metrics ask for it on every call, and a table scan per series
per call would cost them ~1 ms each. It is bounded by the series the ingest limits admit
(--max-series), and entries older than the retention go.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gputel.collector.storage.engine import DeviceRows, Engine, sample_batch, whole_frame
from gputel.collector.storage.windows import Peak, Span, Windows

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
SeriesKey = tuple[str, str, str]  # node, gpu uuid, metric id
Latest = dict[SeriesKey, tuple[int, float]]


class SeriesReads(Protocol):
    """What the query side reads of the series, whichever store holds them: this module's
    SeriesStore (embedded) or storage.remote.RemoteSeries (a Prometheus-compatible TSDB)."""

    def read(self, key: SeriesKey, start_ns: int, end_ns: int
             ) -> tuple[Int64Array, Float64Array]:
        """Samples with start_ns <= ts <= end_ns, sorted by time."""

    def read_many(self, series: Sequence[tuple[str, str]], metric: str, start_ns: int,
                  end_ns: int) -> list[tuple[Int64Array, Float64Array]]:
        """`read` of one metric for many (node, GPU uuid) series, in the order asked."""

    def read_windows(self, series: Sequence[tuple[str, str]], metrics: Sequence[str],
                     first_ns: int, step_ns: int, n_windows: int,
                     agg: str) -> dict[str, Windows]:
        """`agg` (sum, count, min, max, last) of each metric per series and window of
        step_ns from first_ns on, for the metrics this store can aggregate itself exactly;
        the caller aggregates the others from `read_many`."""

    def read_peaks(self, series: Sequence[tuple[str, str]], metric: str,
                   spans: Sequence[Span]) -> list[Peak | None]:
        """For each series and its (lead_ns, start_ns, end_ns): its first sample time from
        lead_ns on, its largest value and sample count from start_ns on, to end_ns
        (windows.Peak); None where it has no sample in the span."""

    def latest(self, key: SeriesKey) -> tuple[int, float] | None:
        """(ts_ns, value) of the newest sample, or None."""

    def sample_count(self, node: str | None = None) -> int:
        """Samples held (after retention), for one node or all."""

    def series_count(self) -> int:
        """Series with a newest value known."""


class SeriesStore:
    """Thread-safe reads of every series (values float64, exact for integers).

    `retention_ns`: how long full-rate samples are kept. Without an engine, an in-memory
    one is made (nothing survives the process) holding at most `max_samples` (0: no bound).
    """

    def __init__(self, retention_ns: int, max_samples: int = 0,
                 engine: Engine | None = None) -> None:
        if retention_ns <= 0:
            raise ValueError("retention must be positive")
        self.engine = engine if engine is not None else Engine(
            None, retention_ns=retention_ns, max_samples=max_samples)
        self._retention_ns = retention_ns
        self._latest: Latest = {}
        self._lock = threading.Lock()

    @property
    def evicted(self) -> int:
        """Samples dropped to stay under the memory bound (in-memory store only)."""
        return self.engine.stats.samples_dropped.get("memory", 0)

    # ------------------------------------------------------------------ writes
    def append(self, key: SeriesKey, ts: Int64Array, values: npt.NDArray[np.floating]) -> int:
        """Add samples of one series now (NaN skipped); return how many were stored."""
        rows: DeviceRows = (key[1], ts, (0,), values.reshape(1, -1))
        return self.write(key[0], (key[2],), [rows])

    def write(self, node: str, metric_ids: Sequence[str], rows: Sequence[DeviceRows]) -> int:
        """Add a frame's decoded samples now, without a durable writer (tests, memory);
        return how many were stored."""
        batch = sample_batch([(node, metric_ids, rows)])
        with self.engine.transaction() as cur:
            self.engine.insert(cur, batch)
        self.engine.counted(batch.counts)
        self.observe(node, metric_ids, rows)
        self.engine.keep_bound()
        return sum(batch.counts.values())

    def observe(self, node: str, metric_ids: Sequence[str], rows: Sequence[DeviceRows]) -> None:
        """Note the newest value of each series in committed samples."""
        whole = whole_frame(rows)
        stamps = None if whole is None else np.stack([ts for _, ts, _, _ in rows])
        if whole is None or stamps is None or not (np.diff(stamps, axis=1) > 0).all():
            newest = [((node, uuid, metric_ids[metrics[row]]), t, v)
                      for uuid, ts, metrics, values in rows for row, t, v in _newest(ts, values)]
        else:  # no value missing, each GPU's ticks in order: all at their last tick at once
            names = [metric_ids[m] for m in rows[0][2]]
            newest = [((node, uuid, name), t, v)
                      for (uuid, *_), t, values in zip(rows, stamps[:, -1].tolist(),
                                                       whole[:, :, -1].tolist(), strict=True)
                      for name, v in zip(names, values, strict=True)]
        with self._lock:
            for key, t, v in newest:
                held = self._latest.get(key)
                if held is None or t >= held[0]:
                    self._latest[key] = (t, v)

    # ------------------------------------------------------------------- reads
    def read(self, key: SeriesKey, start_ns: int, end_ns: int) -> tuple[Int64Array, Float64Array]:
        """Samples with start_ns <= ts <= end_ns, sorted by time."""
        return self.engine.read(key[0], key[1], key[2], start_ns, end_ns)

    def read_many(self, series: Sequence[tuple[str, str]], metric: str, start_ns: int,
                  end_ns: int) -> list[tuple[Int64Array, Float64Array]]:
        """`read` of one metric for many (node, GPU uuid) series in one scan, in the order
        asked (a cluster-wide answer costs one query, not one per GPU)."""
        return self.engine.read_many(series, metric, start_ns, end_ns)

    def read_windows(self, series: Sequence[tuple[str, str]], metrics: Sequence[str],
                     first_ns: int, step_ns: int, n_windows: int,
                     agg: str) -> dict[str, Windows]:
        """`agg` per series and window, in one statement (Engine.read_windows)."""
        return self.engine.read_windows(series, metrics, first_ns, step_ns, n_windows, agg)

    def read_peaks(self, series: Sequence[tuple[str, str]], metric: str,
                   spans: Sequence[Span]) -> list[Peak | None]:
        """Each series' peak over its span, in one statement (Engine.read_peaks)."""
        return self.engine.read_peaks(series, metric, spans)

    def latest(self, key: SeriesKey) -> tuple[int, float] | None:
        """(ts_ns, value) of the newest sample, or None."""
        with self._lock:
            return self._latest.get(key)

    def sample_count(self, node: str | None = None) -> int:
        """Samples held (after retention), for one node or all."""
        return self.engine.sample_count(node)

    def series_count(self) -> int:
        """Series with a newest value held in memory."""
        with self._lock:
            return len(self._latest)

    # --------------------------------------------------------------- retention
    def shrink(self, fraction: float = 0.5, floor: int = 100_000) -> int:
        """Memory pressure: an in-memory store drops its oldest samples down to `fraction`
        of what it holds (not below `floor`); on disk nothing needs to go. Return samples
        dropped."""
        return self.engine.shrink_head(fraction, floor)

    def enforce_retention(self, now_ns: int) -> int:
        """Forget newest values older than the retention; an in-memory engine also drops
        its samples older than that. Return samples dropped."""
        horizon = now_ns - self._retention_ns
        with self._lock:
            for key in [k for k, (ts, _) in self._latest.items() if ts < horizon]:
                del self._latest[key]
        if self.engine.data_dir is None:
            before = self.engine.sample_count()
            self.engine.retain(now_ns)
            return before - self.engine.sample_count()
        return 0

    # ------------------------------------------------------------ persistence
    def latest_state(self) -> list[tuple[str, str, str, int, float]]:
        """Every newest value, for the state snapshot."""
        with self._lock:
            return [(*k, ts, v) for k, (ts, v) in self._latest.items()]

    def restore_latest(self, rows: Sequence[Sequence[object]]) -> None:
        """Newest values from a state snapshot (newer ones already held win)."""
        with self._lock:
            for node, uuid, metric, ts, value in rows:
                key = (str(node), str(uuid), str(metric))
                held = self._latest.get(key)
                if held is None or int(str(ts)) > held[0]:
                    self._latest[key] = (int(str(ts)), float(str(value)))


def _newest(ts: Int64Array, values: npt.NDArray[np.floating]) -> list[tuple[int, int, float]]:
    """(row, ts, value) of each row's newest non-NaN value; rows with none are left out.
    A few array operations for all rows (this runs for every frame committed)."""
    if not ts.size:
        return []
    present = ~np.isnan(values)
    if ts.size > 1 and not (ts[1:] > ts[:-1]).all():  # frames come by time; a write may not
        order = np.argsort(ts, kind="stable")
        ts, values, present = ts[order], values[:, order], present[:, order]
    if present[:, -1].all():  # the usual frame: every row has a value at its last tick
        t = int(ts[-1])
        return [(row, t, v) for row, v in enumerate(values[:, -1].tolist())]
    last = ts.size - 1 - np.argmax(present[:, ::-1], axis=1)
    rows = np.flatnonzero(present[np.arange(last.size), last])
    cols = last[rows]
    return list(zip(rows.tolist(), ts[cols].tolist(), values[rows, cols].tolist(), strict=True))
