"""gRPC reflection needs the query token once tokens are configured; health stays open
(issue 11 item 15: reflection and health were open without mTLS)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.harness.servers import CollectorThread

TOKEN = "reflection-test-token"


@pytest.fixture(scope="module")
def guarded() -> Iterator[CollectorThread]:
    server = CollectorThread(api_tokens=f"{TOKEN}:read").start()
    yield server
    server.stop()


def _list_services(target: str, token: str | None) -> list[str]:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with grpc.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            metadata=metadata, timeout=10)
        return [s.name for a in answers for s in a.list_services_response.service]


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_reflection_without_a_known_token_is_unauthenticated(guarded: CollectorThread,
                                                              token: str | None) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _list_services(guarded.grpc_target, token)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_reflection_with_a_token_lists_the_services(guarded: CollectorThread) -> None:
    assert "gputel.v1.QueryService" in _list_services(guarded.grpc_target, TOKEN)


def test_health_stays_open_for_probes(guarded: CollectorThread) -> None:
    with grpc.insecure_channel(guarded.grpc_target) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_without_tokens_reflection_is_open(collector: CollectorThread) -> None:
    assert "gputel.v1.IngestService" in _list_services(collector.grpc_target, None)
