"""Workload answers of the query core: lists, usage and per-workload series.

Per-workload series are derived from the device series over the intervals each
device was held: extensive metrics (watts, bytes, joules) are the sum of each
device's value times the workload's fraction of it; intensive ones (percent,
degrees, MHz) the fraction-weighted mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gputel.collector.errors import NotFoundError
from gputel.collector.store import SeriesStore
from gputel.collector.workloads import Usage, WorkloadIndex, WorkloadInfo
from gputel.proto.metrics import METRICS, Combine

FloatArray = npt.NDArray[np.float64]
Aggregate = Callable[[npt.NDArray[np.int64], npt.NDArray[np.float32], int, int, int, str],
                     FloatArray]


@dataclass(frozen=True, slots=True)
class WorkloadSummary:
    """A workload with what it holds now and what it used (since the collector's replay)."""

    info: WorkloadInfo
    running: bool
    gpus: float
    gpu_uuids: list[str]
    power_watts: float | None
    memory_used_bytes: float | None
    usage: Usage

    @property
    def utilization_percent(self) -> float | None:
        """Busy over allocated GPU-seconds, in percent."""
        u = self.usage
        return 100.0 * u.gpu_seconds_busy / u.gpu_seconds_allocated if u.gpu_seconds_allocated \
            else None


@dataclass(frozen=True, slots=True)
class NamespaceSummary:
    """Sums over a namespace's workloads."""

    namespace: str
    workloads: int
    running: int
    gpus: float
    usage: Usage

    @property
    def utilization_percent(self) -> float | None:
        """Busy over allocated GPU-seconds, in percent."""
        u = self.usage
        return 100.0 * u.gpu_seconds_busy / u.gpu_seconds_allocated if u.gpu_seconds_allocated \
            else None


class WorkloadQueries:
    """The workload half of the query core."""

    def __init__(self, index: WorkloadIndex, store: SeriesStore) -> None:
        self._index = index
        self._store = store

    def summaries(self, namespace: str | None = None, kind: str | None = None,
                  running: bool | None = None) -> list[WorkloadSummary]:
        """Every workload, optionally filtered, by uid."""
        out = [self._summary(w) for w in self._index.workloads()
               if (namespace is None or w.namespace == namespace)
               and (kind is None or w.kind == kind)]
        return [s for s in out if running is None or s.running == running]

    def summary(self, uid: str) -> WorkloadSummary:
        """One workload. Raises NotFoundError."""
        info = self._index.workload(uid)
        if info is None:
            raise NotFoundError("workload", uid)
        return self._summary(info)

    def _summary(self, info: WorkloadInfo) -> WorkloadSummary:
        gpus, uuids, power, memory = 0.0, [], [], []
        for node, uuid in sorted(info.devices):
            fraction = dict(self._index.holders(node, uuid)).get(info.uid, 0.0)
            if fraction <= 0:
                continue
            gpus += fraction
            uuids.append(uuid)
            for metric, into in (("power", power), ("mem_used", memory)):
                latest = self._store.latest((node, uuid, metric))
                if latest is not None:
                    into.append(fraction * latest[1])
        return WorkloadSummary(info, bool(uuids), gpus, uuids, sum(power) if power else None,
                               sum(memory) if memory else None, self._index.usage(info.uid))

    def namespaces(self) -> list[NamespaceSummary]:
        """Usage per namespace, by name."""
        out = []
        for namespace, uids in self._index.namespaces().items():
            items = [self.summary(uid) for uid in uids]
            total = Usage()
            for item in items:
                total.add(item.usage.energy_joules, item.usage.gpu_seconds_allocated,
                          item.usage.gpu_seconds_busy)
            out.append(NamespaceSummary(namespace, len(items), sum(i.running for i in items),
                                        sum(i.gpus for i in items), total))
        return out

    def series(self, uid: str, metric: str, start: int, step: int, n_points: int, agg: str,
               aggregate: Aggregate) -> tuple[FloatArray, list[tuple[str, str, FloatArray]]]:
        """(combined, [(node, gpu, per-device weighted row)]) on the grid start + k * step.

        Raises NotFoundError for an unknown workload or metric.
        """
        info = self._index.workload(uid)
        if info is None:
            raise NotFoundError("workload", uid)
        if metric not in METRICS:
            raise NotFoundError("metric", metric)
        end = start + (n_points - 1) * step
        rows, weights = [], []
        for key in sorted(info.devices):
            row, weight = self._device_row(key, uid, metric, start, end, step, n_points, agg,
                                           aggregate)
            rows.append((key[0], key[1], row))
            weights.append(weight)
        combine = Combine.SUM if agg == "count" else METRICS[metric].combine
        return _combine(rows, weights, combine, n_points), rows

    def _device_row(self, key: tuple[str, str], uid: str, metric: str, start: int, end: int,
                    step: int, n_points: int, agg: str,
                    aggregate: Aggregate) -> tuple[FloatArray, FloatArray]:
        """The device's aggregated values where the workload held it, times its fraction."""
        ts, vals = self._store.read((key[0], key[1], metric), start - step + 1, end)
        fraction = np.zeros(ts.size)
        for a, b, shares in self._index.segments(key, start - step + 1, end + 1):
            held = dict(shares).get(uid, 0.0)
            fraction[(ts >= a) & (ts < b)] = held
        keep = fraction > 0
        row = aggregate(ts[keep], vals[keep], start, step, n_points, agg)
        weight = aggregate(ts[keep], fraction[keep].astype(np.float32), start, step,
                           n_points, "avg")
        if agg == "count":  # samples taken while held, not a share of them
            return row, weight
        return row * weight, weight


def _combine(rows: list[tuple[str, str, FloatArray]], weights: list[FloatArray],
             combine: Combine, n_points: int) -> FloatArray:
    if not rows:
        return np.full(n_points, np.nan)
    values = np.vstack([r[2] for r in rows])
    w = np.vstack(weights)
    present = ~np.isnan(values).all(axis=0)
    total = np.nansum(values, axis=0)
    out = np.full(n_points, np.nan)
    if combine is Combine.SUM:
        out[present] = total[present]
    else:
        out[present] = total[present] / np.nansum(w, axis=0)[present]
    return out
