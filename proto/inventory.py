"""Device inventory, as both sides hold it, and its wire form (`GpuInventory`).

One description shared by the agent (what a backend reads) and the collector (what it
keeps): the message's fields carry the same names, unset where the device does not
report one ("" for a string).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from gputel.proto.gputel.v1 import telemetry_pb2 as pb


@dataclass(frozen=True, slots=True)
class Inventory:
    """What one device is, as its driver reports it: None (or "") where it does not say.

    Units are in the names. The agent reads it at start and then every few tens of
    seconds, never per tick (slow calls, rarely changing); the collector keeps the newest.
    """

    power_limit_watts: float | None = None
    memory_reserved_bytes: int | None = None
    driver_version: str = ""
    firmware_version: str = ""
    vbios_version: str = ""
    serial: str = ""
    architecture: str = ""
    mig_supported: bool | None = None
    mig_enabled: bool | None = None
    mig_profile: str = ""
    fan_speed_percent: float | None = None
    memory_clock_mhz: float | None = None
    pcie_generation: int | None = None
    pcie_width: int | None = None
    pcie_max_generation: int | None = None
    pcie_max_width: int | None = None
    ecc_enabled: bool | None = None


def inventory_pb(device: int, inventory: Inventory, read_ts_ns: int,
                 max_text: int = 256) -> pb.GpuInventory:
    """One device's inventory on the wire (strings cut to `max_text`); None stays unset."""
    msg = pb.GpuInventory(device=device, read_ts_ns=read_ts_ns)
    for f in dataclasses.fields(Inventory):
        value = getattr(inventory, f.name)
        if value is not None and value != "":
            setattr(msg, f.name, value[:max_text] if isinstance(value, str) else value)
    return msg


def inventory_fields(msg: pb.GpuInventory) -> dict[str, Any]:
    """The message's inventory fields by name, unset -> None (for Inventory(**...))."""
    return {f.name: getattr(msg, f.name) if f.default == "" or msg.HasField(f.name) else None
            for f in dataclasses.fields(Inventory)}
