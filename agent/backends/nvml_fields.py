"""NVML field values and samples: which fields a tick asks for, decoding what pynvml returns.

`nvmlDeviceGetFieldValues` returns a ctypes array of `c_nvmlFieldValue_t` (40 bytes each:
fieldId u32, scopeId u32, timestamp i64 (us since 1970), latencyUsec i64, valueType u32,
nvmlReturn u32, value union of 8 bytes). pynvml's structures convert every attribute read
in Python (about 1 us each), so the array is decoded in one `struct.iter_unpack` over its
bytes instead (notes, section 1.4: 0.75 us + 1.9 us against about 12 us); any other shape
falls back to reading attributes. `nvmlDeviceGetSamples` returns a list of
`c_nvmlSample_t` (16 bytes: timeStamp u64, value union) that are views into one array,
decoded the same way with numpy.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

UNION_MEMBER = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")
_ULONG = "Q" if ctypes.sizeof(ctypes.c_ulong) == 8 else "I"
_VALUE = tuple(struct.Struct("<" + code) for code in ("d", "I", _ULONG, "Q", "q", "i", "H"))
_ENTRY = struct.Struct("<IIqqII8s")
_SAMPLE_VALUE = ("<f8", "<u4", "<u8" if _ULONG == "Q" else "<u4", "<u8", "<i8", "<i4", "<u2")
COUNTER_BITS = {1: 32, 2: 8 * ctypes.sizeof(ctypes.c_ulong), 3: 64, 4: 63}


@dataclass(frozen=True, slots=True)
class Field:
    """One field id: the name it is known by, its column (values in the driver's unit, which
    is the catalogue's wire unit: mW, mJ, C, counts)."""

    fid: int
    key: str
    column: str
    rate: bool = False  # a byte counter turned into whole bytes per second


FIELDS: tuple[Field, ...] = (
    Field(186, "power_instant", "power"),  # NVML_FI_DEV_POWER_INSTANT, mW
    Field(185, "power_avg", "power_avg"),  # NVML_FI_DEV_POWER_AVERAGE, mW
    Field(83, "energy", "energy"),  # NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, mJ
    Field(82, "mem_temperature", "mem_temperature"),  # NVML_FI_DEV_MEMORY_TEMP, C
    Field(197, "pcie_tx", "pcie_tx", rate=True),  # NVML_FI_DEV_PCIE_COUNT_TX_BYTES
    Field(198, "pcie_rx", "pcie_rx", rate=True),  # NVML_FI_DEV_PCIE_COUNT_RX_BYTES
    Field(3, "ecc_corrected", "ecc_errors_corrected"),  # NVML_FI_DEV_ECC_SBE_VOL_TOTAL
    Field(4, "ecc_uncorrected", "ecc_errors_uncorrected"),  # NVML_FI_DEV_ECC_DBE_VOL_TOTAL
)

def decode(entries: Any) -> list[tuple[int, int, int, float]]:
    """(nvmlReturn, valueType, timestamp in us, value) per entry; value 0 where it failed."""
    if isinstance(entries, ctypes.Array) and ctypes.sizeof(entries) == _ENTRY.size * len(entries):
        return [(ret, vtype, ts, _VALUE[vtype].unpack_from(raw)[0] if ret == 0 else 0)
                for _fid, _scope, ts, _lat, vtype, ret, raw in _ENTRY.iter_unpack(bytes(entries))]
    return [(e.nvmlReturn, e.valueType, e.timestamp,
             getattr(e.value, UNION_MEMBER[e.valueType]) if e.nvmlReturn == 0 else 0)
            for e in entries]


def decode_samples(samples: list[Any], value_type: int
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(timestamps, values) of a GetSamples answer; timestamps as the driver gave them (us)."""
    base = getattr(samples[0], "_b_base_", None) if samples else None
    if (isinstance(base, ctypes.Array) and ctypes.sizeof(samples[0]) == 16
            and ctypes.addressof(samples[0]) == ctypes.addressof(base)
            and len(base) >= len(samples)):
        layout = np.dtype({"names": ["ts", "v"], "formats": ["<u8", _SAMPLE_VALUE[value_type]],
                           "offsets": [0, 8], "itemsize": 16})
        raw = np.frombuffer(memoryview(base).cast("B"), dtype=layout, count=len(samples))
        return raw["ts"].astype(np.int64), raw["v"].astype(np.float64)
    member = UNION_MEMBER[value_type]
    ts = np.array([s.timeStamp for s in samples], dtype=np.int64)
    return ts, np.array([getattr(s.sampleValue, member) for s in samples], dtype=np.float64)


class CounterRates:
    """Per-second rates of monotonic counters (that may wrap) between successive reads."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[int, float]] = {}  # field id -> (timestamp us, value)

    def rate(self, fid: int, ts_us: int, value: float, value_type: int) -> float:
        """Whole units per second since the last read that saw the counter advance (rounded:
        the wire carries it as an integer); NaN at first."""
        prev = self._last.get(fid)
        if prev is not None and ts_us <= prev[0]:
            return float("nan")  # the driver has not refreshed the counter since
        self._last[fid] = (ts_us, value)
        if prev is None:
            return float("nan")
        delta = (value - prev[1]) % (1 << COUNTER_BITS.get(value_type, 64))  # one wrap
        return float(round(delta / ((ts_us - prev[0]) / 1e6)))

    def clear(self) -> None:
        """Forget every counter (the device was re-attached)."""
        self._last.clear()
