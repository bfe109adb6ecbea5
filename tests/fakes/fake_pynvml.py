"""A fake `pynvml` that replays nvidia-ml-py 13.615.71 and the driver behind it.

Every structure it returns is the real pynvml ctypes structure, built from the installed
nvidia-ml-py (`c_nvmlFieldValue_t` arrays, lists of `c_nvmlSample_t`, `c_nvmlMemory_v2_t`,
`c_nvmlUtilization_t`, `nvmlPciInfo_t`, `c_nvmlEventData_t`), handles are real
`c_nvmlDevice_t` pointers, and every error is the real subclass made by
`pynvml.NVMLError(code)` (NVMLError_NotSupported, NVMLError_GpuIsLost, ...). Constants and
classes it does not define are the real module's; functions it does not define are absent,
as on a driver too old to have them.

Driver behaviour replayed (NVML API reference, https://docs.nvidia.com/deploy/nvml-api/,
and nvidia-ml-py's own pynvml.py for the error classes and the load/init checks):
- nvmlInit without a driver raises NVMLError_LibraryNotFound; calls before init raise
  NVMLError_Uninitialized (pynvml.py: _LoadNvmlLibrary, _nvmlGetFunctionPointer).
- nvmlDeviceGetFieldValues succeeds as a whole and reports each field's own nvmlReturn
  (reference: "Field Value Queries", and nvmlFieldValue_t.nvmlReturn).
- nvmlDeviceGetSamples returns samples strictly newer than lastSeenTimeStamp from the
  driver's buffer (reference: nvmlDeviceGetSamples), here a ring of 119 power samples and
  100 utilization samples, and raises NVMLError_NotFound when there is none.
- MIG: utilization (rates and samples) is NOT_SUPPORTED on a MIG-enabled GPU and on MIG
  devices; power, temperature, clocks and field values are NOT_SUPPORTED on MIG devices.
- A lost GPU answers GPU_IS_LOST to every call, on old handles even after it is back.
- Old drivers (`legacy=True`) lack nvmlDeviceGetMemoryInfo_v2, nvmlDeviceGetTemperatureV
  and nvmlDeviceGetCurrentClocksEventReasons (FUNCTION_NOT_FOUND).
"""

from __future__ import annotations

import ctypes
import queue
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pynvml

MIB = 1024**2
NO_INSTANCE = 0xFFFFFFFF
RING = {pynvml.NVML_TOTAL_POWER_SAMPLES: 119, pynvml.NVML_GPU_UTILIZATION_SAMPLES: 100}
UNION_MEMBER = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")
U32, U64 = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
# Raw layouts of c_nvmlFieldValue_t (timestamp, latencyUsec, valueType, nvmlReturn at offset
# 8; the value union at 32) and c_nvmlSample_t (timeStamp u64, then the union), as C writes.
_TAIL = struct.Struct("<qqII")
_VALUE_PACK = tuple(struct.Struct("<" + c) for c in ("d", "I", "Q", "Q", "q", "i", "H"))
_SAMPLE_PACK = struct.Struct("<QI")


def error(code: int) -> pynvml.NVMLError:
    """The real pynvml exception for an nvmlReturn_t code (a per-code subclass)."""
    return pynvml.NVMLError(code)


@dataclass
class FakeMig:
    """One MIG device: its own UUID, GPU/compute instance ids and memory (bytes)."""

    uuid: str
    gpu_instance: int
    compute_instance: int = 0
    name: str = "NVIDIA H100 80GB HBM3 MIG 1g.10gb"
    mem_total: int = 9984 * MIB
    mem_used: int = 13 * MIB


