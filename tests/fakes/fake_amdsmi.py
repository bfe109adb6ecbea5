"""A fake `amdsmi` module that replays the amdsmi 7.0.2 Python wrapper (PyPI, ROCm 7.0.2).

What it replays, read from amdsmi 7.0.2 `amdsmi_interface.py` / `amdsmi_exception.py`:
- handles are `ctypes.c_void_p` (`amdsmi_processor_handle = POINTER(None)`); anything else
  raises AmdSmiParameterException, as the wrapper's isinstance checks do;
- `amdsmi_get_gpu_metrics_info` returns the wrapper's dict (same keys) with each raw struct
  value passed through a copy of `_validate_if_max_uint`: the all-ones value of the field's
  width (0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF) becomes "N/A", activity above 100 becomes
  "N/A", throttle status becomes a bool. `raw_passthrough=True` skips that step, as older
  wrappers (and the C side's UINT32_MAX for unsupported fields) do;
- units as gpu_metrics v1.x on dGPUs: C, %, W, MHz, energy in 15.259 uJ units;
  `amdsmi_get_gpu_vram_usage` gives {"vram_total", "vram_used"} in MB;
- errors are AmdSmiLibraryException(err_code) with `err_code`, `get_error_code()` and an
  `err_info` text, AmdSmiRetryException / AmdSmiTimeoutException its subclasses.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

AMDSMI_STATUS_NOT_SUPPORTED, AMDSMI_STATUS_RETRY, AMDSMI_STATUS_TIMEOUT = 2, 9, 8
AMDSMI_STATUS_NO_PERM, AMDSMI_STATUS_NOT_INIT = 10, 32
AMDSMI_STATUS_DRIVER_NOT_LOADED = 34
_ERR_INFO = {
    AMDSMI_STATUS_NOT_SUPPORTED: "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported",
    AMDSMI_STATUS_TIMEOUT: "AMDSMI_STATUS_TIMEOUT - Timeout in API call",
    AMDSMI_STATUS_RETRY: "AMDSMI_STATUS_RETRY - Retry operation",
    AMDSMI_STATUS_NO_PERM: "AMDSMI_STATUS_NO_PERM - Permission Denied",
    AMDSMI_STATUS_NOT_INIT: "AMDSMI_STATUS_NOT_INIT - Device not initialized",
    AMDSMI_STATUS_DRIVER_NOT_LOADED: "AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded",
}


class AmdSmiException(Exception):
    """Base smi exception class"""


class AmdSmiLibraryException(AmdSmiException):
    """A non-success amdsmi_status_t from the C library."""

    def __init__(self, err_code: int) -> None:
        err_code = abs(err_code)
        super().__init__(err_code)
        self.err_code = err_code
        self.err_info = _ERR_INFO.get(err_code, "AMDSMI_STATUS_UNKNOWN_ERROR - An unknown error "
                                                "occurred")

    def __str__(self) -> str:
        return f"Error code:\n\t{self.err_code} | {self.err_info}"

    def get_error_code(self) -> int:
        return self.err_code


class AmdSmiRetryException(AmdSmiLibraryException):
    def __init__(self) -> None:
        super().__init__(AMDSMI_STATUS_RETRY)


class AmdSmiTimeoutException(AmdSmiLibraryException):
    def __init__(self) -> None:
        super().__init__(AMDSMI_STATUS_TIMEOUT)


class AmdSmiParameterException(AmdSmiException):
    def __init__(self, received: Any, expected: Any) -> None:
        super().__init__(f"Invalid parameter: {type(received)} expected {expected}")


class AmdSmiInitFlags(IntEnum):
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_CPUS = 1
    INIT_AMD_GPUS = 2
    INIT_NON_AMD_CPUS = 4
    INIT_NON_AMD_GPUS = 8
    INIT_AMD_APUS = 3


InitFlags = AmdSmiInitFlags


class MaxUIntegerTypes(IntEnum):
    UINT8_T = 0xFF
    UINT16_T = 0xFFFF
    UINT32_T = 0xFFFFFFFF
    UINT64_T = 0xFFFFFFFFFFFFFFFF


U16, U32, U64 = MaxUIntegerTypes.UINT16_T, MaxUIntegerTypes.UINT32_T, MaxUIntegerTypes.UINT64_T
# gpu_metrics keys of the 7.0.2 wrapper: (width, activity?, bool?).
METRIC_KEYS: dict[str, tuple[int, bool, bool]] = {
    "temperature_edge": (U16, False, False), "temperature_hotspot": (U16, False, False),
    "temperature_mem": (U16, False, False), "temperature_vrgfx": (U16, False, False),
    "temperature_vrsoc": (U16, False, False), "temperature_vrmem": (U16, False, False),
    "average_gfx_activity": (U16, True, False), "average_umc_activity": (U16, True, False),
    "average_mm_activity": (U16, True, False), "average_socket_power": (U16, False, False),
    "energy_accumulator": (U64, False, False), "system_clock_counter": (U64, False, False),
    "average_gfxclk_frequency": (U16, False, False), "current_gfxclk": (U16, False, False),
    "current_socclk": (U16, False, False), "current_uclk": (U16, False, False),
    "throttle_status": (U32, False, True), "current_fan_speed": (U16, False, False),
    "pcie_link_width": (U16, False, False), "pcie_link_speed": (U16, False, False),
    "gfx_activity_acc": (U32, False, False), "mem_activity_acc": (U32, False, False),
    "temperature_hbm": (U16, False, False), "firmware_timestamp": (U64, False, False),
    "voltage_soc": (U16, False, False), "voltage_gfx": (U16, False, False),
    "indep_throttle_status": (U64, False, True), "current_socket_power": (U16, False, False),
    "vcn_activity": (U16, True, False), "pcie_bandwidth_inst": (U64, False, False),
    "current_gfxclks": (U16, False, False), "num_partition": (U16, False, False),
}
NA16, NA32, NA64 = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF


def validate_if_max_uint(value: Any, uint_type: int, activity: bool = False,
                         as_bool: bool = False) -> Any:
    """A copy of the 7.0.2 wrapper's `_validate_if_max_uint`."""
    if not isinstance(value, list):
        if value == uint_type or (activity and value > 100):
            return "N/A"
        return bool(value) if as_bool else value
    out = ["N/A" if (v == uint_type or (activity and v > 100)) else v for v in value]
    return bool(out) if as_bool else out


