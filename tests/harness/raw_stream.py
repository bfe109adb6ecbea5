"""A hand-driven ingest stream: send exactly the messages a test chooses, read each answer."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import grpc
import numpy as np

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from gputel.proto.metrics import CORE_METRICS

_END = object()


def hello(node: str = "raw-node", n_devices: int = 2, **fields: object) -> pb.Hello:
    """A valid Hello for `devices` GPUs and the core metrics; fields override."""
    base: dict[str, object] = {
        "protocol_version": pb.PROTOCOL_VERSION_1, "node": node, "agent_instance": "raw-1",
        "devices": [pb.Device(index=i, uuid=f"GPU-raw-{i}", vendor="sim", model="Raw")
                    for i in range(n_devices)],
        "metrics": list(CORE_METRICS), "backend": "sim", "sample_rate_hz": 10.0}
    return pb.Hello(**{**base, **fields})  # type: ignore[arg-type]


def good_frame(seq: int, ticks: int = 3, devices: int = 2, t0_ns: int | None = None) -> pb.Frame:
    """A valid frame: every device, every core metric, `ticks` ticks 100 ms apart."""
    start = time.time_ns() if t0_ns is None else t0_ns
    ts = start + 100_000_000 * np.arange(ticks, dtype=np.int64)
    metrics = tuple(range(len(CORE_METRICS)))
    values = np.arange(len(metrics) * ticks, dtype=np.float32).reshape(len(metrics), ticks)
    blocks = [frames.encode_block(d, metrics, ts, values) for d in range(devices)]
    return pb.Frame(seq=seq, blocks=blocks)


class RawStream:
    """One ingest stream whose requests the test feeds one by one."""

    def __init__(self, target: str, credentials: grpc.ChannelCredentials | None = None,
                 metadata: tuple[tuple[str, str], ...] | None = None,
                 options: tuple[tuple[str, object], ...] = ()) -> None:
        self._channel = (grpc.secure_channel(target, credentials, options) if credentials
                         else grpc.insecure_channel(target, options))
        self._requests: queue.Queue[object] = queue.Queue()
        self._answers = pb_grpc.IngestServiceStub(self._channel).Stream(self._iterate(),
                                                                         metadata=metadata)

    def _iterate(self) -> Iterator[pb.AgentMessage]:
        while (item := self._requests.get()) is not _END:
            yield item  # type: ignore[misc]

    def send(self, message: pb.AgentMessage) -> None:
        self._requests.put(message)

    def send_hello(self, msg: pb.Hello) -> None:
        self.send(pb.AgentMessage(hello=msg))

    def send_frame(self, frame: pb.Frame) -> None:
        self.send(pb.AgentMessage(frame=frame))

    def answer(self) -> pb.CollectorMessage:
        """The next answer; raises grpc.RpcError when the collector ended the stream."""
        return next(self._answers)  # type: ignore[call-overload]

    def error(self) -> grpc.RpcError:
        """Read until the stream fails; return its error."""
        try:
            while True:
                self.answer()
        except grpc.RpcError as err:
            return err
        except StopIteration:
            raise AssertionError("the stream ended without an error") from None

    def close(self) -> None:
        self._requests.put(_END)
        self._answers.cancel()  # type: ignore[attr-defined]
        self._channel.close()
