"""The agent's /metrics: per-GPU series from every tick, who holds each GPU, and agent health.

Three read-only pieces over state the tick path keeps current:

- `TickWindow` is fed every tick (`observe`) and keeps, per scraper, the highest and
  lowest value of each (GPU, metric) since that scraper's previous scrape, so a 100 ms
  spike survives a 15 s scrape interval (`gputel_gpu_power_watts_max`).
- `GpuExporter` renders the per-GPU families as text straight from the window's arrays
  with label prefixes cached while the devices and holders stay the same (about 20x
  faster than prometheus_client at 10,000 series, see benchmarks/metrics_render.py).
- `AgentCollector` is a prometheus_client custom collector for the agent's own health.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gputel.agent.attribution.model import AttributionStats
from gputel.agent.backends.base import BackendHealth, Buffered, DeviceInfo
from gputel.agent.handoff import TickHandoff
from gputel.agent.outbox import Outbox
from gputel.agent.sampler import Sampler
from gputel.agent.stream import StreamClient
from gputel.proto.metrics import METRICS
from gputel.proto.prometheus import exposition

Holder = tuple[str, str, str, float]  # pod, namespace, container, fraction of the device
Holders = Callable[[], Mapping[int, Sequence[Holder]] | None]
F64 = npt.NDArray[np.float64]
MAX_SCRAPER_KEY = 256
MIB = 1024.0 * 1024.0
# Gauges whose max/min between scrapes says nothing: a constant, and a bitmask.
NO_WINDOW = frozenset({"mem_total", "throttle_reasons"})
# dcgm-exporter's names, units and help for the fields gputel has (etc/default-counters.csv):
# metric id -> (field name, type, help, factor from gputel's catalogue unit).
DCGM_FIELDS: dict[str, tuple[str, str, str, float]] = {
    "gpu_util": ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", 1.0),
    "mem_util": ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %).", 1.0),
    "mem_used": ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).", 1 / MIB),
    "power": ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).", 1.0),
    "temperature": ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).", 1.0),
    "mem_temperature": ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C).", 1.0),
    "sm_clock": ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).", 1.0),
    "energy": ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter",
               "Total energy consumption since boot (in mJ).", 1000.0),
}


@dataclass(frozen=True, slots=True)
class WindowView:
    """One scrape's view, (devices, metrics) arrays in wire units (see Reading); NaN = no
    fresh value.

    `latest` is the newest value, `max`/`min` the extremes since this scraper's previous
    scrape; `up[d]` says device d gave a value within the staleness bound.
    """

    ts_ns: int
    latest: F64
    max: F64
    min: F64
    up: npt.NDArray[np.bool_]


class TickWindow:
    """Per-scraper max/min of every (device, metric) value since that scraper's last scrape.

    `observe` costs a few numpy calls on (scrapers, devices, metrics) arrays (about
    5 µs per tick for 8 GPUs); `view` is called per scrape. Thread-safe. A scraper is
    whatever key the HTTP layer passes (remote host + User-Agent, or `?scraper=`);
    at most `max_scrapers` are tracked, the least recently seen is evicted first, and
    one unseen for `expiry_seconds` is forgotten. A scraper's first scrape sees the
    newest values as its max and min.
    """

    def __init__(self, n_devices: int, n_metrics: int, max_scrapers: int = 16,
                 expiry_seconds: float = 900.0, stale_seconds: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if max_scrapers < 1:
            raise ValueError("a window needs room for at least one scraper")
        shape = (n_devices, n_metrics)
        self._latest = np.full(shape, np.nan, dtype=np.float64)
        self._latest_ts = np.full(shape, np.iinfo(np.int64).min, dtype=np.int64)
        self._max = np.full((max_scrapers, *shape), np.nan, dtype=np.float64)
        self._min = np.full((max_scrapers, *shape), np.nan, dtype=np.float64)
        self._have = np.zeros(shape, dtype=bool)
        self._ts_ns: int | None = None
        self._slots: dict[str, int] = {}
        self._seen: dict[str, float] = {}
        self._expiry = expiry_seconds
        self._stale_ns = int(stale_seconds * 1e9)
        self._monotonic = monotonic
        self._lock = threading.Lock()

    @property
    def scrapers(self) -> int:
        """Scrapers tracked now."""
        return len(self._slots)

    def observe(self, ts_ns: int, values: F64, buffered: Sequence[Buffered] = ()) -> None:
        """Fold one tick: values[device, metric] (NaN = none) plus driver-buffered samples."""
        with self._lock:
            np.isnan(values, out=self._have)
            np.logical_not(self._have, out=self._have)
            np.copyto(self._latest, values, where=self._have)
            np.copyto(self._latest_ts, ts_ns, where=self._have)
            np.fmax(self._max, values, out=self._max)
            np.fmin(self._min, values, out=self._min)
            for block in buffered:
                self._observe_buffered(block)
            if self._ts_ns is None or ts_ns > self._ts_ns:
                self._ts_ns = ts_ns

    def _observe_buffered(self, block: Buffered) -> None:
        vals = block.values
        rows = np.flatnonzero(~np.isnan(vals))
        if not rows.size:
            return
        d, m, last = block.device, block.metric, int(rows[-1])
        if int(block.ts_ns[last]) >= self._latest_ts[d, m]:
            self._latest[d, m] = vals[last]
            self._latest_ts[d, m] = int(block.ts_ns[last])
        picked = vals[rows]
        self._max[:, d, m] = np.fmax(self._max[:, d, m], picked.max())
        self._min[:, d, m] = np.fmin(self._min[:, d, m], picked.min())

    def view(self, scraper: str) -> WindowView | None:
        """This scraper's view, restarting its max/min; None before the first tick."""
        key = scraper[:MAX_SCRAPER_KEY]
        with self._lock:
            if self._ts_ns is None:
                return None
            now = self._monotonic()
            self._forget_expired(now)
            slot = self._slots.get(key)
            if slot is None:
                slot = self._assign(key)
            self._seen[key] = now
            hi, lo = self._max[slot].copy(), self._min[slot].copy()
            # Restart from the value in force now: it holds until the next tick.
            self._max[slot] = self._latest
            self._min[slot] = self._latest
            fresh = self._latest_ts >= self._ts_ns - self._stale_ns
            latest = np.where(fresh, self._latest, np.nan)
            ts_ns = self._ts_ns
        hi[~fresh] = np.nan
        lo[~fresh] = np.nan
        return WindowView(ts_ns, latest, hi, lo, np.asarray(fresh.any(axis=1)))

    def _assign(self, key: str) -> int:
        used = set(self._slots.values())
        free = [s for s in range(self._max.shape[0]) if s not in used]
        if free:
            slot = free[0]
        else:  # full: the scraper seen longest ago gives up its slot
            oldest = min(self._seen, key=self._seen.__getitem__)
            slot = self._slots.pop(oldest)
            del self._seen[oldest]
        self._slots[key] = slot
        self._max[slot] = self._latest
        self._min[slot] = self._latest
        return slot

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, t in self._seen.items() if now - t > self._expiry]:
            del self._seen[key]
            del self._slots[key]


