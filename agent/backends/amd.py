"""The AMD backend: AMD SMI (the `amdsmi` Python package over ROCm's libamd_smi.so).

Per device per tick: one `amdsmi_get_gpu_metrics_info` (one sysfs gpu_metrics read, about
2-3 ms on Navi; every value but memory comes from it) and one `amdsmi_get_gpu_vram_usage`
(a DRM ioctl), each device on its own thread behind the same watchdog as NVML
(workers.py). Values are converted here, once, to the catalogue's wire units (whole
numbers): activity %, temperatures C, clocks MHz as gpu_metrics gives them on dGPUs; power
comes in W (to mW); energy_accumulator counts 15.259 uJ (2^-16 J) units (to mJ, rounded);
VRAM comes in MiB (to bytes).

The wrapper writes "N/A" for a field whose value is the all-ones sentinel of its width and
for activity above 100 %; the C side also uses UINT32_MAX for unsupported fields, and older
wrappers pass sentinels through, so both are checked here: either reads NaN, never 0xFFFF.
The module is named `amd` so that it never shadows the `amdsmi` package on import.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gputel.agent.backends.amd_inventory import read_inventory, read_processes
from gputel.agent.backends.base import (
    BackendHealth,
    BackendUnavailable,
    DeviceInfo,
    Inventory,
    ProcessSample,
    Reading,
    empty_values,
)
from gputel.agent.backends.workers import DeviceWorkers, release

log = logging.getLogger(__name__)
NAN = math.nan

COLUMNS: tuple[str, ...] = (
    "gpu_util", "mem_util", "mem_used", "mem_total", "power", "temperature", "sm_clock",
    "energy", "power_avg", "mem_temperature",
)
COL = {name: i for i, name in enumerate(COLUMNS)}
ENERGY_UNIT_MJ = 1000 * 2.0**-16  # gpu_metrics energy_accumulator: 15.259 uJ units
MW_PER_W = 1000.0
MIB = 1024**2
AMDSMI_STATUS_NOT_SUPPORTED, AMDSMI_STATUS_NO_PERM = 2, 10
AMDSMI_STATUS_DRIVER_NOT_LOADED = 34
UNSUPPORTED_CODES = frozenset({AMDSMI_STATUS_NOT_SUPPORTED, AMDSMI_STATUS_NO_PERM})
PROCESSES_EVERY_NS = 10**9  # process lists once a second (attribution), as NVML's


@dataclass(frozen=True, slots=True)
class _AmdSample:
    """One device's tick: values in COLUMNS order, its processes when read this tick."""

    values: list[float]
    processes: list[ProcessSample] | None = None


@dataclass(frozen=True, slots=True)
class _Source:
    """One gpu_metrics key: its width in bits, its column, the factor to the wire unit."""

    key: str
    bits: int
    column: int
    scale: float = 1.0
    percent: bool = False


# In order of preference: the first valid source of a column wins.
SOURCES: tuple[_Source, ...] = (
    _Source("average_gfx_activity", 16, COL["gpu_util"], percent=True),
    _Source("average_umc_activity", 16, COL["mem_util"], percent=True),
    _Source("current_socket_power", 16, COL["power"], MW_PER_W),  # MI300 and newer
    _Source("average_socket_power", 16, COL["power"], MW_PER_W),  # Navi, MI200 and older
    _Source("average_socket_power", 16, COL["power_avg"], MW_PER_W),
    _Source("temperature_hotspot", 16, COL["temperature"]),  # junction
    _Source("temperature_edge", 16, COL["temperature"]),
    _Source("temperature_mem", 16, COL["mem_temperature"]),
    _Source("current_gfxclk", 16, COL["sm_clock"]),
    _Source("current_gfxclks", 16, COL["sm_clock"]),  # per XCC on MI300: the first valid
    _Source("energy_accumulator", 64, COL["energy"], ENERGY_UNIT_MJ),
)


def number(value: Any, bits: int, percent: bool = False) -> float:
    """A gpu_metrics value as float; NaN for "N/A", sentinels and impossible percentages."""
    if isinstance(value, list):
        return next((v for v in (number(x, bits, percent) for x in value) if not math.isnan(v)),
                    NAN)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NAN  # "N/A" and any other string
    if value == (1 << bits) - 1 or (bits > 32 and value == 0xFFFFFFFF):
        return NAN
    if percent and not 0 <= value <= 100:
        return NAN
    return float(value)


def _whole(value: float) -> float:
    """Rounded to a whole number (the wire's exact integers); NaN stays NaN."""
    return value if math.isnan(value) else float(round(value))


