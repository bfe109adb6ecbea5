"""Fixtures for attribution tests: a kubelet stand-in, /proc fixtures, devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gputel.agent.attribution import CgroupResolver
from gputel.agent.backends.base import DeviceInfo
from tests.harness.kubelet import KubeletStandIn

PROC_ROOT = Path(__file__).resolve().parents[1] / "data" / "proc"
UUID_A = "GPU-a1b2c3d4-0000-1111-2222-333344445555"
UUID_B = "GPU-b1b2c3d4-0000-1111-2222-333344445555"
MIG_PARENT = "GPU-c1b2c3d4-0000-1111-2222-333344445555"
MIG_0 = "MIG-11111111-2222-3333-4444-555555555555"
MIG_1 = "MIG-22222222-2222-3333-4444-555555555555"
MS = 1_000_000


def devices() -> list[DeviceInfo]:
    """Two whole GPUs, a MIG parent with two MIG devices, and an AMD GPU by bus id."""
    gib = 1 << 30
    return [
        DeviceInfo(0, UUID_A, "nvidia", "H100", 80 * gib, pci_bus_id="00000000:19:00.0"),
        DeviceInfo(1, UUID_B, "nvidia", "H100", 80 * gib, pci_bus_id="00000000:3B:00.0"),
        DeviceInfo(2, MIG_PARENT, "nvidia", "A100", 40 * gib, pci_bus_id="00000000:5E:00.0"),
        DeviceInfo(3, MIG_0, "nvidia", "A100 MIG 3g.20gb", 20 * gib, MIG_PARENT,
                   "00000000:5E:00.0"),
        DeviceInfo(4, MIG_1, "nvidia", "A100 MIG 3g.20gb", 20 * gib, MIG_PARENT,
                   "00000000:5E:00.0"),
        DeviceInfo(5, "5f3a0b7e2c1d4e6f", "amd", "MI300X", 192 * gib,
                   pci_bus_id="0000:c1:00.0"),
    ]


@pytest.fixture
def kubelet() -> Iterator[KubeletStandIn]:
    """A started PodResources stand-in with no pods."""
    server = KubeletStandIn().start()
    yield server
    server.close()


@pytest.fixture
def resolver() -> CgroupResolver:
    """A resolver over the captured /proc fixture tree."""
    return CgroupResolver(PROC_ROOT)
