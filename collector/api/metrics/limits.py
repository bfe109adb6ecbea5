"""/metrics for the collector's self-protection: what each limit refused, and what it holds.

Read-only over counters the guards keep: HTTP connections (api.http.guard), costly queries
(query.limits) and repeated log lines (lograte).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gputel.collector.api.http.guard import ConnectionGuard
from gputel.collector.lograte import RepeatLimiter
from gputel.collector.query.limits import QueryGate


class LimitsCollector(Collector):
    """Counters of refusals by the HTTP connection guard, the query gate and the log filter."""

    def __init__(self, http: ConnectionGuard, queries: QueryGate,
                 log_filter: RepeatLimiter | None) -> None:
        self._http = http
        self._queries = queries
        self._log = log_filter

    def collect(self) -> Iterator[Metric]:
        """The current counts."""
        counts = self._http.counts
        yield GaugeMetricFamily("gputel_collector_http_connections",
                                "HTTP connections open now.", counts.open)
        yield GaugeMetricFamily("gputel_collector_http_connections_limit",
                                "Most HTTP connections open at once (--http-max-connections).",
                                self._http.max_connections)
        closed = CounterMetricFamily(
            "gputel_collector_http_connections_closed",
            "HTTP connections the collector closed to stay within its limits, by reason: "
            "limit (every slot busy), evicted (waiting for headers, closed to make room), "
            "header_timeout.", labels=["reason"])
        for reason, n in counts.closed.items():
            closed.add_metric([reason], n)
        yield closed
        yield GaugeMetricFamily("gputel_collector_heavy_queries_running",
                                "Costly queries (range, heatmap, statistics, cost) running now.",
                                self._queries.running)
        refused = CounterMetricFamily(
            "gputel_collector_queries_refused",
            "Costly queries refused, by reason: too_large (series x points or raw samples "
            "over the limit), busy (no slot free in time).", labels=["reason"])
        for reason, n in self._queries.refused.items():
            refused.add_metric([reason], n)
        yield refused
        yield CounterMetricFamily(
            "gputel_collector_log_lines_suppressed",
            "Log records dropped because the same message repeated past --log-repeat-limit "
            "per minute.", self._log.suppressed_total if self._log is not None else 0)