def _import_amdsmi() -> Any:
    """The amdsmi module, its import noise swallowed. Raises BackendUnavailable."""
    try:
        # Without ROCm the import prints two lines to stdout and raises KeyError.
        with contextlib.redirect_stdout(io.StringIO()):
            return importlib.import_module("amdsmi")
    except ImportError as exc:
        raise BackendUnavailable("AMD SMI: the amdsmi Python package is not installed") from exc
    except KeyError as exc:
        raise BackendUnavailable("AMD SMI: libamd_smi.so not found (install ROCm's amd-smi-lib "
                                 "or set ROCM_PATH)") from exc
    except Exception as exc:  # a broken vendor package is a reason, not a crash
        raise BackendUnavailable(f"AMD SMI: importing amdsmi failed ({type(exc).__name__}: "
                                 f"{exc})") from exc


def _error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "err_code", None)
    return code if isinstance(code, int) else None


def _init_failure(exc: BaseException) -> str:
    if _error_code(exc) == AMDSMI_STATUS_DRIVER_NOT_LOADED:
        return "AMD SMI: the amdgpu kernel driver is not loaded"
    if _error_code(exc) == AMDSMI_STATUS_NO_PERM:
        return "AMD SMI: no permission to open /dev/dri or /dev/kfd (run privileged?)"
    return f"AMD SMI: amdsmi_init failed ({type(exc).__name__}: {exc})"


def probe(amdsmi: Any | None = None) -> str | None:
    """None when AMD SMI can sample a GPU here, else one line saying why not. Never raises."""
    try:
        mod = amdsmi if amdsmi is not None else _import_amdsmi()
        mod.amdsmi_init(mod.AmdSmiInitFlags.INIT_AMD_GPUS)
    except BackendUnavailable as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - probe() never raises
        return _init_failure(exc)
    try:
        count = len(mod.amdsmi_get_processor_handles())
    except Exception as exc:  # noqa: BLE001 - probe() never raises
        return f"AMD SMI: cannot list GPUs ({type(exc).__name__})"
    finally:
        _quiet_shut_down(mod)
    return None if count else "AMD SMI: the library is loaded but sees no AMD GPU"


def _quiet_shut_down(amdsmi: Any) -> None:
    try:
        amdsmi.amdsmi_shut_down()
    except Exception:  # shutting down a half-initialised library
        log.debug("amdsmi_shut_down failed", exc_info=True)


@dataclass(slots=True)
class _AmdDevice:
    """One AMD GPU (or partition) handle and what is known about it."""

    row: int
    uuid: str
    handle: Any
    unsupported: frozenset[str] = frozenset()
    errors: dict[str, int] = field(default_factory=dict)
    logged: set[tuple[str, int | None]] = field(default_factory=set)
    next_processes_ns: int = 0


