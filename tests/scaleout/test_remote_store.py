"""One collector over a real TSDB: ingest acknowledged after the TSDB's 2xx, answers read
back through the Prometheus query API (VictoriaMetrics and Prometheus alike)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import numpy as np

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.servers import CollectorThread, get_json, running_agent, wait_sampled, wait_until
from tests.harness.tsdb import remote_config
from tests.prometheus.promserver import TsdbServer

TICKS, GPUS = 30, 2


def test_every_tick_is_in_the_tsdb_and_read_back_exactly(
        tsdb: TsdbServer, remote_collectors: Callable[..., CollectorThread]) -> None:
    collector = remote_collectors()
    with running_agent(collector.grpc_target, gpus=GPUS, rate_hz=10, max_ticks=TICKS,
                       attribution="sim") as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10), "every frame should be acknowledged"
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    metrics = agent.backend.metrics()
    stamps_ms = [t // 1_000_000 for t, _ in ticks]
    # Acknowledged means in the TSDB: counted there, by the TSDB itself.
    if hasattr(tsdb, "flush"):
        tsdb.flush()
    held = tsdb.samples('{__name__=~"gputel_store_.+"}', "10m", at=ticks[-1][0] / 1e9 + 1)
    counted = sum(len(samples) for samples in held.values())
    expected = sum(int(np.count_nonzero(~np.isnan(v))) for _, v in ticks)
    assert counted == expected
    with grpc.insecure_channel(collector.grpc_target) as channel:
        stub = pb_grpc.QueryServiceStub(channel)
        for col, metric in enumerate(metrics):
            answer = stub.QueryRange(pb.QueryRangeRequest(
                node="node-a", metric=metric, start_ns=stamps_ms[0] * 10**6,
                end_ns=stamps_ms[-1] * 10**6, step_ns=100_000_000, agg="last"))
            assert len(answer.gpus) == GPUS
            for series in answer.gpus:
                want = np.array([v[series.index, col] for _, v in ticks], dtype=np.float64)
                keep = ~np.isnan(want)
                assert [t // 10**6 for t in series.ts_ns] == list(
                    np.array(stamps_ms)[keep]), metric
                np.testing.assert_array_equal(np.array(series.values), want[keep])
    base = collector.http_base
    status, nodes = get_json(f"{base}/api/v1/nodes")
    assert status == 200
    (node,) = nodes["data"]
    assert node["name"] == "node-a"
    assert node["gpuCount"] == GPUS
    last = ticks[-1][1]
    want = {i: float(last[i, 4]) for i in range(GPUS)}

    def newest_power() -> dict[int, float]:
        _, got = get_json(f"{base}/api/v1/nodes/node-a/gpus")
        return {g["index"]: g["latest"].get("power") for g in got["data"]}

    # The newest values are cached for 0.5 s: wait for a fetch after the last frame.
    wait_until(lambda: newest_power() == want, timeout=10, what="the newest power values")
    status, health = get_json(f"{base}/api/v1/health")
    assert status == 200
    assert health["data"]["store"]["kind"] == "remote"
    assert health["data"]["store"]["status"] == "ok"
    assert health["data"]["store"]["samples"] > 0
    status, workloads = get_json(f"{base}/api/v1/workloads")
    assert status == 200
    assert workloads["data"], "simulated pods hold the GPUs"


def test_a_second_collector_answers_the_same(
        tsdb: TsdbServer, remote_collectors: Callable[..., CollectorThread]) -> None:
    first, second = remote_collectors(), remote_collectors()
    with running_agent(first.grpc_target, gpus=GPUS, rate_hz=10, max_ticks=TICKS,
                       attribution="sim") as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10)
    routes = ["/api/v1/nodes", "/api/v1/nodes/node-a/gpus", "/api/v1/workloads",
              "/api/v1/namespaces"]

    def same() -> bool:
        return all(_stable(get_json(first.http_base + r)) == _stable(get_json(
            second.http_base + r)) for r in routes)

    wait_until(same, timeout=30, interval=0.2, what="both collectors to agree")
    _, workloads = get_json(second.http_base + "/api/v1/workloads")
    assert workloads["data"]
    assert all(w["energyJoules"] > 0 for w in workloads["data"])


def _stable(answer: tuple[int, dict]) -> tuple[int, object]:
    """An answer without what differs by the instant it was asked (meta times)."""
    status, body = answer
    return status, body.get("data")


def test_a_stopped_collector_leaves_no_connection_to_the_tsdb_open(tsdb: TsdbServer) -> None:
    collector = CollectorThread(**remote_config(tsdb)).start()
    status, _ = get_json(f"{collector.http_base}/api/v1/nodes")  # reads through the TSDB
    assert status == 200
    client = collector.collector.tsdb
    assert client is not None
    collector.stop()
    # Left open, its pooled sockets were closed only by the garbage collector, each with
    # a ResourceWarning (which failed whichever later test it landed in).
    assert client._client.is_closed