def mi300x_metrics() -> dict[str, Any]:
    """Raw gpu_metrics struct values of an MI300X under load (v1.5 layout: no edge sensor,
    no average power, per-XCC clocks)."""
    return {
        "temperature_edge": NA16, "temperature_hotspot": 61, "temperature_mem": 49,
        "temperature_vrgfx": NA16, "temperature_vrsoc": 48, "temperature_vrmem": NA16,
        "average_gfx_activity": 87, "average_umc_activity": 35, "average_mm_activity": NA16,
        "average_socket_power": NA16, "energy_accumulator": 19_660_800_000,
        "system_clock_counter": 1_700_000_000_000, "average_gfxclk_frequency": NA16,
        "current_gfxclk": NA16, "current_socclk": NA16, "current_uclk": 1300,
        "throttle_status": NA32, "current_fan_speed": NA16, "pcie_link_width": 16,
        "pcie_link_speed": 320, "gfx_activity_acc": 123456, "mem_activity_acc": 65432,
        "temperature_hbm": [NA16] * 4, "firmware_timestamp": 9_876_543_210,
        "voltage_soc": NA16, "voltage_gfx": NA16, "indep_throttle_status": NA64,
        "current_socket_power": 612, "vcn_activity": [0, 0, 0, 0],
        "pcie_bandwidth_inst": 3, "current_gfxclks": [2100, 2100, 2099, 2100, 2100, 2100,
                                                       2100, 2100],
        "num_partition": 1,
    }


