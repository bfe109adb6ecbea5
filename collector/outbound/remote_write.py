"""Prometheus remote write 1.0: pushes the collector's series to any compatible store.

Prometheus (`--web.enable-remote-write-receiver`), Thanos, Mimir, Cortex, VictoriaMetrics:
a POST of a snappy-compressed `prometheus.WriteRequest`. The ingest path calls
`enqueue_blocks` (or `enqueue`) after a frame is committed; one sender thread batches
(`batch_samples`, or `batch_seconds` after the oldest queued chunk), encodes and posts.

Names: the agents' series with `gputel_` replaced by `gputel_collector_`
(`gputel_gpu_power_watts` -> `gputel_collector_gpu_power_watts`). The same Prometheus
often scrapes the agents too; under one name it would hold each GPU twice, once per path,
and every `sum()` would double. A `source` label would not prevent that (a query has to
remember to filter on it); a name of their own does. Labels: node, gpu, uuid, model, and
pod, namespace, container of the device's largest holder at each sample's time (as the
agent's /metrics labels them; left out when nobody holds the device).

Bounded and honest: the queue holds at most `max_queue_samples`; beyond that the oldest
samples are dropped and counted (`dropped["queue_full"]`). 5xx, 429 and connection
errors are retried with exponential backoff and full jitter (tenacity) until
`retry_deadline_seconds`, interruptible by `stop()`; other 4xx answers fail the batch
at once (counted, not retried: resending the same bytes cannot succeed). Within a
series samples go out in timestamp order, one per millisecond; a sample at or before
one already sent for its series is dropped and counted (`dropped["out_of_order"]`),
since receivers refuse it.

The series table (labels -> id, encoded labels, newest sent) is bounded too: a series
not written for `series_idle_seconds` is forgotten (`series_forgotten["idle"]`), and
beyond `max_series` the least recently written go first (`series_forgotten["cap"]`),
so holder labels of pods long gone do not pile up. A series with samples still queued
or in flight is never forgotten (the cap can be passed by those while the receiver is
away). A forgotten series that comes back is a new entry; its id may be one reused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import numpy as np
import numpy.typing as npt
import tenacity

from gputel.collector.outbound import delivery as push
from gputel.collector.outbound.delivery import DeliveryError
from gputel.proto.frames import Block
from gputel.proto.metrics import METRICS
from gputel.proto.prometheus import write_request
from gputel.proto.version import VERSION

log = logging.getLogger(__name__)

# Answers worth another try as they are: the receiver is away, overloaded or restarting.
RETRYABLE_STATUS = frozenset({429, *range(500, 600)})
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": f"gputel-collector/{VERSION}",
}
SeriesLabels = tuple[tuple[str, str], ...]
REMOTE_PREFIX = "gputel_collector_"
Holder = tuple[str, str, str]  # pod, namespace, container; ("", "", "") for nobody
NO_HOLDER: Holder = ("", "", "")
# (node, device uuid, first ns, last ns) -> [(from ns, largest holder)], in time order, the
# first entry in force at the first ns. The collector's WorkloadIndex answers it.
HolderLookup = Callable[[str, str, int, int], Sequence[tuple[int, Holder]]]
MAX_PLANS = 65_536  # cached label layouts (device x metric set x holder); rebuilt when cleared
_NEVER = np.iinfo(np.int64).min


def remote_series_name(agent_series: str) -> str:
    """The remote-written name of one of the agents' series names (see the module doc)."""
    return REMOTE_PREFIX + agent_series.removeprefix("gputel_")


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
    series_idle_seconds: float = 600.0  # a series not written for this long is forgotten
    max_series: int = 200_000  # beyond this the least recently written series are forgotten


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
    series_forgotten: dict[str, int] = field(default_factory=lambda: {"idle": 0, "cap": 0})


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
    """Samples queued together: one row per series, one column per timestamp (NaN = none)."""

    series: tuple[int, ...]
    ts_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]  # (len(series), len(ts_ms))
    per_tick: npt.NDArray[np.int64]  # samples in each column
    queued_at: float

    @property
    def samples(self) -> int:
        """Non-NaN values held."""
        return int(self.per_tick.sum())

    def split(self, k: int) -> tuple[_Chunk, _Chunk]:
        """The first k columns, and the rest."""
        return (_Chunk(self.series, self.ts_ms[:k], self.values[:, :k], self.per_tick[:k],
                       self.queued_at),
                _Chunk(self.series, self.ts_ms[k:], self.values[:, k:], self.per_tick[k:],
                       self.queued_at))


