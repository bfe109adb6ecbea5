"""GPU-hours, energy and their price over the last days, by namespace, workload and label.

The same accounting as ingest (registry/workloads.py), restricted to the window: each
interval between two consecutive samples of a GPU is charged to the workloads holding
the GPU at its start, by their fractions: its duration (GPU-seconds), its energy-counter
delta (a counter reset is skipped; a GPU without a counter is charged power x time) and
utilization x duration (busy GPU-seconds), and the duration again when utilization is
under the idle threshold (`--alert-idle-percent`: idle GPU-seconds, priced at the GPU-hour
price: what releasing those GPUs would have saved). An interval longer than two sample
periods is a gap in the data and is not charged. Before the full-rate head, the finest rollup tier
still holding the window's start stands in, one interval per bucket. Prices: a GPU-hour
price per model (Pricing.gpu_hour_by_model, else Pricing.gpu_hour) and one energy price
per kWh.

Projections (CostProjection) extend the window's rate: its cost over the time it covers
(from the first sample of a GPU held in it to its end, at most its length), times an hour,
a day, a week (7 days) and a month (MONTH_DAYS); potential savings the same for the idle
GPU-hours' cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gputel.collector.errors import InvalidParameterError
from gputel.collector.query.aggregate import FloatArray, IntArray
from gputel.collector.query.core import QueryCore
from gputel.collector.query.modeltable import ModelTable, for_model
from gputel.collector.query.workloads import JOULES_PER_KWH

MAX_DAYS = 366
MONTH_DAYS = 30.0
PROJECTION_METHOD = (
    "linear: rate = cost in the window / the time it covers (from the first sample of a GPU "
    "held in it); hourly, daily, weekly, monthly = rate x 1 h, 1 d, 7 d, 30 d; potential "
    "savings = the same for the GPU-hour cost of held GPUs under the idle threshold")
Shares = tuple[tuple[str, float], ...]
BoolArray = npt.NDArray[np.bool_]
Intervals = tuple[IntArray, FloatArray]


@dataclass(frozen=True, slots=True)
class Pricing:
    """Prices in `currency`: per GPU-hour (by model, else the default) and per kWh."""

    gpu_hour: float = 0.0
    gpu_hour_by_model: ModelTable = ()
    energy_kwh: float = 0.0
    currency: str = "USD"

    def gpu_hour_price(self, model: str) -> float:
        """The GPU-hour price of one model."""
        return for_model(self.gpu_hour_by_model, model, self.gpu_hour)


@dataclass(slots=True)
class CostLine:
    """Use and its price for one key (a namespace, workload uid, `label=value`, or total);
    a workload line also names the workload's `kind` (pod, Job, Deployment...) and `name`."""

    key: str
    gpu_seconds: float = 0.0
    busy_gpu_seconds: float = 0.0
    energy_joules: float = 0.0
    gpu_cost: float = 0.0
    energy_cost: float = 0.0
    kind: str = ""
    name: str = ""
    idle_gpu_seconds: float = 0.0
    idle_cost: float = 0.0

    @property
    def gpu_hours(self) -> float:
        """GPU-hours allocated."""
        return self.gpu_seconds / 3600.0

    @property
    def busy_gpu_hours(self) -> float:
        """GPU-hours busy (fraction x utilization)."""
        return self.busy_gpu_seconds / 3600.0

    @property
    def idle_gpu_hours(self) -> float:
        """GPU-hours held under the idle threshold (fraction-weighted)."""
        return self.idle_gpu_seconds / 3600.0

    @property
    def energy_kwh(self) -> float:
        """Energy in kWh."""
        return self.energy_joules / JOULES_PER_KWH

    @property
    def total_cost(self) -> float:
        """GPU-hours plus energy, priced."""
        return self.gpu_cost + self.energy_cost

    def add(self, other: CostLine) -> None:
        """Accumulate another line."""
        self.gpu_seconds += other.gpu_seconds
        self.busy_gpu_seconds += other.busy_gpu_seconds
        self.energy_joules += other.energy_joules
        self.gpu_cost += other.gpu_cost
        self.energy_cost += other.energy_cost
        self.idle_gpu_seconds += other.idle_gpu_seconds
        self.idle_cost += other.idle_cost