def navi_metrics() -> dict[str, Any]:
    """Raw gpu_metrics values of a Navi / MI200-class board: average power, edge sensor."""
    raw = mi300x_metrics()
    raw.update({"temperature_edge": 44, "temperature_hotspot": 52, "average_socket_power": 180,
                "current_socket_power": NA16, "current_gfxclk": 2400,
                "current_gfxclks": [NA16] * 8})
    return raw


@dataclass
class FakeAmdGpu:
    """One AMD GPU (or partition): identity, raw gpu_metrics values, VRAM in MB."""

    uuid: str
    bdf: str
    market_name: str = "AMD Instinct MI300X"
    raw: dict[str, Any] = field(default_factory=mi300x_metrics)
    vram_total_mb: int = 196_592
    vram_used_mb: int = 1_024
    errors: dict[str, int] = field(default_factory=dict)  # function name -> status code
    # Inventory, as an MI300X answers (no fan: NOT_SUPPORTED); power cap in uW.
    power_cap_uw: int = 750_000_000
    driver_version: str = "6.10.5"
    vbios_version: str = "113-M3000100-102"
    smu_version: str = "85.101.0"
    ecc_mask: int = 0x3FFF
    max_pcie: tuple[int, int] = (32_000, 16)  # MT/s, lanes
    # (pid, name, VRAM bytes) as amdsmi_get_gpu_process_list reports them.
    processes: list[tuple[int, str, int]] = field(default_factory=list)