@dataclass
class FakeGpu:
    """One physical GPU and what its driver answers. Units as NVML's: mW, mJ, C, MHz, %."""

    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    bus_id: str = "00000000:18:00.0"
    mem_total: int = 81559 * MIB
    mem_reserved: int = 539 * MIB
    mem_used: int = 1024 * MIB
    power_mw: int = 71_000
    power_avg_mw: int = 70_000
    energy_mj: int = 5_000_000
    temperature: int = 34
    mem_temperature: int = 41
    sm_clock: int = 1980
    util_gpu: int = 0
    util_mem: int = 0
    pcie_tx: int = 0
    pcie_rx: int = 0
    throttle: int = 0x1  # nvmlClocksEventReasonGpuIdle
    ecc_sbe: int = 0
    ecc_dbe: int = 0
    mig: list[FakeMig | None] = field(default_factory=list)
    mig_parent_privileged: bool = False
    unsupported: set[str] = field(default_factory=set)  # function names, "field:<id>"
    fail: dict[str, int] = field(default_factory=dict)  # function name -> nvmlReturn raised
    field_returns: dict[int, int] = field(default_factory=dict)  # field id -> its nvmlReturn
    field_types: dict[int, int] = field(default_factory=dict)
    supported_events: int = 0x8 | 0x2 | 0x4000
    lost: bool = False
    hang: dict[str, threading.Event] = field(default_factory=dict)
    sample_period_us: dict[int, int] = field(default_factory=dict)  # auto-generated samples
    rings: dict[int, deque[tuple[int, int]]] = field(default_factory=dict)
    generation: int = 0
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes)
    # Inventory, as an H100 SXM5 answers: no fan (fan_percent None: NOT_SUPPORTED).
    power_limit_mw: int = 700_000
    serial: str = "1654922001234"
    vbios: str = "96.00.99.00.01"
    inforom: str = "G520.0200.00.05"
    architecture: int = pynvml.NVML_DEVICE_ARCH_HOPPER
    fan_percent: int | None = None
    mem_clock: int = 2619
    pcie: tuple[int, int, int, int] = (5, 16, 5, 16)  # current gen, width; max gen, width
    ecc: tuple[int, int] = (1, 1)  # current, pending
    process_util: list[tuple[int, int, int]] = field(default_factory=list)  # (pid, ts_us, sm%)

    def push_sample(self, sampling_type: int, ts_us: int, value: int) -> None:
        """Append one driver sample (timestamp in us, in the driver's clock domain)."""
        ring = self.rings.setdefault(sampling_type, deque(maxlen=RING.get(sampling_type, 100)))
        ring.append((ts_us, value))


