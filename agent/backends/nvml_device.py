"""Reads one NVIDIA device (a GPU or a MIG device) for one tick, on that device's own thread.

Calls per tick (see the notes, section 1): one nvmlDeviceGetFieldValues for average power,
energy, memory temperature, PCIe byte counters and ECC totals (plus instant power while the
driver's power buffer is unsupported or has been dry for `power_stale_s`), GetMemoryInfo
v2, GetTemperatureV, GetClockInfo(SM), GetUtilizationRates (memory utilization) and
GetCurrentClocksEventReasons. Every `samples_every_s`, two nvmlDeviceGetSamples drain what
the driver buffered since the last drain (GPU utilization and total power) with the
driver's own timestamps; those two metrics are then NaN in the tick's values, so no sample
is counted twice.

A call that answers NOT_SUPPORTED (or NO_PERMISSION) is never asked again for that device;
any other failure costs that value this tick (NaN) and counts in `errors`, logged once.
GPU_IS_LOST raises DeviceLostError so the backend can mark the device and carry on.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from gputel.agent.backends.base import Buffered, ProcessSample
from gputel.agent.backends.nvml_fields import (
    FIELDS,
    CounterRates,
    Field,
    decode,
    decode_samples,
)
from gputel.agent.errors import AgentError

log = logging.getLogger(__name__)
T = TypeVar("T")
NAN = math.nan

COLUMNS: tuple[str, ...] = (
    "gpu_util", "mem_util", "mem_used", "mem_total", "power", "temperature", "sm_clock",
    "energy", "power_avg", "mem_temperature", "pcie_tx", "pcie_rx", "throttle_reasons",
    "ecc_errors_corrected", "ecc_errors_uncorrected", "xid_events",
)
COL = {name: i for i, name in enumerate(COLUMNS)}
GPU_UTIL, MEM_UTIL, MEM_USED, MEM_TOTAL, POWER, TEMPERATURE, SM_CLOCK = range(7)
THROTTLE = COL["throttle_reasons"]

# nvmlReturn_t codes (nvml.h; pynvml NVML_ERROR_*).
NOT_SUPPORTED, NO_PERMISSION, NOT_FOUND, FUNCTION_NOT_FOUND = 3, 4, 6, 13
GPU_IS_LOST, RESET_REQUIRED, ARGUMENT_VERSION_MISMATCH, GPU_NOT_FOUND = 15, 16, 25, 28
UNSUPPORTED_CODES = frozenset({NOT_SUPPORTED, NO_PERMISSION, FUNCTION_NOT_FOUND})
LOST_CODES = frozenset({GPU_IS_LOST, RESET_REQUIRED, GPU_NOT_FOUND})
FALLBACK_CODES = frozenset({FUNCTION_NOT_FOUND, ARGUMENT_VERSION_MISMATCH})
NVML_TEMPERATURE_GPU, NVML_CLOCK_SM = 0, 1
NVML_TOTAL_POWER_SAMPLES, NVML_GPU_UTILIZATION_SAMPLES = 0, 1
NO_INSTANCE = 0xFFFFFFFF

# What NVML does not offer on a MIG device (they belong to the parent GPU), and on a GPU
# with MIG enabled (utilization in any form). Pre-marked so they read NaN, never 0.
MIG_DEVICE_UNSUPPORTED = frozenset({"field_values", "temperature", "sm_clock", "utilization",
                                    "throttle", "util_samples", "power_samples"})
MIG_PARENT_UNSUPPORTED = frozenset({"utilization", "util_samples"})


@dataclass(frozen=True, slots=True)
class NvmlOptions:
    """Tuning of the NVML backend. Durations in seconds."""

    deadline_s: float = 0.05  # watchdog: how long a tick waits for one device's calls
    # Fields (memory, temperature, clocks, counters) are read at most this often: the driver
    # refreshes them at about 1-50 Hz, so faster ticks would re-read cached values at ~90 us
    # of Python per device. Ticks in between carry only what the driver buffered itself.
    field_rate_hz: float = 20.0
    processes_every_s: float = 1.0  # how often the GPU's process list is read (attribution)
    samples_every_s: float = 0.5  # how often the driver's sample buffers are drained
    samples_backlog_s: float = 2.0  # on the first drain, keep only this much history
    power_stale_s: float = 5.0  # no power sample for this long: read instant power per tick
    recover_every_s: float = 30.0  # how often a lost GPU is looked for again
    event_wait_ms: int = 500  # one nvmlEventSetWait; bounds how long close() waits


class DeviceLostError(AgentError):
    """The driver answered GPU_IS_LOST (or RESET_REQUIRED / GPU_NOT_FOUND) for this device."""


@dataclass(slots=True)
class NvmlDevice:
    """One row of the backend: a GPU or a MIG device, and what is known about it."""

    row: int
    uuid: str
    handle: Any
    is_mig: bool = False
    mig_enabled: bool = False
    parent_row: int = -1
    gpu_instance: int = NO_INSTANCE
    compute_instance: int = NO_INSTANCE
    lost: bool = False
    unsupported: set[str] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.is_mig:
            self.unsupported |= MIG_DEVICE_UNSUPPORTED
        elif self.mig_enabled:
            self.unsupported |= MIG_PARENT_UNSUPPORTED


@dataclass(slots=True)
class DeviceSample:
    """What one device produced for one tick: values in COLUMNS order, buffered samples."""

    values: list[float]
    buffered: list[Buffered]
    lost: bool = False
    recovered: int = 0  # devices found again by a recovery job
    processes: list[ProcessSample] | None = None  # the complete list, when read this tick


def nan_values() -> list[float]:
    """A row of NaN in COLUMNS order."""
    return [NAN] * len(COLUMNS)


def ts_offset_ns(newest_us: int, wall_ns: int, boot_ns: int) -> int:
    """Nanoseconds to add to a driver timestamp (in us) to get Unix time.

    Epoch-based drivers need 0; boot-based ones (seen on DGX Spark) need wall - boot. If
    neither lands within an hour of now, the newest sample is anchored at now.
    """
    newest_ns = newest_us * 1000
    best = min((0, wall_ns - boot_ns), key=lambda off: abs(wall_ns - newest_ns - off))
    if abs(wall_ns - newest_ns - best) > 3600 * 10**9:
        return wall_ns - newest_ns
    return best


@dataclass(slots=True)
class _SampleStream:
    """One nvmlDeviceGetSamples type on one device: NVML's last timestamp and its clock domain."""

    key: str
    sampling_type: int
    column: int
    last_seen_us: int = 0
    offset_ns: int | None = None


