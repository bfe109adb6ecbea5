"""Agent -> real gRPC stream -> collector -> query, on simulated GPUs."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.servers import CollectorThread, get_json, running_agent, wait_sampled

TICKS, GPUS = 25, 4


def test_every_sample_arrives_exactly_once_with_the_sim_values(collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, gpus=GPUS, rate_hz=10, max_ticks=TICKS) as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10), "every frame should be acknowledged"
    backend = agent.backend
    n_metrics = len(backend.metrics())
    store = collector.collector.store
    assert store.sample_count("node-a") == TICKS * GPUS * n_metrics
    assert collector.collector.ingest.stats.duplicates == 0

    ticks = backend.ticks  # type: ignore[attr-defined]
    first, last = ticks[0][0], ticks[-1][0]
    period = ticks[1][0] - ticks[0][0]
    with grpc.insecure_channel(collector.grpc_target) as channel:
        stub = pb_grpc.QueryServiceStub(channel)
        for col, metric in enumerate(backend.metrics()):
            answer = stub.QueryRange(pb.QueryRangeRequest(
                node="node-a", metric=metric, start_ns=first, end_ns=last, step_ns=period,
                agg="last"))
            assert len(answer.gpus) == GPUS
            for series in answer.gpus:
                expected = np.array([v[series.index, col] for _, v in ticks], dtype=np.float64)
                assert list(series.ts_ns) == [t for t, _ in ticks]
                np.testing.assert_array_equal(np.array(series.values), expected.astype(float))


def test_ticks_are_evenly_spaced_at_100_hz(collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, gpus=2, rate_hz=100, max_ticks=150,
                       flush_seconds=0.5) as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10)
    ts = np.array([t for t, _ in agent.backend.ticks])  # type: ignore[attr-defined]
    assert ts.size + agent.sampler.stats.ticks_missed >= 150  # type: ignore[union-attr]
    gaps = np.diff(ts)
    # Every gap is a whole number of 10 ms periods: the schedule never drifts.
    assert np.all(gaps % 10_000_000 == 0)
    assert collector.collector.store.sample_count("node-a") == ts.size * 2 * 8


def test_nodes_api_lists_the_node_with_its_gpus(collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, node="gpu-node-1", gpus=3, max_ticks=5) as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10)
    status, body = get_json(f"{collector.http_base}/api/v1/nodes")
    assert status == 200
    (node,) = body["data"]
    assert node["name"] == "gpu-node-1"
    assert node["gpuCount"] == 3
    assert node["samplesIngested"] == 5 * 3 * 8
    status, gpus = get_json(f"{collector.http_base}/api/v1/nodes/gpu-node-1/gpus")
    assert status == 200
    assert [g["uuid"] for g in gpus["data"]] == [d.uuid for d in agent.backend.devices()]
    last_values = agent.backend.ticks[-1][1]  # type: ignore[attr-defined]
    for gpu in gpus["data"]:
        assert gpu["latest"]["power"] == pytest.approx(float(last_values[gpu["index"], 4]))
    status, detail = get_json(f"{collector.http_base}/api/v1/nodes/gpu-node-1")
    assert status == 200
    assert len(detail["data"]["gpus"]) == 3


def test_agent_serves_metrics_and_probes(collector: CollectorThread) -> None:
    import httpx  # noqa: PLC0415

    with running_agent(collector.grpc_target, node="probe-node", gpus=2, rate_hz=20) as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 1, timeout=20)
        assert agent.http is not None
        base = f"http://127.0.0.1:{agent.http.port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json()["collectorConnected"] is True
        text = httpx.get(f"{base}/metrics").text
        assert 'gputel_gpu_power_watts{gpu="1",model=' in text
        assert "gputel_agent_frames_acked_total" in text
        assert "process_resident_memory_bytes" in text
        assert httpx.get(f"{base}/nope").status_code == 404
