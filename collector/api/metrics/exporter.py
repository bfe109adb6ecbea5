"""The collector's /metrics: its own health, per-node, per-workload and per-namespace rollups.

Read-only over state other parts keep current: the ingest and frame-log counters, the
query core's node summaries, store sizes refreshed by the maintenance loop (never
counted on the scrape path), the remote writer's queue, and a `workloads()` callable
over the workload index (running workloads only). Series of workloads that end
disappear by themselves;
namespace counters stay monotonic across that (see NamespaceTotals).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gputel.collector.errors import UnavailableError
from gputel.collector.ingest.backpressure import ByteBudget, MemoryGuard
from gputel.collector.ingest.core import IngestCore
from gputel.collector.outbound.remote_write import RemoteWriter
from gputel.collector.query.core import QueryCore
from gputel.collector.storage.durable import DurableStore
from gputel.collector.storage.rollups import RollupReader, Tier
from gputel.collector.storage.store import SeriesStore

WORKLOAD_LABELS = ("namespace", "pod", "container", "uid", "kind")
# Seconds from a frame's arrival to its acknowledgement: group commit makes it ~ms.
ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, slots=True)
class WorkloadRollup:
    """One workload as /metrics shows it: a pod's containers, a Slurm job, or (`owner`) a
    Job, Deployment, PyTorchJob... whose figures are its pods' summed (`pod` its name).

    Gauges: utilization_percent (mean over its GPUs), power_watts (sum), gpus (held
    now, fractions summed). Counters since the collector knew it: energy_joules,
    gpu_seconds_allocated and gpu_seconds_busy (fraction- and utilization-weighted).
    Namespace sums leave owners out: their pods are in them already.
    """

    uid: str
    namespace: str
    pod: str
    container: str
    utilization_percent: float | None
    power_watts: float | None
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float
    gpus: float
    kind: str = "pod"
    owner: bool = False


Workloads = Callable[[], Sequence[WorkloadRollup]]


def ack_latency_histogram() -> Histogram:
    """The ack-latency histogram (seconds) the ingest path observes; in no registry."""
    return Histogram("gputel_collector_ack_latency_seconds",
                     "Seconds from a frame's arrival to its acknowledgement (durable).",
                     buckets=ACK_BUCKETS, registry=None)


@dataclass(frozen=True, slots=True)
class StoreSizes:
    """Store size as of the last refresh: bytes on disk and rollup rows per tier step (s)."""

    disk_bytes: int
    rollup_rows: dict[float, int]


class StoreGauges:
    """Counts the store off the scrape path: call `refresh()` from the maintenance loop."""

    def __init__(self, log: DurableStore, rollups: RollupReader, tiers: Sequence[Tier]) -> None:
        self._log = log
        self._rollups = rollups
        self._tiers = tuple(tiers)
        self.latest: StoreSizes | None = None

    def refresh(self) -> StoreSizes:
        """Stat the database files and count each tier's rows (blocking: run in a thread)."""
        sizes = StoreSizes(self._log.size_bytes(),
                           {t.step_ns / 1e9: self._rollups.count(t.step_ns) for t in self._tiers})
        self.latest = sizes
        return sizes


@dataclass(slots=True)
class NamespaceTotals:
    """Per-namespace counter sums that stay monotonic when workloads leave the index.

    A workload that disappears leaves its last counter values in its namespace's
    `retired` totals, so `rate(gputel_namespace_energy_joules_total[5m])` never sees
    a reset while the collector runs.
    """

    last: dict[str, tuple[str, tuple[float, float, float]]] = field(default_factory=dict)
    retired: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, workloads: Sequence[WorkloadRollup]) -> dict[str, list[float]]:
        """Per namespace [energy J, GPU-s allocated, GPU-s busy], departed workloads included."""
        with self.lock:
            now = {w.uid: (w.namespace, (w.energy_joules, w.gpu_seconds_allocated,
                                         w.gpu_seconds_busy)) for w in workloads}
            for uid, (namespace, counters) in self.last.items():
                if uid not in now:
                    acc = self.retired.setdefault(namespace, [0.0, 0.0, 0.0])
                    for i, value in enumerate(counters):
                        acc[i] += value
            self.last = now
            totals = {ns: list(acc) for ns, acc in self.retired.items()}
            for namespace, counters in now.values():
                acc = totals.setdefault(namespace, [0.0, 0.0, 0.0])
                for i, value in enumerate(counters):
                    acc[i] += value
            return totals