@dataclass(frozen=True, slots=True)
class _Family:
    """One rendered family: where its values come from and how they are scaled (divided by
    `per_unit` from the window's wire units to the catalogue's, then times `scale`)."""

    name: str
    kind: str
    help: str
    column: int
    scale: float
    per_unit: int
    source: str  # "latest", "max" or "min"
    style: str  # "gputel" or "dcgm" labels


class GpuExporter:
    """Renders the per-GPU families as Prometheus text; read-only over the window's arrays.

    Labels: node, gpu (index), uuid, model, and the pod/namespace/container of the
    device's largest holder when `holders` says one holds it (empty labels left out).
    `gputel_gpu_workload_share` gives every holder's fraction. `compat="dcgm"` adds
    dcgm-exporter's names, units and labels for the fields gputel has.
    """

    def __init__(self, node: str, devices: Sequence[DeviceInfo], metric_ids: Sequence[str],
                 window: TickWindow, holders: Holders | None = None, compat: str = "") -> None:
        if compat not in ("", "dcgm"):
            raise ValueError(f"unknown metrics compatibility mode {compat!r}; known: dcgm")
        self._node = node
        self._devices = list(devices)
        self._row_of = {d.index: row for row, d in enumerate(self._devices)}
        self._window = window
        self._holders = holders
        self._families = _families(metric_ids, compat)
        self._cache_key: tuple[tuple[str, str, str], ...] | None = None
        self._prefixes: dict[str, list[str]] = {}
        self._device_prefixes = [f"gputel_gpu_up{self._device_labels(row)} "
                                 for row in range(len(self._devices))]
        self._lock = threading.Lock()

    def render(self, scraper: str) -> str:
        """Every GPU family for one scrape by `scraper` (see TickWindow)."""
        view = self._window.view(scraper)
        holders = self._current_holders()
        parts = [exposition.render_family(
            "gputel_agent_metrics_scrapers", "gauge",
            "Scrapers whose max/min since their previous scrape the agent tracks.",
            ["gputel_agent_metrics_scrapers "], np.array([self._window.scrapers], float))]
        if view is None:
            return "".join(parts)
        prefixes = self._prefixes_for(holders)
        arrays = {"latest": view.latest, "max": view.max, "min": view.min}
        for fam in self._families:
            values = arrays[fam.source][:, fam.column].copy()
            if fam.per_unit != 1:
                values /= fam.per_unit
            if fam.scale != 1.0:
                values *= fam.scale
            parts.append(exposition.render_family(fam.name, fam.kind, fam.help,
                                                  prefixes[fam.name], values))
        parts.append(exposition.render_family(
            "gputel_gpu_up", "gauge", "1 while the GPU gives values, 0 once it stopped.",
            self._device_prefixes, view.up.astype(np.float64)))
        parts.append(self._render_shares(holders))
        return "".join(parts)

    def _current_holders(self) -> Mapping[int, Sequence[Holder]]:
        # No except here: holders() only reads the attributor's published snapshot, so an
        # exception is a bug, and a failed scrape shows it where missing labels would not.
        if self._holders is None:
            return {}
        return self._holders() or {}

    def _prefixes_for(self, holders: Mapping[int, Sequence[Holder]]) -> dict[str, list[str]]:
        """Per family, one `name{labels} ` per device; rebuilt only for rows whose holder moved."""
        key = tuple(_top(holders.get(d.index, ())) for d in self._devices)
        with self._lock:
            if key == self._cache_key:
                return self._prefixes
            old = self._cache_key
            rows = [r for r in range(len(key)) if old is None or old[r] != key[r]]
            prefixes = {name: list(p) for name, p in self._prefixes.items()}
            styles = {f.style for f in self._families}
            for row in rows:
                text = {"gputel": self._device_labels(row, key[row]),
                        "dcgm": self._dcgm_labels(row, key[row]) if "dcgm" in styles else ""}
                for fam in self._families:
                    line = f"{fam.name}{text[fam.style]} "
                    if old is None:
                        prefixes.setdefault(fam.name, []).append(line)
                    else:
                        prefixes[fam.name][row] = line
            self._prefixes, self._cache_key = prefixes, key
            return prefixes

    def _device_labels(self, row: int, holder: tuple[str, str, str] = ("", "", "")) -> str:
        d, (pod, namespace, container) = self._devices[row], holder
        return exposition.label_text((
            ("node", self._node), ("gpu", str(d.index)), ("uuid", d.uuid), ("model", d.model),
            ("pod", pod), ("namespace", namespace), ("container", container)))

    def _dcgm_labels(self, row: int, holder: tuple[str, str, str]) -> str:
        d, (pod, namespace, container) = self._devices[row], holder
        return exposition.label_text((
            ("gpu", str(d.index)), ("UUID", d.uuid), ("pci_bus_id", d.pci_bus_id),
            ("device", f"nvidia{d.index}"), ("modelName", d.model), ("Hostname", self._node),
            ("pod", pod), ("namespace", namespace), ("container", container)))

    def _render_shares(self, holders: Mapping[int, Sequence[Holder]]) -> str:
        series: list[str] = []
        values: list[float] = []
        for index, shares in sorted(holders.items()):
            row = self._row_of.get(index)
            if row is None:
                continue
            d = self._devices[row]
            for pod, namespace, container, fraction in shares:
                series.append("gputel_gpu_workload_share" + exposition.label_text((
                    ("node", self._node), ("gpu", str(d.index)), ("uuid", d.uuid),
                    ("pod", pod), ("namespace", namespace), ("container", container))) + " ")
                values.append(fraction)
        return exposition.render_family(
            "gputel_gpu_workload_share", "gauge",
            "Share of the GPU attributed to the pod/container holding it now (0 to 1).",
            series, np.array(values, dtype=np.float64))


