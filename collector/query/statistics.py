"""Usage statistics over the last hours: per GPU and per GPU model, sample-weighted averages.

Each GPU's figures are its samples' mean over the window (utilization and memory
utilization in percent, memory used in bytes, temperature in degrees C, plus the
hottest sample); a model's figures weigh each GPU by its sample count. The window is
read seamlessly: rollup buckets before the full-rate head, raw samples inside it
(QueryCore.window_sums), so the newest minutes count as soon as they are stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gputel.collector.errors import InvalidParameterError
from gputel.collector.query.core import QueryCore
from gputel.collector.registry.nodes import NodeState

MAX_HOURS = 24 * 366
_AVERAGED = ("gpu_util", "mem_util", "mem_used", "temperature")


@dataclass(frozen=True, slots=True)
class UsageStats:
    """Means over the window (None: no sample) and the hottest sample, in degrees C."""

    samples: int
    gpu_utilization: float | None
    memory_utilization: float | None
    memory_used_bytes: float | None
    temperature: float | None
    temperature_max: float | None


@dataclass(frozen=True, slots=True)
class DeviceUsageStats:
    """One GPU's statistics."""

    node: str
    uuid: str
    index: int
    model: str
    stats: UsageStats


@dataclass(frozen=True, slots=True)
class ModelUsageStats:
    """One GPU model's statistics over its `gpus` GPUs."""

    model: str
    gpus: int
    stats: UsageStats


@dataclass(frozen=True, slots=True)
class UsageStatistics:
    """The answer for a window of `hours` ending at end_ns (Unix ns)."""

    hours: float
    start_ns: int
    end_ns: int
    devices: list[DeviceUsageStats]
    models: list[ModelUsageStats]


@dataclass(slots=True)
class _Sums:
    """Running sums and counts per metric, and the highest temperature."""

    sums: dict[str, float]
    counts: dict[str, int]
    hottest: float = -math.inf

    def add(self, other: _Sums) -> None:
        for metric in _AVERAGED:
            self.sums[metric] += other.sums[metric]
            self.counts[metric] += other.counts[metric]
        self.hottest = max(self.hottest, other.hottest)

    def stats(self) -> UsageStats:
        def mean(metric: str) -> float | None:
            count = self.counts[metric]
            return self.sums[metric] / count if count else None
        return UsageStats(self.counts["gpu_util"], mean("gpu_util"), mean("mem_util"),
                          mean("mem_used"), mean("temperature"),
                          None if self.hottest == -math.inf else self.hottest)


def _empty() -> _Sums:
    return _Sums(dict.fromkeys(_AVERAGED, 0.0), dict.fromkeys(_AVERAGED, 0))


class StatisticsQueries:
    """Per-GPU and per-model usage statistics over the query core."""

    def __init__(self, core: QueryCore) -> None:
        self._core = core

    def usage(self, hours: float = 24.0) -> UsageStatistics:
        """Statistics over the last `hours`. Raises InvalidParameterError naming `hours`."""
        if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
            raise InvalidParameterError("hours", f"{hours!r} is outside (0, {MAX_HOURS}]")
        end = self._core.time_ns()
        start = end - math.ceil(hours * 3600e9)
        states = self._core.node_states()
        gpus = sum(len(s.devices) for s in states)
        with self._core.gate.heavy(gpus, 1, bound_samples=False):
            return self._usage(hours, states, start, end)

    def _usage(self, hours: float, states: list[NodeState], start: int,
               end: int) -> UsageStatistics:
        devices: list[DeviceUsageStats] = []
        per_model: dict[str, tuple[int, _Sums]] = {}
        for state in states:
            for device in state.devices:
                sums = self._device(state.name, device.uuid, start, end)
                devices.append(DeviceUsageStats(state.name, device.uuid, device.index,
                                                device.model, sums.stats()))
                gpus, total = per_model.get(device.model, (0, _empty()))
                total.add(sums)
                per_model[device.model] = (gpus + 1, total)
        models = [ModelUsageStats(m, g, s.stats()) for m, (g, s) in sorted(per_model.items())]
        return UsageStatistics(hours, start, end, devices, models)

    def _device(self, node: str, uuid: str, start_ns: int, end_ns: int) -> _Sums:
        """One GPU's sums and counts over [start_ns, end_ns], and its hottest sample."""
        out = _empty()
        for metric in _AVERAGED:
            total, count, top = self._core.window_sums(node, uuid, metric, start_ns, end_ns)
            out.sums[metric], out.counts[metric] = total, count
            if metric == "temperature":
                out.hottest = top
        return out
