"""The AMD SMI backend over a fake amdsmi that replays the 7.0.2 wrapper's dicts and errors."""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gputel.agent.backends.amd import COL, AmdSmiBackend, number, probe
from gputel.agent.backends.base import BackendUnavailable, Inventory, ProcessSample, Reading
from tests.fakes.fake_amdsmi import (
    AMDSMI_STATUS_NOT_SUPPORTED,
    AMDSMI_STATUS_RETRY,
    NA16,
    NA32,
    NA64,
    FakeAmdGpu,
    FakeAmdSmi,
    navi_metrics,
)

MIB = 1024**2


def gpus(n: int) -> list[FakeAmdGpu]:
    return [FakeAmdGpu(f"f500740c-0000-1000-8065-5f1b8584dc1{i}", f"0000:{0x19 + i:02x}:00.0")
            for i in range(n)]


@pytest.fixture
def opened() -> Iterator[list[AmdSmiBackend]]:
    backends: list[AmdSmiBackend] = []
    yield backends
    for backend in backends:
        backend.close()
    assert [t.name for t in threading.enumerate() if t.name.startswith("gputel-amd")] == []


def start(opened: list[AmdSmiBackend], fake: FakeAmdSmi) -> AmdSmiBackend:
    backend = AmdSmiBackend(amdsmi=fake, deadline_s=5.0)
    backend.open()
    opened.append(backend)
    return backend


def read(backend: AmdSmiBackend) -> Reading:
    return backend.read(time.time_ns())


def value(reading: Reading, row: int, metric: str) -> float:
    return float(reading.values[row, COL[metric]])


