"""How long the agent waits before connecting to the collector again, by how the stream ended.

Pure: the stream client passes the ending (`Ending`), how many quick failures came in a
row, whether a collector ever welcomed this agent, and a random number in [0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

# Codes worth another try soon: the collector is away, restarting, busy, or still holds a
# stream of ours (ALREADY_EXISTS), or one frame was bad (dropped) or out of its window (kept).
RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INVALID_ARGUMENT,  # after the Welcome: one bad frame, dropped
    grpc.StatusCode.OUT_OF_RANGE,  # one frame outside the collector's time window, kept
    grpc.StatusCode.ALREADY_EXISTS,  # our previous stream is still open there (half-open)
})
# The longest wait a collector's gputel-retry-after-ms is honoured for (input is bounded).
MAX_RETRY_AFTER_S = 600.0


@dataclass(frozen=True, slots=True)
class Ending:
    """How one stream ended. `refused`: the collector refused the Hello (or is no gputel
    collector): not ready, retried slowly. `stable`: it was up long enough to reset the
    backoff. `retry_after_s`: the collector's gputel-retry-after-ms, in seconds."""

    code: grpc.StatusCode
    details: str
    refused: bool = False
    stable: bool = False
    retry_after_s: float | None = None

    @property
    def message(self) -> str:
        """`CODE: details`, for logs, /readyz and /metrics."""
        return f"{self.code.name}: {self.details}"


def is_refusal(code: grpc.StatusCode, welcomed: bool, bad_seq: bool) -> bool:
    """Whether an ending refuses the agent itself (its Hello, identity or the service)."""
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return not welcomed and not bad_seq
    return code not in RETRYABLE


def retry_after_seconds(value: str | bytes) -> float | None:
    """gputel-retry-after-ms as seconds, capped at MAX_RETRY_AFTER_S; None if malformed."""
    text = value.decode() if isinstance(value, bytes) else value
    if not text.strip().isdigit():
        return None
    return min(int(text) / 1000.0, MAX_RETRY_AFTER_S)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect waits, in seconds.

    Exponential from `first_s`, doubling per quick failure, "equal jitter" (half fixed,
    half random, so consecutive failures never reconnect at once); capped at `max_s` until
    a collector has welcomed this agent, then at `reconnect_max_s` (a collector that comes
    back is found within seconds). A refused Hello waits `refused_s` to twice that. A
    collector's retry-after is a floor, plus up to 20 % jitter so agents do not return
    together.
    """

    first_s: float = 0.2
    max_s: float = 10.0
    reconnect_max_s: float = 2.0
    refused_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= min(self.max_s, self.reconnect_max_s) or self.refused_s <= 0:
            raise ValueError("backoff waits must be positive, the first no longer than a cap")

    def wait_s(self, ending: Ending, failures: int, welcomed_before: bool,
               rand: float) -> float:
        """Seconds to wait after `failures` (>= 1) quick failures in a row ending in `ending`."""
        if ending.refused:
            return self.refused_s * (1.0 + rand)
        cap = self.reconnect_max_s if welcomed_before else self.max_s
        step = min(cap, self.first_s * 2.0 ** min(failures - 1, 32))
        seconds = step * (0.5 + 0.5 * rand)
        if ending.retry_after_s is not None:
            seconds = max(seconds, ending.retry_after_s * (1.0 + 0.2 * rand))
        return seconds
