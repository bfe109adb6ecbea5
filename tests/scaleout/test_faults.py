"""A remote-store collector SIGKILLed and restarted over the same TSDB answers the same; the
TSDB away for a while: acknowledgements stop, agents keep their frames, /readyz and
/metrics say so, and every tick arrives once when it returns."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

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


def test_a_tsdb_outage_holds_acknowledgements_and_loses_nothing(vm: TsdbServer) -> None:
    collector = CollectorThread(**remote_config(vm, tsdb_write_deadline_seconds=1.0)).start()
    base = collector.http_base
    try:
        with running_agent(collector.grpc_target, gpus=GPUS, rate_hz=20, max_ticks=400,
                           flush_seconds=0.1) as agent:
            stats = agent.outbox.stats
            assert agent.outbox.wait(lambda s: s.frames_acked >= 5, timeout=30)
            # Stopped, not SIGKILLed: VictoriaMetrics single-node loses the last ~second it
            # accepted on a crash (its own durability; README), which no collector can see.
            vm.stop()
            wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 503,
                       what="/readyz to say the store is failing")
            metrics = httpx.get(f"{base}/metrics").text
            assert "gputel_collector_tsdb_writing 0.0" in metrics
            assert "gputel_collector_store_readable 0.0" in metrics
            _, health = get_json(f"{base}/api/v1/health")
            assert health["data"]["store"]["status"] == "failing"
            held, held_ticks = stats.frames_acked, stats.ticks_acked
            # The agent keeps sampling; nothing more is acknowledged while the TSDB is away.
            assert agent.outbox.wait(lambda s: s.frames_queued >= held + 40, timeout=30)
            assert stats.frames_acked == held
            vm.start()
            assert wait_sampled(agent, timeout=60)
            assert agent.stop(drain_timeout=30), "everything drains once the TSDB is back"
            assert stats.frames_dropped == 0
        wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200,
                   what="/readyz to recover")
        stored, expected, missing = stored_ticks(vm, agent.backend.ticks)  # type: ignore[attr-defined]
        assert stored == expected, (
            f"every tick stored exactly once; missing {missing}, {held_ticks} acknowledged "
            f"before the outage; agent {stats}; collector refused "
            f"{dict(collector.collector.ingest.stats.rejected)}, took "
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
