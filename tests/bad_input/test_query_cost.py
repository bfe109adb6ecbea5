"""One query's cost is bounded, and so is the number of costly queries at once (issue 11
item 10: a range over a 1,024-GPU node took 4.5 s and 16 MB; four at once 25 s each)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import httpx
import pytest

from gputel.collector.query.limits import QueryLimits
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.servers import CollectorThread

GPUS, TICKS, FRAMES = 8, 100, 3  # 300 samples per GPU and metric, 100 ms apart
LIMITS = QueryLimits(max_series_points=1000, max_samples=1000, max_concurrent=1,
                     queue_seconds=0.1)


@pytest.fixture(scope="module")
def fed() -> Iterator[tuple[CollectorThread, int]]:
    server = CollectorThread(query_limits=LIMITS, rate_limit_per_second=0).start()
    raw = RawStream(server.grpc_target)
    # Whole seconds, so start=t0/1e9 names t0 exactly: the point at t0 holds its sample.
    t0 = (time.time_ns() // 10**9 - 1) * 10**9 - FRAMES * TICKS * 100_000_000
    raw.send_hello(hello(node="big", n_devices=GPUS))
    assert raw.answer().WhichOneof("kind") == "welcome"
    for seq in range(1, FRAMES + 1):
        raw.send_frame(good_frame(seq, TICKS, GPUS, t0 + (seq - 1) * TICKS * 100_000_000))
        assert raw.answer().ack.seq == seq
    raw.close()
    yield server, t0
    server.stop()


def _range(server: CollectorThread, **params: object) -> httpx.Response:
    return httpx.get(f"{server.http_base}/api/v1/nodes/big/metrics",
                     params={"metric": "power", **params}, timeout=10)


def _grpc_range(server: CollectorThread, **fields: object) -> pb.QueryRangeResponse:
    with grpc.insecure_channel(server.grpc_target) as channel:
        request = pb.QueryRangeRequest(node="big", metric="power", **fields)  # type: ignore[arg-type]
        return pb_grpc.QueryServiceStub(channel).QueryRange(request, timeout=10)


def test_too_many_series_x_points_is_refused_naming_the_limit_and_the_way_out(
        fed: tuple[CollectorThread, int]) -> None:
    server, t0 = fed
    end = t0 + 20 * 10**9  # 201 points at 100 ms x 9 series (8 GPUs + the node) > 1000
    answer = _range(server, start=t0 / 1e9, end=end / 1e9, step="100ms")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "INVALID_PARAMETER"
    assert error["details"] == {"parameter": "step"}
    assert "1000" in error["message"]
    assert "--query-max-series-points" in error["message"]
    assert "one GPU" in error["message"]
    with pytest.raises(grpc.RpcError) as refused:
        _grpc_range(server, start_ns=t0, end_ns=end, step_ns=100_000_000)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "--query-max-series-points" in (refused.value.details() or "")
    one_gpu = _range(server, start=t0 / 1e9, end=end / 1e9, step="100ms", gpu="0")
    assert one_gpu.status_code == 200


def test_a_defaulted_step_fits_the_limit(fed: tuple[CollectorThread, int]) -> None:
    server, t0 = fed
    answer = _range(server, start=t0 / 1e9, end=(t0 + 10 * 10**9) / 1e9)  # 808 samples
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["data"]["gpus"]) == GPUS
    assert body["meta"]["points"] > LIMITS.max_series_points // (GPUS + 1) // 2
    assert body["meta"]["points"] <= LIMITS.max_series_points


def test_a_range_that_reads_too_many_samples_is_refused(
        fed: tuple[CollectorThread, int]) -> None:
    server, t0 = fed
    before = server.collector.query.gate.refused["too_large"]
    # 10 points x 9 series is small, but 8 GPUs x 300 samples > 1000 are read
    answer = _range(server, start=t0 / 1e9, end=(t0 + 30 * 10**9) / 1e9, step="3s")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["details"] == {"parameter": "range"}
    assert "--query-max-samples" in error["message"]
    assert server.collector.query.gate.refused["too_large"] == before + 1
    one_gpu = _range(server, start=t0 / 1e9, end=(t0 + 30 * 10**9) / 1e9, step="3s", gpu="3")
    assert one_gpu.status_code == 200
    assert one_gpu.json()["meta"]["points"] == 11  # t0, t0 + 3 s, ..., t0 + 30 s


def test_beyond_the_concurrent_slots_a_costly_query_waits_then_is_refused(
        fed: tuple[CollectorThread, int]) -> None:
    server, _ = fed
    gate = server.collector.query.gate
    busy = gate.refused["busy"]
    with gate.heavy(1, 1):  # the one slot is taken
        answer = _range(server, gpu="0")
        with pytest.raises(grpc.RpcError) as refused:
            _grpc_range(server, gpu="0")
        heatmap = httpx.get(f"{server.http_base}/api/v1/heatmap", timeout=10)
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "RATE_LIMITED"
    assert "--query-max-concurrent" in answer.json()["error"]["message"]
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert heatmap.status_code == 429
    assert gate.refused["busy"] == busy + 3
    assert gate.running == 0
    assert _range(server, gpu="0").status_code == 200  # the slot is free again
    metrics = httpx.get(f"{server.http_base}/metrics", timeout=10).text
    assert f'gputel_collector_queries_refused_total{{reason="busy"}} {busy + 3}.0' in metrics
