"""/metrics for the Kubernetes API watch: objects held, lists, 410s, events, failures by
reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # the watcher loads the Kubernetes client: only with --kube
    from gputel.collector.kube.watcher import KubeWatcher


class KubeCollector(Collector):
    """Per kind: objects held, whether stale, and the watch's counters."""

    def __init__(self, watcher: KubeWatcher) -> None:
        self._watcher = watcher

    def collect(self) -> Iterator[Metric]:
        """The current counts."""
        registry, stats = self._watcher.registry, self._watcher.stats
        kinds = [r.kind for r in self._watcher.settings.resources]
        held = GaugeMetricFamily("gputel_collector_kube_objects",
                                 "Kubernetes objects held, by kind.", labels=["kind"])
        stale = GaugeMetricFamily(
            "gputel_collector_kube_stale",
            "1 while a kind's watch is broken (the last known objects are kept) or was never "
            "listed.", labels=["kind"])
        states = registry.states()
        for kind in kinds:
            held.add_metric([kind], registry.count(kind))
            state = states.get(kind)
            stale.add_metric([kind], 1 if state is None or state.stale_since_ns
                             or not state.synced_ns else 0)
        yield held
        yield stale
        for name, text, counts in (
                ("lists", "Full lists of a kind (the first, and after 410 Gone or a failure).",
                 stats.lists),
                ("watch_expired", "Watches answered 410 Gone (listed again).", stats.gone),
                ("events", "Watch events applied.", stats.events),
                ("bookmarks", "Watch bookmarks received.", stats.bookmarks),
                ("objects_dropped", "Objects refused past --kube-max-objects.",
                 registry.dropped)):
            family = CounterMetricFamily(f"gputel_collector_kube_{name}", text, labels=["kind"])
            for kind in kinds:
                family.add_metric([kind], counts.get(kind, 0))
            yield family
        failures = CounterMetricFamily(
            "gputel_collector_kube_failures",
            "Failed lists or watches by kind and reason (forbidden: RBAC; unreachable: the "
            "API server away or a broken stream; not_found: a CRD not installed).",
            labels=["kind", "reason"])
        for (kind, reason), count in sorted(dict(stats.failures).items()):
            failures.add_metric([kind, reason], count)
        yield failures
