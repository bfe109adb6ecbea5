"""The metric catalogue: ids the APIs accept, their fixed units, and how a node combines GPUs.

Each metric also says how it travels (`Metric.exact`, `Metric.wire_unit`): drivers report
whole numbers (percent, degrees, MHz, bytes, milliwatts, a millijoule counter), so the agent
hands them over in the driver's unit and the wire carries them as exact integers
(`DeviceBlock.int_values`); the collector divides by `wire_per_unit` once, when it decodes
a frame (`frames.decode_frame`), and the agent's /metrics does the same when it renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Combine(Enum):
    """How the values of several GPUs of a node combine into one node value."""

    SUM = "sum"  # extensive: watts, bytes, joules add up
    MEAN = "mean"  # intensive: percent, degrees, MHz average


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric id with its unit (as the APIs state it) and its Prometheus name.

    Prometheus wants base units: a value in `unit` times `prom_scale` is in the unit that
    `prom_name` ends with (MHz -> hertz: 1e6). `prom_type` is "gauge" or "counter"; a
    counter's series are named `prom_name + "_total"` (see `prom_series`).

    On the wire: `exact` metrics travel as whole numbers of `wire_unit` (int64, exact),
    `wire_per_unit` of which make one `unit` (1000 mW per W); the others as float32 in
    `unit`.
    """

    id: str
    unit: str
    prom_name: str
    help: str
    combine: Combine
    prom_type: str = "gauge"
    prom_scale: float = 1.0
    exact: bool = True
    wire_unit: str = ""  # empty: the same as `unit`
    wire_per_unit: int = 1

    @property
    def prom_series(self) -> str:
        """The name the samples carry: prom_name, plus `_total` for a counter."""
        return self.prom_name + "_total" if self.prom_type == "counter" else self.prom_name


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
               "Board power draw.", Combine.SUM, wire_unit="milliwatts", wire_per_unit=1000),
        Metric("temperature", "celsius", "gputel_gpu_temperature_celsius",
               "GPU core temperature.", Combine.MEAN),
        Metric("sm_clock", "megahertz", "gputel_gpu_sm_clock_hertz",
               "Streaming multiprocessor clock.", Combine.MEAN, prom_scale=1e6),
        Metric("energy", "joules", "gputel_gpu_energy_joules",
               "Energy used since the driver was loaded (a counter).", Combine.SUM,
               prom_type="counter", wire_unit="millijoules", wire_per_unit=1000),
    )
}

CORE_METRICS: tuple[str, ...] = tuple(METRICS)


# Extended metrics, offered where a backend can read them. Appended after CORE_METRICS so the
# core set stays the eight above. Counters (ecc_*, xid_events) count since the driver loaded
# (ECC, volatile) or since the agent started (XID events).
METRICS.update({
    m.id: m
    for m in (
        Metric("power_avg", "watts", "gputel_gpu_power_average_watts",
               "Board power draw averaged by the driver (1 s on Ampere and newer).", Combine.SUM,
               wire_unit="milliwatts", wire_per_unit=1000),
        Metric("mem_temperature", "celsius", "gputel_gpu_memory_temperature_celsius",
               "Device memory (HBM) temperature.", Combine.MEAN),
        Metric("pcie_tx", "bytes_per_second", "gputel_gpu_pcie_tx_bytes_per_second",
               "PCIe bytes sent by the GPU per second.", Combine.SUM),
        Metric("pcie_rx", "bytes_per_second", "gputel_gpu_pcie_rx_bytes_per_second",
               "PCIe bytes received by the GPU per second.", Combine.SUM),
        Metric("throttle_reasons", "bitmask", "gputel_gpu_clock_event_reasons_bitmask",
               "NVML clock event (throttle) reasons bitmask; a node mean is not meaningful.",
               Combine.MEAN),
        Metric("ecc_errors_corrected", "errors", "gputel_gpu_ecc_errors_corrected",
               "Corrected (single-bit) ECC errors since the driver loaded (a counter).",
               Combine.SUM, prom_type="counter"),
        Metric("ecc_errors_uncorrected", "errors", "gputel_gpu_ecc_errors_uncorrected",
               "Uncorrected (double-bit) ECC errors since the driver loaded (a counter).",
               Combine.SUM, prom_type="counter"),
        Metric("xid_events", "events", "gputel_gpu_xid_events",
               "XID critical error events seen since the agent started (a counter).",
               Combine.SUM, prom_type="counter"),
    )
})


def wire_per_unit(metric_ids: Sequence[str]) -> tuple[int, ...]:
    """Per metric id, how many wire units make one API unit (1 for an id not catalogued)."""
    return tuple(METRICS[m].wire_per_unit if m in METRICS else 1 for m in metric_ids)


def exact(metric_ids: Sequence[str]) -> tuple[bool, ...]:
    """Per metric id, whether it travels as an exact integer (False for an id not catalogued)."""
    return tuple(m in METRICS and METRICS[m].exact for m in metric_ids)