class FakeAmdSmi:
    """Stands in for the amdsmi module: pass it to AmdSmiBackend(amdsmi=...) or probe(...)."""

    AmdSmiException = AmdSmiException
    AmdSmiLibraryException = AmdSmiLibraryException
    AmdSmiRetryException = AmdSmiRetryException
    AmdSmiTimeoutException = AmdSmiTimeoutException
    AmdSmiParameterException = AmdSmiParameterException
    AmdSmiInitFlags = AmdSmiInitFlags
    def __init__(self, gpus: list[FakeAmdGpu], driver_loaded: bool = True,
                 raw_passthrough: bool = False) -> None:
        self.gpus = gpus
        self._driver_loaded = driver_loaded
        self._raw_passthrough = raw_passthrough
        self._initialised = False
        self._handles = [ctypes.c_void_p(0x1000 + 0x100 * i) for i in range(len(gpus))]
        self.calls: dict[str, int] = {}

    def _gpu(self, fn: str, handle: Any) -> FakeAmdGpu:
        if not isinstance(handle, ctypes.c_void_p):
            raise AmdSmiParameterException(handle, ctypes.c_void_p)
        if not self._initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)
        self.calls[fn] = self.calls.get(fn, 0) + 1
        gpu = self.gpus[[h.value for h in self._handles].index(handle.value)]
        if fn in gpu.errors:
            raise AmdSmiLibraryException(gpu.errors[fn])
        return gpu

    def amdsmi_init(self, flag: InitFlags = InitFlags.INIT_AMD_GPUS) -> None:
        if not isinstance(flag, InitFlags):
            raise AmdSmiParameterException(flag, InitFlags)
        if not self._driver_loaded:
            raise AmdSmiLibraryException(AMDSMI_STATUS_DRIVER_NOT_LOADED)
        self._initialised = True

    def amdsmi_shut_down(self) -> None:
        self._initialised = False

    def amdsmi_get_lib_version(self) -> dict[str, Any]:
        return {"major": 25, "minor": 5, "release": 1, "build": "fake"}

    def amdsmi_get_processor_handles(self) -> list[ctypes.c_void_p]:
        if not self._initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)
        return [ctypes.c_void_p(h.value) for h in self._handles]

    def amdsmi_get_gpu_device_bdf(self, processor_handle: Any) -> str:
        return self._gpu("amdsmi_get_gpu_device_bdf", processor_handle).bdf

    def amdsmi_get_gpu_device_uuid(self, processor_handle: Any) -> str:
        return self._gpu("amdsmi_get_gpu_device_uuid", processor_handle).uuid

    def amdsmi_get_gpu_asic_info(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_gpu_asic_info", processor_handle)
        return {"market_name": gpu.market_name, "vendor_id": "0x1002", "vendor_name":
                "Advanced Micro Devices Inc. [AMD/ATI]", "subvendor_id": "0x1002",
                "device_id": "0x74a1", "rev_id": "0x00", "asic_serial": "0x0123456789ABCDEF",
                "oam_id": 0, "num_compute_units": 304, "target_graphics_version": "gfx942",
                "subsystem_id": "0x74a1"}

    def amdsmi_get_gpu_vram_usage(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_gpu_vram_usage", processor_handle)
        return {"vram_total": gpu.vram_total_mb, "vram_used": gpu.vram_used_mb}

    def amdsmi_get_gpu_metrics_info(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_gpu_metrics_info", processor_handle)
        if self._raw_passthrough:
            return dict(gpu.raw)
        return {key: validate_if_max_uint(gpu.raw[key], width, activity, as_bool)
                for key, (width, activity, as_bool) in METRIC_KEYS.items()}

    # ------------------------------------------------------------------ inventory
    def amdsmi_get_power_cap_info(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_power_cap_info", processor_handle)
        return {"power_cap": gpu.power_cap_uw, "default_power_cap": gpu.power_cap_uw,
                "dpm_cap": 0, "min_power_cap": 0, "max_power_cap": gpu.power_cap_uw}

    def amdsmi_get_gpu_driver_info(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_gpu_driver_info", processor_handle)
        return {"driver_name": "amdgpu", "driver_version": gpu.driver_version,
                "driver_date": "N/A"}

    def amdsmi_get_gpu_vbios_info(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_gpu_vbios_info", processor_handle)
        return {"name": "AMD MI300X_HW_SRIOV_CVS_1VF", "build_date": "2023/12/11 14:09",
                "part_number": gpu.vbios_version, "version": gpu.vbios_version}

    def amdsmi_get_fw_info(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_fw_info", processor_handle)
        return {"fw_list": [{"fw_name": "PSP_SOSDRV", "fw_version": "00.36.02.59"},
                            {"fw_name": "SMU", "fw_version": gpu.smu_version}]}

    def amdsmi_get_gpu_fan_speed(self, processor_handle: Any, sensor_idx: int) -> int:
        self._gpu("amdsmi_get_gpu_fan_speed", processor_handle)
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)  # MI300X: no fan

    def amdsmi_get_gpu_fan_speed_max(self, processor_handle: Any, sensor_idx: int) -> int:
        self._gpu("amdsmi_get_gpu_fan_speed_max", processor_handle)
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)

    def amdsmi_get_pcie_info(self, processor_handle: Any) -> dict[str, Any]:
        gpu = self._gpu("amdsmi_get_pcie_info", processor_handle)
        speed, width = gpu.max_pcie
        return {"pcie_static": {"max_pcie_width": width, "max_pcie_speed": speed,
                                "pcie_interface_version": 5, "slot_type": "OAM"},
                "pcie_metric": {"pcie_width": 16, "pcie_speed": 32_000,
                                "pcie_bandwidth": "N/A"}}

    def amdsmi_get_gpu_ecc_enabled(self, processor_handle: Any) -> int:
        return self._gpu("amdsmi_get_gpu_ecc_enabled", processor_handle).ecc_mask

    def amdsmi_get_gpu_process_list(self, processor_handle: Any) -> list[dict[str, Any]]:
        gpu = self._gpu("amdsmi_get_gpu_process_list", processor_handle)
        return [{"name": name, "pid": pid, "mem": vram,
                 "engine_usage": {"gfx": 0, "enc": 0},
                 "memory_usage": {"gtt_mem": 0, "cpu_mem": 0, "vram_mem": vram},
                 "cu_occupancy": "N/A"} for pid, name, vram in gpu.processes]