@dataclass(frozen=True, slots=True)
class _BlockPlan:
    """How one device block's rows become series: which rows, their ids and scales."""

    rows: npt.NDArray[np.intp]
    series: tuple[int, ...]
    scales: npt.NDArray[np.float64]


class RemoteWriter:
    """One remote-write endpoint: a bounded queue and a sender thread. Thread-safe."""

    def __init__(self, config: RemoteWriteConfig, client: httpx.Client | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 time_ns: Callable[[], int] = time.time_ns,
                 holders: HolderLookup | None = None) -> None:
        if config.batch_samples < 1 or config.max_queue_samples < config.batch_samples:
            raise ValueError("remote write needs 1 <= batch_samples <= max_queue_samples")
        if config.max_series < 1 or config.series_idle_seconds <= 0:
            raise ValueError("remote write needs max_series >= 1 and series_idle_seconds > 0")
        self.config = config
        self.stats = RemoteWriteStats()
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        self._headers = {**HEADERS, **dict(config.headers)}
        self._monotonic = monotonic
        self._time_ns = time_ns
        self._ids: dict[SeriesLabels, int] = {}
        self._series_bytes: list[bytes] = []  # per series id, its encoded labels
        self._labels: list[SeriesLabels | None] = []  # per series id; None once forgotten
        self._free: list[int] = []  # ids of forgotten series, to reuse
        # Per series id, the newest timestamp sent (ms) and when it was last queued
        # (monotonic s); grown as series appear.
        self._last_sent = np.full(1024, _NEVER, dtype=np.int64)
        self._last_written = np.zeros(1024, dtype=np.float64)
        self._inflight: frozenset[int] = frozenset()  # series ids of the batch being sent
        self._sweep_every = min(60.0, config.series_idle_seconds / 4)
        self._next_sweep = monotonic() + self._sweep_every
        self._holders = holders
        self._plans: dict[tuple[str, str, int, tuple[str, ...], Holder], _BlockPlan] = {}
        self._queue: deque[_Chunk] = deque()
        self._queued = 0
        self._inflight_oldest_ms: int | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gputel-remote-write",
                                        daemon=True)

    # ---------------------------------------------------------------- feeding
    def enqueue(self, series_labels: SeriesLabels, ts_ns: npt.NDArray[np.int64],
                values: npt.ArrayLike) -> int:
        """Queue one series' samples (Unix ns, NaN skipped); return how many were queued.

        `series_labels` must name the metric as `__name__`. Raises ValueError otherwise.
        """
        vals = np.asarray(values, dtype=np.float64).reshape(1, -1)
        with self._cond:  # one hold from id to queue: a sweep cannot forget it in between
            series = self._series_id(series_labels)
            return self._put((series,), np.asarray(ts_ns, dtype=np.int64), vals)

    def enqueue_blocks(self, node: str, devices: Sequence[DeviceLike],
                       metric_ids: Sequence[str], blocks: Iterable[Block]) -> int:
        """Queue every sample of a decoded frame, scaled as the agent exports them.

        Series: `remote_series_name` of the catalogue metric's `prom_series`, labels node,
        gpu, uuid, model and the holder in force at each sample (see the module doc);
        values times the metric's `prom_scale`. Metrics outside the catalogue are skipped.
        One queue entry per block and holder, so a frame costs microseconds on ingest.
        """
        queued = 0
        for block in blocks:
            device = devices[block.device]
            for first, last, holder in self._holder_spans(node, device, block.ts_ns):
                with self._cond:  # plan to queue in one hold: its ids stay valid
                    plan = self._plan(node, device, metric_ids, block.metrics, holder)
                    if plan.series:
                        values = (block.values[plan.rows, first:last].astype(np.float64)
                                  * plan.scales[:, None])
                        queued += self._put(plan.series, block.ts_ns[first:last], values)
        return queued

    def _holder_spans(self, node: str, device: DeviceLike, ts_ns: npt.NDArray[np.int64],
                      ) -> list[tuple[int, int, Holder]]:
        """[(first column, end column, holder)] covering a block's timestamps."""
        if self._holders is None or not ts_ns.size:
            return [(0, int(ts_ns.size), NO_HOLDER)]
        changes = self._holders(node, device.uuid, int(ts_ns[0]), int(ts_ns[-1]))
        if not changes:
            return [(0, int(ts_ns.size), NO_HOLDER)]
        cuts = np.searchsorted(ts_ns, [since for since, _ in changes[1:]], side="left")
        starts = [0, *(int(c) for c in cuts)]
        ends = [*starts[1:], int(ts_ns.size)]
        return [(a, b, holder) for a, b, (_, holder) in zip(starts, ends, changes, strict=True)
                if a < b]

    def _plan(self, node: str, device: DeviceLike, metric_ids: Sequence[str],
              metrics: tuple[int, ...], holder: Holder) -> _BlockPlan:
        key = (node, device.uuid, device.index, tuple(metric_ids[m] for m in metrics), holder)
        plan = self._plans.get(key)
        if plan is None:
            rows: list[int] = []
            series: list[int] = []
            scales: list[float] = []
            pod, namespace, container = holder
            held = tuple((k, v) for k, v in (("container", container), ("namespace", namespace),
                                             ("pod", pod)) if v)
            with self._cond:
                for row, metric_id in enumerate(key[3]):
                    meta = METRICS.get(metric_id)
                    if meta is None:
                        continue
                    rows.append(row)
                    scales.append(meta.prom_scale)
                    series.append(self._series_id(tuple(sorted((
                        ("__name__", remote_series_name(meta.prom_series)),
                        ("gpu", str(device.index)), ("model", device.model), ("node", node),
                        ("uuid", device.uuid), *held)))))
            plan = _BlockPlan(np.array(rows, dtype=np.intp), tuple(series),
                              np.array(scales, dtype=np.float64))
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _series_id(self, series_labels: SeriesLabels) -> int:
        """The series' id, registering it on first sight (caller holds the lock)."""
        series = self._ids.get(series_labels)
        if series is None:
            if not any(k == "__name__" and v for k, v in series_labels):
                raise ValueError(f"series labels {series_labels!r} have no __name__")
            header = write_request.series_header(series_labels)
            if self._free:
                series = self._free.pop()
                self._series_bytes[series] = header
                self._labels[series] = series_labels
                self._last_sent[series] = _NEVER
            else:
                series = len(self._series_bytes)
                self._series_bytes.append(header)
                self._labels.append(series_labels)
                self._grow(series + 1)
            self._ids[series_labels] = series
            self._last_written[series] = self._monotonic()
        return series

    def _grow(self, size: int) -> None:
        """Make the per-series arrays hold `size` ids (caller holds the lock)."""
        if size <= self._last_sent.size:
            return
        old = self._last_sent.size
        self._last_sent = np.concatenate([self._last_sent, np.full(old, _NEVER, np.int64)])
        self._last_written = np.concatenate([self._last_written, np.zeros(old)])

    def series(self) -> int:
        """Series in the table now."""
        with self._cond:
            return len(self._ids)

    def _forget_stale(self, now: float) -> None:
        """Forget series idle too long, then the oldest beyond the cap (caller holds the lock)."""
        idle: list[int] = []
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_every
            n = len(self._labels)
            cutoff = now - self.config.series_idle_seconds
            idle = [s for s in np.flatnonzero(self._last_written[:n] < cutoff).tolist()
                    if self._labels[s] is not None]
        over = len(self._ids) - self.config.max_series
        if not idle and over <= 0:
            return
        busy = self._inflight.union(*(c.series for c in self._queue))
        idle = [s for s in idle if s not in busy]
        self._forget(idle, "idle")
        over -= len(idle)
        if over > 0:  # 1 % more than needed, so a steady stream of new series sorts rarely
            over += self.config.max_series // 100
            live = np.fromiter((s for s in self._ids.values() if s not in busy), np.int64)
            oldest = live[np.argsort(self._last_written[live], kind="stable")[:over]]
            self._forget(oldest.tolist(), "cap")

    def _forget(self, ids: list[int], reason: str) -> None:
        if not ids:
            return
        for s in ids:
            labels = self._labels[s]
            assert labels is not None
            del self._ids[labels]
            self._labels[s] = None
            self._series_bytes[s] = b""
            self._free.append(s)
        self._plans.clear()  # plans name series ids
        self.stats.series_forgotten[reason] += len(ids)

    def _put(self, series: tuple[int, ...], ts_ns: npt.NDArray[np.int64],
             values: npt.NDArray[np.float64]) -> int:
        """Queue a chunk of these series (caller holds the lock since it resolved the ids)."""
        per_tick = np.count_nonzero(~np.isnan(values), axis=0)
        now = self._monotonic()
        chunk = _Chunk(series, ts_ns // 1_000_000, values, per_tick, now)
        samples = chunk.samples
        if not samples:
            return 0
        with self._cond:
            self._last_written[list(series)] = now
            self._queue.append(chunk)
            self._queued += samples
            self.stats.enqueued += samples
            self._trim()
            self._forget_stale(now)
            if self._queued >= self.config.batch_samples:
                self._cond.notify()
        return samples

    def _trim(self) -> None:
        """Drop the oldest ticks beyond the bound (caller holds the lock)."""
        excess = self._queued - self.config.max_queue_samples
        while excess > 0:
            head = self._queue[0]
            if head.samples <= excess:
                self._queue.popleft()
                dropped = head.samples
            else:
                cum = np.cumsum(head.per_tick)
                k = int(np.searchsorted(cum, excess)) + 1
                dropped = int(cum[k - 1])
                self._take_head(k)
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
                    self._queued -= sum(c.samples for c in batch)
                    self._inflight_oldest_ms = None
                    self._inflight = frozenset()

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
                if head.samples <= limit - taken:
                    batch.append(self._queue.popleft())
                else:  # whole ticks up to the limit (at least one tick per batch)
                    cum = np.cumsum(head.per_tick)
                    k = max(int(np.searchsorted(cum, limit - taken, side="right")),
                            0 if batch else 1)
                    if k == 0:
                        break
                    batch.append(self._take_head(k))
                taken += batch[-1].samples
            self._inflight_oldest_ms = min(int(c.ts_ms[0]) for c in batch)
            self._inflight = frozenset().union(*(c.series for c in batch))
            return batch

    def _take_head(self, ticks: int) -> _Chunk:
        """Remove the first `ticks` columns of the oldest chunk and return them."""
        head = self._queue[0]
        if ticks >= head.ts_ms.size:
            return self._queue.popleft()
        first, self._queue[0] = head.split(ticks)
        return first

    def _ready_to_send(self) -> bool:
        if not self._queue:
            return False
        return (self._closing or self._queued >= self.config.batch_samples
                or self._monotonic() >= self._queue[0].queued_at + self.config.batch_seconds)

    def _send(self, batch: list[_Chunk]) -> None:
        body, samples = self._encode(batch)
        if not samples:
            return
        retry = push.retrying(self.config.backoff_initial_seconds,
                                  self.config.backoff_max_seconds,
                                  self.config.retry_deadline_seconds, self._stop,
                                  lambda state: self._on_retry(state, samples))
        try:
            retry(self._post, body)
        except DeliveryError as exc:
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
        """POST one request. Raises DeliveryError (status None: unreachable)."""
        self.stats.requests += 1
        try:
            push.post(self._client, self.config.url, body, self._headers, RETRYABLE_STATUS)
        except DeliveryError:
            self.stats.requests_failed += 1
            raise

    def _encode(self, batch: list[_Chunk]) -> tuple[bytes, int]:
        """The snappy-compressed WriteRequest of a batch, and its sample count.

        Within a series: time order, one sample per ms (the later one queued wins), and
        only samples newer than the newest already sent (else counted as out_of_order).
        """
        layouts: dict[tuple[int, ...], list[_Chunk]] = {}
        for chunk in batch:  # chunks of one device block share their rows: join them first
            layouts.setdefault(chunk.series, []).append(chunk)
        ids, stamps, vals = [], [], []
        for series_ids, chunks in layouts.items():
            group_ts = np.concatenate([c.ts_ms for c in chunks])
            ids.append(np.repeat(np.array(series_ids, dtype=np.int64), group_ts.size))
            stamps.append(np.tile(group_ts, len(series_ids)))
            vals.append(np.concatenate([c.values for c in chunks], axis=1).ravel())
        with self._cond:
            series, ts, values, late = write_request.in_order(
                np.concatenate(ids), np.concatenate(stamps), np.concatenate(vals),
                self._last_sent)
            self.stats.dropped["out_of_order"] += late
            headers = list(self._series_bytes)
        if not series.size:
            return b"", 0
        return write_request.encode_grouped(headers, series, ts, values), int(series.size)
