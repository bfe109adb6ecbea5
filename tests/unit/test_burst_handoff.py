"""The ingest stream's hand-off from worker threads to the event loop: a burst of finished
futures wakes the loop once, and every twin gets its own result, error or cancellation."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from gputel.collector.api.grpc.burst import BurstHandoff


def _in_thread(work: object) -> None:
    thread = threading.Thread(target=work)  # type: ignore[arg-type]
    thread.start()
    thread.join()  # the loop is held here: the whole burst lands before it runs again


def test_a_burst_of_finished_futures_wakes_the_loop_once_and_settles_each() -> None:
    async def run() -> tuple[list[object], int]:
        handoff = BurstHandoff(asyncio.get_running_loop())
        futures: list[Future[int]] = [Future() for _ in range(100)]
        twins = [handoff.wrap(f) for f in futures]

        def finish() -> None:
            for i, f in enumerate(futures):
                if i == 7:
                    f.set_exception(ValueError("frame 7 failed"))
                elif i == 9:
                    f.cancel()
                else:
                    f.set_result(i * 10)

        _in_thread(finish)
        results = await asyncio.gather(*twins, return_exceptions=True)
        return results, handoff.wakeups

    results, wakeups = asyncio.run(run())
    assert wakeups == 1  # asyncio.wrap_future: 100
    assert isinstance(results[7], ValueError)
    assert str(results[7]) == "frame 7 failed"
    assert isinstance(results[9], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i not in (7, 9)] == [
        i * 10 for i in range(100) if i not in (7, 9)]


def test_bursts_apart_wake_the_loop_once_each() -> None:
    async def run() -> tuple[list[int], int]:
        handoff = BurstHandoff(asyncio.get_running_loop())
        got = []
        for burst in range(3):
            futures: list[Future[int]] = [Future() for _ in range(5)]
            twins = [handoff.wrap(f) for f in futures]
            _in_thread(lambda fs=futures, b=burst: [f.set_result(b) for f in fs])
            got += await asyncio.gather(*twins)
        return got, handoff.wakeups

    got, wakeups = asyncio.run(run())
    assert got == [0] * 5 + [1] * 5 + [2] * 5
    assert wakeups == 3


def test_a_cancelled_twin_cancels_work_not_started_and_ignores_a_late_result() -> None:
    async def run() -> tuple[bool, bool]:
        handoff = BurstHandoff(asyncio.get_running_loop())
        waiting: Future[int] = Future()
        twin = handoff.wrap(waiting)
        twin.cancel()
        await asyncio.sleep(0)  # the twin's done callbacks run on the next loop pass
        running: Future[int] = Future()
        assert running.set_running_or_notify_cancel()
        late = handoff.wrap(running)
        late.cancel()
        await asyncio.sleep(0)
        _in_thread(lambda: running.set_result(1))  # finishes after its twin was cancelled
        await asyncio.sleep(0)  # the drain runs and must skip it without raising
        return waiting.cancelled(), late.cancelled()

    waiting_cancelled, late_cancelled = asyncio.run(run())
    assert waiting_cancelled
    assert late_cancelled


def test_a_future_finished_after_its_loop_closed_is_dropped_quietly() -> None:
    loop = asyncio.new_event_loop()
    handoff = BurstHandoff(loop)
    pending: Future[int] = Future()
    loop.run_until_complete(asyncio.sleep(0))
    twin = handoff.wrap(pending)
    loop.close()
    _in_thread(lambda: pending.set_result(3))  # no RuntimeError escapes the finishing thread
    assert not twin.done()
    assert handoff.wakeups == 1


@pytest.mark.parametrize("n", [1, 2])
def test_one_future_still_settles_alone(n: int) -> None:
    async def run() -> list[int]:
        handoff = BurstHandoff(asyncio.get_running_loop())
        futures: list[Future[int]] = [Future() for _ in range(n)]
        twins = [handoff.wrap(f) for f in futures]
        for f in futures:
            threading.Thread(target=f.set_result, args=(n,)).start()
        return list(await asyncio.gather(*twins))

    assert asyncio.run(run()) == [n] * n
