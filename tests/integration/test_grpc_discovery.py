"""Other gRPC clients find their way: server reflection lists the services, and the standard
health service answers SERVING (what grpcurl and Kubernetes gRPC probes use)."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.harness.servers import CollectorThread


def test_reflection_lists_and_describes_the_services(collector: CollectorThread) -> None:
    with grpc.insecure_channel(collector.grpc_target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(stub.ServerReflectionInfo(iter([
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="gputel.v1.QueryService")])))
    names = {s.name for s in answers[0].list_services_response.service}
    assert {"gputel.v1.IngestService", "gputel.v1.QueryService",
            "grpc.health.v1.Health"} <= names
    assert answers[1].file_descriptor_response.file_descriptor_proto  # a client can decode us


def test_health_says_serving(collector: CollectorThread) -> None:
    with grpc.insecure_channel(collector.grpc_target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "gputel.v1.IngestService", "gputel.v1.QueryService"):
            answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
