"""A remote-store collector SIGKILLed and restarted over the same TSDB answers the same; the
TSDB away for 30 s: acknowledgements stop, the agent spools its frames, /readyz and
/metrics say so, and every tick arrives once when it returns."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gputel.collector.timefmt import format_time
from tests.harness.held_frames import open_node, send
from tests.harness.raw_stream import good_frame
from tests.harness.servers import (
    CollectorProcess,
    CollectorThread,
    free_port,
    get_json,
    running_agent,
    wait_sampled,
    wait_until,
)
from tests.harness.tsdb import remote_config, searchable
from tests.prometheus.promserver import TsdbServer
from tests.scaleout.conftest import stored_ticks
from tests.scaleout.routes import answer, fields_differing, route_urls

GPUS = 2
ROUTES = ["/api/v1/nodes", "/api/v1/nodes/node-a", "/api/v1/nodes/node-a/gpus",
          "/api/v1/gpus", "/api/v1/workloads", "/api/v1/namespaces", "/api/v1/health",
          "/api/v1/nodes/node-a/metrics", "/api/v1/alerts", "/api/v1/cost"]


def _remote_args(tsdb: TsdbServer) -> list[str]:
    return ["--store", "remote", "--tsdb-url", tsdb.base, "--tsdb-sync-interval", "0.2s",
            "--alert-interval", "0.2s"]


def test_a_restarted_collector_answers_the_same(vm: TsdbServer, tmp_path: Path) -> None:
    port = free_port()
    collector = CollectorProcess(str(tmp_path / "one"), port, _remote_args(vm)).start()
    try:
        with running_agent(f"127.0.0.1:{port}", gpus=GPUS, rate_hz=10, max_ticks=30,
                           attribution="sim") as agent:
            assert wait_sampled(agent, timeout=30)
            assert agent.stop(drain_timeout=10)
        ticks = agent.backend.ticks  # type: ignore[attr-defined]
        window = {"start": format_time(ticks[0][0]), "end": format_time(ticks[-1][0]),
                  "metric": "power", "step": "1s"}
        urls = [(u, p) for u, p in route_urls(collector.http_base, {
            "node": "node-a", **window}) if u in ROUTES]
        assert len(urls) == len(ROUTES)
        base = collector.http_base
        samples = sum(int(np.count_nonzero(~np.isnan(v))) for _, v in ticks)
        wait_until(lambda: searchable(vm) and _alert_ids(base) == {"node_unreachable:node-a"}
                   and get_json(f"{base}/api/v1/health")[1]["data"]["store"]["samples"]
                   == samples, what="every sample searchable and the node's alert")
        acked = httpx.post(f"{base}/api/v1/alerts/node_unreachable:node-a/acknowledge",
                           params={"by": "oncall"}, timeout=10)
        assert acked.status_code == 200, acked.text
        snapshot = [{u: answer(base, u, p) for u, p in urls}]

        def settled() -> bool:  # the newest values are cached briefly: two reads alike
            again = {u: answer(base, u, p) for u, p in urls}
            same, snapshot[0] = again == snapshot[0], again
            return same

        wait_until(settled, interval=0.6, what="the first collector's answers to settle")
        before = snapshot[0]
        assert before["/api/v1/nodes"][1][0]["samplesIngested"] > 0
        assert before["/api/v1/workloads"][1], "simulated pods hold the GPUs"
        collector.kill()
        # A fresh data directory: nothing of the first run but the TSDB.
        collector = CollectorProcess(str(tmp_path / "two"), port, _remote_args(vm)).start()
        seen: list[list[object]] = [[]]

        def same() -> bool:
            searchable(vm)
            seen[0] = [(u, fields_differing(before[u], got)) for u, p in urls
                       if (got := answer(collector.http_base, u, p)) != before[u]]
            return not seen[0]

        try:
            wait_until(same, timeout=30, interval=0.3, what="the restarted collector")
        except AssertionError:
            pytest.fail(f"routes that differ after the restart: {seen[0]}")
    finally:
        collector.stop()


def _alert_ids(base: str) -> set[str]:
    return {a["id"] for a in get_json(f"{base}/api/v1/alerts")[1]["data"]}


OUTAGE_NS = 30 * 10**9


def _gauge(url: str, name: str) -> float:
    """One unlabelled sample of a /metrics page."""
    for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    raise AssertionError(f"{url} has no {name}")


def test_a_30_second_tsdb_outage_is_spooled_reported_and_drained(vm: TsdbServer,
                                                                 tmp_path: Path) -> None:
    """VictoriaMetrics away for 30 s of the agent's ticks under a streaming agent: nothing
    more is acknowledged, the agent spools every frame, the collector's /readyz, health and
    /metrics say the store is failing; once it is back everything drains, and every tick
    (those acknowledged before the outage too) is in the TSDB exactly once."""
    collector = CollectorThread(**remote_config(vm, tsdb_write_deadline_seconds=1.0)).start()
    base = collector.http_base
    try:
        with running_agent(collector.grpc_target, gpus=GPUS, rate_hz=10, flush_seconds=0.2,
                           spool_dir=tmp_path / "spool") as agent:
            stats, ticks = agent.outbox.stats, agent.backend.ticks  # type: ignore[attr-defined]
            agent_metrics = f"http://127.0.0.1:{agent.http.port}/metrics"  # type: ignore[union-attr]
            assert agent.outbox.wait(lambda s: s.frames_acked >= 5, timeout=30)
            # Stopped, not SIGKILLed: VictoriaMetrics single-node loses the last ~second it
            # accepted on a crash (its own durability; README), which no collector can see.
            vm.stop()
            away_ns = time.time_ns()
            wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 503,
                       what="/readyz to say the store is failing")
            held = stats.frames_acked
            # The outage lasts until the agent has sampled 30 s past its start.
            wait_until(lambda: ticks[-1][0] >= away_ns + OUTAGE_NS, timeout=OUTAGE_NS / 1e9 + 30,
                       interval=0.5, what="30 s of ticks while the TSDB is away")
            assert stats.frames_acked == held, "nothing acknowledged while the TSDB is away"
            # ~150 frames (5 a second); at least 100 even if a busy machine skipped ticks.
            assert _gauge(agent_metrics, "gputel_agent_outbox_frames") >= 100
            assert _gauge(agent_metrics, "gputel_agent_spool_bytes") > 0
            assert httpx.get(f"{base}/readyz").status_code == 503
            assert _gauge(f"{base}/metrics", "gputel_collector_tsdb_writing") == 0
            assert _gauge(f"{base}/metrics", "gputel_collector_store_readable") == 0
            assert _gauge(f"{base}/metrics", "gputel_collector_tsdb_write_failures_total") > 0
            assert get_json(f"{base}/api/v1/health")[1]["data"]["store"]["status"] == "failing"
            vm.start()
            wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, timeout=30,
                       what="/readyz to recover")
            spooled = stats.frames_queued
            assert agent.outbox.wait(lambda s: s.frames_acked >= spooled, timeout=60), \
                "the spooled frames drain once the TSDB is back"
            assert agent.stop(drain_timeout=30), "everything drains"
            assert stats.frames_dropped == 0
        assert _gauge(f"{base}/metrics", "gputel_collector_tsdb_writing") == 1
        assert _gauge(f"{base}/metrics", "gputel_collector_store_readable") == 1
        stored, expected, missing = stored_ticks(vm, ticks)
        assert stored == expected, (
            f"every tick stored exactly once; missing {missing}; agent {stats}; collector "
            f"refused {dict(collector.collector.ingest.stats.rejected)}, took "
            f"{collector.collector.ingest.stats.duplicates} resend(s) as duplicates")
    finally:
        collector.stop()


def test_an_acknowledgement_the_tsdb_cannot_keep_is_refused(vm: TsdbServer) -> None:
    collector = CollectorThread(**remote_config(vm, alert_interval_seconds=0.1)).start()
    base = collector.http_base
    try:
        stream = open_node(collector.grpc_target, "gone-node")
        send(stream, good_frame(1, devices=1))
        stream.close()
        wait_until(lambda: "node_unreachable:gone-node" in _alert_ids(base),
                   what="the node's alert")
        url = f"{base}/api/v1/alerts/node_unreachable:gone-node/acknowledge"
        vm.stop()
        refused = httpx.post(url, params={"by": "oncall"}, timeout=30)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "UNAVAILABLE"
        vm.start()
        accepted = httpx.post(url, params={"by": "oncall"}, timeout=30)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["data"]["acknowledgedBy"] == "oncall"
    finally:
        collector.stop()


def test_a_frame_after_one_that_failed_is_not_stored_ahead_of_it(vm: TsdbServer) -> None:
    """Frames 2 and 3 queued behind frame 1 while the TSDB is away: when frame 1's write
    gives up, they must not be written once the TSDB is back (frame 1's resend would then
    be refused as going back in time, and lost)."""
    collector = CollectorThread(**remote_config(vm, tsdb_write_deadline_seconds=4.0)).start()
    try:
        t0 = time.time_ns() - 10**9
        frames = [good_frame(seq, devices=1, t0_ns=t0 + seq * 10**9) for seq in (1, 2, 3)]
        stream = open_node(collector.grpc_target, "queued-node")
        send(stream, good_frame(4, devices=1, t0_ns=t0 - 10**9))  # the node is known
        vm.stop()
        for frame in frames:
            stream.send_frame(frame)
        assert stream.error().code() == grpc.StatusCode.UNAVAILABLE  # frame 1 gave up
        vm.start()  # while frames 2 and 3 may still be retried
        stream.close()
        wait_until(lambda: httpx.get(f"{collector.http_base}/readyz").status_code == 200,
                   what="the collector to write again")
        again = open_node(collector.grpc_target, "queued-node")
        for frame in frames:  # the agent's resend, oldest first
            send(again, frame)
        again.close()
        searchable(vm)
        held = vm.samples('gputel_store_gpu_util{node="queued-node"}', "1m",
                          at=(t0 + 5 * 10**9) / 1e9)
        (samples,) = held.values()
        assert len(samples) == 4 * 3, "every tick of the four frames, once"
    finally:
        collector.stop()