@dataclass(frozen=True, slots=True)
class CostProjection:
    """The window's cost rate carried forward (PROJECTION_METHOD), in the pricing's currency:
    `per_day` the rate, `idle_per_day` the idle GPU-hours' part of it; `covered_seconds` the
    time the rate is taken over (0: nothing charged, every figure 0)."""

    covered_seconds: float
    per_day: float
    idle_per_day: float
    idle_percent: float

    @property
    def hourly(self) -> float:
        """Cost per hour."""
        return self.per_day / 24.0

    @property
    def weekly(self) -> float:
        """Cost per 7 days."""
        return self.per_day * 7.0

    @property
    def monthly(self) -> float:
        """Cost per MONTH_DAYS days."""
        return self.per_day * MONTH_DAYS

    @property
    def potential_monthly_savings(self) -> float:
        """Idle GPU-hours' cost per MONTH_DAYS days."""
        return self.idle_per_day * MONTH_DAYS


@dataclass(frozen=True, slots=True)
class CostReport:
    """Cost over [start_ns, end_ns] (Unix ns), lines sorted by total cost, then key; the
    data in it covers `covered_seconds` (from the first sample of a GPU held in it)."""

    days: float
    start_ns: int
    end_ns: int
    pricing: Pricing
    total: CostLine
    by_namespace: list[CostLine]
    by_workload: list[CostLine]
    by_label: list[CostLine] = field(default_factory=list)
    covered_seconds: float = 0.0
    idle_percent: float = 0.0

    @property
    def projection(self) -> CostProjection:
        """The window's rate carried forward (PROJECTION_METHOD)."""
        days = self.covered_seconds / 86400.0
        if days <= 0:
            return CostProjection(0.0, 0.0, 0.0, self.idle_percent)
        return CostProjection(self.covered_seconds, self.total.total_cost / days,
                              self.total.idle_cost / days, self.idle_percent)


