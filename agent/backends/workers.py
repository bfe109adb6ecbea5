"""Device sampling threads with a watchdog: a hung driver call stalls only its own device.

Devices are read by lanes: a lane is one thread that runs the jobs of its devices in turn.
Every device starts in one lane, so a tick costs one thread wake-up, not one per device
(on the benchmark VM a wake-up and the cold caches after it cost more than the reads:
benchmarks/results/agent-overhead.md). A lane splits in two cases:

- A job has not returned by the deadline: the device inside that call keeps the lane's
  thread (it may be stuck in the driver, in D state) and the lane's other devices move to
  a new lane, where their jobs of this tick that had not started run at once. So a hung
  call stalls only its own device, as with a thread per device.
- Its jobs took longer than `split_after_s` for `SLOW_BATCHES` reads in a row (a slow
  driver): half of its devices move to a new lane, so slow calls overlap again.

Every tick, `run` hands each lane the jobs of its idle devices and waits up to
`deadline_s` seconds (wall time) for them. A device whose job has not returned yields no
values for that tick and for every later tick until the call returns, and each such tick
is counted in `stalled_ticks`. A result that arrives after its tick is handed back as
late, so that driver-buffered samples it carries are not lost.

Vendor-neutral: the NVML and AMD SMI backends both use it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")
Job = Callable[[], R]

SPLIT_AFTER_S = 0.005  # half a tick at 100 Hz
SLOW_BATCHES = 3  # one slow read (a GC pause, a busy CPU) splits nothing


@dataclass(frozen=True, slots=True)
class TickResults(Generic[R]):
    """What came back for one tick: results on time by device, late ones from earlier ticks."""

    on_time: dict[int, R]
    late: list[tuple[int, R]]
    stalled: list[int]


class _Lane(Generic[R]):
    """One thread and the devices whose jobs it runs in turn (fields guarded by the lock)."""

    def __init__(self, devices: list[int]) -> None:
        self.devices = devices
        self.inbox: queue.SimpleQueue[tuple[int, list[tuple[int, Job[R]]]] | None] = (
            queue.SimpleQueue())
        self.current: int | None = None  # the device whose job is running now
        self.slow = 0  # reads in a row that took longer than split_after_s
        self.thread: threading.Thread | None = None


class DeviceWorkers(Generic[R]):
    """Lanes of device threads (see the module docstring); `run` is called from one thread."""

    def __init__(self, n_devices: int, deadline_s: float, name: str = "gputel-device",
                 split_after_s: float = SPLIT_AFTER_S) -> None:
        if deadline_s <= 0:
            raise ValueError("the watchdog deadline must be positive")
        self._deadline_s = deadline_s
        self._split_after_s = split_after_s
        self._name = name
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._slots: list[tuple[int, R | None] | None] = [None] * n_devices
        self._busy = [False] * n_devices
        self._awaited: set[int] = set()  # devices whose result this tick still waits for
        self._tick = 0
        self._closed = False
        self._lanes: list[_Lane[R]] = []
        self._lane_of: list[_Lane[R]] = []
        self.stalled_ticks = [0] * n_devices
        self.job_errors = [0] * n_devices
        if n_devices:
            first = self._new_lane(list(range(n_devices)))
            self._lane_of = [first] * n_devices

    @property
    def lanes(self) -> int:
        """Threads reading devices now (one until a call hung or the driver was slow)."""
        return len(self._lanes)

    def busy(self, device: int) -> bool:
        """True while the device's previous job has not returned (a stalled call)."""
        return self._busy[device]

    def any_busy(self) -> bool:
        """True if any device still has a job in flight."""
        return any(self._busy)

    def run(self, jobs: dict[int, Job[R]]) -> TickResults[R]:
        """Run one job per device; wait at most the deadline, in seconds (more only on the
        tick a call hangs: the devices queued behind it run on a new lane, waited for too)."""
        with self._lock:
            self._tick += 1
            late = self._take(late=True)
            self._done.clear()
            # a busy device is inside a hung call: never queue behind it
            self._awaited = {dev for dev in jobs if not self._busy[dev]}
            self._dispatch(sorted(self._awaited), jobs)
        waiting = bool(self._awaited)
        while waiting:
            self._done.wait(self._deadline_s)
            with self._lock:
                waiting = self._split_stuck(jobs)
        with self._lock:
            on_time = dict(self._take(late=False))
            stalled = [dev for dev in jobs if self._busy[dev]]
            self._split_slow()
        for dev in stalled:
            self.stalled_ticks[dev] += 1
        return TickResults(on_time, late, stalled)

    def _dispatch(self, devices: list[int], jobs: dict[int, Job[R]]) -> None:
        """Queue each device's job on its lane, one batch per lane; lock held."""
        batches: dict[int, tuple[_Lane[R], list[tuple[int, Job[R]]]]] = {}
        for dev in devices:
            self._busy[dev] = True
            lane = self._lane_of[dev]
            batches.setdefault(id(lane), (lane, []))[1].append((dev, jobs[dev]))
        for lane, batch in batches.values():
            lane.inbox.put((self._tick, batch))

    def _split_stuck(self, jobs: dict[int, Job[R]]) -> bool:
        """Give each device stuck past the deadline its lane to itself and run the jobs
        queued behind it on a new lane; True if there are such jobs to wait for. Lock held."""
        moved: list[int] = []
        for lane in list(self._lanes):
            stuck = lane.current
            if stuck is None or stuck not in self._awaited:
                continue
            self._awaited.discard(stuck)  # not waited for again this tick
            others = [dev for dev in lane.devices if dev != stuck]
            if not others:
                continue
            lane.devices = [stuck]
            fresh = self._new_lane(others)
            for dev in others:
                self._lane_of[dev] = fresh  # its queued job is skipped by the stuck lane
            log.warning("device %d: a driver call has not returned after %.3g s; reading it "
                        "on a thread of its own", stuck, self._deadline_s)
            moved += [dev for dev in others if dev in self._awaited]
        if moved:
            self._dispatch(moved, jobs)
        if not self._awaited:
            self._done.set()
        return bool(moved)

    def _split_slow(self) -> None:
        """Halve each idle lane whose reads were slow SLOW_BATCHES times in a row; lock held."""
        for lane in list(self._lanes):
            if (lane.slow < SLOW_BATCHES or len(lane.devices) < 2
                    or any(self._busy[dev] for dev in lane.devices)):
                continue
            half = len(lane.devices) // 2
            moving = lane.devices[half:]
            lane.devices = lane.devices[:half]
            lane.slow = 0
            fresh = self._new_lane(moving)
            for dev in moving:
                self._lane_of[dev] = fresh
            log.info("devices %s: reads took over %.3g s; now read on a thread of their own",
                     moving, self._split_after_s)

    def _new_lane(self, devices: list[int]) -> _Lane[R]:
        lane: _Lane[R] = _Lane(devices)
        lane.thread = threading.Thread(target=self._work, args=(lane,), daemon=True,
                                       name=f"{self._name}-{len(self._lanes)}")
        self._lanes.append(lane)
        lane.thread.start()
        return lane

    def _take(self, late: bool) -> list[tuple[int, R]]:
        """Empty the slots holding results (from earlier ticks if `late`); lock held."""
        out: list[tuple[int, R]] = []
        for dev, slot in enumerate(self._slots):
            if slot is None or (slot[0] != self._tick) != late:
                continue
            self._slots[dev] = None
            if slot[1] is not None:
                out.append((dev, slot[1]))
        return out

    def _work(self, lane: _Lane[R]) -> None:
        while (item := lane.inbox.get()) is not None:
            tick, batch = item
            started = time.monotonic()
            for i, (dev, job) in enumerate(batch):
                with self._lock:
                    if self._lane_of[dev] is not lane:
                        continue  # moved to another lane while queued here
                    lane.current = dev
                result = self._call(dev, job)
                if i == len(batch) - 1:  # counted before the tick's wait ends
                    slow = time.monotonic() - started > self._split_after_s
                    lane.slow = lane.slow + 1 if slow else 0
                self._finish(lane, dev, tick, result)

    def _call(self, dev: int, job: Job[R]) -> R | None:
        try:
            return job()
        except Exception:  # a bug in one device's job must not kill its thread
            self.job_errors[dev] += 1
            if self.job_errors[dev] == 1:
                log.exception("sampling device %d failed", dev)
            return None

    def _finish(self, lane: _Lane[R], dev: int, tick: int, result: R | None) -> None:
        with self._lock:
            lane.current = None
            self._slots[dev] = (tick, result)
            self._busy[dev] = False
            if tick == self._tick and dev in self._awaited:
                self._awaited.discard(dev)
                if not self._awaited:
                    self._done.set()

    def close(self, timeout_s: float = 2.0) -> bool:
        """Stop every thread; False if one is stuck in the driver (left behind, a daemon)."""
        if self._closed:
            return True
        self._closed = True
        with self._lock:
            lanes = list(self._lanes)
        for lane in lanes:
            lane.inbox.put(None)
        deadline = time.monotonic() + timeout_s
        joined = True
        for lane in lanes:
            assert lane.thread is not None
            lane.thread.join(max(0.0, deadline - time.monotonic()))
            if lane.thread.is_alive():
                joined = False
                log.warning("devices %s: sampling thread still inside a driver call at "
                            "shutdown", lane.devices)
        return joined


def release(workers: DeviceWorkers[Any] | None, shutdown: Callable[[], None] | None) -> None:
    """Stop the device threads, then shut the vendor library down, unless a call is still
    inside it: pulling the library from under a hung driver call can crash the process."""
    if workers is not None and not workers.close():
        return
    if shutdown is not None:
        shutdown()
