"""The collector's /metrics: its own health and per-node rollups, read from the cores on scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gputel.collector.ingest import IngestCore
from gputel.collector.query import QueryCore
from gputel.collector.store import SeriesStore


class CollectorCollector(Collector):
    """Ingest counters, store size, connected agents, and per-node latest values."""

    def __init__(self, ingest: IngestCore, query: QueryCore, store: SeriesStore) -> None:
        self._ingest = ingest
        self._query = query
        self._store = store

    def collect(self) -> Iterator[Metric]:
        """Yield every family; nothing is cached between scrapes."""
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
        yield GaugeMetricFamily("gputel_collector_store_samples",
                                "Samples held in memory.", value=self._store.sample_count())
        yield from self._node_metrics()

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
