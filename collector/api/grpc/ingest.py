"""gRPC transport (grpc.aio): the ingest stream, and the one mapping of errors to status codes.

The QueryService lives in api.grpc.query.

Nothing an agent sends is parsed or decoded on the event loop: messages arrive as bytes
and are parsed, validated and decoded in a small worker pool, so one huge or hostile
message cannot stall the loop that serves every stream and the HTTP API.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from prometheus_client import Histogram

from gputel.collector.api.grpc.burst import BurstHandoff
from gputel.collector.api.grpc.security import NodeBinding
from gputel.collector.errors import (
    GputelError,
    IdentityError,
    InvalidFrameError,
    LimitError,
    UnavailableError,
)
from gputel.collector.ingest.backpressure import ByteBudget, MemoryGuard
from gputel.collector.ingest.core import IngestCore, Prepared, Session
from gputel.collector.storage.durable import StorageError
from gputel.proto.contract import BAD_SEQ_KEY, RETRY_AFTER_KEY
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from gputel.proto.version import VERSION

log = logging.getLogger(__name__)
_Answer = asyncio.Future[pb.CollectorMessage] | GputelError | None
_STATUS = {
    "INVALID_PARAMETER": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "OUT_OF_RANGE": grpc.StatusCode.OUT_OF_RANGE,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "UNAUTHORIZED": grpc.StatusCode.UNAUTHENTICATED,
    "FORBIDDEN": grpc.StatusCode.PERMISSION_DENIED,
    "RATE_LIMITED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
}
# A frame in flight is held about three times: its bytes, the parsed message and the
# decoded columns; the in-flight budget counts all three.
DECODED_COPIES = 3
# Codes after which the agent should wait before it connects again.
_BACK_OFF = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ALREADY_EXISTS"})


def status_of(error: GputelError) -> grpc.StatusCode:
    """The one mapping from gputel's error tree to gRPC status codes."""
    return _STATUS.get(error.code, grpc.StatusCode.INTERNAL)


def add_ingest_servicer(servicer: IngestServicer, server: grpc.aio.Server) -> None:
    """Register the ingest stream; its messages arrive as bytes (parsed off the loop)."""
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.Stream, request_deserializer=None,
        response_serializer=pb.CollectorMessage.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "gputel.v1.IngestService", {"Stream": handler}),))


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """What the servicer enforces beyond the core: identity, memory, in-flight bytes.

    `retry_after_ms` is what an agent is told to wait after UNAVAILABLE or
    RESOURCE_EXHAUSTED (storage failing, a limit reached).
    """

    binding: NodeBinding = field(default_factory=NodeBinding)
    memory_limit_bytes: int = 0
    inflight_bytes: int = 256 * 1024 * 1024
    retry_after_ms: int = 5000
    window: int = 64
    store_failing: Callable[[], str] = lambda: ""  # why writes fail now, "" while they work
    relieve: Callable[[], object] = lambda: None  # over the memory budget: give some back


@dataclass(slots=True)
class _Stream:
    """One stream's state, shared by its reader (worker threads) and its writer (the loop)."""

    metadata: Mapping[str, str | bytes]
    auth: Mapping[str, Sequence[bytes]]
    peer: str
    session: Session | None = None
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class _Welcome:
    message: pb.CollectorMessage


@dataclass(frozen=True, slots=True)
class _Admitted:
    session: Session
    prepared: Prepared


