"""What one NVIDIA device is: driver, firmware, serial, limits, links, modes (read slowly).

About a dozen NVML calls per device (see the notes, section 1): nvmlSystemGetDriverVersion
once per read, then per GPU nvmlDeviceGetEnforcedPowerLimit (mW), memory info v2 (its
reserved bytes), GetInforomImageVersion, GetVbiosVersion, GetSerial, GetArchitecture,
GetMigMode, GetFanSpeed (%), GetClockInfo(MEM) (MHz), Get{Curr,Max}PcieLink{Generation,
Width} and GetEccMode. A call the device does not offer (NOT_SUPPORTED: no fan on an SXM
board, no ECC on a consumer card, no MIG before Ampere) or that fails is None, never a
crash; a lost device reads all None. A MIG device has none of these itself (they are its
parent's): it reports its profile, parsed from its name ("... MIG 1g.10gb").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from gputel.agent.backends.base import Inventory
from gputel.agent.backends.nvml_device import NvmlDevice

log = logging.getLogger(__name__)
NVML_CLOCK_MEM = 2
MIG_PROFILE = re.compile(r"\bMIG\s+(\S+)\s*$")
# nvmlDeviceArchitecture_t (nvml.h NVML_DEVICE_ARCH_*).
ARCHITECTURES = {2: "Kepler", 3: "Maxwell", 4: "Pascal", 5: "Volta", 6: "Turing", 7: "Ampere",
                 8: "Ada Lovelace", 9: "Hopper", 10: "Blackwell", 13: "Rubin"}


def driver_version(nvml: Any) -> str:
    """The NVIDIA driver's version ("550.54.15"), "" when NVML does not say."""
    return _text(_ask(nvml, "nvmlSystemGetDriverVersion")) or ""


def read_inventory(nvml: Any, device: NvmlDevice, name: str, driver: str) -> Inventory:
    """One device's inventory; `name` is its model name, `driver` the system's driver version."""
    if device.lost:
        return Inventory()
    if device.is_mig:
        match = MIG_PROFILE.search(name)
        return Inventory(driver_version=driver, mig_profile=match.group(1) if match else "")
    h = device.handle
    limit_mw = _ask(nvml, "nvmlDeviceGetEnforcedPowerLimit", h)
    memory = _ask(nvml, "nvmlDeviceGetMemoryInfo", h,
                  version=getattr(nvml, "nvmlMemory_v2", None))
    arch = _ask(nvml, "nvmlDeviceGetArchitecture", h)
    mig = _ask(nvml, "nvmlDeviceGetMigMode", h)
    ecc = _ask(nvml, "nvmlDeviceGetEccMode", h)
    return Inventory(
        power_limit_watts=None if limit_mw is None else limit_mw / 1000.0,
        memory_reserved_bytes=_int(getattr(memory, "reserved", None)),
        driver_version=driver,
        firmware_version=_text(_ask(nvml, "nvmlDeviceGetInforomImageVersion", h)) or "",
        vbios_version=_text(_ask(nvml, "nvmlDeviceGetVbiosVersion", h)) or "",
        serial=_text(_ask(nvml, "nvmlDeviceGetSerial", h)) or "",
        architecture=ARCHITECTURES.get(arch, "") if isinstance(arch, int) else "",
        mig_supported=mig is not None, mig_enabled=None if mig is None else bool(mig[0]),
        fan_speed_percent=_float(_ask(nvml, "nvmlDeviceGetFanSpeed", h)),
        memory_clock_mhz=_float(_ask(nvml, "nvmlDeviceGetClockInfo", h, NVML_CLOCK_MEM)),
        pcie_generation=_int(_ask(nvml, "nvmlDeviceGetCurrPcieLinkGeneration", h)),
        pcie_width=_int(_ask(nvml, "nvmlDeviceGetCurrPcieLinkWidth", h)),
        pcie_max_generation=_int(_ask(nvml, "nvmlDeviceGetMaxPcieLinkGeneration", h)),
        pcie_max_width=_int(_ask(nvml, "nvmlDeviceGetMaxPcieLinkWidth", h)),
        ecc_enabled=None if ecc is None else bool(ecc[0]))


def _ask(nvml: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """nvml.<name>(*args), None when this nvidia-ml-py lacks it or the driver answers an
    error (NOT_SUPPORTED, NO_PERMISSION, GPU_IS_LOST, ...)."""
    fn: Callable[..., Any] | None = getattr(nvml, name, None)
    if fn is None:
        return None
    try:
        return fn(*args, **{k: v for k, v in kwargs.items() if v is not None})
    except nvml.NVMLError as exc:
        log.debug("%s: NVML error %s", name, exc.value)
        return None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace").strip()
    return value.strip() if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
