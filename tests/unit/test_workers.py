"""Device lanes: one thread for every device until a call hangs or the driver is slow."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from gputel.agent.backends.workers import SLOW_BATCHES, DeviceWorkers


@pytest.fixture
def workers() -> Iterator[list[DeviceWorkers[str]]]:
    made: list[DeviceWorkers[str]] = []
    yield made
    for w in made:
        assert w.close()


def job(name: str) -> str:
    return name


def test_every_device_is_read_by_one_thread(workers: list[DeviceWorkers[str]]) -> None:
    w: DeviceWorkers[str] = DeviceWorkers(8, deadline_s=5.0, split_after_s=60.0)
    workers.append(w)
    seen: set[str] = set()

    def reader(dev: int) -> str:
        seen.add(threading.current_thread().name)
        return f"d{dev}"

    for _ in range(3):
        out = w.run({dev: (lambda d=dev: reader(d)) for dev in range(8)})
        assert out.on_time == {dev: f"d{dev}" for dev in range(8)}
    assert w.lanes == 1
    assert len(seen) == 1


def test_devices_queued_behind_a_hung_call_still_get_this_tick(
        workers: list[DeviceWorkers[str]]) -> None:
    w: DeviceWorkers[str] = DeviceWorkers(3, deadline_s=0.2, split_after_s=60.0)
    workers.append(w)
    release, entered = threading.Event(), threading.Event()

    def hang() -> str:
        entered.set()
        release.wait(30)
        return "late"

    try:
        first = w.run({0: hang, 1: lambda: job("a"), 2: lambda: job("b")})
        assert entered.is_set()
        assert first.on_time == {1: "a", 2: "b"}  # device 0 is first in the lane, and hung
        assert first.stalled == [0]
        assert w.lanes == 2
        second = w.run({0: lambda: job("x"), 1: lambda: job("c"), 2: lambda: job("d")})
        assert second.on_time == {1: "c", 2: "d"}
        assert second.stalled == [0]
        assert w.stalled_ticks == [2, 0, 0]
    finally:
        release.set()
    for _ in range(1000):  # the hung call returns: its result comes back late, then values
        out = w.run({0: lambda: job("back"), 1: lambda: job("e"), 2: lambda: job("f")})
        if out.late:
            assert out.late == [(0, "late")]
            break
    else:
        pytest.fail("the released call never came back")
    assert w.run({0: lambda: job("g"), 1: lambda: job("h")}).on_time == {0: "g", 1: "h"}


def test_a_slow_driver_splits_the_lane_until_reads_overlap(
        workers: list[DeviceWorkers[str]]) -> None:
    w: DeviceWorkers[str] = DeviceWorkers(4, deadline_s=5.0, split_after_s=0.0)
    workers.append(w)
    jobs = {dev: (lambda d=dev: job(f"d{d}")) for dev in range(4)}
    for _ in range(SLOW_BATCHES - 1):
        assert w.run(jobs).on_time == {dev: f"d{dev}" for dev in range(4)}
    assert w.lanes == 1
    w.run(jobs)  # the lane was slow SLOW_BATCHES times: it splits after this tick
    assert w.lanes == 2
    for _ in range(2 * SLOW_BATCHES):
        assert len(w.run(jobs).on_time) == 4
    assert w.lanes == 4  # one device per lane: nothing left to split
