"""Simulated GPUs with believable, deterministic load: for demos, benchmarks and tests.

Each GPU runs one workload profile, chosen by its index: training (steady high
utilization and power, a pause at each checkpoint), inference (bursts), or idle.
Memory grows and frees with the workload, temperature follows power with a
thermal lag, the energy counter integrates power. Values come as a driver gives them, in
the catalogue's wire units and whole numbers: percent, bytes, milliwatts, degrees C, MHz,
and energy as a millijoule counter that only grows, from a realistic ~3e10 mJ (the driver
was loaded weeks ago). Given the seed and the same sequence of tick timestamps, every
value is the same on every run.
"""

from __future__ import annotations

import dataclasses
import math
import random
import uuid
from dataclasses import dataclass

from gputel.agent.backends.base import (
    BackendHealth,
    DeviceInfo,
    Inventory,
    ProcessSample,
    Reading,
    empty_values,
)

METRICS: tuple[str, ...] = (
    "gpu_util", "mem_util", "mem_used", "mem_total", "power", "temperature", "sm_clock", "energy",
)
PROFILES: tuple[str, ...] = ("training", "training", "inference", "idle")
MODEL = "NVIDIA H100 80GB HBM3 (simulated)"
MEM_TOTAL = 80 * 1024**3
IDLE_W, TDP_W = 68.0, 700.0
AMBIENT_C, C_PER_W, THERMAL_TAU_S = 28.0, 0.065, 25.0
GIB = 1024**3
PROCESSES_EVERY_NS = 10**9  # process lists once a second, as the NVML backend reads them
# What an H100 SXM5 80GB on a 550-series driver reports: no fan (None, as NVML's
# NOT_SUPPORTED), HBM3 at 2619 MHz, PCIe Gen5 x16, MIG supported and off, ECC on.
H100 = Inventory(power_limit_watts=TDP_W, memory_reserved_bytes=539 * 1024**2,
                 driver_version="550.54.15", firmware_version="G520.0200.00.05",
                 vbios_version="96.00.99.00.01", architecture="Hopper", mig_supported=True,
                 mig_enabled=False, fan_speed_percent=None, memory_clock_mhz=2619.0,
                 pcie_generation=5, pcie_width=16, pcie_max_generation=5, pcie_max_width=16,
                 ecc_enabled=True)
PROCESS_NAMES = {"training": "python3", "inference": "vllm"}


@dataclass(slots=True)
class _Gpu:
    """The evolving state of one simulated GPU."""

    profile: str
    rng: random.Random
    util: float = 0.0
    mem_bytes: float = 0.5 * GIB
    temp_c: float = AMBIENT_C + C_PER_W * IDLE_W
    energy_mj: float = 0.0  # reported rounded down, so the counter never goes back
    phase_left_s: float = 0.0
    busy: bool = False
    mem_target: float = 0.5 * GIB


