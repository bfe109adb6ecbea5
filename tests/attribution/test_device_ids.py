"""Kubelet device ids map onto the agent's devices whatever their format."""

from __future__ import annotations

import pytest

from gputel.agent.attribution.device_ids import DeviceIdMap, device_key, normalize_pci
from tests.attribution.conftest import MIG_0, MIG_PARENT, UUID_A, devices


@pytest.mark.parametrize(("raw", "expected"), [
    ("00000000:19:00.0", "0000:19:00.0"),
    ("0000:C1:00.0", "0000:c1:00.0"),
    ("19:00.0", "0000:19:00.0"),
    ("GPU-abc", ""),
    ("0000:19:00", ""),
])
def test_pci_addresses_normalise_case_and_domain_width(raw: str, expected: str) -> None:
    assert normalize_pci(raw) == expected


def test_replica_suffix_is_dropped() -> None:
    assert device_key(f"{UUID_A}::3") == UUID_A.lower()


@pytest.mark.parametrize(("device_id", "indices"), [
    (UUID_A, (0,)),
    (UUID_A.lower(), (0,)),
    (f"{UUID_A}::0", (0,)),
    (f"{UUID_A}::1", (0,)),
    (MIG_0, (3,)),
    (f"{MIG_0}::2", (3,)),
    (MIG_PARENT, (2,)),
    ("0000:c1:00.0", (5,)),      # ROCm plugin: bus id of an AMD GPU
    ("0000:3B:00.0", (1,)),      # upper case, 4-digit domain against NVML's 8-digit one
    ("nvidia0", ()),             # GKE names: not a UUID or bus id
    ("GPU-ffffffff-0000-1111-2222-333344445555", ()),
])
def test_lookup(device_id: str, indices: tuple[int, ...]) -> None:
    assert DeviceIdMap(devices()).lookup(device_id) == indices


def test_a_parent_known_only_through_its_mig_devices_maps_to_them() -> None:
    only_mig = [d for d in devices() if d.index in (3, 4)]
    assert DeviceIdMap(only_mig).lookup(MIG_PARENT) == (3, 4)


def test_mig_devices_do_not_claim_their_parents_bus_id() -> None:
    only_mig = [d for d in devices() if d.index in (3, 4)]
    assert DeviceIdMap(only_mig).lookup("0000:5e:00.0") == ()
