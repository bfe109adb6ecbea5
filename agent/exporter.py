"""The agent's /metrics: a custom collector over the latest tick and the pipeline's counters."""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gputel.agent.backends.base import DeviceInfo
from gputel.agent.outbox import Outbox
from gputel.agent.sampler import Sampler
from gputel.agent.stream import StreamClient
from gputel.proto.metrics import METRICS

GPU_LABELS = ("node", "gpu", "uuid", "model")


class AgentCollector(Collector):
    """Reads the sampler's latest snapshot and the counters; keeps no state of its own."""

    def __init__(self, node: str, backend: str, devices: list[DeviceInfo],
                 metric_ids: tuple[str, ...], sampler: Sampler, outbox: Outbox,
                 stream: StreamClient) -> None:
        self._node = node
        self._backend = backend
        self._devices = devices
        self._metric_ids = metric_ids
        self._sampler = sampler
        self._outbox = outbox
        self._stream = stream

    def collect(self) -> Iterator[Metric]:
        """Yield per-GPU gauges, then the agent's own health."""
        yield from self._gpu_metrics()
        yield from self._health_metrics()

    def _gpu_metrics(self) -> Iterator[Metric]:
        snap = self._sampler.latest
        if snap is None:
            return
        labels = [[self._node, str(d.index), d.uuid, d.model] for d in self._devices]
        for col, metric_id in enumerate(self._metric_ids):
            meta = METRICS.get(metric_id)
            if meta is None:
                continue
            family: GaugeMetricFamily | CounterMetricFamily
            if metric_id == "energy":
                family = CounterMetricFamily(meta.prom_name, meta.help, labels=GPU_LABELS)
            else:
                family = GaugeMetricFamily(meta.prom_name, meta.help, labels=GPU_LABELS)
            for row, label_values in enumerate(labels):
                value = float(snap.values[row, col])
                if not math.isnan(value):
                    family.add_metric(label_values, value, timestamp=None)
            yield family

    def _health_metrics(self) -> Iterator[Metric]:
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
            ("gputel_agent_frames_dropped", "Frames dropped because the outbox was full.",
             o.frames_dropped),
            ("gputel_agent_frames_rejected", "Frames the collector refused as malformed.",
             o.frames_rejected),
            ("gputel_agent_samples_acked", "Samples in acknowledged frames.", o.samples_acked),
            ("gputel_agent_stream_connects", "Streams the collector welcomed.", c.connects),
        )
        for name, doc, value in counters:
            yield CounterMetricFamily(name, doc, value=value)
        gauges = (
            ("gputel_agent_outbox_frames", "Frames waiting for acknowledgement (the spool).",
             len(self._outbox)),
            ("gputel_agent_spool_bytes", "Bytes of the on-disk spool (0 without one).",
             self._outbox.spool_bytes()),
            ("gputel_agent_collector_connected", "1 while the stream to the collector is up.",
             int(c.connected)),
            ("gputel_agent_read_seconds", "Duration of the last backend read.",
             s.last_read_seconds),
            ("gputel_agent_read_max_seconds", "Longest backend read so far.", s.max_read_seconds),
        )
        for name, doc, value in gauges:
            yield GaugeMetricFamily(name, doc, value=value)
        info = GaugeMetricFamily("gputel_agent_info", "The agent's backend and node.",
                                 labels=("node", "backend"))
        info.add_metric([self._node, self._backend], 1)
        yield info