class CostQueries:
    """Windowed use and cost over the query core."""

    def __init__(self, core: QueryCore, pricing: Pricing, idle_percent: float = 5.0) -> None:
        """`idle_percent`: a held GPU under this utilization is idle (`--alert-idle-percent`)."""
        self._core = core
        self.pricing = pricing
        self.idle_percent = idle_percent

    def cost(self, days: float = 7.0) -> CostReport:
        """Use and cost over the last `days`. Raises InvalidParameterError naming `days`."""
        if not (math.isfinite(days) and 0 < days <= MAX_DAYS):
            raise InvalidParameterError("days", f"{days!r} is outside (0, {MAX_DAYS}]")
        end = self._core.time_ns()
        start = end - int(days * 86400e9)
        per_workload: dict[str, CostLine] = {}
        first = end
        with self._core.gate.heavy(1, 1, bound_samples=False):
            for state in self._core.node_states():
                period = (round(1e9 / state.sample_rate_hz) if state.sample_rate_hz > 0
                          else 10**9)
                for device in state.devices:
                    first = min(first, self._charge(state.name, device.uuid, device.model,
                                                    period, (start, end), per_workload))
        return self._report(days, start, end, per_workload, (end - first) / 1e9)

    def _charge(self, node: str, uuid: str, model: str, period: int, window: tuple[int, int],
                into: dict[str, CostLine]) -> int:
        """Charge one GPU's sample intervals in the window to the workloads holding it;
        return its first sample's time (the window's end when none was charged)."""
        segments = [seg for seg in self._core.workloads.segments(node, uuid, *window)
                    if any(f > 0 for _, f in seg[2])]
        if not segments:
            return window[1]
        price = self.pricing.gpu_hour_price(model) / 3600.0
        starts, seconds, busy, idle = self._util_intervals(node, uuid, window, period)
        seconds_by = _per_holder((starts, seconds), segments)
        busy_by = _per_holder((starts, busy), segments)
        idle_by = _per_holder((starts, idle), segments)
        joules_by = _per_holder(self._energy_intervals(node, uuid, window, period), segments)
        for uid in {*seconds_by, *busy_by, *joules_by}:
            line = into.setdefault(uid, CostLine(uid))
            joules = joules_by.get(uid, 0.0)
            idle_seconds = idle_by.get(uid, 0.0)
            line.add(CostLine(uid, seconds_by.get(uid, 0.0), busy_by.get(uid, 0.0), joules,
                              seconds_by.get(uid, 0.0) * price,
                              joules / JOULES_PER_KWH * self.pricing.energy_kwh,
                              idle_gpu_seconds=idle_seconds, idle_cost=idle_seconds * price))
        return int(starts[0]) if starts.size else window[1]

    def _util_intervals(self, node: str, uuid: str, window: tuple[int, int], period: int,
                        ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
        """Interval starts and, per interval, seconds, busy seconds and idle seconds (under
        the idle threshold) from gpu_util."""
        ts, util, width = self._core.samples(node, uuid, "gpu_util", *window)
        starts, dt, keep = _intervals(ts, 2 * max(period, width))
        seconds = np.where(keep, dt / 1e9, 0.0)
        if not ts.size:
            return starts, seconds, seconds, seconds
        busy = seconds * np.nan_to_num(util[:-1]) / 100.0
        idle = np.where(util[:-1] < self.idle_percent, seconds, 0.0)
        return starts, seconds, busy, idle

    def _energy_intervals(self, node: str, uuid: str, window: tuple[int, int],
                          period: int) -> Intervals:
        """(interval starts, joules) from the energy counter, else power x time."""
        ts, counter, width = self._core.samples(node, uuid, "energy", *window, "last")
        if ts.size:
            starts, _, keep = _intervals(ts, 2 * max(period, width))
            delta = np.diff(counter)
            return starts, np.where(keep & (delta >= 0), delta, 0.0)  # a reset is skipped
        ts, watts, width = self._core.samples(node, uuid, "power", *window)
        starts, dt, keep = _intervals(ts, 2 * max(period, width))
        return starts, np.where(keep, watts[:-1] * dt / 1e9, 0.0)

    def _report(self, days: float, start: int, end: int, per_workload: dict[str, CostLine],
                covered_seconds: float) -> CostReport:
        """Totals by namespace and label over the pods' lines, each counted once; one more
        workload line per owner (a Job, a Deployment...): its pods' lines summed. A pod's
        labels for `by_label` are its own over its owners' (so a label only the owner carries
        still finds its cost)."""
        total = CostLine("total")
        namespaces: dict[str, CostLine] = {}
        labels: dict[str, CostLine] = {}
        owners, inherited = self._owner_lines(per_workload)
        for uid, line in per_workload.items():
            total.add(line)
            info = self._core.workloads.info(uid)
            namespace = info.namespace if info else ""
            line.kind, line.name = (info.kind, info.pod) if info else ("", "")
            namespaces.setdefault(namespace, CostLine(namespace)).add(line)
            own = {**inherited.get(uid, {}), **(info.labels if info else {})}
            for key, value in sorted(own.items()):
                labels.setdefault(f"{key}={value}", CostLine(f"{key}={value}")).add(line)
        return CostReport(days, start, end, self.pricing, total, _ranked(namespaces),
                          _ranked({**per_workload, **owners}), _ranked(labels),
                          covered_seconds, self.idle_percent)

    def _owner_lines(self, per_workload: dict[str, CostLine],
                     ) -> tuple[dict[str, CostLine], dict[str, dict[str, str]]]:
        """(owner uid -> its pods' lines summed, pod uid -> its owners' labels)."""
        owners: dict[str, CostLine] = {}
        inherited: dict[str, dict[str, str]] = {}
        for owner in self._core.workloads.summaries():
            kids = [per_workload[k] for k in owner.children if k in per_workload]
            if not kids:
                continue
            line = owners[owner.info.uid] = CostLine(owner.info.uid, kind=owner.info.kind,
                                                     name=owner.info.pod)
            for kid in kids:
                line.add(kid)
                inherited.setdefault(kid.key, {}).update(owner.info.labels)
        return owners, inherited


def _ranked(lines: dict[str, CostLine]) -> list[CostLine]:
    return sorted(lines.values(), key=lambda c: (-c.total_cost, -c.gpu_seconds, c.key))


def _intervals(ts: IntArray, longest: int) -> tuple[IntArray, IntArray, BoolArray]:
    """Each interval's start and length (ns), and whether it is short enough to charge."""
    if ts.size < 2:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0, bool)
    dt = np.diff(ts)
    return ts[:-1], dt, (dt > 0) & (dt <= longest)


def _per_holder(intervals: Intervals, segments: list[tuple[int, int, Shares]],
                ) -> dict[str, float]:
    """Sum each interval's amount into the holders of the segment its start falls in."""
    starts, amounts = intervals
    out: dict[str, float] = {}
    if not starts.size:
        return out
    total = np.concatenate(([0.0], np.cumsum(amounts)))
    first = np.searchsorted(starts, [a for a, _, _ in segments])
    last = np.searchsorted(starts, [b for _, b, _ in segments])
    for i, (_, _, shares) in enumerate(segments):
        held = float(total[last[i]] - total[first[i]])
        for uid, fraction in shares:
            if fraction > 0:
                out[uid] = out.get(uid, 0.0) + held * fraction
    return out