def _top(shares: Sequence[Holder]) -> tuple[str, str, str]:
    """The (pod, namespace, container) with the largest fraction; empty when none."""
    if not shares:
        return ("", "", "")
    pod, namespace, container, _ = max(shares, key=lambda s: s[3])
    return (pod, namespace, container)


def _families(metric_ids: Sequence[str], compat: str) -> list[_Family]:
    """The families to render, in a stable order, for the backend's metric columns."""
    out: list[_Family] = []
    for col, metric_id in enumerate(metric_ids):
        meta = METRICS.get(metric_id)
        if meta is None:
            continue
        per_unit, scale = meta.wire_per_unit, meta.prom_scale  # the window holds wire units
        out.append(_Family(meta.prom_series, meta.prom_type, meta.help, col, scale, per_unit,
                           "latest", "gputel"))
        if meta.prom_type == "gauge" and metric_id not in NO_WINDOW:
            out.append(_Family(meta.prom_name + "_max", "gauge",
                               f"Highest value since this scraper's previous scrape, every "
                               f"tick counted. {meta.help}", col, scale, per_unit, "max",
                               "gputel"))
            out.append(_Family(meta.prom_name + "_min", "gauge",
                               f"Lowest value since this scraper's previous scrape, every "
                               f"tick counted. {meta.help}", col, scale, per_unit, "min",
                               "gputel"))
    if compat == "dcgm":
        for col, metric_id in enumerate(metric_ids):
            if metric_id in DCGM_FIELDS:
                name, kind, help_text, scale = DCGM_FIELDS[metric_id]
                out.append(_Family(name, kind, help_text, col, scale,
                                   METRICS[metric_id].wire_per_unit, "latest", "dcgm"))
    return out