class AmdSmiBackend:
    """AMD GPUs through AMD SMI; see the module docstring."""

    name = "amdsmi"

    def __init__(self, amdsmi: Any | None = None, deadline_s: float = 0.05) -> None:
        self._module = amdsmi
        self._amdsmi: Any = None
        self._deadline_s = deadline_s
        self._devices: list[_AmdDevice] = []
        self._infos: list[DeviceInfo] = []
        self._workers: DeviceWorkers[_AmdSample] | None = None

    def open(self) -> None:
        """Initialise AMD SMI, enumerate GPUs, start the device threads.

        Raises BackendUnavailable when the package, libamd_smi.so, the driver or a GPU is missing.
        """
        self._amdsmi = self._module if self._module is not None else _import_amdsmi()
        amdsmi = self._amdsmi
        try:
            amdsmi.amdsmi_init(amdsmi.AmdSmiInitFlags.INIT_AMD_GPUS)
        except amdsmi.AmdSmiException as exc:
            raise BackendUnavailable(_init_failure(exc)) from exc
        self._log_versions()
        try:
            handles = amdsmi.amdsmi_get_processor_handles()
        except amdsmi.AmdSmiException as exc:
            _quiet_shut_down(amdsmi)
            raise BackendUnavailable(f"AMD SMI: cannot list GPUs ({exc})") from exc
        for handle in handles:
            self._add_device(handle)
        if not self._devices:
            _quiet_shut_down(amdsmi)
            raise BackendUnavailable("AMD SMI: the library is loaded but sees no AMD GPU")
        self._workers = DeviceWorkers(len(self._devices), self._deadline_s, name="gputel-amd")

    def _log_versions(self) -> None:
        try:
            version = self._amdsmi.amdsmi_get_lib_version()
        except self._amdsmi.AmdSmiException:
            return
        log.info("libamd_smi %s.%s.%s; the amdsmi wheel must match it (struct layouts differ)",
                 version.get("major"), version.get("minor"), version.get("release"))

    def _add_device(self, handle: Any) -> None:
        amdsmi, row = self._amdsmi, len(self._devices)
        try:
            bdf = amdsmi.amdsmi_get_gpu_device_bdf(handle)
            uuid = amdsmi.amdsmi_get_gpu_device_uuid(handle) or bdf
            model = amdsmi.amdsmi_get_gpu_asic_info(handle).get("market_name", "AMD GPU")
            vram = amdsmi.amdsmi_get_gpu_vram_usage(handle)
        except amdsmi.AmdSmiException as exc:
            log.error("AMD GPU handle %d cannot be read (%s); skipping it", row, exc)
            return
        total = number(vram.get("vram_total"), 32)
        self._devices.append(_AmdDevice(row, uuid, handle))
        self._infos.append(DeviceInfo(
            index=row, uuid=uuid, vendor="amd", model=str(model),
            memory_total_bytes=0 if math.isnan(total) else int(total) * MIB, pci_bus_id=bdf))

    def close(self) -> None:
        """Stop the threads and shut AMD SMI down; idempotent."""
        workers, amdsmi = self._workers, self._amdsmi
        self._workers = self._amdsmi = None
        release(workers, (lambda: _quiet_shut_down(amdsmi)) if amdsmi is not None else None)

    def devices(self) -> list[DeviceInfo]:
        """The GPUs (MI300 partitions appear as separate devices), in row order."""
        return list(self._infos)

    def metrics(self) -> tuple[str, ...]:
        """The metric ids of the columns; SI units."""
        return COLUMNS

    def read(self, ts_ns: int) -> Reading:
        """Sample every device in parallel for the tick at ts_ns (Unix ns)."""
        if self._workers is None:
            raise RuntimeError("AmdSmiBackend.read before open()")
        values = empty_values(len(self._devices), len(COLUMNS))
        jobs: dict[int, Callable[[], _AmdSample]] = {
            d.row: functools.partial(self._read_device, d, ts_ns) for d in self._devices}
        processes: dict[int, list[ProcessSample]] = {}
        for row, sample in self._workers.run(jobs).on_time.items():
            values[row] = sample.values
            if sample.processes is not None:
                processes[row] = sample.processes
        return Reading(values, processes=processes or None)

    def inventory(self) -> list[Inventory]:
        """Each device's inventory (see amd_inventory), read now on the caller's thread."""
        amdsmi = self._amdsmi
        if amdsmi is None:
            return [Inventory() for _ in self._devices]
        return [read_inventory(amdsmi, d.handle) for d in self._devices]

    def _read_device(self, device: _AmdDevice, ts_ns: int) -> _AmdSample:
        """One device's values and, once a second, processes; runs on its worker thread."""
        processes = None
        if ts_ns >= device.next_processes_ns:
            device.next_processes_ns = ts_ns + PROCESSES_EVERY_NS
            processes = read_processes(self._amdsmi, device.handle)
        return _AmdSample(self._read_values(device), processes)

    def _read_values(self, device: _AmdDevice) -> list[float]:
        values = [NAN] * len(COLUMNS)
        metrics = self._call(device, "gpu_metrics", self._amdsmi.amdsmi_get_gpu_metrics_info)
        if metrics is not None:
            for source in SOURCES:
                if math.isnan(values[source.column]):
                    raw = number(metrics.get(source.key, "N/A"), source.bits, source.percent)
                    values[source.column] = _whole(raw * source.scale)
        vram = self._call(device, "vram", self._amdsmi.amdsmi_get_gpu_vram_usage)
        if vram is not None:
            values[COL["mem_used"]] = number(vram.get("vram_used"), 32) * MIB
            values[COL["mem_total"]] = number(vram.get("vram_total"), 32) * MIB
        return values

    def _call(self, device: _AmdDevice, key: str, fn: Callable[[Any], Any]) -> Any:
        if key in device.unsupported:
            return None
        try:
            return fn(device.handle)
        except self._amdsmi.AmdSmiException as exc:
            self._failed(device, key, exc)
            return None

    def _failed(self, device: _AmdDevice, key: str, exc: BaseException) -> None:
        code = _error_code(exc)
        if code in UNSUPPORTED_CODES:
            device.unsupported = device.unsupported | {key}
            log.info("AMD GPU %s: %s not supported (%s); not asking again", device.uuid, key, code)
            return
        device.errors = {**device.errors, key: device.errors.get(key, 0) + 1}
        if (key, code) not in device.logged:
            device.logged.add((key, code))
            log.warning("AMD GPU %s: reading %s failed (%s); counting further failures",
                        device.uuid, key, exc)

    def health(self) -> BackendHealth:
        """Failed reads by call name (AMD SMI reports no lost or stalled devices here)."""
        return BackendHealth(self.field_errors)

    @property
    def field_errors(self) -> dict[str, int]:
        """Failed reads by call name, summed over devices (unsupported ones not included)."""
        total: dict[str, int] = {}
        for device in self._devices:
            for key, n in device.errors.items():
                total[key] = total.get(key, 0) + n
        return total

    def unsupported(self, row: int) -> frozenset[str]:
        """Calls this device does not offer (never asked again)."""
        return self._devices[row].unsupported

    @property
    def stalled_ticks(self) -> list[int]:
        """Per row, ticks that got no values because the device's call had not returned."""
        return [] if self._workers is None else list(self._workers.stalled_ticks)
