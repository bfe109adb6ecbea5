"""The NVIDIA backend: NVML through nvidia-ml-py (`pynvml`), one thread per device.

Rows are the physical GPUs and, on a GPU with MIG enabled, each MIG device after its
parent (with its own MIG- UUID and `mig_parent_uuid`). A MIG row has memory only: power,
temperature and clocks belong to the parent row, and NVML offers no utilization with MIG
on, so those read NaN, never 0.

Failure policy (convention 5): an unsupported call is cached per device and not asked
again; a failed call is NaN plus a counter (`field_errors`); GPU_IS_LOST marks the device
lost (`lost_devices()`) while the others go on, and every `recover_every_s` the lost device
is looked up again by UUID (a full nvmlShutdown/nvmlInit when every device is lost); a call
that hangs stalls only its own device (`stalled_ticks`, see workers.py).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any

from gputel.agent.backends.base import (
    BackendError,
    BackendHealth,
    BackendUnavailable,
    DeviceInfo,
    Inventory,
    ProcessSample,
    Reading,
    empty_values,
)
from gputel.agent.backends.nvml_device import (
    COL,
    COLUMNS,
    LOST_CODES,
    DeviceReader,
    DeviceSample,
    NvmlDevice,
    NvmlOptions,
    boottime_ns,
    nan_values,
)
from gputel.agent.backends.nvml_events import EventTarget, XidWatcher
from gputel.agent.backends.nvml_inventory import driver_version, read_inventory
from gputel.agent.backends.workers import DeviceWorkers, release
from gputel.agent.clock import Clock, SystemClock

log = logging.getLogger(__name__)

NVML_ERROR_DRIVER_NOT_LOADED, NVML_ERROR_LIBRARY_NOT_FOUND = 9, 12
NVML_ERROR_NO_PERMISSION, NVML_ERROR_LIB_RM_VERSION_MISMATCH = 4, 18
NVML_DEVICE_MIG_ENABLE = 1
_INIT_REASONS = {
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML: libnvidia-ml.so.1 not found (no NVIDIA driver)",
    NVML_ERROR_DRIVER_NOT_LOADED: "NVML: the NVIDIA kernel driver is not loaded",
    NVML_ERROR_NO_PERMISSION: "NVML: no permission to open /dev/nvidia* (run privileged?)",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        "NVML: libnvidia-ml and kernel driver versions differ (reload the driver or reboot)",
}


def _import_pynvml() -> Any:
    """The pynvml module. Raises BackendUnavailable when nvidia-ml-py is not installed."""
    try:
        return importlib.import_module("pynvml")
    except ImportError as exc:
        raise BackendUnavailable("NVML: nvidia-ml-py (pynvml) is not installed") from exc


def _init_failure(exc: BaseException) -> str:
    """One line saying why nvmlInit failed."""
    code = getattr(exc, "value", None)
    if isinstance(code, int) and code in _INIT_REASONS:
        return _INIT_REASONS[code]
    return f"NVML: nvmlInit failed ({_error_text(exc)})"


def _error_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - pynvml's __str__ asks the library, maybe half-loaded
        text = repr(getattr(exc, "value", None))
    return f"{type(exc).__name__}: {text}"


def probe(nvml: Any | None = None) -> str | None:
    """None when NVML can sample a GPU here, else one line saying why not. Never raises."""
    try:
        mod = nvml if nvml is not None else _import_pynvml()
        mod.nvmlInit()
    except BackendUnavailable as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure to load the library is a reason
        return _init_failure(exc)
    try:
        count = int(mod.nvmlDeviceGetCount())
    except Exception as exc:  # noqa: BLE001 - probe() never raises
        return f"NVML: cannot count GPUs ({type(exc).__name__})"
    finally:
        _quiet_shutdown(mod)
    return None if count > 0 else "NVML: the driver is loaded but sees no NVIDIA GPU"


def _quiet_shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except Exception:  # shutting down a library that failed half-way: nothing to report
        log.debug("nvmlShutdown failed", exc_info=True)


class NvmlBackend:
    """NVIDIA GPUs (and MIG devices) through NVML; see the module docstring."""

    name = "nvml"

    def __init__(self, nvml: Any | None = None, clock: Clock | None = None,
                 options: NvmlOptions | None = None,
                 boot_ns: Callable[[], int] = boottime_ns) -> None:
        self._module = nvml
        self._nvml: Any = None
        self._clock = clock or SystemClock()
        self._next_read_ns = 0
        self._options = options or NvmlOptions()
        self._boot_ns = boot_ns
        self._devices: list[NvmlDevice] = []
        self._infos: list[DeviceInfo] = []
        self._readers: list[DeviceReader] = []
        self._no_values = empty_values(0, len(COLUMNS))
        self._workers: DeviceWorkers[DeviceSample] | None = None
        self._events: XidWatcher | None = None
        self._events_before: XidWatcher | None = None
        self._next_recovery_ns = 0
        self.recoveries = 0
        self.recovery_attempts = 0

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Initialise NVML, enumerate GPUs and MIG devices, start the device threads.

        Raises BackendUnavailable when the library, the driver or any GPU is missing.
        """
        self._nvml = self._module if self._module is not None else _import_pynvml()
        try:
            self._nvml.nvmlInit()
        except self._nvml.NVMLError as exc:
            raise BackendUnavailable(_init_failure(exc)) from exc
        try:
            self._devices, self._infos = _enumerate(self._nvml)
        except self._nvml.NVMLError as exc:
            _quiet_shutdown(self._nvml)
            raise BackendError(f"NVML: cannot enumerate GPUs ({_error_text(exc)})") from exc
        if not self._devices:
            _quiet_shutdown(self._nvml)
            raise BackendUnavailable("NVML: the driver is loaded but sees no NVIDIA GPU")
        self._readers = [DeviceReader(self._nvml, d, self._options, self._clock.time_ns,
                                      self._boot_ns) for d in self._devices]
        self._workers = DeviceWorkers(len(self._devices), self._options.deadline_s,
                                      name="gputel-nvml")
        # What a tick between field reads carries: shared, read-only, no array per tick.
        self._no_values = empty_values(len(self._devices), len(COLUMNS))
        self._no_values.flags.writeable = False
        self._start_events()

    def _start_events(self) -> None:
        watcher = XidWatcher(self._nvml, len(self._devices), self._options.event_wait_ms,
                             carry=self._events_before)
        self._events = watcher if watcher.start(self._event_targets()) else None

    def _stop_events(self) -> None:
        if self._events is not None:
            self._events.stop()
            self._events_before = self._events  # its counts carry over to the next watcher
            self._events = None

    def _event_targets(self) -> list[EventTarget]:
        targets = {d.row: EventTarget(d.row, d.handle) for d in self._devices
                   if not d.is_mig and not d.lost}
        for d in self._devices:
            if d.is_mig and d.parent_row in targets:
                targets[d.parent_row].mig_rows[(d.gpu_instance, d.compute_instance)] = d.row
        return list(targets.values())

    def close(self) -> None:
        """Stop the threads and shut NVML down; idempotent."""
        self._stop_events()
        workers, nvml = self._workers, self._nvml
        self._workers = self._nvml = None
        release(workers, (lambda: _quiet_shutdown(nvml)) if nvml is not None else None)

    # ------------------------------------------------------------------ the interface
    def devices(self) -> list[DeviceInfo]:
        """GPUs and MIG devices, in row order."""
        return list(self._infos)

    def metrics(self) -> tuple[str, ...]:
        """The metric ids of the columns (see nvml_device.COLUMNS); SI units."""
        return COLUMNS

    def read(self, ts_ns: int) -> Reading:
        """Sample every device in parallel for the tick at ts_ns (Unix ns)."""
        if self._workers is None:
            raise RuntimeError("NvmlBackend.read before open()")
        now = self._clock.monotonic_ns()
        if now < self._next_read_ns:  # between the driver's refreshes: no call, no wake-up
            return Reading(self._no_values)
        values = empty_values(len(self._devices), len(COLUMNS))
        period_ns = round(1e9 / self._options.field_rate_hz)
        self._next_read_ns = max(self._next_read_ns + period_ns, now - period_ns // 2)
        tick = self._workers.run(self._jobs(ts_ns))
        buffered = []
        processes: dict[int, list[ProcessSample]] = {}
        for row, sample in tick.on_time.items():
            buffered.extend(sample.buffered)
            if not sample.lost:
                values[row] = sample.values
            if sample.processes is not None:
                processes[row] = sample.processes
        for _, sample in tick.late:  # its values are stale; its driver samples are not
            buffered.extend(sample.buffered)
        self._after_recovery([*tick.on_time.values(), *(s for _, s in tick.late)])
        if self._events is not None:
            self._events.fill(values[:, COL["xid_events"]])
        return Reading(values, buffered, processes or None)

    def _jobs(self, ts_ns: int) -> dict[int, Callable[[], DeviceSample]]:
        jobs: dict[int, Callable[[], DeviceSample]] = {
            d.row: functools.partial(r.read, ts_ns)
            for d, r in zip(self._devices, self._readers, strict=True) if not d.lost}
        lost = [d for d in self._devices if d.lost]
        now = self._clock.monotonic_ns()
        every_device = len(lost) == len(self._devices)
        if not lost or now < self._next_recovery_ns or (every_device and self._workers_busy()):
            return jobs  # (a re-init must not pull the library from under a hung call)
        self._next_recovery_ns = now + round(self._options.recover_every_s * 1e9)
        self.recovery_attempts += 1
        if every_device:
            self._stop_events()  # the event set dies with the library
            jobs[lost[0].row] = self._reinit_all
        else:
            for d in lost:
                jobs[d.row] = functools.partial(self._recover, d)
        return jobs

    def _workers_busy(self) -> bool:
        return self._workers is not None and self._workers.any_busy()

    # ------------------------------------------------------------------ recovery
    def _recover(self, device: NvmlDevice) -> DeviceSample:
        """Look a lost device up again by UUID (on its own thread); NaN values either way."""
        nvml = self._nvml
        try:
            handle = nvml.nvmlDeviceGetHandleByUUID(device.uuid)
            nvml.nvmlDeviceGetMemoryInfo(handle)  # a call that has to reach the device
        except nvml.NVMLError as exc:
            log.info("GPU %s still lost (NVML error %d)", device.uuid, exc.value)
            return DeviceSample(nan_values(), [], lost=True)
        self._readers[device.row].reset(handle)
        log.warning("GPU %s is back", device.uuid)
        return DeviceSample(nan_values(), [], recovered=1)

    def _reinit_all(self) -> DeviceSample:
        """Every device is lost: shut NVML down, initialise it again, look each one up."""
        nvml = self._nvml
        _quiet_shutdown(nvml)
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            log.warning("NVML re-initialisation failed (error %d)", exc.value)
            return DeviceSample(nan_values(), [], lost=True)
        recovered = sum(self._recover(device).recovered for device in self._devices)
        return DeviceSample(nan_values(), [], lost=self._devices[0].lost, recovered=recovered)

    def _after_recovery(self, samples: list[DeviceSample]) -> None:
        recovered = sum(s.recovered for s in samples)
        if not recovered:
            return
        self.recoveries += recovered
        self._stop_events()  # fresh handles: register them again
        self._start_events()

    def inventory(self) -> list[Inventory]:
        """Each row's inventory (see nvml_inventory), read now on the caller's thread."""
        nvml = self._nvml
        if nvml is None:
            return [Inventory() for _ in self._devices]
        driver = driver_version(nvml)
        return [read_inventory(nvml, d, info.model, driver)
                for d, info in zip(self._devices, self._infos, strict=True)]

    # ------------------------------------------------------------------ counters
    def health(self) -> BackendHealth:
        """Failed fields, lost, stalled and recovered devices, XIDs per row (a snapshot)."""
        return BackendHealth(self.field_errors, tuple(self.lost_devices()),
                             tuple(self.stalled_devices()), self.recoveries,
                             tuple(self.xid_counts()))

    def lost_devices(self) -> list[int]:
        """Rows of the devices currently lost (GPU_IS_LOST)."""
        return [d.row for d in self._devices if d.lost]

    def stalled_devices(self) -> list[int]:
        """Rows whose last driver call has not returned (past the watchdog deadline)."""
        workers = self._workers
        return [] if workers is None else [d.row for d in self._devices if workers.busy(d.row)]

    @property
    def stalled_ticks(self) -> list[int]:
        """Per row, ticks that got no values because the device's call had not returned."""
        return [] if self._workers is None else list(self._workers.stalled_ticks)

    @property
    def field_errors(self) -> dict[str, int]:
        """Failed reads by field name, summed over devices (unsupported ones not included)."""
        total: dict[str, int] = {}
        for device in self._devices:
            for key, n in device.errors.items():
                total[key] = total.get(key, 0) + n
        return total

    def unsupported(self, row: int) -> frozenset[str]:
        """Fields this device does not offer (never asked again)."""
        return frozenset(self._devices[row].unsupported)

    def xid_counts(self) -> list[int]:
        """XID critical-error events per row since the agent started."""
        events = self._events or self._events_before
        return [0] * len(self._devices) if events is None else list(events.counts)


def _enumerate(nvml: Any) -> tuple[list[NvmlDevice], list[DeviceInfo]]:
    """Every GPU NVML sees and, after each GPU with MIG on, its MIG devices."""
    devices: list[NvmlDevice] = []
    infos: list[DeviceInfo] = []
    for index in range(nvml.nvmlDeviceGetCount()):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            parent = _describe(nvml, handle, len(devices), "")
        except nvml.NVMLError as exc:
            log.error("GPU %d cannot be opened (NVML error %d); skipping it", index, exc.value)
            continue
        mig_on = _mig_enabled(nvml, handle)
        devices.append(NvmlDevice(parent.index, parent.uuid, handle, mig_enabled=mig_on))
        infos.append(parent)
        if mig_on:
            _enumerate_mig(nvml, handle, devices[-1], devices, infos)
    return devices, infos


def _describe(nvml: Any, handle: Any, row: int, parent_uuid: str) -> DeviceInfo:
    """DeviceInfo for one handle. Raises NVMLError."""
    pci = "" if parent_uuid else _text(nvml.nvmlDeviceGetPciInfo(handle).busId)
    return DeviceInfo(index=row, uuid=_text(nvml.nvmlDeviceGetUUID(handle)), vendor="nvidia",
                      model=_text(nvml.nvmlDeviceGetName(handle)),
                      memory_total_bytes=_memory_total(nvml, handle),
                      mig_parent_uuid=parent_uuid, pci_bus_id=pci)


def _memory_total(nvml: Any, handle: Any) -> int:
    """Bytes; 0 when not readable (a MIG-enabled parent answers NO_PERMISSION unprivileged)."""
    try:
        return int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
    except nvml.NVMLError as exc:
        if exc.value in LOST_CODES:
            raise
        return 0


def _mig_enabled(nvml: Any, handle: Any) -> bool:
    try:
        return bool(nvml.nvmlDeviceGetMigMode(handle)[0] == NVML_DEVICE_MIG_ENABLE)
    except nvml.NVMLError:  # NOT_SUPPORTED before Ampere
        return False


def _enumerate_mig(nvml: Any, handle: Any, parent: NvmlDevice, devices: list[NvmlDevice],
                   infos: list[DeviceInfo]) -> None:
    for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except nvml.NVMLError:  # NOT_FOUND: an empty slot
            continue
        try:
            info = _describe(nvml, mig, len(devices), parent.uuid)
            gi = nvml.nvmlDeviceGetGpuInstanceId(mig)
            ci = nvml.nvmlDeviceGetComputeInstanceId(mig)
        except nvml.NVMLError as exc:
            log.error("MIG device %d of GPU %s cannot be read (NVML error %d); skipping it",
                      slot, parent.uuid, exc.value)
            continue
        devices.append(NvmlDevice(info.index, info.uuid, mig, is_mig=True,
                                  parent_row=parent.row, gpu_instance=gi, compute_instance=ci))
        infos.append(info)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
