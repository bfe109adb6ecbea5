"""Property-based hostile ingest: whatever an agent sends, the collector answers every stream
with acknowledgements or a clear status, never crashes, and a good agent loses nothing."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.harness.raw_stream import RawStream, hello
from tests.harness.servers import CollectorThread, running_agent

int64 = st.integers(-(2**63), 2**63 - 1)
_NODES = itertools.count()
# Malformed, timestamps ahead of the collector's clock, a second live stream for one node.
REFUSALS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE,
            grpc.StatusCode.ALREADY_EXISTS)
floats32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@st.composite
def blocks(draw: st.DrawFn) -> pb.DeviceBlock:
    n = draw(st.integers(0, 6))
    metrics = draw(st.lists(st.integers(0, 12), min_size=0, max_size=4))
    values = draw(st.lists(floats32, min_size=0, max_size=len(metrics) * n + 2))
    if draw(st.booleans()):  # often the right length, so deeper checks are reached
        values = (values + [0.0] * (len(metrics) * n))[: len(metrics) * n]
    base = draw(st.one_of(st.just(1_800_000_000 * 10**9), st.integers(0, 2**63 - 1)))
    return pb.DeviceBlock(device=draw(st.integers(0, 5)), metrics=metrics, base_ts_ns=base,
                          ts_delta_ns=draw(st.lists(int64, min_size=n, max_size=n)),
                          values=struct.pack(f"<{len(values)}f", *values))


messages = st.one_of(
    st.builds(lambda seq, bs: pb.AgentMessage(frame=pb.Frame(seq=seq, blocks=bs)),
              st.integers(0, 2**64 - 1), st.lists(blocks(), max_size=3)),
    st.just(pb.AgentMessage()),
    st.builds(lambda n: pb.AgentMessage(hello=hello(node=n)), st.text(max_size=20)),
)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[CollectorThread, object]]:
    collector = CollectorThread().start()
    with running_agent(collector.grpc_target, node="good", gpus=2, rate_hz=20,
                       flush_seconds=0.1) as agent:
        yield collector, agent
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    assert agent.outbox.stats.frames_dropped == 0
    assert collector.collector.store.sample_count("good") == len(ticks) * 2 * 8
    assert agent.stream.stats.connects == 1  # type: ignore[union-attr]
    collector.stop()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(batch=st.lists(messages, min_size=1, max_size=4), with_hello=st.booleans())
def test_hostile_messages_get_acks_or_invalid_argument(server: tuple[CollectorThread, object],
                                                       batch: list[pb.AgentMessage],
                                                       with_hello: bool) -> None:
    collector, _agent = server
    raw = RawStream(collector.grpc_target)
    try:
        if with_hello:
            raw.send_hello(hello(node=f"hostile-{next(_NODES)}"))
            assert raw.answer().WhichOneof("kind") == "welcome"
        for message in batch:
            raw.send(message)
        for message in batch:
            try:
                answer = raw.answer()
            except grpc.RpcError as err:
                failed = err
                break
            assert answer.WhichOneof("kind") in ("ack", "welcome")
            if message.WhichOneof("kind") == "frame":
                assert answer.ack.seq == message.frame.seq
        else:
            return
    finally:
        raw.close()
    assert failed.code() in REFUSALS, failed
    assert failed.details()


def test_bytes_that_are_not_protobuf_get_invalid_argument(
        server: tuple[CollectorThread, object]) -> None:
    collector, _agent = server
    with grpc.insecure_channel(collector.grpc_target) as channel:
        call = channel.stream_stream("/gputel.v1.IngestService/Stream",
                                     request_serializer=lambda b: b,
                                     response_deserializer=pb.CollectorMessage.FromString)
        with pytest.raises(grpc.RpcError) as caught:
            list(call(iter([b"\xff\xff\xff\xff garbage"]), timeout=10))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "does not parse" in caught.value.details()
