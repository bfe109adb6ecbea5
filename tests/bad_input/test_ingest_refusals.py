"""Malformed ingest gets INVALID_ARGUMENT on its own stream; other agents' streams go on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import numpy as np
import pytest

from gputel.proto import frames
from gputel.proto.contract import BAD_SEQ_KEY
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.servers import CollectorThread, running_agent


@pytest.fixture
def raw(collector: CollectorThread) -> Iterator[RawStream]:
    stream = RawStream(collector.grpc_target)
    yield stream
    stream.close()


def _welcomed(raw: RawStream, **fields: object) -> None:
    raw.send_hello(hello(**fields))
    assert raw.answer().WhichOneof("kind") == "welcome"


def _with_values(frame: pb.Frame, value: float) -> pb.Frame:
    block = frame.blocks[0]
    vals = np.frombuffer(block.values, dtype="<f4").copy()
    vals[1] = value
    block.values = vals.tobytes()
    return frame


def _drop_one_value_byte(frame: pb.Frame) -> pb.Frame:
    frame.blocks[0].values = frame.blocks[0].values[:-1]
    return frame


def _device_out_of_range(frame: pb.Frame) -> pb.Frame:
    frame.blocks[0].device = 7
    return frame


def _backwards_time(frame: pb.Frame) -> pb.Frame:
    block = frame.blocks[0]
    block.ts_delta_ns[2] = -5 - block.ts_step_ns  # decoding adds the step back: 5 ns back
    return frame


def _metric_out_of_range(frame: pb.Frame) -> pb.Frame:
    frame.blocks[0].metrics[0] = 99
    return frame


def _inventory(frame: pb.Frame, **fields: object) -> pb.Frame:
    frame.inventory.append(pb.GpuInventory(**fields))  # type: ignore[arg-type]
    return frame


def _processes(frame: pb.Frame, n: int, name: str = "p") -> pb.Frame:
    frame.processes.append(pb.DeviceProcesses(device=0, processes=[
        pb.GpuProcess(pid=i, name=name) for i in range(n)]))
    return frame


BAD_FRAMES: dict[str, tuple[Callable[[pb.Frame], pb.Frame], str]] = {
    "inventory of an unknown device": (lambda f: _inventory(f, device=9), "device position"),
    "inventory string too long": (lambda f: _inventory(f, serial="x" * 300), "256"),
    "inventory not finite": (lambda f: _inventory(f, power_limit_watts=float("nan")),
                             "finite"),
    "too many processes": (lambda f: _processes(f, 1025), "at most 1024"),
    "process name too long": (lambda f: _processes(f, 1, "y" * 257), "256"),
    "infinite value": (lambda f: _with_values(f, float("inf")), "infinite"),
    "short values": (_drop_one_value_byte, "bytes"),
    "unknown device": (_device_out_of_range, "device 7"),
    "time goes back": (_backwards_time, "increase"),
    "unknown metric index": (_metric_out_of_range, "metric 99"),
    "no sequence number": (lambda f: pb.Frame(blocks=f.blocks), "seq"),
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
def test_a_malformed_frame_is_invalid_argument_naming_it(raw: RawStream,
                                                         collector: CollectorThread,
                                                         case: str) -> None:
    mutate, words = BAD_FRAMES[case]
    _welcomed(raw)
    raw.send_frame(good_frame(1))
    assert raw.answer().ack.seq == 1
    bad = mutate(good_frame(2))
    raw.send_frame(bad)
    err = raw.error()
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert words in err.details()
    if bad.seq:
        assert ("gputel-bad-seq", str(bad.seq)) in tuple(err.trailing_metadata())
    # The good frame is kept; nothing of the bad one is.
    assert collector.collector.store.sample_count("raw-node") == 2 * 8 * 3


@pytest.mark.parametrize(("fields", "words"), [
    ({"protocol_version": 0}, "protocol version"),
    ({"node": ""}, "node name"),
    ({"node": "bad node/../name"}, "node name"),
    ({"agent_instance": ""}, "agent_instance"),
    ({"devices": [pb.Device(uuid="GPU-x"), pb.Device(uuid="GPU-x")]}, "unique uuid"),
    ({"metrics": []}, "metrics"),
    ({"sample_rate_hz": -1.0}, "sample_rate_hz"),
    ({"inventory": [pb.GpuInventory(device=5)]}, "device position"),
])
def test_a_bad_hello_is_refused(raw: RawStream, fields: dict[str, object], words: str) -> None:
    raw.send_hello(hello(**fields))
    err = raw.error()
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert words in err.details()


def test_a_frame_before_hello_is_refused(raw: RawStream) -> None:
    raw.send_frame(good_frame(1))
    err = raw.error()
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "hello" in err.details()


@pytest.mark.parametrize(("offset_s", "code", "words"), [
    (3600, grpc.StatusCode.OUT_OF_RANGE, "ahead"),
    (-3 * 86400, grpc.StatusCode.INVALID_ARGUMENT, "behind")])
def test_timestamps_far_from_now_are_refused_naming_the_frame(
        raw: RawStream, offset_s: int, code: grpc.StatusCode, words: str) -> None:
    """Ahead: OUT_OF_RANGE, the frame is sound and will be acceptable once the clocks agree,
    so the agent keeps it. Behind: INVALID_ARGUMENT, it never will be, so the agent drops it."""
    _welcomed(raw)
    raw.send_frame(good_frame(1, t0_ns=time.time_ns() + offset_s * 10**9))
    err = raw.error()
    assert err.code() is code
    assert words in err.details()
    assert (BAD_SEQ_KEY, "1") in tuple(err.trailing_metadata())


def test_a_resent_frame_is_acknowledged_but_stored_once(raw: RawStream,
                                                        collector: CollectorThread) -> None:
    _welcomed(raw)
    frame = good_frame(1)
    raw.send_frame(frame)
    assert raw.answer().ack == pb.Ack(seq=1, duplicate=False)
    raw.send_frame(frame)
    assert raw.answer().ack == pb.Ack(seq=1, duplicate=True)
    assert collector.collector.store.sample_count("raw-node") == 2 * 8 * 3


def test_bad_streams_leave_a_good_agent_untouched(collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, gpus=2, rate_hz=20, flush_seconds=0.1) as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 2, timeout=20)
        for attempt in range(5):
            raw = RawStream(collector.grpc_target)
            raw.send_hello(hello(node=f"bad-{attempt}"))
            raw.answer()
            raw.send_frame(_with_values(good_frame(1), float("-inf")))
            assert raw.error().code() is grpc.StatusCode.INVALID_ARGUMENT
            raw.close()
        acked = agent.outbox.stats.frames_acked
        assert agent.outbox.wait(lambda s: s.frames_acked >= acked + 3, timeout=20)
        assert agent.stream is not None
        assert agent.stream.stats.connects == 1, "the good stream never broke"
        assert agent.stream.stats.connected


def test_the_agent_drops_a_rejected_frame_and_goes_on(collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, gpus=2, rate_hz=20, flush_seconds=0.1) as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 2, timeout=20)
        ts = np.array([time.time_ns()], dtype=np.int64)
        poison = frames.encode_block(5, (0,), ts, np.zeros((1, 1), dtype=np.float32))
        agent.outbox.put([poison], ticks=1)
        assert agent.outbox.wait(lambda s: s.frames_rejected == 1, timeout=20)
        acked = agent.outbox.stats.frames_acked
        assert agent.outbox.wait(lambda s: s.frames_acked >= acked + 3, timeout=20)
    assert agent.outbox.stats.frames_dropped == 0
