"""The series as a remote TSDB holds them: reads through the Prometheus HTTP query API.

One series per (node, GPU, metric id): `gputel_store_<metric id>{node, uuid}`, values as
the agent sent them (whole numbers of the driver's unit, at most 12 significant digits in
the API's unit, which VictoriaMetrics and Prometheus both keep exactly), timestamps
in Unix milliseconds (the TSDB's unit: a sample at t ns is stored at t // 1e6 ms and read
back at that ms x 1e6 ns; two ticks within one ms keep the later one). Raw samples come
from range selectors at an instant (`m{...}[d]` at end), newest values from `m` and each
GPU's newest `timestamp()` at now (the TSDB's 5-minute lookback); a GPU the registry knows
with nothing in the lookback (silent for 5 minutes or more) has its newest values and their
time read over the retention, as the embedded store keeps them, so it reads `lost` there as
here (`last_over_time(m[retention])`, and its newest time as `max_over_time` of `timestamp()`
over a subquery stepped under the lookback). Names differ from the
agents' /metrics and from the outbound remote write (`gputel_collector_*`), so one TSDB may
hold all three without a query mixing them.

Ranges that start before the raw head (`--retention`) read rollup buckets computed by the
TSDB (`RemoteRollups`: `{min,max,sum,count,last}_over_time` evaluated once per bucket by
`/api/v1/query_range`), so a 24 h window transfers one value per bucket, not every sample.

A TSDB that cannot be reached makes a read raise UnavailableError (HTTP 503, gRPC
UNAVAILABLE): an answer from half the data would be a wrong number, not a partial one.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from gputel.collector.errors import UnavailableError
from gputel.collector.storage.rollups import Buckets
from gputel.collector.storage.store import Float64Array, Int64Array, SeriesKey
from gputel.collector.storage.tsdb import TsdbClient, TsdbError, label_value
from gputel.collector.storage.windows import Peak, Span, Windows, peaks_of
from gputel.proto.metrics import METRICS

SAMPLE_PREFIX = "gputel_store_"
ALL_SAMPLES = f'{{__name__=~"{SAMPLE_PREFIX}.+"}}'
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))
# A silent GPU's newest sample time: some step of a subquery this fine falls within the
# 5-minute lookback after it, and `timestamp()` there is the sample's own time.
SILENT_STEP_MS = 240_000
# A query's length at most: VictoriaMetrics refuses queries over 16 KiB by default
# (-search.maxQueryLen), and the newest-time query repeats its GPUs' regex once per metric.
QUERY_BYTES = 12_000
SILENT_TTL_NS = 60 * 10**9  # a silent GPU's values re-read this often (the retention moves)
NOTHING_TTL_NS = 2 * 10**9  # a silent GPU with nothing found, this often
Gpu = tuple[str, str]
Latest = dict[SeriesKey, tuple[int, float]]


def sample_series(metric_id: str) -> str:
    """The TSDB name of one metric id's series."""
    return SAMPLE_PREFIX + metric_id


def selector(node: str, uuid: str, metric_id: str) -> str:
    """The PromQL selector of one series."""
    return (f"{sample_series(metric_id)}{{node={label_value(node)},"
            f"uuid={label_value(uuid)}}}")


def unavailable(exc: TsdbError) -> UnavailableError:
    """A TSDB failure as the error every API maps to 503 / UNAVAILABLE."""
    return UnavailableError(f"the remote TSDB cannot answer: {exc}")


