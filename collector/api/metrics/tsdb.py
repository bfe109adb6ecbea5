"""/metrics of a collector over a remote TSDB: whether frames are being written, what was
accepted, retried and failed, and whether the shared state is being read."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gputel.collector.ingest.dedup import INSTANCES_KEPT
from gputel.collector.ingest.remote import RemoteJournal
from gputel.collector.ingest.state import StateSync, StateWriter


class TsdbCollector(Collector):
    """Counters of the TSDB writer, the shared-state writer and the state sync."""

    def __init__(self, journal: RemoteJournal, writer: StateWriter, sync: StateSync) -> None:
        self._journal = journal
        self._writer = writer
        self._sync = sync

    def collect(self) -> Iterator[Metric]:
        """The current counts."""
        st = self._journal.stats
        prefix = "gputel_collector_tsdb"
        yield GaugeMetricFamily(f"{prefix}_writing", "1 while the TSDB accepts frames (the "
                                "last write got 2xx), 0 while writes fail.",
                                float(self._journal.writing()))
        yield GaugeMetricFamily(f"{prefix}_write_queue_frames", "Frames waiting for the TSDB "
                                "(not acknowledged yet).", float(self._journal.queued()))
        yield GaugeMetricFamily(
            f"{prefix}_agents_held", "Agent instances whose Hello the writer keeps (at most "
            f"{INSTANCES_KEPT} per node, none for forgotten nodes).",
            float(self._journal.agents_held()))
        for name, value, text in (
                ("write_requests", st.requests, "Remote-write requests the TSDB accepted."),
                ("frames_written", st.frames, "Frames the TSDB accepted (then acknowledged)."),
                ("samples_written", st.samples, "Samples the TSDB accepted."),
                ("write_failures", st.failures, "Requests that failed after their retries "
                 "(their frames answered UNAVAILABLE, kept by the agents)."),
                ("write_retries", st.retries, "Attempts retried (429, 5xx, unreachable)."),
                ("agents_forgotten", st.agents_forgotten, "Agent instances let go: replaced "
                 "by a newer instance of their node, or their node forgotten."),
                ("state_write_failures", self._writer.failures, "Shared-state writes the "
                 "TSDB refused (written again next pass)."),
                ("sync_failures", self._sync.failures, "Passes that could not read the shared "
                 "state.")):
            yield CounterMetricFamily(f"{prefix}_{name}", text, value=float(value))
        yield GaugeMetricFamily(f"{prefix}_sync_age_seconds", "Seconds since the shared state "
                                "was last read from the TSDB.", self._sync.age_seconds())
