"""What one AMD device is, and who runs on it, through AMD SMI (read slowly, not per tick).

Inventory calls (amdsmi 7.0.2 wrapper): amdsmi_get_power_cap_info (power_cap in uW),
amdsmi_get_gpu_driver_info, amdsmi_get_gpu_vbios_info, amdsmi_get_fw_info (the SMU/PM
firmware), amdsmi_get_gpu_asic_info (asic_serial, target_graphics_version -> CDNA/RDNA),
amdsmi_get_gpu_fan_speed over amdsmi_get_gpu_fan_speed_max (percent), one
amdsmi_get_gpu_metrics_info for the current memory clock (current_uclk, MHz) and PCIe link
(pcie_link_width, pcie_link_speed in 0.1 GT/s), amdsmi_get_pcie_info for the maximum link
and amdsmi_get_gpu_ecc_enabled (a bitmask of blocks). AMD has no MIG: mig_supported is
False (MI300 partitions are devices of their own). "N/A" strings, all-ones sentinels and a
call that raises read None.

Processes: amdsmi_get_gpu_process_list, dicts with name, pid and memory_usage.vram_mem
(bytes).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from gputel.agent.backends.base import Inventory, ProcessSample

log = logging.getLogger(__name__)
UW_PER_W = 1e6
# gfx target -> architecture (AMD's names).
ARCHITECTURES = {"gfx908": "CDNA", "gfx90a": "CDNA 2", "gfx940": "CDNA 3", "gfx941": "CDNA 3",
                 "gfx942": "CDNA 3", "gfx950": "CDNA 4", "gfx1030": "RDNA 2",
                 "gfx1100": "RDNA 3", "gfx1101": "RDNA 3", "gfx1102": "RDNA 3",
                 "gfx1200": "RDNA 4", "gfx1201": "RDNA 4"}
# PCIe transfer rate per lane (GT/s) -> generation.
GENERATIONS = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6}
FIRMWARE_NAMES = ("SMU", "PM", "SMC")


def read_inventory(amdsmi: Any, handle: Any) -> Inventory:
    """One device's inventory; never raises for an AMD SMI error."""
    cap = _ask(amdsmi, "amdsmi_get_power_cap_info", handle) or {}
    asic = _ask(amdsmi, "amdsmi_get_gpu_asic_info", handle) or {}
    metrics = _ask(amdsmi, "amdsmi_get_gpu_metrics_info", handle) or {}
    pcie = (_ask(amdsmi, "amdsmi_get_pcie_info", handle) or {}).get("pcie_static", {})
    ecc = _number(_ask(amdsmi, "amdsmi_get_gpu_ecc_enabled", handle), 64)
    power_uw = _number(cap.get("power_cap"), 64)
    speed = _number(metrics.get("pcie_link_speed"), 16)
    max_speed = _number(pcie.get("max_pcie_speed"), 32)  # MT/s
    return Inventory(
        power_limit_watts=None if power_uw is None else power_uw / UW_PER_W,
        driver_version=_string((_ask(amdsmi, "amdsmi_get_gpu_driver_info", handle) or {})
                               .get("driver_version")),
        firmware_version=_firmware(_ask(amdsmi, "amdsmi_get_fw_info", handle)),
        vbios_version=_string((_ask(amdsmi, "amdsmi_get_gpu_vbios_info", handle) or {})
                              .get("version")),
        serial=_string(asic.get("asic_serial")),
        architecture=_architecture(_string(asic.get("target_graphics_version"))),
        mig_supported=False, mig_enabled=False,
        fan_speed_percent=_fan_percent(amdsmi, handle),
        memory_clock_mhz=_number(metrics.get("current_uclk"), 16),
        pcie_generation=_generation(None if speed is None else speed / 10),
        pcie_width=_whole(_number(metrics.get("pcie_link_width"), 16)),
        pcie_max_generation=_generation(None if max_speed is None else max_speed / 1000),
        pcie_max_width=_whole(_number(pcie.get("max_pcie_width"), 32)),
        ecc_enabled=None if ecc is None else ecc != 0)


def read_processes(amdsmi: Any, handle: Any) -> list[ProcessSample] | None:
    """Every process on the device (VRAM bytes), None when the list cannot be read."""
    listed = _ask(amdsmi, "amdsmi_get_gpu_process_list", handle)
    if not isinstance(listed, list):
        return None
    out = []
    for p in listed:
        if not isinstance(p, dict) or not isinstance(p.get("pid"), int):
            continue  # an older wrapper's process handles: not read here
        vram = _number((p.get("memory_usage") or {}).get("vram_mem"), 64)
        mem = vram if vram is not None else _number(p.get("mem"), 64)
        out.append(ProcessSample(p["pid"], int(mem or 0), name=_string(p.get("name"))))
    return out


def _ask(amdsmi: Any, name: str, *args: Any) -> Any:
    fn = getattr(amdsmi, name, None)
    if fn is None:
        return None
    try:
        return fn(*args)
    except amdsmi.AmdSmiException as exc:
        log.debug("%s: %s", name, exc)
        return None


def _fan_percent(amdsmi: Any, handle: Any) -> float | None:
    speed = _number(_ask(amdsmi, "amdsmi_get_gpu_fan_speed", handle, 0), 64)
    top = _number(_ask(amdsmi, "amdsmi_get_gpu_fan_speed_max", handle, 0), 64)
    if speed is None or not top:
        return None
    return round(100.0 * speed / top, 1)


def _firmware(info: Any) -> str:
    for entry in (info or {}).get("fw_list", []) if isinstance(info, dict) else []:
        name = str(entry.get("fw_name", "")).upper().removeprefix("AMDSMI_FW_ID_")
        if name in FIRMWARE_NAMES:
            return _string(entry.get("fw_version"))
    return ""


def _architecture(target: str) -> str:
    return ARCHITECTURES.get(target.lower(), target)


def _generation(gt_per_s: float | None) -> int | None:
    return None if gt_per_s is None else GENERATIONS.get(round(gt_per_s, 1))


def _number(value: Any, bits: int) -> float | None:
    """A number, None for "N/A", strings, and the all-ones sentinel of its width (or u32)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    if value in ((1 << bits) - 1, 0xFFFFFFFF, 0xFFFF):
        return None
    return float(value)


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def _string(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    return "" if text in ("N/A", "") else text