class RemoteSeries:
    """SeriesReads over a TSDB; thread-safe. `latest_ttl_seconds`: how long one fetch of
    every newest value serves `latest` (node lists ask for every GPU x metric at once).
    `known_gpus()`: every (node, uuid) the registry knows, so the silent ones are looked
    up beyond the lookback."""

    def __init__(self, client: TsdbClient, retention_ns: int,
                 time_ns: Callable[[], int] = time.time_ns,
                 latest_ttl_seconds: float = 0.5,
                 known_gpus: Callable[[], Iterable[Gpu]] = tuple) -> None:
        self._client = client
        self._retention_ns = retention_ns
        self._time_ns = time_ns
        self._ttl_ns = int(latest_ttl_seconds * 1e9)
        self._known_gpus = known_gpus
        self._latest: Latest = {}
        self._fetched_ns = -(2**62)
        self._silent: dict[Gpu, tuple[int, Latest]] = {}  # GPU -> (read at, its values)
        self._lock = threading.Lock()

    def read(self, key: SeriesKey, start_ns: int, end_ns: int
             ) -> tuple[Int64Array, Float64Array]:
        """Samples with start_ns <= ts <= end_ns (ms resolution), sorted by time, one per
        ms. Raises UnavailableError."""
        start_ms, end_ms = -(-start_ns // 1_000_000), end_ns // 1_000_000
        if end_ms < start_ms or end_ms <= 0:
            return _EMPTY
        start_ms = max(start_ms, 1)
        promql = f"{selector(*key)}[{end_ms - start_ms + 1}ms]"
        try:
            result = self._client.query(promql, end_ms)
        except TsdbError as exc:
            raise unavailable(exc) from exc
        return _samples(result, start_ms)

    def read_many(self, series: Sequence[tuple[str, str]], metric: str, start_ns: int,
                  end_ns: int) -> list[tuple[Int64Array, Float64Array]]:
        """`read` of one metric for each (node, GPU uuid), in the order asked (one TSDB query
        each). Raises UnavailableError."""
        return [self.read((node, gpu, metric), start_ns, end_ns) for node, gpu in series]

    def read_windows(self, series: Sequence[tuple[str, str]], metrics: Sequence[str],
                     first_ns: int, step_ns: int, n_windows: int,
                     agg: str) -> dict[str, Windows]:
        """Nothing: the TSDB's samples are aggregated by the caller (`read_many`), so every
        store's answer is aggregated the same way."""
        return {}

    def read_peaks(self, series: Sequence[tuple[str, str]], metric: str,
                   spans: Sequence[Span]) -> list[Peak | None]:
        """Each series' peak over its span, from its samples (`read`, one query each).
        Raises UnavailableError."""
        samples = [self.read((node, gpu, metric), lead, end)
                   for (node, gpu), (lead, _, end) in zip(series, spans, strict=True)]
        return peaks_of(samples, spans)

    def latest(self, key: SeriesKey) -> tuple[int, float] | None:
        """(ts_ns, value) of the newest sample in the last 5 minutes, or None; ts_ns is the
        newest of any metric of that GPU (what GPU states need). Raises UnavailableError."""
        with self._lock:
            now = self._time_ns()
            if now - self._fetched_ns > self._ttl_ns:
                live = self._fetch_latest(now)
                self._latest = {**self._silent_latest(live, now), **live}
                self._fetched_ns = now
            return self._latest.get(key)

    def _silent_latest(self, live: Latest, now_ns: int) -> Latest:
        """Newest values of the known GPUs with none in the lookback: each read once when it
        falls silent and again after SILENT_TTL_NS, or NOTHING_TTL_NS while nothing was found
        (its samples may not be searchable yet) (under the lock)."""
        seen = {key[:2] for key in live}
        silent = {g for g in self._known_gpus() if g not in seen}
        due = sorted(g for g in silent if _due(self._silent.get(g), now_ns))
        if due:
            got: dict[Gpu, Latest] = {g: {} for g in due}
            for key, value in self._fetch_silent(due, now_ns).items():
                got[key[:2]][key] = value
            self._silent.update((g, (now_ns, values)) for g, values in got.items())
        self._silent = {g: self._silent[g] for g in silent}  # live again or gone: forgotten
        return {k: v for _, values in self._silent.values() for k, v in values.items()}

    def _fetch_silent(self, gpus: list[Gpu], now_ns: int) -> Latest:
        """Newest values within the retention of GPUs silent for the lookback or longer."""
        out: Latest = {}
        window = f"{max(1, self._retention_ns // 1_000_000)}ms"
        for chunk in _by_query_length(gpus, f"[{window}:{SILENT_STEP_MS}ms]"):
            match = f"uuid=~{label_value('|'.join(re.escape(u) for _, u in chunk))}"
            try:
                values = self._client.query(
                    f'last_over_time({{__name__=~"{SAMPLE_PREFIX}.+",{match}}}[{window}])',
                    now_ns // 1_000_000)
                stamps = self._client.query(_newest_per_gpu(
                    match, f"[{window}:{SILENT_STEP_MS}ms]"), now_ns // 1_000_000)
            except TsdbError as exc:
                raise unavailable(exc) from exc
            wanted = set(chunk)
            out.update((k, v) for k, v in _by_series(values, stamps).items()
                       if k[:2] in wanted)
        return out

    def _fetch_latest(self, now_ns: int) -> Latest:
        """Every newest value, stamped with its GPU's newest sample time (`timestamp()`
        drops the metric name, so two queries: values by series, times by GPU)."""
        now_ms = now_ns // 1_000_000
        try:
            stamps = self._client.query(_newest_per_gpu(), now_ms)
            values = self._client.query(ALL_SAMPLES, now_ms)
        except TsdbError as exc:
            raise unavailable(exc) from exc
        return _by_series(values, stamps)

    def sample_count(self, node: str | None = None) -> int:
        """Samples held within the retention (for /api/v1/health). Raises UnavailableError."""
        only = f"{{node={label_value(node)}}}" if node is not None else ""
        window = max(1, self._retention_ns // 1_000_000)
        promql = " + ".join(f"(sum(count_over_time({sample_series(m)}{only}[{window}ms])) "
                            "or vector(0))" for m in METRICS)
        try:
            got = self._client.query(promql, self._time_ns() // 1_000_000)
        except TsdbError as exc:
            raise unavailable(exc) from exc
        return int(float(got[0]["value"][1])) if got else 0

    def series_count(self) -> int:
        """Series with a sample in the last 5 minutes (as of the last newest-value fetch)."""
        with self._lock:
            return len(self._latest)


ROLLUP_FUNCTIONS = ("min", "max", "sum", "count", "last")
MAX_POINTS_PER_QUERY = 10_000  # Prometheus refuses a range query of more than 11,000 points


class RemoteRollups:
    """Rollup buckets of a series computed by the TSDB; any thread. Bucket k of width w
    holds the samples in [k*w, (k+1)*w), as the embedded store's tiers do: each
    `<fn>_over_time(sel[w] offset 1ms)` is evaluated at (k+1)*w (aligned to the step, as
    VictoriaMetrics aligns range queries), its window (k*w - 1ms, (k+1)*w - 1ms]."""

    def __init__(self, client: TsdbClient) -> None:
        self._client = client

    def read(self, tier_ns: int, node: str, gpu: str, metric: str, start_ns: int,
             end_ns: int) -> Buckets:
        """Buckets whose start lies in [start_ns, end_ns]. Raises UnavailableError."""
        width = max(1, tier_ns // 1_000_000)
        first = -(-max(start_ns, 0) // 1_000_000 // width)
        last = end_ns // 1_000_000 // width
        columns: dict[str, dict[int, float]] = {fn: {} for fn in ROLLUP_FUNCTIONS}
        for lo in range(first, last + 1, MAX_POINTS_PER_QUERY):
            hi = min(last, lo + MAX_POINTS_PER_QUERY - 1)
            for fn in ROLLUP_FUNCTIONS:
                promql = f"{fn}_over_time({selector(node, gpu, metric)}[{width}ms] offset 1ms)"
                try:
                    result = self._client.query_range(promql, (lo + 1) * width,
                                                      (hi + 1) * width, width)
                except TsdbError as exc:
                    raise unavailable(exc) from exc
                for series in result:
                    for t, v in series.get("values", ()):
                        columns[fn][round(float(t) * 1000) // width - 1] = float(v)
        keys = np.array(sorted(k for k, n in columns["count"].items() if n > 0), np.int64)

        def column(fn: str) -> Float64Array:
            return np.array([columns[fn].get(int(k), np.nan) for k in keys], np.float64)

        return Buckets(keys * width * 1_000_000, _agent_precision(column("min")),
                       _agent_precision(column("max")), column("sum"),
                       column("count").astype(np.int64), _agent_precision(column("last")))


def _due(held: tuple[int, Latest] | None, now_ns: int) -> bool:
    """A silent GPU's values are to be read (again)."""
    if held is None:
        return True
    return now_ns - held[0] > (SILENT_TTL_NS if held[1] else NOTHING_TTL_NS)


def _by_query_length(gpus: Sequence[Gpu], subquery: str) -> Iterable[list[Gpu]]:
    """`gpus` in groups whose UUID regex keeps the newest-time query (the longer of the two
    a group costs: the regex once per metric) within QUERY_BYTES."""
    fixed = len(_newest_per_gpu('uuid=~""', subquery))
    room = max(1, (QUERY_BYTES - fixed) // len(METRICS))  # bytes of regex per query
    chunk: list[Gpu] = []
    used = 0
    for gpu in gpus:
        cost = len(label_value(re.escape(gpu[1]))) - 1  # its escaped UUID and one "|"
        if chunk and used + cost > room:
            yield chunk
            chunk, used = [], 0
        chunk.append(gpu)
        used += cost
    if chunk:
        yield chunk


def _newest_per_gpu(match: str = "", subquery: str = "") -> str:
    """PromQL: each GPU's newest sample time over every metric (of the GPUs `match`es, at
    the lookback, or the newest over a `subquery` range). `timestamp()` drops the metric
    name, so each metric's is labelled apart before `or` joins them."""
    selection = f"{{{match}}}" if match else ""
    parts = []
    for m in METRICS:
        stamp = f"timestamp({sample_series(m)}{selection})"
        if subquery:
            stamp = f"max_over_time({stamp}{subquery})"
        parts.append(f'label_replace({stamp}, "metric", "{m}", "", "")')
    return f"max by (node, uuid) ({' or '.join(parts)})"


def _by_series(values: list[dict[str, Any]], stamps: list[dict[str, Any]]) -> Latest:
    """Newest values by series, each stamped with its GPU's newest sample time."""
    when = {(s["metric"].get("node", ""), s["metric"].get("uuid", "")):
            round(float(s["value"][1]) * 1000) * 1_000_000 for s in stamps}
    out: Latest = {}
    for s in values:
        labels = s["metric"]
        key = (labels.get("node", ""), labels.get("uuid", ""),
               labels.get("__name__", "").removeprefix(SAMPLE_PREFIX))
        out[key] = (when.get(key[:2], 0), float(s["value"][1]))
    return out


def _agent_precision(values: Float64Array) -> Float64Array:
    """Values as the agent sent them: exact integers of the driver's unit scaled to the
    API's have at most 12 significant digits, which VictoriaMetrics keeps, so the decimal
    text reads back to the same float64."""
    return values.astype(np.float64)


def _samples(result: list[dict[str, Any]], start_ms: int) -> tuple[Int64Array, Float64Array]:
    """One series' raw samples from a range-selector answer, from start_ms, one per ms."""
    if not result:
        return _EMPTY
    pairs = [p for s in result for p in s.get("values", ())]
    ts_ms = np.array([round(float(t) * 1000) for t, _ in pairs], dtype=np.int64)
    values = _agent_precision(np.array([float(v) for _, v in pairs], dtype=np.float64))
    order = np.argsort(ts_ms, kind="stable")
    ts_ms, values = ts_ms[order], values[order]
    keep = (ts_ms >= start_ms) & np.append(ts_ms[1:] != ts_ms[:-1], True)
    return ts_ms[keep] * 1_000_000, values[keep]