# ---------------------------------------------------------------------------- probe / open
def test_probe_when_import_amdsmi_raises_key_error(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "amdsmi"
    package.mkdir()
    # What the 7.0.2 wheel does without ROCm: print two lines, then KeyError.
    (package / "__init__.py").write_text(
        "print('libamd_smi.so: cannot open shared object file: No such file or directory')\n"
        "print('Unable to find libamd_smi.so library try installing amd-smi-lib from your "
        "package manager')\n"
        "raise KeyError('libamd_smi.so')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    reason = probe()
    assert reason == ("AMD SMI: libamd_smi.so not found (install ROCm's amd-smi-lib or set "
                      "ROCM_PATH)")
    assert capsys.readouterr().out == ""  # the wrapper's noise does not reach the console
    with pytest.raises(BackendUnavailable, match=r"libamd_smi\.so not found"):
        AmdSmiBackend().open()


def test_probe_when_amdsmi_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # import amdsmi -> ImportError
    assert probe() == "AMD SMI: the amdsmi Python package is not installed"


def test_probe_driver_not_loaded_or_no_gpu() -> None:
    assert probe(FakeAmdSmi(gpus(1), driver_loaded=False)) == (
        "AMD SMI: the amdgpu kernel driver is not loaded")
    assert probe(FakeAmdSmi([])) == "AMD SMI: the library is loaded but sees no AMD GPU"
    assert probe(FakeAmdSmi(gpus(2))) is None


def test_devices_carry_uuid_bdf_model_and_memory(opened: list[AmdSmiBackend]) -> None:
    backend = start(opened, FakeAmdSmi(gpus(2)))
    first, second = backend.devices()
    assert (first.uuid, first.vendor, first.model) == (
        "f500740c-0000-1000-8065-5f1b8584dc10", "amd", "AMD Instinct MI300X")
    assert first.memory_total_bytes == 196_592 * MIB
    assert second.pci_bus_id == "0000:1a:00.0"
    assert backend.name == "amdsmi"


# ---------------------------------------------------------------------------- values
def test_mi300x_values_in_wire_units(opened: list[AmdSmiBackend]) -> None:
    fake = FakeAmdSmi(gpus(1))
    backend = start(opened, fake)
    r = read(backend)
    assert value(r, 0, "gpu_util") == 87
    assert value(r, 0, "mem_util") == 35
    assert value(r, 0, "power") == 612_000  # current_socket_power on MI300, W -> mW
    assert math.isnan(value(r, 0, "power_avg"))  # "N/A" there
    assert value(r, 0, "temperature") == 61  # hotspot (junction); no edge sensor
    assert value(r, 0, "mem_temperature") == 49
    assert value(r, 0, "sm_clock") == 2100  # current_gfxclk is N/A: first XCC clock
    energy = value(r, 0, "energy")  # 19.66e9 x 15.259 uJ, in whole mJ
    assert energy == pytest.approx(300_000_000.0)
    assert energy == int(energy)
    assert value(r, 0, "mem_used") == 1024 * MIB
    assert value(r, 0, "mem_total") == 196_592 * MIB
    assert fake.calls["amdsmi_get_gpu_metrics_info"] == 1  # one gpu_metrics read per tick


def test_navi_class_board_uses_average_power_and_its_clock(opened: list[AmdSmiBackend]) -> None:
    backend = start(opened, FakeAmdSmi([FakeAmdGpu("uuid-navi", "0000:03:00.0",
                                                   market_name="Radeon RX 7900 XTX",
                                                   raw=navi_metrics())]))
    r = read(backend)
    assert value(r, 0, "power") == value(r, 0, "power_avg") == 180_000
    assert value(r, 0, "temperature") == 52
    assert value(r, 0, "sm_clock") == 2400


@pytest.mark.parametrize("passthrough", [False, True], ids=["wrapper-NA", "raw-sentinels"])
def test_na_and_sentinel_values_read_nan_never_max_int(opened: list[AmdSmiBackend],
                                                       passthrough: bool) -> None:
    gpu = gpus(1)[0]
    gpu.raw.update({"average_gfx_activity": NA16, "average_umc_activity": 250,
                    "current_socket_power": NA16, "temperature_hotspot": NA16,
                    "temperature_mem": NA16, "current_gfxclks": [NA16] * 8,
                    "energy_accumulator": NA64})
    gpu.vram_used_mb = NA32
    backend = start(opened, FakeAmdSmi([gpu], raw_passthrough=passthrough))
    r = read(backend)
    for metric in ("gpu_util", "mem_util", "power", "temperature", "mem_temperature",
                   "sm_clock", "energy", "mem_used"):
        assert math.isnan(value(r, 0, metric)), metric
    assert value(r, 0, "mem_total") == 196_592 * MIB
    assert backend.field_errors == {}


@pytest.mark.parametrize(("raw", "bits", "percent", "expected"), [
    ("N/A", 16, False, math.nan),
    (0xFFFF, 16, False, math.nan),
    (0xFFFFFFFF, 32, False, math.nan),
    (0xFFFFFFFFFFFFFFFF, 64, False, math.nan),
    (0xFFFFFFFF, 64, False, math.nan),  # the C side's UINT32_MAX in a 64-bit field
    (0xFFFF, 32, False, 65535.0),  # a real value in a wider field
    (101, 16, True, math.nan),
    (True, 32, False, math.nan),  # throttle_status arrives as a bool: not a number
    (["N/A", 1800, 1900], 16, False, 1800.0),
    ([NA16, NA16], 16, False, math.nan),
    (42, 16, False, 42.0),
])
def test_number_handles_na_sentinels_and_lists(raw: object, bits: int, percent: bool,
                                               expected: float) -> None:
    got = number(raw, bits, percent)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


# ---------------------------------------------------------------------------- failures
def test_unsupported_call_on_one_gpu_is_asked_once(opened: list[AmdSmiBackend]) -> None:
    gpu_list = gpus(2)
    fake = FakeAmdSmi(gpu_list)
    backend = start(opened, fake)  # open reads VRAM once per GPU
    gpu_list[1].errors["amdsmi_get_gpu_vram_usage"] = AMDSMI_STATUS_NOT_SUPPORTED
    readings = [read(backend) for _ in range(4)]
    assert [value(r, 0, "mem_used") for r in readings] == [1024 * MIB] * 4
    assert all(math.isnan(value(r, 1, "mem_used")) for r in readings)
    assert all(value(r, 1, "power") == 612_000 for r in readings)
    assert fake.calls["amdsmi_get_gpu_vram_usage"] == 2 + 4 + 1
    assert backend.unsupported(1) == frozenset({"vram"})
    assert backend.field_errors == {}


def test_failed_call_is_nan_and_counted(opened: list[AmdSmiBackend]) -> None:
    gpu_list = gpus(1)
    backend = start(opened, FakeAmdSmi(gpu_list))
    gpu_list[0].errors["amdsmi_get_gpu_metrics_info"] = AMDSMI_STATUS_RETRY
    readings = [read(backend) for _ in range(3)]
    assert all(math.isnan(value(r, 0, "power")) for r in readings)
    assert all(value(r, 0, "mem_used") == 1024 * MIB for r in readings)  # VRAM still read
    assert backend.field_errors == {"gpu_metrics": 3}
    del gpu_list[0].errors["amdsmi_get_gpu_metrics_info"]
    assert value(read(backend), 0, "power") == 612_000  # asked again: a retry is not "unsupported"


def test_open_without_gpus_is_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="sees no AMD GPU"):
        AmdSmiBackend(amdsmi=FakeAmdSmi([])).open()


# ------------------------------------------------------------------ inventory, processes
def test_inventory_in_si_units_none_where_the_device_has_no_such_thing(
        opened: list[AmdSmiBackend]) -> None:
    board = gpus(2)
    board[1].errors["amdsmi_get_power_cap_info"] = AMDSMI_STATUS_NOT_SUPPORTED
    board[1].raw = {**board[1].raw, "current_uclk": 0xFFFF}  # "N/A" from the wrapper
    backend = start(opened, FakeAmdSmi(board))
    first, second = backend.inventory()
    assert first == Inventory(
        power_limit_watts=750.0, driver_version="6.10.5", firmware_version="85.101.0",
        vbios_version="113-M3000100-102", serial="0x0123456789ABCDEF",
        architecture="CDNA 3", mig_supported=False, mig_enabled=False,
        fan_speed_percent=None, memory_clock_mhz=1300.0, pcie_generation=5, pcie_width=16,
        pcie_max_generation=5, pcie_max_width=16, ecc_enabled=True)
    assert second.power_limit_watts is None
    assert second.memory_clock_mhz is None
    assert second.driver_version == "6.10.5"


def test_process_lists_are_read_once_a_second_with_names_and_vram(
        opened: list[AmdSmiBackend]) -> None:
    board = gpus(1)
    board[0].processes = [(4242, "python3", 3 * 2**30)]
    backend = start(opened, FakeAmdSmi(board))
    t0 = time.time_ns()
    assert backend.read(t0).processes == {0: [ProcessSample(4242, 3 * 2**30, name="python3")]}
    assert backend.read(t0 + 500_000_000).processes is None
    assert backend.read(t0 + 1_000_000_000).processes is not None