class AgentCollector(Collector):
    """The agent's own health for prometheus_client: sampler, outbox, stream, backend fields.

    The GPU series are GpuExporter's; this collector keeps no state of its own.
    """

    def __init__(self, node: str, backend: str, devices: list[DeviceInfo],
                 metric_ids: tuple[str, ...], sampler: Sampler, outbox: Outbox,
                 stream: StreamClient, *, handoff: TickHandoff | None = None,
                 backend_health: Callable[[], BackendHealth] | None = None,
                 attribution_up: Callable[[], bool | None] | None = None,
                 attribution_stats: AttributionStats | None = None) -> None:
        self._node = node
        self._backend = backend
        self._devices = devices
        self._metric_ids = metric_ids
        self._sampler = sampler
        self._outbox = outbox
        self._stream = stream
        self._handoff = handoff
        self._backend_health = backend_health
        self._attribution_up = attribution_up
        self._attribution_stats = attribution_stats

    def collect(self) -> Iterator[Metric]:
        """Yield the agent's counters and gauges."""
        s, o, c = self._sampler.stats, self._outbox.stats, self._stream.stats
        counters = (
            ("gputel_agent_ticks", "Sampling ticks taken.", s.ticks),
            ("gputel_agent_ticks_missed", "Ticks skipped because a read ran late.", s.ticks_missed),
            ("gputel_agent_read_errors", "Backend reads that failed as a whole.", s.read_errors),
            ("gputel_agent_frames_queued", "Frames built.", o.frames_queued),
            ("gputel_agent_frames_sent", "Frames written to the stream (resends included).",
             o.frames_sent),
            ("gputel_agent_frames_resent", "Frames sent again after a reconnect.", o.frames_resent),
            ("gputel_agent_frames_acked", "Frames the collector acknowledged.", o.frames_acked),
            ("gputel_agent_frames_dropped",
             "Frames dropped, oldest first, because the outbox or spool (or its disk) was full.",
             o.frames_dropped),
            ("gputel_agent_frames_unreadable",
             "Spooled frames dropped because their bytes could not be read back.",
             o.frames_unreadable),
            ("gputel_agent_spool_write_errors",
             "Frames kept in memory because the spool could not be written.",
             o.spool_write_errors),
            ("gputel_agent_frames_out_of_range",
             "Frame refusals for timestamps outside the collector's window (frame kept).",
             c.frames_out_of_range),
            ("gputel_agent_frames_rejected", "Frames the collector refused as malformed.",
             o.frames_rejected),
            ("gputel_agent_samples_acked", "Samples in acknowledged frames.", o.samples_acked),
            ("gputel_agent_stream_connects", "Streams the collector welcomed.", c.connects),
        )
        for name, doc, value in counters:
            yield CounterMetricFamily(name, doc, value=value)
        gauges: tuple[tuple[str, str, float], ...] = (
            ("gputel_agent_outbox_frames", "Frames waiting for acknowledgement (the spool).",
             len(self._outbox)),
            ("gputel_agent_outbox_bytes", "Bytes of the encoded frames waiting (the bound of "
             "--spool-max-bytes).", self._outbox.held_bytes()),
            ("gputel_agent_reconnect_wait_seconds",
             "The wait before the next connect to the collector (0 while connected).",
             c.retry_wait_seconds),
            ("gputel_agent_spool_bytes", "Bytes of the on-disk spool (0 without one).",
             self._outbox.spool_bytes()),
            ("gputel_agent_collector_connected", "1 while the stream to the collector is up.",
             int(c.connected)),
            ("gputel_agent_read_seconds", "Duration of the last backend read.",
             s.last_read_seconds),
            ("gputel_agent_read_max_seconds", "Longest backend read so far.", s.max_read_seconds),
        )
        for name, doc, level in gauges:
            yield GaugeMetricFamily(name, doc, value=level)
        yield from self._optional()
        info = GaugeMetricFamily("gputel_agent_info", "The agent's backend and node.",
                                 labels=("node", "backend"))
        info.add_metric([self._node, self._backend], 1)
        yield info

    def _stream_health(self) -> Iterator[Metric]:
        c = self._stream.stats
        ends = CounterMetricFamily("gputel_agent_stream_ends",
                                   "Streams to the collector that ended, by gRPC status.",
                                   labels=("code",))
        for code, count in sorted(c.ends.items()):
            ends.add_metric([code], count)
        yield ends
        refusal = c.refusal
        refused = GaugeMetricFamily(
            "gputel_agent_collector_refused",
            "1 while the collector refuses this agent's Hello; `message` is its reason.",
            labels=("message",))
        refused.add_metric([refusal], int(bool(refusal)))
        yield refused
        skew = c.clock_skew_seconds
        if skew is not None:
            yield GaugeMetricFamily("gputel_agent_clock_skew_seconds",
                                    "This node's clock minus the collector's, at the last "
                                    "Welcome.", value=skew)
        if self._handoff is not None:
            yield CounterMetricFamily("gputel_agent_ticks_dropped",
                                      "Ticks dropped because the frame writer fell behind.",
                                      value=self._handoff.stats.ticks_dropped)

    def _backend_metrics(self, health: BackendHealth) -> Iterator[Metric]:
        """The backend's own counters: failed fields, lost, stalled, recovered GPUs, XIDs."""
        errors = CounterMetricFamily("gputel_agent_field_errors",
                                     "Field reads that failed (NaN sent), by field.",
                                     labels=("field",))
        for field, count in sorted(health.field_errors.items()):
            errors.add_metric([field], count)
        yield errors
        yield GaugeMetricFamily("gputel_agent_gpus_lost", "GPUs lost now (fell off the bus).",
                                value=len(health.lost))
        yield GaugeMetricFamily("gputel_agent_gpus_stalled",
                                "GPUs whose driver call has not returned past the watchdog.",
                                value=len(health.stalled))
        yield CounterMetricFamily("gputel_agent_gpu_recoveries",
                                  "Lost GPUs found again.", value=health.recoveries)
        xids = CounterMetricFamily("gputel_agent_xid_errors",
                                   "XID critical errors since start, by GPU.", labels=("gpu",))
        for row, count in enumerate(health.xids):
            if row < len(self._devices):
                xids.add_metric([self._devices[row].uuid], count)
        yield xids

    def _optional(self) -> Iterator[Metric]:
        yield from self._stream_health()
        if self._backend_health is not None:
            yield from self._backend_metrics(self._backend_health())
        up = self._attribution_up() if self._attribution_up is not None else None
        if up is not None:
            yield GaugeMetricFamily("gputel_agent_attribution_up",
                                    "1 while GPU-to-pod attribution works (kubelet reachable).",
                                    value=int(up))
        a = self._attribution_stats
        if a is not None:
            yield CounterMetricFamily(
                "gputel_agent_attribution_changes_dropped",
                "Attribution changes dropped, oldest first, while the frame writer stalled.",
                value=a.changes_dropped)
            yield CounterMetricFamily(
                "gputel_agent_attribution_updates_dropped",
                "Workload metadata updates dropped, oldest first, while the frame writer "
                "stalled.", value=a.workload_updates_dropped)
