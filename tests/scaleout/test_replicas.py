"""Two collectors over one TSDB answer every /api/v1 read route the same."""

from __future__ import annotations

from pathlib import Path

import httpx

from gputel.collector.timefmt import format_time
from tests.api.conftest import POLICY, PRICING, RULES
from tests.api.feed import feed
from tests.harness.servers import CollectorThread, get_json, wait_until
from tests.harness.tsdb import remote_config, searchable
from tests.prometheus.promserver import TsdbServer
from tests.scaleout.routes import route_urls, wait_agreeing

SETTINGS = {"alert_rules": RULES, "health_policy": POLICY, "pricing": PRICING,
            "alert_interval_seconds": 0.1, "rate_limit_per_second": 0.0}

# The feed's alerts, gpu_lost too: its GPU's only samples are 20 minutes old, beyond the
# 5-minute lookback of the TSDB's newest values, and read over the retention instead.
FED_ALERTS = {"node_unreachable:n3", "allocated_idle:n1:GPU-n1-1", "gpu_lost:n2:GPU-n2-1",
              "over_temperature:n1:GPU-n1-0", "xid:n2:GPU-n2-0"}


def _alert_ids(collector: CollectorThread) -> set[str]:
    return {a["id"] for a in get_json(f"{collector.http_base}/api/v1/alerts")[1]["data"]}


def _acknowledged(collector: CollectorThread) -> dict[str, str]:
    alerts = get_json(f"{collector.http_base}/api/v1/alerts")[1]["data"]
    return {a["id"]: a["acknowledgedBy"] for a in alerts if a["acknowledgedBy"]}


def test_two_collectors_answer_every_route_the_same(vm: TsdbServer, tmp_path: Path) -> None:
    first = CollectorThread(**remote_config(vm, **SETTINGS)).start()
    second = CollectorThread(**remote_config(vm, **SETTINGS)).start()
    fed = feed(first.grpc_target)
    try:
        wait_until(lambda: searchable(vm) and _alert_ids(first) == FED_ALERTS,
                   what="the fed alerts on the first")
        # One window for every range route (a default one ends at each answer's "now").
        window = {"start": format_time(fed.t0 - 1800 * 10**9), "end": format_time(fed.tick(60))}
        urls = route_urls(first.http_base, {"node": "n1", "uuid": "GPU-n1-0",
                                            "uid": "ml/train-a", **window})
        wait_agreeing(vm, first.http_base, second.http_base, urls, "both collectors to agree")
        # An acknowledgement on one is the other's too.
        acked = httpx.post(f"{second.http_base}/api/v1/alerts/xid:n2:GPU-n2-0/acknowledge",
                           params={"by": "oncall"}, timeout=10)
        assert acked.status_code == 200, acked.text
        wait_until(lambda: searchable(vm) and _acknowledged(first) == {
            "xid:n2:GPU-n2-0": "oncall"}, what="the first to show the acknowledgement")
        wait_agreeing(vm, first.http_base, second.http_base, urls,
                      "both collectors to agree after the acknowledgement")
    finally:
        fed.close()
        first.stop()
        second.stop()
