"""The NVML backend over a fake pynvml that returns the real pynvml structures and errors."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator

import numpy as np
import pynvml
import pytest

from gputel.agent.backends.base import BackendUnavailable, Inventory, ProcessSample, Reading
from gputel.agent.backends.nvml import NvmlBackend, probe
from gputel.agent.backends.nvml_device import COL, NvmlOptions, ts_offset_ns
from gputel.agent.backends.nvml_fields import decode, decode_samples
from gputel.agent.batcher import Batcher
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.fakes.fake_pynvml import FakeGpu, FakeMig, FakeNvml

POWER, UTIL = pynvml.NVML_TOTAL_POWER_SAMPLES, pynvml.NVML_GPU_UTILIZATION_SAMPLES
WALL0 = 1_760_000_000 * 10**9
BOOT0 = 123_456 * 10**9  # the node booted 123456 s before WALL0
MIB = 1024**2
XID = COL["xid_events"]


class FakeClock:
    """Wall and monotonic time that move only when told to."""

    def __init__(self) -> None:
        self.wall = WALL0
        self.mono = 10**12
        self.boot = BOOT0

    def time_ns(self) -> int:
        return self.wall

    def monotonic_ns(self) -> int:
        return self.mono

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.is_set()

    def advance(self, ns: int) -> None:
        self.wall += ns
        self.mono += ns
        self.boot += ns


def gpus(n: int) -> list[FakeGpu]:
    return [FakeGpu(f"GPU-0000000{i}-aaaa-bbbb-cccc-dddddddddddd",
                    bus_id=f"00000000:{0x18 + i:02X}:00.0") for i in range(n)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def opened(clock: FakeClock) -> Iterator[list[NvmlBackend]]:
    """Backends opened by a test; closed afterwards, with a check that no thread is left."""
    backends: list[NvmlBackend] = []
    yield backends
    for backend in backends:
        backend.close()
    leftover = [t.name for t in threading.enumerate() if t.name.startswith("gputel-nvml")]
    assert leftover == []


def start(opened: list[NvmlBackend], clock: FakeClock, fake: FakeNvml,
          **options: float) -> NvmlBackend:
    opts = {"deadline_s": 5.0, "samples_every_s": 0.0, "event_wait_ms": 10} | options
    backend = NvmlBackend(nvml=fake, clock=clock, options=NvmlOptions(**opts),  # type: ignore[arg-type]
                          boot_ns=lambda: clock.boot)
    backend.open()
    opened.append(backend)
    return backend


def fake_for(clock: FakeClock, gpu_list: list[FakeGpu], **kwargs: object) -> FakeNvml:
    return FakeNvml(gpu_list, clock_us=lambda: clock.time_ns() // 1000, **kwargs)  # type: ignore[arg-type]


def tick(backend: NvmlBackend, clock: FakeClock, ms: int = 100) -> Reading:
    clock.advance(ms * 10**6)
    return backend.read(clock.time_ns())


def value(reading: Reading, row: int, metric: str) -> float:
    return float(reading.values[row, COL[metric]])


# ---------------------------------------------------------------------------- probe / open
def test_probe_names_the_missing_library_of_the_real_pynvml(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    def no_library(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(pynvml, "nvmlLib", None)
    monkeypatch.setattr(pynvml, "CDLL", no_library)
    assert probe() == "NVML: libnvidia-ml.so.1 not found (no NVIDIA driver)"


def test_probe_and_open_without_a_driver(clock: FakeClock) -> None:
    fake = fake_for(clock, gpus(1), driver=False)
    assert probe(fake) == "NVML: libnvidia-ml.so.1 not found (no NVIDIA driver)"
    with pytest.raises(BackendUnavailable, match=r"libnvidia-ml\.so\.1 not found"):
        NvmlBackend(nvml=fake).open()


def test_probe_sees_gpus_or_says_there_are_none(clock: FakeClock) -> None:
    assert probe(fake_for(clock, gpus(2))) is None
    assert probe(fake_for(clock, [])) == "NVML: the driver is loaded but sees no NVIDIA GPU"


def test_devices_carry_uuid_model_memory_and_bus_id(clock: FakeClock,
                                                    opened: list[NvmlBackend]) -> None:
    backend = start(opened, clock, fake_for(clock, gpus(2)))
    first, second = backend.devices()
    assert (first.index, first.uuid, first.vendor) == (0, gpus(1)[0].uuid, "nvidia")
    assert first.model == "NVIDIA H100 80GB HBM3"
    assert first.memory_total_bytes == 81559 * MIB
    assert second.pci_bus_id == "00000000:19:00.0"
    assert backend.metrics()[:8] == ("gpu_util", "mem_util", "mem_used", "mem_total", "power",
                                     "temperature", "sm_clock", "energy")


# ---------------------------------------------------------------------------- values
def test_values_come_in_the_drivers_whole_units(clock: FakeClock,
                                                  opened: list[NvmlBackend]) -> None:
    gpu = FakeGpu("GPU-1", util_mem=37, throttle=0x4 | 0x20, ecc_sbe=5, ecc_dbe=1,
                  unsupported={f"samples:{POWER}"})
    backend = start(opened, clock, fake_for(clock, [gpu]))
    r = tick(backend, clock)
    assert value(r, 0, "power") == 71_000  # instant power in mW: no power samples
    assert value(r, 0, "power_avg") == 70_000
    assert value(r, 0, "energy") == 5_000_000  # mJ
    assert value(r, 0, "mem_used") == 1024 * MIB  # v2: reserved memory not included
    assert value(r, 0, "mem_total") == 81559 * MIB
    assert value(r, 0, "temperature") == 34
    assert value(r, 0, "mem_temperature") == 41
    assert value(r, 0, "sm_clock") == 1980
    assert value(r, 0, "mem_util") == 37
    assert value(r, 0, "throttle_reasons") == 0x24
    assert (value(r, 0, "ecc_errors_corrected"), value(r, 0, "ecc_errors_uncorrected")) == (5, 1)
    assert backend.field_errors == {}


def test_field_values_come_from_one_batched_call_per_device_per_tick(
        clock: FakeClock, opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(2))
    backend = start(opened, clock, fake)
    for _ in range(4):
        tick(backend, clock)
    for gpu in fake.gpus:
        assert fake.calls[("nvmlDeviceGetFieldValues", gpu.uuid)] == 4
    assert fake.field_requests[(fake.gpus[0].uuid, pynvml.NVML_FI_DEV_POWER_AVERAGE)] == 4


def test_pcie_byte_counters_become_bytes_per_second(clock: FakeClock,
                                                    opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(1))
    backend = start(opened, clock, fake)
    assert math.isnan(value(tick(backend, clock), 0, "pcie_tx"))  # one reading is no rate
    fake.gpus[0].pcie_tx += 4_000_000
    fake.gpus[0].pcie_rx += 1_000_000
    r = tick(backend, clock, ms=100)
    assert value(r, 0, "pcie_tx") == pytest.approx(40e6)
    assert value(r, 0, "pcie_rx") == pytest.approx(10e6)


def test_old_driver_falls_back_to_older_calls(clock: FakeClock,
                                              opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, [FakeGpu("GPU-old", throttle=0x4)], legacy=True)
    backend = start(opened, clock, fake)
    r = tick(backend, clock)
    assert value(r, 0, "mem_used") == (1024 + 539) * MIB  # v1: used includes reserved
    assert value(r, 0, "temperature") == 34
    assert value(r, 0, "throttle_reasons") == 0x4
    assert backend.field_errors == {}
    tick(backend, clock)
    assert fake.calls[("nvmlDeviceGetTemperatureV", "GPU-old")] == 1  # not asked again


def test_raw_decoding_matches_reading_pynvml_attributes(clock: FakeClock) -> None:
    gpu = FakeGpu("GPU-1", field_types={pynvml.NVML_FI_DEV_POWER_INSTANT:
                                        pynvml.NVML_VALUE_TYPE_DOUBLE},
                  field_returns={pynvml.NVML_FI_DEV_MEMORY_TEMP: pynvml.NVML_ERROR_UNKNOWN})
    fake = fake_for(clock, [gpu])
    fake.nvmlInit()
    handle = fake.handle_of(gpu)
    entries = fake.nvmlDeviceGetFieldValues(handle, [186, 185, 83, 82, 197])
    fast, slow = decode(entries), decode(list(entries))  # a list takes the attribute path
    assert fast == slow
    assert [(ret, value) for ret, _, _, value in fast] == [
        (0, 71000.0), (0, 70000), (0, 5_000_000), (pynvml.NVML_ERROR_UNKNOWN, 0), (0, 0)]
    for k in range(3):
        gpu.push_sample(POWER, 1_000 + k, 200_000 + k)
    value_type, samples = fake.nvmlDeviceGetSamples(handle, POWER, 0)
    copies = [pynvml.c_nvmlSample_t(timeStamp=s.timeStamp, sampleValue=s.sampleValue)
              for s in samples]  # not views into one array: the attribute path
    for ts, vals in (decode_samples(samples, value_type), decode_samples(copies, value_type)):
        assert ts.tolist() == [1000, 1001, 1002]
        assert vals.tolist() == [200_000, 200_001, 200_002]


# ---------------------------------------------------------------------------- driver samples
def test_buffered_samples_arrive_once_and_in_order_across_ticks(
        clock: FakeClock, opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(1))
    gpu = fake.gpus[0]
    backend = start(opened, clock, fake)
    pushed: list[tuple[int, int]] = []
    readings = []
    for _ in range(5):
        now_us = clock.time_ns() // 1000
        for k in range(6):  # six power samples per 100 ms tick, ~60 Hz as under load
            ts_us = now_us + k * 16_667
            gpu.push_sample(POWER, ts_us, 300_000 + k)
            pushed.append((ts_us, 300_000 + k))
        gpu.push_sample(UTIL, now_us + 50_000, 90)
        readings.append(tick(backend, clock))
    got = [b for r in readings for b in r.buffered if b.metric == COL["power"]]
    ts = np.concatenate([b.ts_ns for b in got])
    vals = np.concatenate([b.values for b in got])
    assert ts.tolist() == [t * 1000 for t, _ in pushed]  # each exactly once, in order
    assert vals.tolist() == [v for _, v in pushed]  # whole mW, as the driver gave them
    util = [b for r in readings for b in r.buffered if b.metric == COL["gpu_util"]]
    assert sum(b.ts_ns.size for b in util) == 5
    for r in readings:  # buffered metrics are never also in the tick's values
        assert math.isnan(value(r, 0, "power"))
        assert math.isnan(value(r, 0, "gpu_util"))
    last_seen = [ts for uuid, kind, ts in fake.last_seen_args if kind == POWER]
    assert last_seen[1:] == [pushed[6 * i - 1][0] for i in range(1, 5)]  # NVML's own value


def test_buffered_samples_make_valid_frames(clock: FakeClock, opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(2))
    backend = start(opened, clock, fake)
    emitted: list[pb.Frame] = []
    batcher = Batcher(2, backend.metrics(), 3, lambda frame, n: emitted.append(frame))
    for _ in range(6):
        for gpu in fake.gpus:
            gpu.push_sample(POWER, clock.time_ns() // 1000 + 1, 250_000)
            gpu.push_sample(POWER, clock.time_ns() // 1000 + 20_000, 260_000)
        reading = tick(backend, clock)
        batcher.add(clock.time_ns(), reading)
    for seq, frame in enumerate(emitted, start=1):
        frame.seq = seq  # the outbox numbers frames
    decoded = [d for f in emitted for d in frames.decode_frame(f, 2, backend.metrics())]
    power = [d for d in decoded if d.metrics == (COL["power"],)]
    assert sum(d.ts_ns.size for d in power) == 6 * 2 * 2


def test_boot_based_sample_timestamps_become_unix_time(clock: FakeClock,
                                                       opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(1))
    backend = start(opened, clock, fake)
    clock.advance(10**8)
    boot_us = clock.boot // 1000
    fake.gpus[0].push_sample(POWER, boot_us - 30_000, 100_000)  # 30 ms ago, boot clock
    r = backend.read(clock.time_ns())
    (power,) = [b for b in r.buffered if b.metric == COL["power"]]
    assert power.ts_ns.tolist() == [clock.wall - 30_000_000]


def test_timestamp_domain_detection() -> None:
    wall, boot = WALL0, BOOT0
    assert ts_offset_ns((wall - 5 * 10**6) // 1000, wall, boot) == 0  # epoch us
    assert ts_offset_ns((boot - 5 * 10**6) // 1000, wall, boot) == wall - boot  # boot us
    odd = 42 * 10**6  # neither: anchor the newest sample at now
    assert ts_offset_ns(odd, wall, boot) == wall - odd * 1000


def test_first_drain_keeps_recent_history_only(clock: FakeClock,
                                               opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(1))
    now_us = clock.time_ns() // 1000
    for k in range(119):  # an idle GPU's ring: one sample a second, two minutes back
        fake.gpus[0].push_sample(POWER, now_us - (118 - k) * 1_000_000, 60_000)
    backend = start(opened, clock, fake, samples_backlog_s=2.0)
    r = backend.read(clock.time_ns())
    (power,) = [b for b in r.buffered if b.metric == COL["power"]]
    assert power.ts_ns.size == 3  # now-2 s, now-1 s, now


def test_idle_gpu_not_found_is_no_new_sample_not_an_error(clock: FakeClock,
                                                          opened: list[NvmlBackend]) -> None:
    gpu = FakeGpu("GPU-idle", util_gpu=0, util_mem=0)
    fake = fake_for(clock, [gpu])
    backend = start(opened, clock, fake)
    for _ in range(3):
        r = tick(backend, clock)
        assert r.buffered == []
        assert value(r, 0, "gpu_util") == 0.0  # utilization rates stand in while dry
    assert backend.field_errors == {}
    assert backend.unsupported(0) == frozenset()  # still asked: samples come back with load
    assert fake.calls[("nvmlDeviceGetSamples", "GPU-idle")] == 6
    gpu.push_sample(UTIL, clock.time_ns() // 1000 + 1, 55)
    r = tick(backend, clock)
    assert [b.values.tolist() for b in r.buffered] == [[55.0]]
    assert math.isnan(value(r, 0, "gpu_util"))


def test_power_buffer_dry_for_long_falls_back_to_instant_power(
        clock: FakeClock, opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(1))
    fake.gpus[0].push_sample(POWER, clock.time_ns() // 1000, 90_000)
    backend = start(opened, clock, fake, power_stale_s=1.0)
    assert math.isnan(value(tick(backend, clock, ms=10), 0, "power"))  # buffered this tick
    assert math.isnan(value(tick(backend, clock, ms=500), 0, "power"))  # still fresh
    assert value(tick(backend, clock, ms=1000), 0, "power") == 71_000


def test_util_samples_unsupported_fall_back_to_rates_and_are_not_asked_again(
        clock: FakeClock, opened: list[NvmlBackend]) -> None:
    gpu = FakeGpu("GPU-old", util_gpu=64, unsupported={f"samples:{UTIL}"})
    fake = fake_for(clock, [gpu])
    backend = start(opened, clock, fake)
    readings = [tick(backend, clock) for _ in range(4)]
    assert [value(r, 0, "gpu_util") for r in readings] == [64.0] * 4
    util_asks = [a for a in fake.last_seen_args if a[1] == UTIL]
    assert len(util_asks) == 1
    assert "util_samples" in backend.unsupported(0)


# ---------------------------------------------------------------------------- failures
def test_field_not_supported_on_one_device_is_asked_once_there_only(
        clock: FakeClock, opened: list[NvmlBackend]) -> None:
    gpu_list = gpus(2)
    gpu_list[1].unsupported.add(f"field:{pynvml.NVML_FI_DEV_MEMORY_TEMP}")
    fake = fake_for(clock, gpu_list)
    backend = start(opened, clock, fake)
    readings = [tick(backend, clock) for _ in range(5)]
    assert [value(r, 0, "mem_temperature") for r in readings] == [41.0] * 5
    assert all(math.isnan(value(r, 1, "mem_temperature")) for r in readings)
    assert all(value(r, 1, "power_avg") == 70_000 for r in readings)  # the rest still read
    field_id = pynvml.NVML_FI_DEV_MEMORY_TEMP
    assert fake.field_requests[(gpu_list[0].uuid, field_id)] == 5
    assert fake.field_requests[(gpu_list[1].uuid, field_id)] == 1
    assert "mem_temperature" in backend.unsupported(1)
    assert "mem_temperature" not in backend.unsupported(0)
    assert backend.field_errors == {}


def test_failing_call_is_nan_and_counted_and_logged_once(
        clock: FakeClock, opened: list[NvmlBackend], caplog: pytest.LogCaptureFixture) -> None:
    gpu = FakeGpu("GPU-flaky", fail={"nvmlDeviceGetClockInfo": pynvml.NVML_ERROR_UNKNOWN},
                  field_returns={pynvml.NVML_FI_DEV_POWER_AVERAGE: pynvml.NVML_ERROR_TIMEOUT})
    backend = start(opened, clock, fake_for(clock, [gpu]))
    with caplog.at_level(logging.WARNING):
        readings = [tick(backend, clock) for _ in range(3)]
    assert all(math.isnan(value(r, 0, "sm_clock")) for r in readings)
    assert all(math.isnan(value(r, 0, "power_avg")) for r in readings)
    assert all(value(r, 0, "temperature") == 34 for r in readings)
    assert backend.field_errors == {"sm_clock": 3, "power_avg": 3}
    warnings = [r for r in caplog.records if "failed with NVML error" in r.getMessage()]
    assert len(warnings) == 2


def test_gpu_lost_mid_run_others_keep_producing_then_it_comes_back(
        clock: FakeClock, opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(3))
    backend = start(opened, clock, fake, recover_every_s=30.0)
    assert not np.isnan(tick(backend, clock).values[:, COL["mem_used"]]).any()
    fake.lose(1)
    for _ in range(3):
        r = tick(backend, clock)
        assert np.isnan(r.values[1, :XID]).all()  # the XID count still reads
        assert value(r, 0, "mem_used") == value(r, 2, "mem_used") == 1024 * MIB
    assert backend.lost_devices() == [1]
    assert backend.health().lost == (1,)  # what the agent's /metrics reports
    fake.inject_xid(1, 79)  # fallen off the bus
    assert backend._events is not None
    assert backend._events.wait_total(1, timeout_s=5.0)
    calls_while_lost = fake.calls[("nvmlDeviceGetMemoryInfo", fake.gpus[1].uuid)]
    tick(backend, clock)
    assert fake.calls[("nvmlDeviceGetMemoryInfo", fake.gpus[1].uuid)] == calls_while_lost
    fake.reattach(1)
    tick(backend, clock, ms=30_000)  # the recovery attempt finds it again (new handle)
    assert backend.lost_devices() == []
    assert backend.recoveries == 1
    r = tick(backend, clock)
    assert value(r, 1, "mem_used") == 1024 * MIB
    fake.inject_xid(1, 48)  # events are registered again under the new handle
    assert backend._events is not None
    assert backend._events.wait_total(1, timeout_s=5.0)
    assert backend.xid_counts() == [0, 2, 0]  # counted on from before the recovery
    health = backend.health()
    assert (health.lost, health.recoveries, health.xids) == ((), 1, (0, 2, 0))
    assert value(tick(backend, clock), 1, "xid_events") == 2


def test_every_gpu_lost_reinitialises_nvml(clock: FakeClock, opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(1))
    backend = start(opened, clock, fake, recover_every_s=5.0)
    fake.lose(0)
    assert np.isnan(tick(backend, clock).values[0, :XID]).all()
    assert backend.lost_devices() == [0]
    tick(backend, clock, ms=5000)  # attempt while still lost: init works, GPU does not
    assert backend.lost_devices() == [0]
    fake.reattach(0)
    tick(backend, clock, ms=5000)
    assert backend.lost_devices() == []
    assert backend.recovery_attempts == 2
    assert fake.inits == 3  # open, then nvmlShutdown + nvmlInit at each attempt
    assert value(tick(backend, clock), 0, "temperature") == 34


def test_hung_call_stalls_only_its_own_device(clock: FakeClock,
                                              opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, gpus(2))
    backend = start(opened, clock, fake, deadline_s=0.2)
    release = threading.Event()
    fake.gpus[1].hang["nvmlDeviceGetMemoryInfo"] = release
    try:
        t0 = time.monotonic()
        first = tick(backend, clock)
        took = time.monotonic() - t0
        assert took < 1.5  # the deadline (0.2 s), not the hung call, bounds the tick
        assert fake.hanging.is_set()
        assert value(first, 0, "mem_used") == 1024 * MIB
        assert np.isnan(first.values[1, :XID]).all()
        second = tick(backend, clock)
        assert value(second, 0, "temperature") == 34
        assert backend.stalled_devices() == [1]
        assert backend.stalled_ticks == [0, 2]
        assert fake.calls[("nvmlDeviceGetMemoryInfo", fake.gpus[1].uuid)] == 2  # open + 1
    finally:
        release.set()
    del fake.gpus[1].hang["nvmlDeviceGetMemoryInfo"]
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:  # wait for the released call to come back
        if not math.isnan(value(tick(backend, clock), 1, "mem_used")):
            break
    else:
        pytest.fail("device 1 never produced values after its call returned")
    assert backend.stalled_devices() == []


# ---------------------------------------------------------------------------- MIG and XID
def mig_gpu() -> FakeGpu:
    return FakeGpu("GPU-parent", mig=[
        FakeMig("MIG-11111111-aaaa-bbbb-cccc-dddddddddddd", gpu_instance=1, mem_used=2 * MIB),
        None,  # an empty slot
        FakeMig("MIG-22222222-aaaa-bbbb-cccc-dddddddddddd", gpu_instance=2, mem_used=3 * MIB),
    ])


def test_mig_devices_are_rows_with_memory_only_never_zero(clock: FakeClock,
                                                          opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, [mig_gpu(), *gpus(1)])
    backend = start(opened, clock, fake)
    infos = backend.devices()
    assert [d.uuid for d in infos] == ["GPU-parent", "MIG-11111111-aaaa-bbbb-cccc-dddddddddddd",
                                       "MIG-22222222-aaaa-bbbb-cccc-dddddddddddd",
                                       gpus(1)[0].uuid]
    assert [d.mig_parent_uuid for d in infos] == ["", "GPU-parent", "GPU-parent", ""]
    assert infos[1].memory_total_bytes == 9984 * MIB
    r = tick(backend, clock)
    tick(backend, clock)
    assert value(r, 1, "mem_used") == 2 * MIB
    assert value(r, 2, "mem_used") == 3 * MIB
    for row in (0, 1, 2):  # no utilization in any form with MIG on: NaN, not 0
        assert math.isnan(value(r, row, "gpu_util"))
        assert math.isnan(value(r, row, "mem_util"))
    for metric in ("power_avg", "temperature", "sm_clock", "energy"):
        assert not math.isnan(value(r, 0, metric))  # the parent has them
        assert math.isnan(value(r, 1, metric))  # its MIG devices do not
    assert value(r, 3, "gpu_util") == 0.0  # a GPU without MIG is unaffected
    assert math.isnan(value(r, 0, "mem_used"))  # unprivileged parent: NO_PERMISSION, cached
    for uuid in ("GPU-parent", infos[1].uuid):
        assert fake.calls[("nvmlDeviceGetUtilizationRates", uuid)] == 0
    assert backend.field_errors == {}


def test_xid_events_are_counted_per_gpu_and_mig_device(clock: FakeClock,
                                                       opened: list[NvmlBackend]) -> None:
    fake = fake_for(clock, [mig_gpu(), *gpus(1)])
    backend = start(opened, clock, fake)
    assert backend.xid_counts() == [0, 0, 0, 0]
    fake.inject_xid(1, 79)
    fake.inject_xid(0, 43, gpu_instance=2, compute_instance=0)
    assert backend._events is not None
    assert backend._events.wait_total(2, timeout_s=5.0)
    r = tick(backend, clock)
    assert r.values[:, COL["xid_events"]].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert backend._events.last_xid == [43, 0, 43, 79]


def test_process_lists_feed_attribution_with_memory_and_sm_utilization(
        opened: list[NvmlBackend], clock: FakeClock) -> None:
    gpu_list = gpus(2)
    gpu_list[0].processes = [(4242, 2 * 2**30), (4343, None)]  # None: N/A (WDDM)
    gpu_list[0].process_util = [(4242, clock.time_ns() // 1000 + 1, 87)]
    backend = start(opened, clock, fake_for(clock, gpu_list))
    first = tick(backend, clock, ms=100)
    assert first.processes is not None
    assert first.processes[0] == [ProcessSample(4242, 2 * 2**30, 87.0),
                                  ProcessSample(4343, 0, None)]
    assert first.processes[1] == []  # read, and empty: nobody runs there
    assert tick(backend, clock, ms=100).processes is None  # read again only after 1 s
    gpu_list[0].processes = []
    later = tick(backend, clock, ms=1000)
    assert later.processes is not None
    assert later.processes[0] == []


def test_close_never_shuts_nvml_down_under_a_hung_call(clock: FakeClock) -> None:
    fake = fake_for(clock, gpus(2))
    backend = NvmlBackend(nvml=fake, clock=clock, options=NvmlOptions(deadline_s=0.1),  # type: ignore[arg-type]
                          boot_ns=lambda: clock.boot)
    backend.open()
    release = threading.Event()
    fake.gpus[1].hang["nvmlDeviceGetMemoryInfo"] = release
    try:
        tick(backend, clock)
        assert fake.hanging.is_set()
        backend.close()  # the worker is still inside the driver call
        assert fake._init_refs == 1
    finally:
        release.set()
    other = fake_for(clock, gpus(1))
    healthy = NvmlBackend(nvml=other, clock=clock, boot_ns=lambda: clock.boot)  # type: ignore[arg-type]
    healthy.open()
    healthy.close()
    assert other._init_refs == 0  # with nothing hung, close() shuts NVML down


# ------------------------------------------------------------------ inventory
def test_inventory_reads_what_the_driver_reports_and_none_where_it_does_not(
        clock: FakeClock, opened: list[NvmlBackend]) -> None:
    board = gpus(2)
    board[1].unsupported |= {"nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetEccMode",
                             "nvmlDeviceGetSerial", "nvmlDeviceGetMigMode"}
    board[1].fan_percent = 41
    backend = start(opened, clock, fake_for(clock, board))
    full, partial = backend.inventory()
    assert full == Inventory(
        power_limit_watts=700.0, memory_reserved_bytes=539 * MIB, driver_version="550.54.15",
        firmware_version="G520.0200.00.05", vbios_version="96.00.99.00.01",
        serial="1654922001234", architecture="Hopper", mig_supported=True, mig_enabled=False,
        fan_speed_percent=None, memory_clock_mhz=2619.0, pcie_generation=5, pcie_width=16,
        pcie_max_generation=5, pcie_max_width=16, ecc_enabled=True)
    # NOT_SUPPORTED is None, never a crash or a 0; what it does report is still there.
    assert (partial.power_limit_watts, partial.ecc_enabled, partial.serial) == (None, None, "")
    assert (partial.mig_supported, partial.mig_enabled) == (False, None)
    assert partial.fan_speed_percent == 41.0
    assert partial.vbios_version == "96.00.99.00.01"


def test_inventory_of_mig_devices_and_of_a_lost_gpu(clock: FakeClock,
                                                     opened: list[NvmlBackend]) -> None:
    board = gpus(2)
    board[0].mig = [FakeMig("MIG-aaaaaaaa-0000-0000-0000-000000000001", 1),
                    FakeMig("MIG-aaaaaaaa-0000-0000-0000-000000000002", 2,
                            name="NVIDIA H100 80GB HBM3 MIG 3g.40gb")]
    fake = fake_for(clock, board)
    backend = start(opened, clock, fake)
    parent, mig1, mig2, _other = backend.inventory()
    assert (parent.mig_supported, parent.mig_enabled) == (True, True)
    assert (mig1.mig_profile, mig2.mig_profile) == ("1g.10gb", "3g.40gb")
    assert mig1.power_limit_watts is None
    assert mig1.driver_version == "550.54.15"
    fake.lose(1)
    tick(backend, clock)  # the read marks it lost
    assert backend.inventory()[3] == Inventory()
