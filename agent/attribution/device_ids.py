"""Maps the device IDs the kubelet reports to the agent's device indices.

Formats handled (see the NVIDIA and ROCm device plugins):
- `GPU-<uuid>` and `MIG-<uuid>`, as nvmlDeviceGetUUID prints them;
- `<id>::<n>`: replica n of a time-sliced or MPS-shared device;
- PCI bus ids (ROCm plugin: `0000:19:00.0`); NVML prints `00000000:19:00.0`, so case
  and domain width are normalised before comparing.
GKE's `nvidia<N>` names and ROCm partition names (`amdgpu_xcp_<N>`) do not name a
UUID or bus id and are not matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gputel.agent.attribution.model import DeviceLike

_PCI = re.compile(r"^(?:([0-9a-f]{1,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")


def strip_replica(device_id: str) -> str:
    """`GPU-abc::3` -> `GPU-abc`: the physical device behind a shared replica."""
    base, sep, _replica = device_id.partition("::")
    return base if sep else device_id


def normalize_pci(bus_id: str) -> str:
    """A PCI address as `dddd:bb:dd.f` in lower case (4-digit domain); "" if it is not one."""
    match = _PCI.match(bus_id.strip().lower())
    if match is None:
        return ""
    domain, bus, dev, fn = match.groups()
    return f"{int(domain or '0', 16):04x}:{bus}:{dev}.{fn}"


def device_key(device_id: str) -> str:
    """The comparison key of a device id: replica suffix dropped, PCI normalised, lower case."""
    base = strip_replica(device_id.strip())
    return normalize_pci(base) or base.lower()


class DeviceIdMap:
    """Device id (any format above) -> agent device indices."""

    def __init__(self, devices: Iterable[DeviceLike]) -> None:
        self._by_key: dict[str, tuple[int, ...]] = {}
        children: dict[str, list[int]] = {}
        for dev in devices:
            # A MIG device reports its parent's bus id, which names the parent, not it.
            pci = "" if dev.mig_parent_uuid else dev.pci_bus_id
            for ident in (dev.uuid, pci):
                if ident:
                    self._by_key.setdefault(device_key(ident), (dev.index,))
            if dev.mig_parent_uuid:
                children.setdefault(device_key(dev.mig_parent_uuid), []).append(dev.index)
        for parent, indices in children.items():
            # A parent GPU the backend enumerates only through its MIG devices.
            self._by_key.setdefault(parent, tuple(indices))

    def lookup(self, device_id: str) -> tuple[int, ...]:
        """Indices of the agent devices `device_id` names; () when it names none of them."""
        return self._by_key.get(device_key(device_id), ())
