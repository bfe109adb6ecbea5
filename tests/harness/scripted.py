"""A scripted IngestService on loopback: each stream ends the way the test says.

The agent under test talks to it like to a collector. Every Stream call is recorded
(`calls`: number, monotonic time, Hello) so a test can wait for the n-th connect and check
the gap the agent left between connects; `script(n)` decides what connect n gets.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc


@dataclass(frozen=True)
class Answer:
    """What one connect gets: a Welcome or not, acks for the first `ack` frames, then the
    ending status `code` (None: stay open, acking every frame, until the agent goes)."""

    welcome: bool = True
    collector_time_ns: int | None = None  # None: now; 0: not said
    ack: int = 0
    code: grpc.StatusCode | None = None
    details: str = ""
    trailers: Sequence[tuple[str, str]] = ()
    frame_trailer: str = ""  # a trailing-metadata key whose value is the next frame's seq
    shared_timestamps: bool = False  # the Welcome says so (a collector from before: False)


@dataclass
class Call:
    """One Stream call as the scripted collector saw it."""

    n: int
    at: float
    hello: pb.Hello
    frames: list[pb.Frame] = field(default_factory=list)


class ScriptedCollector(pb_grpc.IngestServiceServicer):
    """Answers connect n with `script(n)` (n from 1)."""

    def __init__(self, script: Callable[[int], Answer]) -> None:
        self.script = script
        self.calls: queue.Queue[Call] = queue.Queue()
        self.acked: list[int] = []  # seqs of every frame acknowledged, in order
        self._n = 0
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_IngestServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def target(self) -> str:
        """HOST:PORT for the agent."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving at once."""
        self._server.stop(grace=None)

    def next_call(self, timeout: float = 20.0) -> Call:
        """The next connect, waiting for it; fails the test after `timeout` seconds."""
        try:
            return self.calls.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the agent did not connect within {timeout} s") from None

    def Stream(self, request_iterator: Iterator[pb.AgentMessage],
               context: grpc.ServicerContext) -> Iterator[pb.CollectorMessage]:
        """Record the connect, then follow the script."""
        with self._lock:
            self._n += 1
            n = self._n
        first = next(request_iterator)
        call = Call(n, time.monotonic(), first.hello)
        self.calls.put(call)
        answer = self.script(n)
        if answer.welcome:
            now = time.time_ns() if answer.collector_time_ns is None else answer.collector_time_ns
            yield pb.CollectorMessage(welcome=pb.Welcome(
                collector_version="scripted", collector_time_ns=now,
                shared_timestamps=answer.shared_timestamps))
        acked = 0
        while answer.code is None or acked < answer.ack:
            message = next(request_iterator, None)
            if message is None:
                return
            call.frames.append(message.frame)
            with self._lock:
                self.acked.append(message.frame.seq)
            acked += 1
            yield pb.CollectorMessage(ack=pb.Ack(seq=message.frame.seq))
        trailers = list(answer.trailers)
        if answer.frame_trailer:
            message = next(request_iterator)
            call.frames.append(message.frame)
            trailers.append((answer.frame_trailer, str(message.frame.seq)))
        context.set_trailing_metadata(tuple(trailers))
        context.abort(answer.code, answer.details)
