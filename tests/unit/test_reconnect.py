"""The reconnect policy: how long the agent waits, by how the stream ended."""

from __future__ import annotations

import grpc
import pytest

from gputel.agent.reconnect import (
    MAX_RETRY_AFTER_S,
    Backoff,
    Ending,
    is_refusal,
    retry_after_seconds,
)

CODE = grpc.StatusCode
BROKE = Ending(CODE.UNAVAILABLE, "collector away")


def test_quick_failures_double_the_wait_up_to_the_cap_never_below_half_a_step() -> None:
    policy = Backoff(first_s=0.2, max_s=10.0, reconnect_max_s=2.0)
    low = [policy.wait_s(BROKE, n, welcomed_before=False, rand=0.0) for n in range(1, 9)]
    high = [policy.wait_s(BROKE, n, welcomed_before=False, rand=1.0) for n in range(1, 9)]
    assert high == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
    assert low == [h / 2 for h in high]


def test_once_a_collector_answered_the_cap_is_lower() -> None:
    policy = Backoff(first_s=0.2, max_s=10.0, reconnect_max_s=2.0)
    assert policy.wait_s(BROKE, 30, welcomed_before=True, rand=1.0) == 2.0
    assert policy.wait_s(BROKE, 30, welcomed_before=False, rand=1.0) == 10.0


def test_a_retry_after_is_a_floor_with_jitter_above_it() -> None:
    policy = Backoff()
    ending = Ending(CODE.RESOURCE_EXHAUSTED, "too many streams", retry_after_s=5.0)
    assert policy.wait_s(ending, 1, welcomed_before=True, rand=0.0) == 5.0
    assert policy.wait_s(ending, 1, welcomed_before=True, rand=1.0) == pytest.approx(6.0)


def test_a_refusal_waits_the_slow_interval_to_twice_that() -> None:
    policy = Backoff(refused_s=30.0)
    ending = Ending(CODE.PERMISSION_DENIED, "not allowed", refused=True)
    assert policy.wait_s(ending, 1, welcomed_before=False, rand=0.0) == 30.0
    assert policy.wait_s(ending, 1, welcomed_before=False, rand=0.999) < 60.0


@pytest.mark.parametrize(("value", "seconds"), [
    ("1500", 1.5), (b"250", 0.25), ("0", 0.0), ("99999999999", MAX_RETRY_AFTER_S),
    ("-5", None), ("soon", None), ("", None), ("1.5", None)])
def test_retry_after_is_bounded_and_garbage_is_ignored(value: str | bytes,
                                                        seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


@pytest.mark.parametrize(("code", "welcomed", "bad_seq", "refused"), [
    (CODE.INVALID_ARGUMENT, False, False, True),  # the Hello itself
    (CODE.INVALID_ARGUMENT, True, True, False),  # one bad frame, dropped
    (CODE.INVALID_ARGUMENT, False, True, False),
    (CODE.PERMISSION_DENIED, False, False, True),
    (CODE.UNAUTHENTICATED, True, False, True),
    (CODE.UNIMPLEMENTED, False, False, True),  # not a gputel collector
    (CODE.ALREADY_EXISTS, False, False, False),
    (CODE.OUT_OF_RANGE, True, True, False),
    (CODE.UNAVAILABLE, False, False, False),
    (CODE.RESOURCE_EXHAUSTED, True, False, False),
])
def test_which_endings_refuse_the_agent(code: grpc.StatusCode, welcomed: bool, bad_seq: bool,
                                        refused: bool) -> None:
    assert is_refusal(code, welcomed, bad_seq) is refused


def test_a_backoff_whose_first_step_exceeds_a_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Backoff(first_s=5.0, reconnect_max_s=2.0)
