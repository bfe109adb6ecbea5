"""A node's GPUs share one copy of their timestamps per frame, and only with a collector
that says it decodes that: an older collector gets every block with its own."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import CORE_METRICS
from tests.harness.proxy import TcpProxy
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.scripted import Answer, ScriptedCollector
from tests.harness.servers import CollectorThread, running_agent, wait_sampled


@pytest.mark.parametrize("shares", [True, False])
def test_the_agent_shares_timestamps_only_with_a_collector_that_says_so(shares: bool) -> None:
    server = ScriptedCollector(lambda n: Answer(shared_timestamps=shares))
    try:
        with running_agent(server.target, gpus=4, rate_hz=20, flush_seconds=0.1) as agent:
            assert agent.outbox.wait(lambda s: s.frames_acked >= 3, timeout=10)
        call = server.next_call()
    finally:
        server.stop()
    assert len(call.frames) >= 3
    for frame in call.frames:
        owners = [b.ts_of_block for b in frame.blocks]
        if shares:
            assert owners == [0, 1, 1, 1]  # one copy, the first block's
            assert all(not b.ts_delta_ns for b in frame.blocks[1:])
        else:
            assert owners == [0, 0, 0, 0]
            assert all(len(b.ts_delta_ns) == len(frame.blocks[0].ts_delta_ns)
                       for b in frame.blocks)


def test_a_shared_frame_decodes_like_its_unshared_copy() -> None:
    frame = good_frame(1, ticks=5, devices=3)
    shared = pb.Frame()
    shared.CopyFrom(frame)
    frames.share_timestamps(shared.blocks)
    assert [b.ts_of_block for b in shared.blocks] == [0, 1, 1]
    assert shared.ByteSize() < frame.ByteSize()
    for a, b in zip(frames.decode_frame(frame, 3, CORE_METRICS),
                    frames.decode_frame(shared, 3, CORE_METRICS),
                    strict=True):
        np.testing.assert_array_equal(a.ts_ns, b.ts_ns)
        np.testing.assert_array_equal(a.values, b.values)
    restored = pb.Frame()
    restored.CopyFrom(shared)
    assert frames.unshare_timestamps(restored)
    assert restored == frame


def _pointing(at: int, own_timestamps: bool = False) -> pb.Frame:
    frame = good_frame(2, devices=3)
    block = frame.blocks[1]
    block.ts_of_block = at
    if not own_timestamps:
        block.ClearField("base_ts_ns")
        block.ClearField("ts_delta_ns")
        block.ClearField("ts_step_ns")
    return frame


def _chained() -> pb.Frame:
    frame = _pointing(1)
    third = frame.blocks[2]
    third.ts_of_block = 2
    third.ClearField("base_ts_ns")
    third.ClearField("ts_delta_ns")
    third.ClearField("ts_step_ns")
    return frame


@pytest.mark.parametrize(("frame", "words"), [
    (_pointing(2), "not an earlier block"),  # itself
    (_pointing(3), "not an earlier block"),  # a later one
    (_pointing(99), "not an earlier block"),
    (_pointing(1, own_timestamps=True), "has its own"),
    (_chained(), "shares another's"),
], ids=["itself", "later", "beyond", "both", "chain"])
def test_a_bad_timestamp_reference_is_refused_naming_it(collector: CollectorThread,
                                                        frame: pb.Frame, words: str) -> None:
    raw = RawStream(collector.grpc_target)
    try:
        raw.send_hello(hello())
        assert raw.answer().welcome.shared_timestamps
        raw.send_frame(good_frame(1))
        assert raw.answer().ack.seq == 1
        raw.send_frame(frame)
        err = raw.error()
    finally:
        raw.close()
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert words in (err.details() or "")
    assert collector.collector.store.sample_count("raw-node") == 2 * 8 * 3  # the good frame


def _bytes_sent(collector: CollectorThread, node: str, compression: str) -> int:
    """Bytes an agent of 8 GPUs sends for 60 ticks, counted by a proxy in front of the
    collector, once every frame is acknowledged."""
    proxy = TcpProxy(int(collector.grpc_target.rsplit(":", 1)[1]))
    try:
        with running_agent(proxy.target, node=node, gpus=8, rate_hz=50, max_ticks=60,
                           flush_seconds=0.2, stream_compression=compression) as agent:
            assert wait_sampled(agent, timeout=20)
            assert agent.stop(drain_timeout=10), "every frame acknowledged"
        return proxy.bytes_up
    finally:
        proxy.close()


def test_frames_go_gzip_compressed_and_arrive_whole(collector: CollectorThread) -> None:
    plain = _bytes_sent(collector, "plain-node", "none")
    packed = _bytes_sent(collector, "packed-node", "gzip")
    assert packed < 0.8 * plain, (packed, plain)
    store = collector.collector.store
    assert store.sample_count("packed-node") == store.sample_count("plain-node") == 60 * 8 * 8