class IngestFlow(Protocol):
    """The ingest transport's back-pressure state (the gRPC servicer)."""

    @property
    def budget(self) -> ByteBudget:
        """Bytes in flight."""

    @property
    def memory(self) -> MemoryGuard:
        """The memory guard."""


class CollectorCollector(Collector):
    """Ingest counters, store size, remote write, connected agents, node/workload rollups."""

    def __init__(self, ingest: IngestCore, query: QueryCore, store: SeriesStore, *,
                 frame_log: DurableStore | None = None, store_sizes: StoreGauges | None = None,
                 remote_write: RemoteWriter | None = None, workloads: Workloads | None = None,
                 ack_latency: Histogram | None = None,
                 flow: Callable[[], IngestFlow | None] | None = None) -> None:
        self._ingest = ingest
        self._query = query
        self._store = store
        self._log = frame_log
        self._sizes = store_sizes
        self._remote = remote_write
        self._workloads = workloads
        self._ack_latency = ack_latency
        self._flow = flow
        self._namespaces = NamespaceTotals()

    def collect(self) -> Iterator[Metric]:
        """Yield every family; nothing is counted on the scrape path."""
        s = self._ingest.stats
        yield CounterMetricFamily("gputel_collector_frames_ingested",
                                  "Frames applied to the store.", value=s.frames)
        yield CounterMetricFamily("gputel_collector_samples_ingested",
                                  "Samples applied to the store.", value=s.samples)
        yield CounterMetricFamily("gputel_collector_frames_duplicate",
                                  "Resent frames recognised and not applied twice.",
                                  value=s.duplicates)
        rejected = CounterMetricFamily("gputel_collector_messages_rejected",
                                       "Ingest messages refused, by reason.", labels=("reason",))
        for reason, count in sorted(s.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        index = self._ingest.workloads
        yield GaugeMetricFamily("gputel_collector_workloads",
                                "Workloads held in the index (running and recently ended).",
                                value=index.held_workloads())
        dropped = CounterMetricFamily("gputel_collector_workloads_dropped",
                                      "Workloads forgotten, by reason (retention: ended longer "
                                      "ago than the retention; cap: the index was full).",
                                      labels=("reason",))
        for reason, count in sorted(dict(index.dropped).items()):
            dropped.add_metric([reason], count)
        yield dropped
        yield GaugeMetricFamily("gputel_collector_store_samples",
                                "Samples held by the store (head and sealed blocks).",
                                value=self._store.sample_count())
        yield from self._bounds()
        yield from self._durability()
        yield from self._remote_write()
        yield from self._read_metrics()

    def _read_metrics(self) -> Iterator[Metric]:
        """Families read from the store (newest values): left out while a remote store
        cannot answer, and `gputel_collector_store_readable` says so (1 or 0)."""
        try:
            families = list(self._node_metrics())
            if self._workloads is not None:
                rollups = list(self._workloads())
                leaves = [w for w in rollups if not w.owner]  # owners are their pods' sums
                families += [*_workload_metrics(rollups),
                             *_namespace_metrics(leaves, self._namespaces.update(leaves))]
        except UnavailableError:
            families = []
            readable = 0.0
        else:
            readable = 1.0
        yield from families
        yield GaugeMetricFamily("gputel_collector_store_readable",
                                "1 while the store answers reads; 0 when this scrape could not "
                                "read it (a remote TSDB away): node and workload families are "
                                "then left out.", value=readable)

    def _bounds(self) -> Iterator[Metric]:
        """What the configured limits hold and what they refused or dropped."""
        s, prefix = self._ingest.stats, "gputel_collector"
        yield GaugeMetricFamily(f"{prefix}_ingest_streams", "Ingest streams open now.",
                                value=self._ingest.live_streams())
        yield GaugeMetricFamily(f"{prefix}_store_series",
                                "Series whose newest value is held in memory.",
                                value=self._store.series_count())
        yield CounterMetricFamily(f"{prefix}_store_samples_evicted",
                                  "Samples dropped by an in-memory store to stay under "
                                  "--max-memory.", value=self._store.evicted)
        yield CounterMetricFamily(f"{prefix}_nodes_forgotten",
                                  "Nodes forgotten after --node-ttl without a stream.",
                                  value=s.nodes_forgotten)
        flow = self._flow() if self._flow is not None else None
        if flow is not None:
            yield GaugeMetricFamily(f"{prefix}_ingest_inflight_bytes",
                                    "Bytes of frames read but not yet acknowledged.",
                                    value=flow.budget.used)
            yield CounterMetricFamily(f"{prefix}_ingest_inflight_waits",
                                      "Times a stream waited for room under --ingest-inflight.",
                                      value=flow.budget.waits)
            yield CounterMetricFamily(f"{prefix}_memory_refusals",
                                      "Frames refused while over --max-memory.",
                                      value=flow.memory.refusals)
            yield CounterMetricFamily(f"{prefix}_memory_reliefs",
                                      "Times the collector found itself over --max-memory and "
                                      "evicted half of its in-memory head.",
                                      value=flow.memory.reliefs)

    def _durability(self) -> Iterator[Metric]:
        if self._ack_latency is not None:
            yield from self._ack_latency.collect()
        if self._log is not None:
            st = self._log.stats
            yield CounterMetricFamily("gputel_collector_store_commits",
                                      "Transactions committed by the frame log.", value=st.commits)
            yield GaugeMetricFamily("gputel_collector_store_commit_seconds",
                                    "Duration of the last frame-log commit (fsync included).",
                                    value=st.last_commit_seconds)
            yield CounterMetricFamily("gputel_collector_store_write_failures",
                                      "Frame-log commits that failed (frames not acknowledged).",
                                      value=st.failures)
            yield GaugeMetricFamily("gputel_collector_store_writing",
                                    "1 while the frame log writes (0: failing; not ready).",
                                    value=float(self._log.writing()))
            yield CounterMetricFamily("gputel_collector_store_frames_quarantined",
                                      "Frames read back at start that no longer decode, "
                                      "skipped and logged.",
                                      value=self._ingest.stats.frames_quarantined)
            yield CounterMetricFamily("gputel_collector_store_writer_restarts",
                                      "Times the store's writer thread was restarted.",
                                      value=st.writer_restarts)
            yield from _engine_metrics(self._log)
        sizes = self._sizes.latest if self._sizes is not None else None
        if sizes is not None:
            yield GaugeMetricFamily("gputel_collector_store_bytes",
                                    "Bytes of the durable store on disk (database, WAL, blocks).",
                                    value=sizes.disk_bytes)
            rows = GaugeMetricFamily("gputel_collector_store_rollup_rows",
                                     "Rollup rows held, by tier step in seconds.",
                                     labels=("tier",))
            for step, count in sorted(sizes.rollup_rows.items()):
                rows.add_metric([f"{step:g}s"], count)
            yield rows

    def _remote_write(self) -> Iterator[Metric]:
        if self._remote is None:
            return
        r = self._remote.stats
        prefix = "gputel_collector_remote_write"
        yield GaugeMetricFamily(f"{prefix}_queue_samples",
                                "Samples waiting to be remote-written (the batch in flight too).",
                                value=self._remote.queued())
        yield GaugeMetricFamily(f"{prefix}_queue_capacity_samples",
                                "Most samples the remote-write queue holds before dropping.",
                                value=self._remote.config.max_queue_samples)
        yield GaugeMetricFamily(f"{prefix}_lag_seconds",
                                "Age of the oldest sample not yet remote-written (0 when none).",
                                value=self._remote.lag_seconds())
        for name, doc, value in (
                ("samples_sent", "Samples the receiver accepted.", r.sent),
                ("samples_failed", "Samples in batches that failed for good (4xx or deadline).",
                 r.failed),
                ("samples_retried", "Samples in batches sent again after a retryable error.",
                 r.retried),
                ("requests", "Remote-write requests made.", r.requests),
                ("requests_failed", "Remote-write requests that failed.", r.requests_failed)):
            yield CounterMetricFamily(f"{prefix}_{name}", doc, value=value)
        dropped = CounterMetricFamily(f"{prefix}_samples_dropped",
                                      "Samples dropped before sending, by reason (queue_full: "
                                      "oldest beyond the bound; out_of_order: not newer than "
                                      "one sent).", labels=("reason",))
        for reason, count in sorted(r.dropped.items()):
            dropped.add_metric([reason], count)
        yield dropped
        yield GaugeMetricFamily(f"{prefix}_series", "Series in the remote writer's table.",
                                value=self._remote.series())
        forgotten = CounterMetricFamily(f"{prefix}_series_forgotten",
                                        "Series dropped from the remote writer's table, by "
                                        "reason (idle: not written for the idle limit; cap: "
                                        "least recently written beyond the bound).",
                                        labels=("reason",))
        for reason, count in sorted(r.series_forgotten.items()):
            forgotten.add_metric([reason], count)
        yield forgotten

    def _node_metrics(self) -> Iterator[Metric]:
        nodes = self._query.list_nodes()
        agents = GaugeMetricFamily("gputel_collector_agent_connected",
                                   "1 while the node's agent stream is open.", labels=("node",))
        gpus = GaugeMetricFamily("gputel_node_gpus", "GPUs on the node.", labels=("node",))
        util = GaugeMetricFamily("gputel_node_gpu_utilization_percent",
                                 "Average utilization of the node's GPUs.", labels=("node",))
        power = GaugeMetricFamily("gputel_node_power_watts", "Power of the node's GPUs.",
                                  labels=("node",))
        for n in nodes:
            agents.add_metric([n.state.name], int(n.connected))
            gpus.add_metric([n.state.name], len(n.state.devices))
            if n.gpu_utilization is not None:
                util.add_metric([n.state.name], n.gpu_utilization)
            if n.power_watts is not None:
                power.add_metric([n.state.name], n.power_watts)
        yield from (agents, gpus, util, power)


def _engine_metrics(durable: DurableStore) -> Iterator[Metric]:
    """Blocks sealed, what retention dropped by reason, damage quarantined."""
    e, prefix = durable.engine.stats, "gputel_collector_store"
    yield CounterMetricFamily(f"{prefix}_blocks_sealed", "Blocks sealed from the head.",
                              value=e.blocks_sealed)
    yield GaugeMetricFamily(f"{prefix}_blocks", "Sealed blocks held.",
                            value=len(durable.engine.blocks()))
    yield CounterMetricFamily(f"{prefix}_compactions", "Merged blocks written by compaction.",
                              value=e.compactions)
    yield CounterMetricFamily(f"{prefix}_blocks_compacted",
                              "Small blocks replaced by compaction's merged blocks.",
                              value=e.blocks_compacted)
    yield CounterMetricFamily(f"{prefix}_compaction_failures",
                              "Compactions that failed (see the log); their blocks stay.",
                              value=e.compaction_failures)
    for name, doc, counts in (
            ("blocks_dropped", "Blocks deleted, by reason (age: past --retention; disk: "
             "over --max-disk, oldest first).", e.blocks_dropped),
            ("samples_dropped", "Full-rate samples deleted, by reason (age, disk, memory).",
             e.samples_dropped),
            ("rollup_rows_dropped", "Rollup rows deleted, by reason (age: past the tier's "
             "retention; disk: over --max-disk, oldest first).", e.rollup_rows_dropped)):
        family = CounterMetricFamily(f"{prefix}_{name}", doc, labels=("reason",))
        for reason, count in sorted(counts.items()):
            family.add_metric([reason], count)
        yield family
    yield CounterMetricFamily(f"{prefix}_files_quarantined",
                              "Damaged store files moved to quarantine/ (see the log).",
                              value=e.files_quarantined)
    yield GaugeMetricFamily(f"{prefix}_damaged", "1 while damage found since start is "
                            "reported (health store.status degraded).",
                            value=float(bool(durable.engine.problems)))


def _workload_metrics(rollups: Sequence[WorkloadRollup]) -> Iterator[Metric]:
    """gputel_workload_* families, one series per workload."""
    labels = WORKLOAD_LABELS
    util = GaugeMetricFamily("gputel_workload_gpu_utilization_percent",
                             "Mean utilization of the GPUs the workload holds.", labels=labels)
    power = GaugeMetricFamily("gputel_workload_power_watts",
                              "Power of the workload's GPUs, by its share of each.", labels=labels)
    gpus = GaugeMetricFamily("gputel_workload_gpus",
                             "GPUs the workload holds now (shares summed).", labels=labels)
    energy = CounterMetricFamily("gputel_workload_energy_joules",
                                 "Energy attributed to the workload.", labels=labels)
    allocated = CounterMetricFamily("gputel_workload_gpu_allocated_seconds",
                                    "GPU-seconds the workload held (fraction x seconds).",
                                    labels=labels)
    busy = CounterMetricFamily("gputel_workload_gpu_busy_seconds",
                               "GPU-seconds the workload kept busy (x utilization).",
                               labels=labels)
    for w in rollups:
        values = [w.namespace, w.pod, w.container, w.uid, w.kind]
        if w.utilization_percent is not None:
            util.add_metric(values, w.utilization_percent)
        if w.power_watts is not None:
            power.add_metric(values, w.power_watts)
        gpus.add_metric(values, w.gpus)
        energy.add_metric(values, w.energy_joules)
        allocated.add_metric(values, w.gpu_seconds_allocated)
        busy.add_metric(values, w.gpu_seconds_busy)
    yield from (util, power, gpus, energy, allocated, busy)


def _namespace_metrics(rollups: Sequence[WorkloadRollup],
                       totals: dict[str, list[float]]) -> Iterator[Metric]:
    """gputel_namespace_* families: sums over the namespace's workloads, utilization
    averaged weighted by GPUs held; counters from NamespaceTotals."""
    by_ns: dict[str, list[WorkloadRollup]] = {}
    for w in rollups:
        by_ns.setdefault(w.namespace, []).append(w)
    ns = ("namespace",)
    count = GaugeMetricFamily("gputel_namespace_workloads", "Workloads known in the namespace.",
                              labels=ns)
    gpus = GaugeMetricFamily("gputel_namespace_gpus", "GPUs the namespace's workloads hold now.",
                             labels=ns)
    power = GaugeMetricFamily("gputel_namespace_power_watts",
                              "Power attributed to the namespace's workloads.", labels=ns)
    util = GaugeMetricFamily("gputel_namespace_gpu_utilization_percent",
                             "Utilization of the namespace's GPUs, weighted by GPUs held.",
                             labels=ns)
    for name, members in sorted(by_ns.items()):
        count.add_metric([name], len(members))
        gpus.add_metric([name], sum(w.gpus for w in members))
        watts = [w.power_watts for w in members if w.power_watts is not None]
        if watts:
            power.add_metric([name], sum(watts))
        mean = _weighted_utilization(members)
        if mean is not None:
            util.add_metric([name], mean)
    yield from (count, gpus, power, util)
    for i, (suffix, doc) in enumerate((
            ("energy_joules", "Energy attributed to the namespace's workloads."),
            ("gpu_allocated_seconds", "GPU-seconds the namespace's workloads held."),
            ("gpu_busy_seconds", "GPU-seconds the namespace's workloads kept busy."))):
        family = CounterMetricFamily(f"gputel_namespace_{suffix}", doc, labels=ns)
        for name, values in sorted(totals.items()):
            family.add_metric([name], values[i])
        yield family


def _weighted_utilization(members: Sequence[WorkloadRollup]) -> float | None:
    """Mean utilization weighted by GPUs held; a plain mean when none holds any now."""
    known = [(w.utilization_percent, w.gpus) for w in members
             if w.utilization_percent is not None]
    if not known:
        return None
    weight = sum(g for _, g in known)
    if weight > 0:
        return sum(u * g for u, g in known) / weight
    return sum(u for u, _ in known) / len(known)