class SimBackend:
    """N simulated H100-class GPUs; `seed` and `salt` (the node name) fix every value."""

    name = "sim"

    def __init__(self, gpus: int = 4, seed: int = 0, salt: str = "",
                 processes: bool = False) -> None:
        """`processes`: one simulated process per busy GPU, once a second (for demos with
        simulated pods; off where a real /proc or kubelet attributes, as their PIDs exist
        nowhere)."""
        if gpus < 1:
            raise ValueError("the simulator needs at least one GPU")
        self._n = gpus
        self._seed = seed
        self._salt = salt
        self._gpus: list[_Gpu] = []
        self._last_ts_ns: int | None = None
        self._next_processes_ns = 0
        self._with_processes = processes

    def open(self) -> None:
        """Create the GPUs in their initial state."""
        self._gpus = [self._new_gpu(i) for i in range(self._n)]
        self._last_ts_ns = None

    def _new_gpu(self, index: int) -> _Gpu:
        rng = random.Random(f"gputel-sim:{self._seed}:{self._salt}:{index}")
        gpu = _Gpu(profile=PROFILES[index % len(PROFILES)], rng=rng)
        gpu.energy_mj = rng.uniform(1e10, 5e10)  # the driver was loaded a while ago
        gpu.mem_target = {"training": rng.uniform(55, 75), "inference": rng.uniform(18, 24),
                          "idle": 0.5}[gpu.profile] * GIB
        gpu.phase_left_s = rng.uniform(20, 90)
        gpu.busy = gpu.profile == "training"
        return gpu

    def devices(self) -> list[DeviceInfo]:
        """The simulated devices; UUIDs are stable for a seed and node."""
        return [
            DeviceInfo(index=i, uuid=self._uuid(i), vendor="sim", model=MODEL,
                       memory_total_bytes=MEM_TOTAL, pci_bus_id=f"00000000:{0x18 + i:02X}:00.0")
            for i in range(self._n)
        ]

    def _uuid(self, index: int) -> str:
        rng = random.Random(f"gputel-sim-uuid:{self._seed}:{self._salt}:{index}")
        return f"GPU-{uuid.UUID(int=rng.getrandbits(128), version=4)}"

    def metrics(self) -> tuple[str, ...]:
        """gpu_util, mem_util, mem_used, mem_total, power, temperature, sm_clock, energy."""
        return METRICS

    def read(self, ts_ns: int) -> Reading:
        """Advance every GPU to ts_ns and return its values."""
        dt = 0.0 if self._last_ts_ns is None else max(0.0, (ts_ns - self._last_ts_ns) / 1e9)
        self._last_ts_ns = ts_ns
        values = empty_values(self._n, len(METRICS))
        for i, gpu in enumerate(self._gpus):
            values[i] = _step(gpu, dt)
        return Reading(values=values, processes=self._processes(ts_ns))

    def _processes(self, ts_ns: int) -> dict[int, list[ProcessSample]] | None:
        """Once a second: one process on each busy-profile GPU (none on an idle one)."""
        if not self._with_processes or ts_ns < self._next_processes_ns:
            return None
        self._next_processes_ns = ts_ns + PROCESSES_EVERY_NS
        return {i: [ProcessSample(10_000 + 100 * i + 1, round(gpu.mem_bytes / 1048576) * 1048576,
                                  name=PROCESS_NAMES[gpu.profile])]
                if gpu.profile in PROCESS_NAMES else [] for i, gpu in enumerate(self._gpus)}

    def inventory(self) -> list[Inventory]:
        """H100 SXM5 values; the serial number differs per GPU and node, stable for a seed."""
        return [dataclasses.replace(H100, serial=self._serial(i)) for i in range(self._n)]

    def _serial(self, index: int) -> str:
        rng = random.Random(f"gputel-sim-serial:{self._seed}:{self._salt}:{index}")
        return str(1_654_922_000_000 + rng.randrange(1_000_000))

    def health(self) -> BackendHealth:
        """Simulated GPUs never fail."""
        return BackendHealth()

    def close(self) -> None:
        """Nothing to release."""
        self._gpus = []


def _step(gpu: _Gpu, dt: float) -> tuple[float, ...]:
    """Advance one GPU by dt seconds; return its values in METRICS order, wire units."""
    rng = gpu.rng
    _advance_phase(gpu, dt)
    if gpu.profile == "idle":
        gpu.util = 0.0
    elif gpu.busy:
        base = 96.0 if gpu.profile == "training" else rng.uniform(45, 92)
        gpu.util = min(100.0, max(0.0, rng.gauss(base, 2.0)))
    else:
        gpu.util = max(0.0, rng.gauss(2.0, 1.5))
    load = gpu.util / 100.0
    power = IDLE_W + (TDP_W - IDLE_W) * load * rng.uniform(0.88, 0.98) + rng.gauss(0, 3)
    power = max(IDLE_W * 0.8, power)
    gpu.energy_mj += power * dt * 1000.0
    target_c = AMBIENT_C + C_PER_W * power
    gpu.temp_c += (target_c - gpu.temp_c) * (1.0 - math.exp(-dt / THERMAL_TAU_S))
    mem_goal = gpu.mem_target + (4 * GIB * load if gpu.profile == "inference" else 0.0)
    gpu.mem_bytes += (mem_goal - gpu.mem_bytes) * (1.0 - math.exp(-dt / 5.0))
    clock = 345.0 if load < 0.05 else (1980.0 if gpu.temp_c < 80 else 1755.0)
    mem_util = load * (0.55 if gpu.profile == "training" else 0.35) * 100
    return (float(round(gpu.util)), float(round(mem_util)),
            round(gpu.mem_bytes / 1048576) * 1048576.0, float(MEM_TOTAL),
            float(round(power * 1000.0)), float(round(gpu.temp_c)), clock,
            float(math.floor(gpu.energy_mj)))


def _advance_phase(gpu: _Gpu, dt: float) -> None:
    """Switch between busy and quiet phases: checkpoints for training, bursts for inference."""
    gpu.phase_left_s -= dt
    if gpu.phase_left_s > 0 or gpu.profile == "idle":
        return
    gpu.busy = not gpu.busy
    rng = gpu.rng
    if gpu.profile == "training":
        gpu.phase_left_s = rng.uniform(60, 180) if gpu.busy else rng.uniform(2, 6)
    else:
        gpu.phase_left_s = rng.expovariate(1 / 0.8) if gpu.busy else rng.expovariate(1 / 1.5)