class FakeNvml:
    """Stands in for the pynvml module; pass it to NvmlBackend(nvml=...) or probe(nvml=...)."""

    def __init__(self, gpus: list[FakeGpu], driver: bool = True, legacy: bool = False,
                 clock_us: Callable[[], int] | None = None,
                 sample_clock_us: Callable[[], int] | None = None,
                 latency_s: dict[str, float] | None = None, count_calls: bool = True) -> None:
        self.gpus = gpus
        self._driver = driver
        self._legacy = legacy
        self._clock_us = clock_us or (lambda: time.time_ns() // 1000)
        self._sample_clock_us = sample_clock_us or self._clock_us
        self._latency = latency_s or {}
        self._count = count_calls
        self._lock = threading.Lock()
        self._init_refs = 0
        self.inits = 0  # successful nvmlInit calls
        self._targets: dict[int, tuple[FakeGpu | FakeMig, FakeGpu, int]] = {}
        self._handles: dict[int, Any] = {}  # id(target) -> current handle
        self._keep: list[Any] = []  # the structs and handles, kept alive (ids stay unique)
        self._by_id: dict[int, tuple[FakeGpu | FakeMig, FakeGpu, int]] = {}
        self._event_sets: dict[int, tuple[queue.Queue[Any], set[int]]] = {}
        self._next_auto: dict[tuple[int, int], int] = {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.field_requests: Counter[tuple[str, int]] = Counter()
        self.last_seen_args: list[tuple[str, int, int]] = []  # GetSamples (uuid, type, lastSeen)
        self.hanging = threading.Event()  # set when a call starts blocking on a hang Event
        self.driver_version = "550.54.15"
        for gpu in gpus:
            self._new_handle(gpu, gpu)
            for mig in gpu.mig:
                if mig is not None:
                    self._new_handle(mig, gpu)

    def __getattr__(self, name: str) -> Any:
        """Constants, structures and error classes of the real module; never its functions."""
        value = getattr(pynvml, name)
        if callable(value) and not isinstance(value, type):
            raise AttributeError(name)
        return value

    # ------------------------------------------------------------------ test controls
    def lose(self, index: int) -> None:
        """The GPU falls off the bus: every call on it answers GPU_IS_LOST."""
        self.gpus[index].lost = True

    def reattach(self, index: int) -> None:
        """The GPU is back, under new handles; old handles stay invalid."""
        gpu = self.gpus[index]
        gpu.lost = False
        gpu.generation += 1
        self._new_handle(gpu, gpu)
        for mig in gpu.mig:
            if mig is not None:
                self._new_handle(mig, gpu)

    def inject_xid(self, index: int, xid: int, gpu_instance: int = NO_INSTANCE,
                   compute_instance: int = NO_INSTANCE) -> None:
        """The driver reports XID `xid` on GPU `index` to every event set registered for it."""
        gpu = self.gpus[index]
        handle = self._handles[id(gpu)]
        data = pynvml.c_nvmlEventData_t()
        data.device = handle
        data.eventType = pynvml.nvmlEventTypeXidCriticalError
        data.eventData = xid
        data.gpuInstanceId = gpu_instance
        data.computeInstanceId = compute_instance
        for events, registered in self._event_sets.values():
            if _address(handle) in registered:
                events.put(data)

    def handle_of(self, target: FakeGpu | FakeMig) -> Any:
        """The current handle of a GPU or MIG device."""
        return self._handles[id(target)]

    # ------------------------------------------------------------------ plumbing
    def _new_handle(self, target: FakeGpu | FakeMig, gpu: FakeGpu) -> Any:
        struct = pynvml.struct_c_nvmlDevice_t()
        handle = ctypes.pointer(struct)
        self._keep += [struct, handle]
        self._targets[ctypes.addressof(struct)] = (target, gpu, gpu.generation)
        self._by_id[id(handle)] = self._targets[ctypes.addressof(struct)]
        self._handles[id(target)] = handle
        return handle

    def _enter_lib(self, fn: str) -> None:
        """A library-level call (no device): needs init only."""
        if self._init_refs <= 0:
            raise error(pynvml.NVML_ERROR_UNINITIALIZED)
        if self._count:
            with self._lock:
                self.calls[(fn, "")] += 1

    def _enter(self, fn: str, handle: Any) -> tuple[FakeGpu | FakeMig, FakeGpu]:
        """What every device call goes through: init, handle, lost, hang, latency, support."""
        if self._init_refs <= 0:
            raise error(pynvml.NVML_ERROR_UNINITIALIZED)
        found = self._by_id.get(id(handle))
        target, gpu, generation = found if found is not None else self._targets[_address(handle)]
        if self._count:
            with self._lock:
                self.calls[(fn, target.uuid)] += 1
        if gpu.lost or generation != gpu.generation:
            raise error(pynvml.NVML_ERROR_GPU_IS_LOST)
        blocker = gpu.hang.get(fn)
        if blocker is not None and target is gpu:
            self.hanging.set()
            blocker.wait()
        if self._latency.get(fn):
            time.sleep(self._latency[fn])
        if fn in gpu.unsupported:
            raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if fn in gpu.fail and target is gpu:
            raise error(gpu.fail[fn])
        return target, gpu

    @staticmethod
    def _not_on_mig(target: FakeGpu | FakeMig) -> FakeGpu:
        if isinstance(target, FakeMig):
            raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return target

    # ------------------------------------------------------------------ init
    def nvmlInit(self) -> None:
        if not self._driver:
            raise error(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
        self._init_refs += 1
        self.inits += 1

    def nvmlShutdown(self) -> None:
        if self._init_refs <= 0:
            raise error(pynvml.NVML_ERROR_UNINITIALIZED)
        self._init_refs -= 1

    # ------------------------------------------------------------------ enumeration
    def nvmlDeviceGetCount(self) -> int:
        self._enter_lib("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        if self._init_refs <= 0:
            raise error(pynvml.NVML_ERROR_UNINITIALIZED)
        if self.gpus[index].lost:
            raise error(pynvml.NVML_ERROR_GPU_IS_LOST)
        return self._handles[id(self.gpus[index])]

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> Any:
        if self._init_refs <= 0:
            raise error(pynvml.NVML_ERROR_UNINITIALIZED)
        text = uuid.decode() if isinstance(uuid, bytes) else uuid
        for gpu in self.gpus:
            targets: list[FakeGpu | FakeMig] = [gpu, *[m for m in gpu.mig if m is not None]]
            for target in targets:
                if target.uuid == text:
                    if gpu.lost:
                        raise error(pynvml.NVML_ERROR_GPU_IS_LOST)
                    return self._handles[id(target)]
        raise error(pynvml.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return self._enter("nvmlDeviceGetUUID", handle)[0].uuid

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return self._enter("nvmlDeviceGetName", handle)[0].name

    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any:
        gpu = self._enter("nvmlDeviceGetPciInfo", handle)[1]
        info = pynvml.nvmlPciInfo_t()
        info.busId = gpu.bus_id.encode()
        info.busIdLegacy = gpu.bus_id.encode()
        return info

    def nvmlDeviceGetMigMode(self, handle: Any) -> list[int]:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetMigMode", handle)[0])
        mode = int(bool(gpu.mig))
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: Any) -> int:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetMaxMigDeviceCount", handle)[0])
        return 7 if gpu.mig else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: Any, index: int) -> Any:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetMigDeviceHandleByIndex", handle)[0])
        mig = gpu.mig[index] if index < len(gpu.mig) else None
        if mig is None:
            raise error(pynvml.NVML_ERROR_NOT_FOUND)
        return self._handles[id(mig)]

    def nvmlDeviceGetGpuInstanceId(self, handle: Any) -> int:
        target = self._enter("nvmlDeviceGetGpuInstanceId", handle)[0]
        if not isinstance(target, FakeMig):
            raise error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return target.gpu_instance

    def nvmlDeviceGetComputeInstanceId(self, handle: Any) -> int:
        target = self._enter("nvmlDeviceGetComputeInstanceId", handle)[0]
        if not isinstance(target, FakeMig):
            raise error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return target.compute_instance

    # ------------------------------------------------------------------ per-tick reads
    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> Any:
        target, gpu = self._enter("nvmlDeviceGetMemoryInfo", handle)
        if version and self._legacy:
            raise error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        if isinstance(target, FakeMig):
            total, reserved, used = target.mem_total, 0, target.mem_used
        else:
            if gpu.mig and not gpu.mig_parent_privileged:
                raise error(pynvml.NVML_ERROR_NO_PERMISSION)
            total, reserved, used = gpu.mem_total, gpu.mem_reserved, gpu.mem_used
        if not version:
            return pynvml.c_nvmlMemory_t(total=total, free=total - used - reserved,
                                         used=used + reserved)
        return pynvml.c_nvmlMemory_v2_t(version=version, total=total, reserved=reserved,
                                        free=total - used - reserved, used=used)

    def nvmlDeviceGetTemperatureV(self, handle: Any, sensor: int,
                                  version: int = pynvml.nvmlTemperature_v1) -> int:
        target = self._enter("nvmlDeviceGetTemperatureV", handle)[0]
        if self._legacy:
            raise error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        temp = pynvml.c_nvmlTemperature_v1_t(version=version, sensorType=sensor,
                                              temperature=self._not_on_mig(target).temperature)
        return int(temp.temperature)

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        target = self._enter("nvmlDeviceGetTemperature", handle)[0]
        return ctypes.c_uint(self._not_on_mig(target).temperature).value

    def nvmlDeviceGetClockInfo(self, handle: Any, clock_type: int) -> int:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetClockInfo", handle)[0])
        clock = gpu.mem_clock if clock_type == pynvml.NVML_CLOCK_MEM else gpu.sm_clock
        return ctypes.c_uint(clock).value

    # ------------------------------------------------------------------ inventory
    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter_lib("nvmlSystemGetDriverVersion")
        return self.driver_version  # pynvml's convertStrBytes: str on Python 3

    def _gpu_only(self, fn: str, handle: Any) -> FakeGpu:
        return self._not_on_mig(self._enter(fn, handle)[0])

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return self._gpu_only("nvmlDeviceGetEnforcedPowerLimit", handle).power_limit_mw

    def nvmlDeviceGetSerial(self, handle: Any) -> str:
        return self._gpu_only("nvmlDeviceGetSerial", handle).serial

    def nvmlDeviceGetVbiosVersion(self, handle: Any) -> str:
        return self._gpu_only("nvmlDeviceGetVbiosVersion", handle).vbios

    def nvmlDeviceGetInforomImageVersion(self, handle: Any) -> str:
        return self._gpu_only("nvmlDeviceGetInforomImageVersion", handle).inforom

    def nvmlDeviceGetArchitecture(self, handle: Any) -> int:
        return self._gpu_only("nvmlDeviceGetArchitecture", handle).architecture

    def nvmlDeviceGetFanSpeed(self, handle: Any) -> int:
        gpu = self._gpu_only("nvmlDeviceGetFanSpeed", handle)
        if gpu.fan_percent is None:
            raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu.fan_percent

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any) -> int:
        return self._gpu_only("nvmlDeviceGetCurrPcieLinkGeneration", handle).pcie[0]

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any) -> int:
        return self._gpu_only("nvmlDeviceGetCurrPcieLinkWidth", handle).pcie[1]

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any) -> int:
        return self._gpu_only("nvmlDeviceGetMaxPcieLinkGeneration", handle).pcie[2]

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any) -> int:
        return self._gpu_only("nvmlDeviceGetMaxPcieLinkWidth", handle).pcie[3]

    def nvmlDeviceGetEccMode(self, handle: Any) -> list[int]:
        return list(self._gpu_only("nvmlDeviceGetEccMode", handle).ecc)

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetUtilizationRates", handle)[0])
        if gpu.mig:
            raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return pynvml.c_nvmlUtilization_t(gpu=gpu.util_gpu, memory=gpu.util_mem)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetCurrentClocksEventReasons", handle)[0])
        if self._legacy:
            raise error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return gpu.throttle

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int:
        target = self._enter("nvmlDeviceGetCurrentClocksThrottleReasons", handle)[0]
        return self._not_on_mig(target).throttle

    def nvmlDeviceGetFieldValues(self, handle: Any, field_ids: list[Any]) -> Any:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetFieldValues", handle)[0])
        # What pynvml does in Python: allocate the array, write each fieldId/scopeId.
        values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for i, requested in enumerate(field_ids):
            try:
                (values[i].fieldId, values[i].scopeId) = requested
            except TypeError:
                values[i].fieldId = requested
        # What the driver does in C: write the rest of each 40-byte entry in place.
        memory = memoryview(values).cast("B")
        now_us, source = self._clock_us(), _field_source(gpu)
        for i, requested in enumerate(field_ids):
            fid = requested[0] if isinstance(requested, tuple) else requested
            if self._count:
                with self._lock:
                    self.field_requests[(gpu.uuid, fid)] += 1
            self._fill_field(gpu, source, memory, i * 40, fid, now_us)
        return values

    @staticmethod
    def _fill_field(gpu: FakeGpu, source: dict[int, tuple[int, int]], memory: memoryview,
                    offset: int, fid: int, now_us: int) -> None:
        ret = gpu.field_returns.get(fid, pynvml.NVML_SUCCESS)
        if fid not in source or f"field:{fid}" in gpu.unsupported:
            ret = pynvml.NVML_ERROR_NOT_SUPPORTED
        value_type, value = source.get(fid, (U32, 0))
        if fid in gpu.field_types:
            value_type = gpu.field_types[fid]
        _TAIL.pack_into(memory, offset + 8, now_us, 1, value_type, ret)
        if ret == pynvml.NVML_SUCCESS:
            _VALUE_PACK[value_type].pack_into(memory, offset + 32, value)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]:
        """As pynvml's v3 wrapper: c_nvmlProcessInfo_v2_t, usedGpuMemory None when N/A."""
        gpu = self._enter("nvmlDeviceGetComputeRunningProcesses", handle)[0]
        out = []
        for pid, used in getattr(gpu, "processes", []):
            info = pynvml.c_nvmlProcessInfo_v2_t(
                pid=pid, usedGpuMemory=pynvml.NVML_VALUE_NOT_AVAILABLE_ulonglong.value
                if used is None else used, gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF)
            obj = pynvml.nvmlStructToFriendlyObject(info)  # what pynvml returns
            if used is None:
                obj.usedGpuMemory = None
            out.append(obj)
        return out

    def nvmlDeviceGetProcessUtilization(self, handle: Any, timeStamp: int) -> list[Any]:
        """c_nvmlProcessUtilizationSample_t newer than timeStamp; NOT_FOUND when none."""
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetProcessUtilization", handle)[0])
        fresh = [s for s in gpu.process_util if s[1] > timeStamp]
        if not fresh:
            raise error(pynvml.NVML_ERROR_NOT_FOUND)
        return [pynvml.c_nvmlProcessUtilizationSample_t(pid=pid, timeStamp=ts, smUtil=sm)
                for pid, ts, sm in fresh]

    def nvmlDeviceGetSamples(self, device: Any, sampling_type: int, timeStamp: int) -> Any:
        gpu = self._not_on_mig(self._enter("nvmlDeviceGetSamples", device)[0])
        if self._count:
            with self._lock:
                self.last_seen_args.append((gpu.uuid, sampling_type, timeStamp))
        if gpu.mig and sampling_type != pynvml.NVML_TOTAL_POWER_SAMPLES:
            raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if f"samples:{sampling_type}" in gpu.unsupported:
            raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        self._generate(gpu, sampling_type)
        fresh = [s for s in gpu.rings.get(sampling_type, ()) if s[0] > timeStamp]
        if not fresh:  # pynvml's first (sizing) call fails this way
            raise error(pynvml.NVML_ERROR_NOT_FOUND)
        samples = (pynvml.c_nvmlSample_t * len(fresh))()
        memory = memoryview(samples).cast("B")  # the driver fills the buffer in C
        for i, (ts_us, value) in enumerate(fresh):
            _SAMPLE_PACK.pack_into(memory, i * 16, ts_us, value)
        return (U32, samples[0:len(fresh)])

    def _generate(self, gpu: FakeGpu, sampling_type: int) -> None:
        """Auto mode (benchmarks): the driver samples every period, up to now."""
        period = gpu.sample_period_us.get(sampling_type)
        if not period:
            return
        now = self._sample_clock_us()
        key = (id(gpu), sampling_type)
        ts = self._next_auto.get(key, now - 2_000_000)
        value = gpu.power_mw if sampling_type == pynvml.NVML_TOTAL_POWER_SAMPLES else gpu.util_gpu
        while ts <= now:
            gpu.push_sample(sampling_type, ts, value)
            ts += period
        self._next_auto[key] = ts

    # ------------------------------------------------------------------ events
    def nvmlEventSetCreate(self) -> Any:
        self._enter_lib("nvmlEventSetCreate")
        struct = pynvml.struct_c_nvmlEventSet_t()
        self._keep.append(struct)
        self._event_sets[ctypes.addressof(struct)] = (queue.Queue(), set())
        return ctypes.pointer(struct)

    def nvmlDeviceGetSupportedEventTypes(self, handle: Any) -> int:
        return self._enter("nvmlDeviceGetSupportedEventTypes", handle)[1].supported_events

    def nvmlDeviceRegisterEvents(self, handle: Any, eventTypes: int, eventSet: Any) -> None:
        gpu = self._enter("nvmlDeviceRegisterEvents", handle)[1]
        if eventTypes & ~gpu.supported_events:
            raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        self._event_sets[_address(eventSet)][1].add(_address(handle))

    def nvmlEventSetWait_v2(self, eventSet: Any, timeoutms: int) -> Any:
        events = self._event_sets[_address(eventSet)][0]
        try:
            return events.get(timeout=timeoutms / 1000)
        except queue.Empty:
            raise error(pynvml.NVML_ERROR_TIMEOUT) from None

    def nvmlEventSetFree(self, eventSet: Any) -> None:
        self._event_sets.pop(_address(eventSet), None)


def _field_source(gpu: FakeGpu) -> dict[int, tuple[int, int]]:
    """Field id -> (nvmlValueType_t, value in NVML's unit) for one GPU now."""
    return {
        pynvml.NVML_FI_DEV_POWER_INSTANT: (U32, gpu.power_mw),
        pynvml.NVML_FI_DEV_POWER_AVERAGE: (U32, gpu.power_avg_mw),
        pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION: (U64, gpu.energy_mj),
        pynvml.NVML_FI_DEV_MEMORY_TEMP: (U32, gpu.mem_temperature),
        pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES: (U64, gpu.pcie_tx),
        pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES: (U64, gpu.pcie_rx),
        pynvml.NVML_FI_DEV_ECC_SBE_VOL_TOTAL: (U64, gpu.ecc_sbe),
        pynvml.NVML_FI_DEV_ECC_DBE_VOL_TOTAL: (U64, gpu.ecc_dbe),
    }


def _address(pointer: Any) -> int:
    return int(ctypes.cast(pointer, ctypes.c_void_p).value or 0)