class IngestServicer(pb_grpc.IngestServiceServicer):
    """One coroutine pair per agent stream; bad input ends that stream only.

    A reader task admits each message (parsed and validated in the worker pool) and
    starts making it durable; the stream answers in order as each frame's commit
    completes, so one slow commit never stops the stream from reading, and nothing is
    acknowledged before it is durable.
    """

    def __init__(self, core: IngestCore, policy: IngestPolicy | None = None,
                 ack_latency: Histogram | None = None,
                 time_ns: Callable[[], int] = time.time_ns) -> None:
        self._core = core
        self._policy = policy or IngestPolicy()
        self._ack_latency = ack_latency
        self._time_ns = time_ns
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="gputel-ingest-decode")
        self._handoff: BurstHandoff | None = None  # of the loop serving the streams
        self.budget = ByteBudget(self._policy.inflight_bytes)
        self.memory = MemoryGuard(self._policy.memory_limit_bytes,
                                  relieve=self._policy.relieve)

    async def Stream(self, request_iterator: AsyncIterator[bytes],
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CollectorMessage]:
        """Hello -> Welcome, then Frame -> Ack until the agent goes away."""
        answers: asyncio.Queue[_Answer] = asyncio.Queue(self._policy.window)
        stream = _Stream(dict(context.invocation_metadata() or ()),
                         context.auth_context() or {}, context.peer())
        reader = asyncio.create_task(self._read(request_iterator, answers, stream))
        try:
            while (answer := await answers.get()) is not None:
                try:
                    if isinstance(answer, GputelError):
                        raise answer
                    message = await answer
                except GputelError as exc:
                    await self._refuse(context, stream, exc)
                except StorageError as exc:  # the agent keeps the frame and retries
                    await self._refuse(context, stream, UnavailableError(str(exc)))
                yield message
        finally:
            self._end(stream)  # first: a second cancellation cannot skip it
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    def _end(self, stream: _Stream) -> None:
        with stream.lock:
            stream.closed = True
            session, stream.session = stream.session, None
        if session is not None:
            self._core.close(session)

    def handoff(self) -> BurstHandoff:
        """The running loop's hand-off of the pool's and the store's results."""
        loop = asyncio.get_running_loop()
        if self._handoff is None or self._handoff.loop is not loop:
            self._handoff = BurstHandoff(loop)
        return self._handoff

    async def _read(self, requests: AsyncIterator[bytes], answers: asyncio.Queue[_Answer],
                    stream: _Stream) -> None:
        handoff = self.handoff()
        try:
            async for data in requests:
                if stream.session is not None and self.memory.over():
                    self._core.reject("limit_memory")
                    raise LimitError("max-memory", "the collector is over its memory budget")
                cost = len(data) * DECODED_COPIES
                await self.budget.acquire(cost)
                try:
                    step = await handoff.wrap(self._pool.submit(self._admit, data, stream))
                except BaseException:
                    self.budget.release(cost)
                    raise
                await answers.put(self._answer(step, cost))
            await answers.put(None)
        except GputelError as exc:
            # Without its traceback: that holds this frame's `data` (a frame of up to the
            # message limit), and the stream's frame that raises it again holds the error,
            # a cycle only a full collection frees, so refused frames piled up in memory.
            await answers.put(exc.with_traceback(None))

    def _answer(self, step: _Welcome | _Admitted,
                size: int) -> asyncio.Future[pb.CollectorMessage]:
        if isinstance(step, _Welcome):
            self.budget.release(size)
            future: asyncio.Future[pb.CollectorMessage] = (
                asyncio.get_running_loop().create_future())
            future.set_result(step.message)
            return future
        task = asyncio.ensure_future(self._frame(step.session, step.prepared))
        task.add_done_callback(lambda t: self._settled(t, size))
        return task

    def _settled(self, task: asyncio.Future[pb.CollectorMessage], size: int) -> None:
        """A frame's answer is done: give its bytes back; an answer the stream no longer
        reads (it ended on an earlier error) has its error retrieved here, not lost."""
        self.budget.release(size)
        if not task.cancelled():
            task.exception()

    def _admit(self, data: bytes, stream: _Stream) -> _Welcome | _Admitted:
        """Parse and validate one message (in the worker pool). Raises GputelError."""
        try:
            message = pb.AgentMessage.FromString(data)
        except DecodeError as exc:
            self._core.reject("undecodable")
            raise InvalidFrameError("message does not parse as gputel.v1.AgentMessage: "
                                    f"{exc or 'malformed protobuf'}") from None
        kind = message.WhichOneof("kind")
        if kind == "hello" and stream.session is None:
            return self._hello(message.hello, stream)
        if kind == "frame" and stream.session is not None:
            return _Admitted(stream.session, self._core.prepare(stream.session, message.frame))
        self._core.reject("protocol")
        raise InvalidFrameError(_out_of_order(kind, stream.session is not None))

    def _hello(self, hello: pb.Hello, stream: _Stream) -> _Welcome:
        problem = self._policy.binding.problem(hello.node, stream.metadata, stream.auth)
        if problem:
            error = IdentityError(f"hello refused: {problem}")
            self._core.refuse(error)
            raise error
        failing = self._policy.store_failing()
        if failing:  # no stream while nothing can be made durable: the agent waits
            self._core.reject("store_failing")
            raise UnavailableError(f"the store cannot write ({failing}); retry later")
        session, acked = self._core.open(hello)
        with stream.lock:
            if stream.closed:  # the stream ended while its Hello was admitted
                self._core.close(session)
                raise UnavailableError("the stream ended")
            stream.session = session
        return _Welcome(pb.CollectorMessage(welcome=pb.Welcome(
            collector_version=VERSION, acked_through=acked,
            collector_time_ns=self._time_ns(), shared_timestamps=True)))

    async def _frame(self, session: Session, prepared: Prepared) -> pb.CollectorMessage:
        t0 = time.perf_counter()
        new = await self.handoff().wrap(self._core.persist(session, prepared))
        duplicate = self._core.commit(session, prepared, new)
        if self._ack_latency is not None:
            self._ack_latency.observe(time.perf_counter() - t0)
        return pb.CollectorMessage(ack=pb.Ack(seq=prepared.seq, duplicate=duplicate))

    async def _refuse(self, context: grpc.aio.ServicerContext, stream: _Stream,
                      error: GputelError) -> None:
        log.warning("ingest from %s refused: %s", stream.peer, error.message)
        metadata: list[tuple[str, str]] = []
        seq = error.details.get("seq") if isinstance(error, InvalidFrameError) else None
        if seq:
            metadata.append((BAD_SEQ_KEY, str(seq)))
        if error.code in _BACK_OFF:
            metadata.append((RETRY_AFTER_KEY, str(self._policy.retry_after_ms)))
        context.set_trailing_metadata(tuple(metadata))
        await context.abort(status_of(error), error.message)

    def close(self) -> None:
        """Stop the worker pool (after the server stopped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _out_of_order(kind: str | None, after_hello: bool) -> str:
    if kind is None:
        return "empty message: set hello or frame"
    if after_hello:
        return "a second hello on one stream"
    return "the first message of a stream must be a hello"
