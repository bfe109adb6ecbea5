"""Retried HTTP POSTs, the one pattern remote write and alert webhooks share.

Retryable outcomes are the caller's frozenset of HTTP statuses plus "unreachable";
backoff is exponential with full jitter, bounded by a deadline, and a stop event
interrupts the wait (the project's retry pattern, see agent/stream.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import tenacity


class DeliveryError(Exception):
    """A POST failed; `status` is the HTTP status, None when the receiver was unreachable."""

    def __init__(self, message: str, status: int | None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str],
         retryable_status: frozenset[int]) -> None:
    """POST once. Raises DeliveryError (status None and retryable when unreachable)."""
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TransportError as exc:
        raise DeliveryError(f"cannot reach {url}: {exc!r}", None, retryable=True) from exc
    if not response.is_success:
        raise DeliveryError(f"{url} answered {response.status_code}: "
                            f"{response.text[:200].strip()}", response.status_code,
                            retryable=response.status_code in retryable_status)


def retrying(initial_s: float, max_s: float, deadline_s: float, stop: threading.Event,
             before_sleep: Callable[[tenacity.RetryCallState], None]) -> tenacity.Retrying:
    """Retry retryable DeliveryErrors with jittered exponential backoff until the deadline
    or `stop`; the last error is re-raised."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.retryable),
        wait=tenacity.wait_random_exponential(multiplier=initial_s, max=max_s),
        stop=tenacity.stop_any(tenacity.stop_after_delay(deadline_s),
                               tenacity.stop_when_event_set(stop)),
        sleep=lambda seconds: _wait(stop, seconds), before_sleep=before_sleep, reraise=True)


def _wait(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)
