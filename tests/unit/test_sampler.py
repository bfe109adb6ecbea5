"""The sampling loop keeps its schedule on a virtual clock: no drift, late ticks skipped."""

from __future__ import annotations

import threading

import numpy as np

from gputel.agent.backends.base import BackendHealth, DeviceInfo, Reading
from gputel.agent.sampler import Sampler

PERIOD = 10_000_000  # 100 Hz
WALL0 = 1_800_000_000 * 10**9


class VirtualClock:
    """Time moves only when someone waits or a read takes time."""

    def __init__(self) -> None:
        self.now = 0

    def time_ns(self) -> int:
        return WALL0 + self.now

    def monotonic_ns(self) -> int:
        return self.now

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.now += round(seconds * 1e9)
        return stop.is_set()


class SlowBackend:
    """Reads cost `cost_ns` of virtual time, except the reads listed in `slow` (3.5 periods)."""

    name = "virtual"

    def __init__(self, clock: VirtualClock, cost_ns: int, slow: frozenset[int] = frozenset()):
        self.clock, self.cost_ns, self.slow = clock, cost_ns, slow
        self.stamps: list[int] = []

    def open(self) -> None: ...
    def health(self) -> BackendHealth:
        return BackendHealth()

    def close(self) -> None: ...

    def devices(self) -> list[DeviceInfo]:
        return [DeviceInfo(0, "GPU-v", "sim", "V", 0)]

    def metrics(self) -> tuple[str, ...]:
        return ("power",)

    def read(self, ts_ns: int) -> Reading:
        self.clock.now += 35_000_000 if len(self.stamps) in self.slow else self.cost_ns
        self.stamps.append(ts_ns)
        return Reading(values=np.zeros((1, 1), dtype=np.float32))


def _run(backend: SlowBackend, clock: VirtualClock, ticks: int) -> Sampler:
    got: list[int] = []
    sampler = Sampler(backend, 100.0, lambda ts, _r: got.append(ts), clock, max_ticks=ticks)
    sampler.start()
    assert sampler.finished.wait(10)
    assert got == backend.stamps
    return sampler


def test_ten_thousand_ticks_do_not_drift() -> None:
    clock = VirtualClock()
    backend = SlowBackend(clock, cost_ns=3_000_000)  # each read eats 30 % of the period
    sampler = _run(backend, clock, 10_000)
    stamps = np.array(backend.stamps)
    assert np.all(np.diff(stamps) == PERIOD)
    assert stamps[-1] - stamps[0] == 9_999 * PERIOD
    assert sampler.stats.ticks_missed == 0


def test_a_late_read_skips_ticks_instead_of_bunching_them() -> None:
    clock = VirtualClock()
    backend = SlowBackend(clock, cost_ns=1_000_000, slow=frozenset({5}))
    sampler = _run(backend, clock, 20)
    gaps = np.diff(backend.stamps) // PERIOD
    # Read 5 ends at 85 ms: ticks 6 and 7 (60, 70 ms) are more than a period late and
    # skipped; tick 8 (80 ms) is less than a period late and taken at once.
    assert sampler.stats.ticks_missed == 2
    assert list(gaps).count(3) == 1
    assert set(gaps) == {1, 3}
    assert all((s - backend.stamps[0]) % PERIOD == 0 for s in backend.stamps)
