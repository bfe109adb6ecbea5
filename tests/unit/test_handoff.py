"""The tick hand-off: the tick thread never waits for the frame writer; what it drops is counted."""

from __future__ import annotations

import queue
import threading

import numpy as np

from gputel.agent.backends.base import Reading
from gputel.agent.handoff import TickHandoff


def _reading() -> Reading:
    return Reading(values=np.zeros((1, 1), dtype=np.float32))


def test_a_full_hand_off_drops_new_ticks_counted_and_delivers_the_rest_in_order() -> None:
    got: list[int] = []
    handoff = TickHandoff(lambda ts, _r: got.append(ts), max_ticks=3)
    for ts in range(5):  # the writer is not started: the queue fills
        handoff.put(ts, _reading())
    assert handoff.stats.ticks_dropped == 2
    handoff.start()
    assert handoff.stop(timeout=5)
    assert got == [0, 1, 2]


def test_put_does_not_wait_for_a_blocked_writer() -> None:
    release = threading.Event()
    entered: queue.Queue[int] = queue.Queue()

    def slow_sink(ts: int, _r: Reading) -> None:
        entered.put(ts)
        release.wait(10)

    handoff = TickHandoff(slow_sink, max_ticks=2)
    handoff.start()
    handoff.put(0, _reading())
    assert entered.get(timeout=5) == 0  # the writer is stuck in the sink now
    for ts in range(1, 6):
        handoff.put(ts, _reading())  # returns at once although the writer is stuck
    assert handoff.stats.ticks_dropped == 3
    release.set()
    assert handoff.stop(timeout=5)


def test_a_sink_that_raises_costs_that_tick_not_the_writer() -> None:
    got: list[int] = []

    def sink(ts: int, _r: Reading) -> None:
        if ts == 1:
            raise RuntimeError("disk gone")
        got.append(ts)

    handoff = TickHandoff(sink, max_ticks=10)
    handoff.start()
    for ts in range(3):
        handoff.put(ts, _reading())
    assert handoff.stop(timeout=5)
    assert got == [0, 2]
    assert handoff.stats.sink_errors == 1
