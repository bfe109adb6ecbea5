"""The one small interface every GPU backend implements, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gputel.agent.errors import AgentError
from gputel.proto.inventory import Inventory

__all__ = ["Inventory"]  # shared with the collector: gputel.proto.inventory

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]


class BackendError(AgentError):
    """The GPU library cannot be used at all (missing, no driver, no device)."""


class BackendUnavailable(BackendError):  # noqa: N818 - reads as a state, like the vendors'
    """The backend's library or driver is not on this machine; the message says which."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One GPU (or MIG device) as the backend enumerated it. Memory in bytes."""

    index: int
    uuid: str
    vendor: str
    model: str
    memory_total_bytes: int
    mig_parent_uuid: str = ""
    pci_bus_id: str = ""


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One process on one GPU at a tick: host PID, GPU memory used (bytes), SM use (percent).

    `sm_util_percent` is None where the driver gives no per-process utilization
    (MIG, older drivers, AMD); memory is then what splits a shared GPU.
    """

    pid: int
    used_memory_bytes: int = 0
    sm_util_percent: float | None = None
    name: str = ""  # the command name where the driver gives it (AMD SMI, the simulator)


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """What a backend counts about its devices, for the agent's /metrics (a snapshot).

    `field_errors`: failed reads by field since start; `lost`: rows lost now (the device
    fell off the bus); `stalled`: rows whose driver call has not returned past the
    watchdog; `recoveries`: lost devices found again; `xids`: XID errors per row.
    """

    field_errors: dict[str, int] = field(default_factory=dict)
    lost: tuple[int, ...] = ()
    stalled: tuple[int, ...] = ()
    recoveries: int = 0
    xids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Buffered:
    """Samples the driver buffered with its own timestamps (Unix ns) for one device and metric,
    in the metric's wire unit (see Reading)."""

    device: int
    metric: int
    ts_ns: Int64Array
    values: Float64Array


@dataclass(slots=True)
class Reading:
    """One tick: values[device, metric] in the backend's metric order (NaN = no value).

    Values are in the catalogue's `wire_unit` of each metric (gputel.proto.metrics): the
    driver's own unit, whole numbers for the `exact` metrics (milliwatts, a millijoule
    counter, bytes, percent), float64 so that they stay exact up to 2**53.

    `buffered` carries driver-timestamped samples gathered since the last tick; those
    metrics are NaN in `values` so that no sample is counted twice.
    """

    values: Float64Array
    buffered: list[Buffered] = field(default_factory=list)
    # Per device index, the processes using it now (complete list), when the backend read
    # them this tick; None when it did not (process lists are read less often than values).
    processes: dict[int, list[ProcessSample]] | None = None


class Backend(Protocol):
    """A source of GPU samples. `read` is called once per tick from one thread."""

    name: str

    def open(self) -> None:
        """Initialise the library and enumerate devices. Raises BackendError."""

    def devices(self) -> list[DeviceInfo]:
        """The devices, in the order of Reading.values rows."""

    def metrics(self) -> tuple[str, ...]:
        """Metric ids, in the order of Reading.values columns."""

    def read(self, ts_ns: int) -> Reading:
        """Sample every device for the tick at ts_ns (Unix ns). A failed field is NaN."""

    def health(self) -> BackendHealth:
        """Counters of failed fields, lost, stalled and recovered devices, XIDs (cheap)."""

    def inventory(self) -> list[Inventory]:
        """What each device is, in row order, read now. Slow (a dozen driver calls per
        device): call it from a thread of its own, never the tick's. A field that fails is
        None, a lost device all None; never raises for a driver error."""

    def close(self) -> None:
        """Release the library; idempotent."""


def empty_values(n_devices: int, n_metrics: int) -> Float64Array:
    """A (devices, metrics) float64 array of NaN, for a backend to fill."""
    return np.full((n_devices, n_metrics), np.nan, dtype=np.float64)
