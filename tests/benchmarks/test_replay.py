"""The benchmarks' stream replay reports a stream that ends while its window is full instead
of waiting forever for acknowledgements that cannot come (the suite's scale row once hung
so when the collector's streams were cancelled)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from benchmarks.ingest import WINDOW, encode_node, replay
from benchmarks.suite import data
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

HANG_GUARD_S = 60.0  # far beyond the moment the stream ends


class _FullWindowThenGone(pb_grpc.IngestServiceServicer):
    """Welcomes, then reads a whole window of frames without acknowledging any, then ends
    the stream: the replay's writer is waiting for credit by then."""

    async def Stream(self, request_iterator: AsyncIterator[pb.AgentMessage],
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CollectorMessage]:
        frames = 0
        async for message in request_iterator:
            if message.WhichOneof("kind") == "hello":
                yield pb.CollectorMessage(welcome=pb.Welcome())
                continue
            frames += 1
            if frames == WINDOW:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "gone with a full window")


async def _replay_against_it(messages: list[pb.AgentMessage]) -> int:
    server = grpc.aio.server()
    pb_grpc.add_IngestServiceServicer_to_server(_FullWindowThenGone(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        return await asyncio.wait_for(replay(f"127.0.0.1:{port}", messages), HANG_GUARD_S)
    finally:
        await server.stop(None)


def test_a_stream_ended_with_its_window_full_is_reported_not_waited_for() -> None:
    messages = encode_node(data.node(0, 2 * WINDOW, time.time_ns()))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        asyncio.run(_replay_against_it(messages))
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert ended.value.details() == "gone with a full window"
