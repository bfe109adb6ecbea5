"""Alert webhooks: a JSON POST to every configured URL when an alert fires or resolves.

The body is signed with HMAC-SHA256 under a shared secret (read from a file):
`X-Gputel-Signature: sha256=<hex of HMAC(secret, raw body)>`; receivers recompute it over
the bytes they received and compare in constant time. `X-Gputel-Event` says firing or
resolved and `X-Gputel-Delivery` names the event (alert id, firing or resolved, start):
the same across retries and across replicas, another for every other event.

Receivers come from the flags (`WebhookConfig.urls`, one shared secret) and from a
`targets` function (the hooks registered through the API, each with its own secret,
event filter and body format, and a callback counting its deliveries and failures).

One sender thread with a bounded queue: `enqueue` never blocks (on overflow the oldest
event is dropped and counted), so neither alert evaluation nor ingest ever waits on a
receiver. Connection errors, 408, 425, 429 and 5xx are retried with exponential backoff
and full jitter (tenacity) until `deadline_seconds`, interruptible by `stop()`; other
answers fail the delivery at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from gputel.collector.outbound import delivery as push
from gputel.collector.outbound.delivery import DeliveryError
from gputel.collector.query.alerts import Alert, AlertEvent
from gputel.collector.timefmt import format_time
from gputel.proto.version import VERSION

log = logging.getLogger(__name__)
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
SIGNATURE_HEADER = "X-Gputel-Signature"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Receivers, the signing secret (empty: unsigned) and retry limits, in seconds."""

    urls: tuple[str, ...]
    secret: bytes = b""
    timeout_seconds: float = 5.0
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 10.0
    deadline_seconds: float = 120.0
    max_queue: int = 1000


@dataclass(slots=True)
class WebhookStats:
    """Deliveries (one event to one URL) by outcome, and events dropped on overflow."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver of one event: its URL, signing secret (empty: unsigned), body builder
    (event, sent-at Unix ns) and a callback told (delivered?, error text) once it is done."""

    url: str
    secret: bytes
    body: Callable[[AlertEvent, int], bytes]
    done: Callable[[bool, str], None] | None = None


Targets = Callable[[AlertEvent], Sequence[Target]]


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def alert_json(a: Alert) -> dict[str, Any]:
    """An alert as the HTTP API and webhooks show it (camelCase, RFC 3339 times)."""
    return {"id": a.id, "rule": a.rule, "severity": a.severity, "state": a.state,
            "node": a.node, "gpu": a.gpu or None,
            "gpuIndex": a.gpu_index if a.gpu_index >= 0 else None,
            "workloads": list(a.workloads), "message": a.message, "value": a.value,
            "threshold": a.threshold, "since": format_time(a.since_ns),
            "updated": format_time(a.updated_ns),
            "resolved": format_time(a.resolved_ns) if a.resolved_ns is not None else None,
            "acknowledgedBy": a.acknowledged_by,
            "acknowledged": (format_time(a.acknowledged_ns)
                             if a.acknowledged_ns is not None else None)}


def event_body(event: AlertEvent, sent_ns: int) -> bytes:
    """The JSON body of one webhook POST."""
    return json.dumps({"event": event.kind, "sentAt": format_time(sent_ns),
                       "alert": alert_json(event.alert)}, separators=(",", ":")).encode()


DELIVERY_NAMESPACE = uuid.UUID("5b0c3f0e-6a43-4d52-9a55-6770757465ce")


def delivery_id(event: AlertEvent) -> str:
    """`X-Gputel-Delivery`: the same for the same event of the same alert (its id, firing or
    resolved, its start), whichever replica sends it, so a receiver behind several
    collectors can drop the copies; another event or a later firing gets another."""
    alert = event.alert
    return str(uuid.uuid5(DELIVERY_NAMESPACE, f"{alert.id}|{event.kind}|{alert.since_ns}"))


class WebhookSender:
    """Delivers alert events to every URL from one background thread; thread-safe."""

    def __init__(self, config: WebhookConfig, client: httpx.Client | None = None,
                 targets: Targets | None = None) -> None:
        self.config = config
        self._targets = targets
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        # None closes the queue: everything before it is delivered first.
        self._queue: queue.Queue[tuple[AlertEvent, str] | None] = queue.Queue(
            maxsize=max(1, config.max_queue))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = WebhookStats()

    def start(self) -> None:
        """Start the sender thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gputel-webhooks",
                                            daemon=True)
            self._thread.start()

    def enqueue(self, event: AlertEvent) -> None:
        """Queue an event without blocking; on overflow the oldest queued one goes."""
        self._put((event, delivery_id(event)))

    def _put(self, item: tuple[AlertEvent, str] | None) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.stats.dropped += 1
                except queue.Empty:
                    pass

    def stop(self, flush_seconds: float = 2.0) -> None:
        """Deliver what is queued for up to `flush_seconds`, then stop; idempotent."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._put(None)
            thread.join(flush_seconds)
            self._stop.set()
            thread.join(5.0)
        self._stop.set()
        self._client.close()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            event, delivery = item
            for target in self.targets(event):
                body = target.body(event, time.time_ns())
                error = self._deliver(target.url, target.secret, body, event.kind, delivery)
                if target.done is not None:
                    target.done(error is None, error or "")

    def targets(self, event: AlertEvent) -> list[Target]:
        """The flags' URLs (shared secret, gputel's body), then the registered hooks."""
        out = [Target(url, self.config.secret, event_body) for url in self.config.urls]
        if self._targets is not None:
            out.extend(self._targets(event))
        return out

    def _deliver(self, url: str, secret: bytes, body: bytes, kind: str,
                 delivery: str) -> str | None:
        """POST with retries; None when delivered, else the error."""
        headers = {"Content-Type": "application/json", "X-Gputel-Event": kind,
                   "X-Gputel-Delivery": delivery, "User-Agent": f"gputel-collector/{VERSION}"}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        retry = push.retrying(self.config.backoff_initial_seconds,
                                  self.config.backoff_max_seconds,
                                  self.config.deadline_seconds, self._stop, self._on_retry)
        try:
            retry(push.post, self._client, url, body, headers, RETRYABLE_STATUS)
        except DeliveryError as exc:
            self.stats.failed += 1
            log.error("alert webhook to %s failed (%s); dropped", url, exc)
            return str(exc)
        self.stats.sent += 1
        return None

    def _on_retry(self, state: tenacity.RetryCallState) -> None:
        self.stats.retried += 1
        if state.attempt_number == 1:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("alert webhook failed (%s); retrying", exc)
