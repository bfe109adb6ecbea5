"""Everything the query transports answer from, in one bundle.

HTTP and gRPC are given the same QueryServices, so both answer every question from the
same objects (and the same numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gputel.collector.query.alerts import AlertBook, AlertEngine, AlertEvent, AlertRules
from gputel.collector.query.cluster import ClusterQueries
from gputel.collector.query.core import QueryCore
from gputel.collector.query.costs import CostQueries, Pricing
from gputel.collector.query.forecast import ForecastQueries
from gputel.collector.query.health import HealthReport
from gputel.collector.query.live import LiveQueries
from gputel.collector.query.statistics import StatisticsQueries


@dataclass(frozen=True, slots=True)
class QueryServices:
    """The query core and the answers built on it; `watch_interval_seconds` is the default
    period of the gRPC Watch."""

    query: QueryCore
    cluster: ClusterQueries
    statistics: StatisticsQueries
    costs: CostQueries
    alerts: AlertEngine
    live: LiveQueries
    health: Callable[[], HealthReport]
    forecasts: ForecastQueries
    watch_interval_seconds: float = 1.0


def build_services(core: QueryCore, health: Callable[[], HealthReport],
                   rules: AlertRules | None = None, pricing: Pricing | None = None,
                   notify: Callable[[AlertEvent], None] | None = None,
                   watch_interval_seconds: float = 1.0,
                   alert_book: AlertBook | None = None) -> QueryServices:
    """Wire the answers over one query core (`alert_book`: alert state shared through a
    remote store)."""
    alerts = AlertEngine(core, rules, notify, alert_book)
    cluster = ClusterQueries(core, alerts.active_count)
    idle = (rules or AlertRules()).idle_util_percent
    return QueryServices(core, cluster, StatisticsQueries(core),
                         CostQueries(core, pricing or Pricing(), idle), alerts,
                         LiveQueries(core), health, ForecastQueries(core, cluster),
                         watch_interval_seconds)
