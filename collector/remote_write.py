"""Prometheus remote write 1.0: pushes the collector's series to any compatible store.

Prometheus (`--web.enable-remote-write-receiver`), Thanos Receive, Mimir, Cortex and
VictoriaMetrics all take it: a POST of a snappy-compressed (block format)
`prometheus.WriteRequest` protobuf. The ingest path calls `enqueue` (or
`enqueue_blocks` with a decoded frame) after a frame is committed; one sender thread
batches (up to `batch_samples`, or `batch_seconds` after the oldest queued chunk),
encodes and posts.

Bounded and honest: the queue holds at most `max_queue_samples`; beyond that the oldest
samples are dropped and counted (`dropped["queue_full"]`). 5xx, 429 and connection
errors are retried with exponential backoff and full jitter (tenacity) until
`retry_deadline_seconds`, interruptible by `stop()`; other 4xx answers fail the batch
at once (counted, not retried: resending the same bytes cannot succeed). Within a
series samples go out in timestamp order, one per millisecond; a sample at or before
one already sent for its series is dropped and counted (`dropped["out_of_order"]`),
since receivers refuse it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cramjam
import httpx
import numpy as np
import numpy.typing as npt
import tenacity

from gputel.proto.frames import Block
from gputel.proto.metrics import METRICS
from gputel.proto.prometheus import remote_pb2 as prompb

log = logging.getLogger(__name__)

# Answers worth another try as they are: the receiver is away, overloaded or restarting.
RETRYABLE_STATUS = frozenset({429, *range(500, 600)})
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "gputel-collector/0.1.0",
}
SeriesLabels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RemoteWriteConfig:
    """Where and how to push. Durations in seconds, sizes in samples."""

    url: str
    max_queue_samples: int = 500_000
    batch_samples: int = 2_000
    batch_seconds: float = 1.0
    timeout_seconds: float = 10.0
    backoff_initial_seconds: float = 0.1
    backoff_max_seconds: float = 5.0
    retry_deadline_seconds: float = 300.0
    headers: tuple[tuple[str, str], ...] = ()  # e.g. ("Authorization", "Bearer ..."), tenant


@dataclass(slots=True)
class RemoteWriteStats:
    """Counters for /metrics, in samples unless named otherwise."""

    enqueued: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {"queue_full": 0,
                                                             "out_of_order": 0})
    requests: int = 0
    requests_failed: int = 0
    last_error: str = ""


class RemoteWriteError(Exception):
    """A push failed; `status` is the HTTP status, None when the receiver was unreachable."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        """True for connection errors, 429 and 5xx."""
        return self.status is None or self.status in RETRYABLE_STATUS


class DeviceLike(Protocol):
    """What labels a GPU's series: the Hello's Device or the collector's DeviceRecord."""

    @property
    def index(self) -> int: ...
    @property
    def uuid(self) -> str: ...
    @property
    def model(self) -> str: ...


@dataclass(slots=True)
class _Chunk:
    series: int
    ts_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    queued_at: float