class DeviceReader:
    """Reads one device; `read` runs on that device's worker thread only."""

    def __init__(self, nvml: Any, device: NvmlDevice, options: NvmlOptions,
                 wall_ns: Callable[[], int], boot_ns: Callable[[], int]) -> None:
        self._nvml = nvml
        self.device = device
        self._options = options
        self._wall_ns = wall_ns
        self._boot_ns = boot_ns
        self._streams = (
            _SampleStream("util_samples", NVML_GPU_UTILIZATION_SAMPLES, GPU_UTIL),
            _SampleStream("power_samples", NVML_TOTAL_POWER_SAMPLES, POWER),  # mW
        )
        self._next_drain_ns: int | None = None
        self._next_processes_ns = 0
        self._process_util_us = 0
        self._last_power_ns: int | None = None  # tick of the last drain that brought power
        self._fields: dict[bool, tuple[tuple[Field, ...], list[int]]] = {}
        self._rates = CounterRates()
        self._fell_back: set[str] = set()
        self._logged: set[tuple[str, int]] = set()
        self._bind(device.handle)

    def _bind(self, h: Any) -> None:
        """Pre-bind every per-tick call to the handle: no closures built per tick."""
        nvml = self._nvml
        self._mem_v2 = _bound(nvml, "nvmlDeviceGetMemoryInfo", h, version=nvml.nvmlMemory_v2)
        self._mem_v1 = _bound(nvml, "nvmlDeviceGetMemoryInfo", h)
        self._temp_v = _bound(nvml, "nvmlDeviceGetTemperatureV", h, NVML_TEMPERATURE_GPU)
        self._temp = _bound(nvml, "nvmlDeviceGetTemperature", h, NVML_TEMPERATURE_GPU)
        self._clock = _bound(nvml, "nvmlDeviceGetClockInfo", h, NVML_CLOCK_SM)
        self._reasons = _bound(nvml, "nvmlDeviceGetCurrentClocksEventReasons", h)
        self._reasons_old = _bound(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", h)
        self._util = _bound(nvml, "nvmlDeviceGetUtilizationRates", h)
        self._field_values = _bound(nvml, "nvmlDeviceGetFieldValues", h)

    def read(self, ts_ns: int) -> DeviceSample:
        """Sample this device for the tick at ts_ns (Unix ns); never raises for NVML errors."""
        values = nan_values()
        buffered: list[Buffered] = []
        try:
            util_dry = self._drain_samples(ts_ns, buffered)
            self._read_fields(values, self._power_buffered(ts_ns))
            self._read_memory(values)
            self._read_scalars(values)
            self._read_utilization(values, util_dry)
            processes = self._read_processes(ts_ns)
        except DeviceLostError:
            self.device.lost = True
            log.error("GPU %s is lost (fell off the bus?); its values are NaN until it is back",
                      self.device.uuid)
            return DeviceSample(nan_values(), buffered, lost=True)
        return DeviceSample(values, buffered, processes=processes)

    def reset(self, handle: Any) -> None:
        """Use a fresh handle after the device came back; counters restart."""
        self.device.handle = handle
        self.device.lost = False
        self._rates.clear()
        self._bind(handle)

    # ------------------------------------------------------------------ calls and failures
    def _call(self, key: str, fn: Callable[[], T]) -> T | None:
        if key in self.device.unsupported:
            return None
        try:
            return fn()
        except self._nvml.NVMLError as exc:
            self._failed(key, exc.value)
            return None

    def _call_or_older(self, key: str, newer: Callable[[], T], older: Callable[[], T]) -> T | None:
        """Call the versioned function; on an old driver (symbol missing) use the older one."""
        if key in self.device.unsupported:
            return None
        if key not in self._fell_back:
            try:
                return newer()
            except self._nvml.NVMLError as exc:
                if exc.value not in FALLBACK_CODES:
                    self._failed(key, exc.value)
                    return None
                self._fell_back.add(key)
                log.info("GPU %s: %s falls back to the older NVML call", self.device.uuid, key)
        return self._call(key, older)

    def _failed(self, key: str, code: int) -> None:
        """Classify one failed call: lost device, unsupported (cached), or a counted error."""
        if code in LOST_CODES:
            raise DeviceLostError(key)
        if code in UNSUPPORTED_CODES:
            # copy-on-write: other threads (the exporter) may be iterating the old set
            self.device.unsupported = self.device.unsupported | {key}
            self._fields = {}
            log.info("GPU %s: %s not supported (NVML error %d); not asking again",
                     self.device.uuid, key, code)
            return
        errors = self.device.errors
        self.device.errors = {**errors, key: errors.get(key, 0) + 1}
        if (key, code) not in self._logged:
            self._logged.add((key, code))
            log.warning("GPU %s: reading %s failed with NVML error %d; counting further failures",
                        self.device.uuid, key, code)

    # ------------------------------------------------------------------ processes
    def _read_processes(self, ts_ns: int) -> list[ProcessSample] | None:
        """The GPU's compute processes (host PIDs, bytes) when due, with each one's SM
        utilization where the driver samples it (not on MIG); None when not read."""
        if ts_ns < self._next_processes_ns:
            return None
        self._next_processes_ns = ts_ns + round(self._options.processes_every_s * 1e9)
        handle = self.device.handle
        procs = self._call("processes",
                           lambda: self._nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        if procs is None:
            return None
        util = self._process_utilization()
        return [ProcessSample(int(p.pid), int(p.usedGpuMemory or 0), util.get(int(p.pid)))
                for p in procs]

    def _process_utilization(self) -> dict[int, float]:
        """pid -> SM utilization (%) from samples newer than the last seen; {} when none."""
        key = "process_util"
        if self.device.is_mig or key in self.device.unsupported:
            return {}
        try:
            samples = self._nvml.nvmlDeviceGetProcessUtilization(self.device.handle,
                                                                 self._process_util_us)
        except self._nvml.NVMLError as exc:
            if exc.value != NOT_FOUND:  # NOT_FOUND: no process ran kernels since last seen
                self._failed(key, exc.value)
            return {}
        out: dict[int, float] = {}
        for sample in samples:
            self._process_util_us = max(self._process_util_us, int(sample.timeStamp))
            out[int(sample.pid)] = float(sample.smUtil)
        return out

    # ------------------------------------------------------------------ buffered samples
    def _drain_samples(self, ts_ns: int, out: list[Buffered]) -> bool:
        """Drain the driver's sample buffers when due; True if utilization had nothing new."""
        if self._next_drain_ns is not None and ts_ns < self._next_drain_ns:
            return False
        self._next_drain_ns = ts_ns + round(self._options.samples_every_s * 1e9)
        util_dry = False
        for stream in self._streams:
            if stream.key in self.device.unsupported:
                continue
            try:
                got = self._poll(stream)
            except self._nvml.NVMLError as exc:
                if exc.value != NOT_FOUND:  # NOT_FOUND: no sample newer than last_seen
                    self._failed(stream.key, exc.value)
                got = None
            if got is not None:
                out.append(got)
                if stream.key == "power_samples":
                    self._last_power_ns = ts_ns
            elif stream.key == "util_samples":
                util_dry = True
        return util_dry

    def _power_buffered(self, ts_ns: int) -> bool:
        """True while power comes from the driver's buffer (so not from instant power)."""
        last = self._last_power_ns
        return ("power_samples" not in self.device.unsupported and last is not None
                and ts_ns - last <= self._options.power_stale_s * 1e9)

    def _poll(self, stream: _SampleStream) -> Buffered | None:
        value_type, samples = self._nvml.nvmlDeviceGetSamples(
            self.device.handle, stream.sampling_type, stream.last_seen_us)
        if not samples:
            return None
        raw_ts, raw_vals = decode_samples(samples, value_type)
        last = stream.last_seen_us
        raw_ts, first = np.unique(raw_ts, return_index=True)  # sorted, each timestamp once
        newer = raw_ts > last
        raw_ts, vals = raw_ts[newer], raw_vals[first][newer]
        if not raw_ts.size:
            return None
        wall = self._wall_ns()
        if stream.offset_ns is None:
            stream.offset_ns = ts_offset_ns(int(raw_ts[-1]), wall, self._boot_ns())
        stream.last_seen_us = int(raw_ts[-1])  # NVML's own value, fed back as lastSeen
        ts_ns = raw_ts * 1000 + stream.offset_ns
        if last == 0:  # the first drain returns the whole ring: keep the recent part only
            keep = ts_ns >= wall - round(self._options.samples_backlog_s * 1e9)
            ts_ns, vals = ts_ns[keep], vals[keep]
            if not ts_ns.size:
                return None
        return Buffered(self.device.row, stream.column, ts_ns, vals)

    # ------------------------------------------------------------------ per-tick values
    def _field_list(self, power_buffered: bool) -> tuple[tuple[Field, ...], list[int]]:
        got = self._fields.get(power_buffered)
        if got is None:
            skip = self.device.unsupported
            fields = tuple(f for f in FIELDS if f.key not in skip
                           and not (f.key == "power_instant" and power_buffered))
            got = self._fields[power_buffered] = (fields, [f.fid for f in fields])
        return got

    def _read_fields(self, values: list[float], power_buffered: bool) -> None:
        fields, ids = self._field_list(power_buffered)
        if not fields:
            return
        entries = self._call("field_values", functools.partial(self._field_values, ids))
        if entries is None:
            return
        for spec, (ret, vtype, ts_us, value) in zip(fields, decode(entries), strict=True):
            if ret != 0:
                self._failed(spec.key, ret)
            elif spec.rate:
                values[COL[spec.column]] = self._rates.rate(spec.fid, ts_us, value, vtype)
            else:
                values[COL[spec.column]] = float(value)

    def _read_memory(self, values: list[float]) -> None:
        mem = self._call_or_older("memory", self._mem_v2, self._mem_v1)
        if mem is not None:
            values[MEM_USED] = float(mem.used)  # v2 excludes reserved memory; v1 includes it
            values[MEM_TOTAL] = float(mem.total)

    def _read_scalars(self, values: list[float]) -> None:
        temp = self._call_or_older("temperature", self._temp_v, self._temp)
        clock = self._call("sm_clock", self._clock)
        reasons = self._call_or_older("throttle", self._reasons, self._reasons_old)
        if temp is not None:
            values[TEMPERATURE] = float(temp)
        if clock is not None:
            values[SM_CLOCK] = float(clock)
        if reasons is not None:
            values[THROTTLE] = float(reasons)

    def _read_utilization(self, values: list[float], util_dry: bool) -> None:
        """Memory utilization always; GPU utilization only where no samples came this drain."""
        rates = self._call("utilization", self._util)
        if rates is None:
            return
        values[MEM_UTIL] = float(rates.memory)
        if util_dry or "util_samples" in self.device.unsupported:
            values[GPU_UTIL] = float(rates.gpu)


def _bound(nvml: Any, name: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """nvml.<name> with its arguments bound; a function this nvidia-ml-py lacks (older, or
    removed as deprecated) fails as an old driver would, with FUNCTION_NOT_FOUND."""
    fn = getattr(nvml, name, None)
    if fn is not None:
        return functools.partial(fn, *args, **kwargs)

    def missing(*_: Any) -> Any:
        raise nvml.NVMLError(FUNCTION_NOT_FOUND)
    return missing


def boottime_ns() -> int:
    """CLOCK_BOOTTIME in ns: the clock boot-based NVML sample timestamps count from."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)
