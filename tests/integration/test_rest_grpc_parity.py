"""REST and gRPC answer the same range query with the same numbers (one query core)."""

from __future__ import annotations

import grpc
import pytest

from gputel.collector.timefmt import format_time
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.servers import CollectorThread, get_json, running_agent, wait_sampled


@pytest.fixture(scope="module")
def fed() -> tuple[CollectorThread, int, int]:
    server = CollectorThread().start()
    with running_agent(server.grpc_target, gpus=4, rate_hz=20, max_ticks=60,
                       flush_seconds=0.5) as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10)
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    yield server, ticks[0][0], ticks[-1][0]
    server.stop()


def _points(series: pb.Series) -> list[list[object]]:
    return [[format_time(t), v] for t, v in zip(series.ts_ns, series.values, strict=True)]


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "last", "count"])
@pytest.mark.parametrize("metric", ["power", "gpu_util", "temperature", "mem_used"])
def test_same_numbers_over_rest_and_grpc(fed: tuple[CollectorThread, int, int], agg: str,
                                         metric: str) -> None:
    server, first, last = fed
    step_ns = 350_000_000  # not a multiple of the 50 ms period: windows hold 6 or 7 samples
    status, body = get_json(f"{server.http_base}/api/v1/nodes/node-a/metrics", metric=metric,
                            start=format_time(first), end=format_time(last), step="350ms",
                            agg=agg)
    assert status == 200
    with grpc.insecure_channel(server.grpc_target) as channel:
        answer = pb_grpc.QueryServiceStub(channel).QueryRange(pb.QueryRangeRequest(
            node="node-a", metric=metric, start_ns=first, end_ns=last, step_ns=step_ns, agg=agg))
    rest = body["data"]
    assert rest["unit"] == answer.unit
    assert [g["gpu"] for g in rest["gpus"]] == [s.gpu for s in answer.gpus]
    for rest_series, grpc_series in zip(rest["gpus"], answer.gpus, strict=True):
        assert rest_series["points"] == _points(grpc_series)
        assert len(grpc_series.values) > 5
    assert rest["nodeTotal"]["points"] == _points(answer.node_total)
    assert body["meta"]["points"] == sum(len(s.values) for s in answer.gpus)