class RemoteWriter:
    """One remote-write endpoint: a bounded queue and a sender thread. Thread-safe."""

    def __init__(self, config: RemoteWriteConfig, client: httpx.Client | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 time_ns: Callable[[], int] = time.time_ns) -> None:
        if config.batch_samples < 1 or config.max_queue_samples < config.batch_samples:
            raise ValueError("remote write needs 1 <= batch_samples <= max_queue_samples")
        self.config = config
        self.stats = RemoteWriteStats()
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        self._headers = {**HEADERS, **dict(config.headers)}
        self._monotonic = monotonic
        self._time_ns = time_ns
        self._ids: dict[SeriesLabels, int] = {}
        self._labels: list[list[tuple[str, str]]] = []
        self._last_sent: list[int] = []  # per series, newest timestamp sent (ms)
        self._queue: deque[_Chunk] = deque()
        self._queued = 0
        self._inflight_oldest_ms: int | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gputel-remote-write",
                                        daemon=True)
        self._block_labels: dict[tuple[str, str, int, str], SeriesLabels | None] = {}

    # ---------------------------------------------------------------- feeding
    def enqueue(self, series_labels: SeriesLabels, ts_ns: npt.NDArray[np.int64],
                values: npt.ArrayLike) -> int:
        """Queue one series' samples (Unix ns, NaN skipped); return how many were queued.

        `series_labels` must name the metric as `__name__`. Raises ValueError otherwise.
        """
        vals = np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(vals)
        if not keep.any():
            return 0
        ts_ms = np.asarray(ts_ns, dtype=np.int64)[keep] // 1_000_000
        vals = vals[keep]
        with self._cond:
            series = self._series_id(series_labels)
            self._queue.append(_Chunk(series, ts_ms, vals, self._monotonic()))
            self._queued += vals.size
            self.stats.enqueued += vals.size
            self._trim()
            if self._queued >= self.config.batch_samples:
                self._cond.notify()
        return int(vals.size)

    def enqueue_blocks(self, node: str, devices: Sequence[DeviceLike],
                       metric_ids: Sequence[str], blocks: Iterable[Block]) -> int:
        """Queue every sample of a decoded frame, named and scaled as the agent exports them.

        Series: `prom_series` of the catalogue metric, labels node, gpu, uuid, model;
        values times the metric's `prom_scale`. Metrics outside the catalogue are skipped.
        """
        queued = 0
        for block in blocks:
            device = devices[block.device]
            for row, m in enumerate(block.metrics):
                labels = self._labels_for(node, device, metric_ids[m])
                if labels is None:
                    continue
                scale = METRICS[metric_ids[m]].prom_scale
                values = block.values[row].astype(np.float64)
                queued += self.enqueue(labels, block.ts_ns, values * scale if scale != 1.0
                                       else values)
        return queued

    def _labels_for(self, node: str, device: DeviceLike, metric_id: str) -> SeriesLabels | None:
        key = (node, device.uuid, device.index, metric_id)
        labels = self._block_labels.get(key, ())
        if labels == ():
            meta = METRICS.get(metric_id)
            labels = None if meta is None else (
                ("__name__", meta.prom_series), ("gpu", str(device.index)),
                ("model", device.model), ("node", node), ("uuid", device.uuid))
            self._block_labels[key] = labels
        return labels

    def _series_id(self, series_labels: SeriesLabels) -> int:
        series = self._ids.get(series_labels)
        if series is None:
            pairs = sorted(series_labels)
            if not any(k == "__name__" and v for k, v in pairs):
                raise ValueError(f"series labels {series_labels!r} have no __name__")
            series = len(self._labels)
            self._ids[series_labels] = series
            self._labels.append(pairs)
            self._last_sent.append(np.iinfo(np.int64).min)
        return series

    def _trim(self) -> None:
        """Drop the oldest samples beyond the bound (caller holds the lock)."""
        excess = self._queued - self.config.max_queue_samples
        while excess > 0:
            head = self._queue[0]
            if head.values.size <= excess:
                self._queue.popleft()
                dropped = head.values.size
            else:
                dropped = excess
                head.ts_ms, head.values = head.ts_ms[excess:], head.values[excess:]
            self._queued -= dropped
            self.stats.dropped["queue_full"] += dropped
            excess -= dropped

    # ------------------------------------------------------------- reading
    def queued(self) -> int:
        """Samples waiting to be sent, the batch being sent included."""
        with self._cond:
            return self._queued

    def lag_seconds(self) -> float:
        """Age of the oldest sample not yet sent (0 when all are), by its timestamp."""
        with self._cond:
            oldest = [int(self._queue[0].ts_ms[0])] if self._queue else []
            if self._inflight_oldest_ms is not None:
                oldest.append(self._inflight_oldest_ms)
        if not oldest:
            return 0.0
        return max(0.0, self._time_ns() / 1e9 - min(oldest) / 1e3)

    # ------------------------------------------------------------- sending
    def start(self) -> None:
        """Start the sender thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Send what is queued for up to `timeout` s, then stop; True if all was sent."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(self.config.timeout_seconds + 1)
        with self._cond:
            left = self._queued
        if left:
            log.warning("remote write stopped with %d sample(s) unsent", left)
        self._client.close()
        return left == 0

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                self._send(batch)
            finally:
                with self._cond:
                    self._queued -= sum(c.values.size for c in batch)
                    self._inflight_oldest_ms = None

    def _take_batch(self) -> list[_Chunk] | None:
        """Wait for a full batch, the oldest chunk's deadline, or closing; None to stop."""
        limit = self.config.batch_samples
        with self._cond:
            while not self._ready_to_send():
                if self._stop.is_set() or (self._closing and not self._queue):
                    return None
                wait = (self._queue[0].queued_at + self.config.batch_seconds - self._monotonic()
                        if self._queue else None)
                self._cond.wait(max(wait, 0.001) if wait is not None else 1.0)
            if self._stop.is_set():
                return None
            batch: list[_Chunk] = []
            taken = 0
            while self._queue and taken < limit:
                head = self._queue[0]
                room = limit - taken
                if head.values.size <= room:
                    batch.append(self._queue.popleft())
                else:
                    batch.append(_Chunk(head.series, head.ts_ms[:room], head.values[:room],
                                        head.queued_at))
                    head.ts_ms, head.values = head.ts_ms[room:], head.values[room:]
                taken += batch[-1].values.size
            self._inflight_oldest_ms = min(int(c.ts_ms[0]) for c in batch)
            return batch

    def _ready_to_send(self) -> bool:
        if not self._queue:
            return False
        return (self._closing or self._queued >= self.config.batch_samples
                or self._monotonic() >= self._queue[0].queued_at + self.config.batch_seconds)

    def _send(self, batch: list[_Chunk]) -> None:
        body, samples = self._encode(batch)
        if not samples:
            return
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, RemoteWriteError) and e.retryable),
            wait=tenacity.wait_random_exponential(multiplier=self.config.backoff_initial_seconds,
                                                  max=self.config.backoff_max_seconds),
            stop=tenacity.stop_any(
                tenacity.stop_after_delay(self.config.retry_deadline_seconds),
                lambda _state: self._stop.is_set()),
            sleep=self._stop.wait,
            before_sleep=lambda state: self._on_retry(state, samples),
            reraise=True,
        )
        try:
            retrying(self._post, body)
        except RemoteWriteError as exc:
            self.stats.failed += samples
            self.stats.last_error = str(exc)
            log.error("remote write of %d sample(s) failed (%s); dropped", samples, exc)
        else:
            self.stats.sent += samples

    def _on_retry(self, state: tenacity.RetryCallState, samples: int) -> None:
        self.stats.retried += samples
        exc = state.outcome.exception() if state.outcome else None
        self.stats.last_error = str(exc)
        if state.attempt_number == 1:
            log.warning("remote write to %s failed (%s); retrying", self.config.url, exc)

    def _post(self, body: bytes) -> None:
        """POST one request. Raises RemoteWriteError (status None: unreachable)."""
        self.stats.requests += 1
        try:
            response = self._client.post(self.config.url, content=body, headers=self._headers)
        except httpx.TransportError as exc:
            self.stats.requests_failed += 1
            raise RemoteWriteError(f"cannot reach {self.config.url}: {exc!r}", None) from exc
        if response.is_success:
            return
        self.stats.requests_failed += 1
        raise RemoteWriteError(f"{self.config.url} answered {response.status_code}: "
                               f"{response.text[:200].strip()}", response.status_code)

    def _encode(self, batch: list[_Chunk]) -> tuple[bytes, int]:
        """The snappy-compressed WriteRequest of a batch, and its sample count."""
        parts: dict[int, list[_Chunk]] = {}
        for chunk in batch:
            parts.setdefault(chunk.series, []).append(chunk)
        request = prompb.WriteRequest()
        samples = 0
        for series, chunks in parts.items():
            ts, vals = self._ordered(series, chunks)
            if not ts.size:
                continue
            out = request.timeseries.add()
            out.labels.extend(prompb.Label(name=k, value=v) for k, v in self._labels[series])
            out.samples.extend(prompb.Sample(value=v, timestamp=t)
                               for v, t in zip(vals.tolist(), ts.tolist(), strict=True))
            samples += ts.size
        if not samples:
            return b"", 0
        return bytes(cramjam.snappy.compress_raw(request.SerializeToString())), samples

    def _ordered(self, series: int, chunks: list[_Chunk]) -> tuple[npt.NDArray[np.int64],
                                                                    npt.NDArray[np.float64]]:
        """One series' samples sorted, one per ms (the last wins), newer than already sent."""
        ts = np.concatenate([c.ts_ms for c in chunks])
        vals = np.concatenate([c.values for c in chunks])
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        last_of_ms = np.append(ts[1:] != ts[:-1], True)
        newer = last_of_ms & (ts > self._last_sent[series])
        late = int(np.count_nonzero(~newer))
        if late:
            with self._cond:
                self.stats.dropped["out_of_order"] += late
        ts, vals = ts[newer], vals[newer]
        if ts.size:
            self._last_sent[series] = int(ts[-1])
        return ts, vals
