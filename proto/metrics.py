"""The metric catalogue: ids the APIs accept, their fixed units, and how a node combines GPUs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Combine(Enum):
    """How the values of several GPUs of a node combine into one node value."""

    SUM = "sum"  # extensive: watts, bytes, joules add up
    MEAN = "mean"  # intensive: percent, degrees, MHz average


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric id with its unit (as the APIs state it) and its Prometheus name."""

    id: str
    unit: str
    prom_name: str
    help: str
    combine: Combine


METRICS: dict[str, Metric] = {
    m.id: m
    for m in (
        Metric("gpu_util", "percent", "gputel_gpu_utilization_percent",
               "Share of time one or more kernels ran on the GPU.", Combine.MEAN),
        Metric("mem_util", "percent", "gputel_gpu_memory_utilization_percent",
               "Share of time device memory was read or written.", Combine.MEAN),
        Metric("mem_used", "bytes", "gputel_gpu_memory_used_bytes",
               "Device memory in use.", Combine.SUM),
        Metric("mem_total", "bytes", "gputel_gpu_memory_total_bytes",
               "Device memory in all.", Combine.SUM),
        Metric("power", "watts", "gputel_gpu_power_watts",
               "Board power draw.", Combine.SUM),
        Metric("temperature", "celsius", "gputel_gpu_temperature_celsius",
               "GPU core temperature.", Combine.MEAN),
        Metric("sm_clock", "megahertz", "gputel_gpu_sm_clock_megahertz",
               "Streaming multiprocessor clock.", Combine.MEAN),
        Metric("energy", "joules", "gputel_gpu_energy_joules",
               "Energy used since the driver was loaded (a counter).", Combine.SUM),
    )
}

CORE_METRICS: tuple[str, ...] = tuple(METRICS)


def unit_of(metric_id: str) -> str:
    """The unit of a known metric id. Raises KeyError for an unknown id."""
    return METRICS[metric_id].unit
