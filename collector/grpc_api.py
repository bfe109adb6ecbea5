"""gRPC transport (grpc.aio): the ingest stream, and the one mapping of errors to status codes.

The QueryService lives in grpc_query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError
from prometheus_client import Histogram

from gputel.collector.durable import StorageError
from gputel.collector.errors import GputelError, InvalidFrameError
from gputel.collector.ingest import IngestCore, Prepared, Session
from gputel.proto.contract import BAD_SEQ_KEY
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
VERSION = "0.1.0"
_Answer = asyncio.Future[pb.CollectorMessage] | GputelError | None


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Bytes that are not an AgentMessage; answered with INVALID_ARGUMENT, not INTERNAL."""

    reason: str


def _parse_agent_message(data: bytes) -> pb.AgentMessage | Undecodable:
    try:
        return pb.AgentMessage.FromString(data)
    except DecodeError as exc:
        return Undecodable(str(exc) or "malformed protobuf")


def add_ingest_servicer(servicer: IngestServicer, server: grpc.aio.Server) -> None:
    """Register the ingest stream with a deserializer that never raises."""
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.Stream, request_deserializer=_parse_agent_message,
        response_serializer=pb.CollectorMessage.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "gputel.v1.IngestService", {"Stream": handler}),))
_STATUS = {
    "INVALID_PARAMETER": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "UNAUTHORIZED": grpc.StatusCode.UNAUTHENTICATED,
    "FORBIDDEN": grpc.StatusCode.PERMISSION_DENIED,
    "RATE_LIMITED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
}


def status_of(error: GputelError) -> grpc.StatusCode:
    """The one mapping from gputel's error tree to gRPC status codes."""
    return _STATUS.get(error.code, grpc.StatusCode.INTERNAL)


class IngestServicer(pb_grpc.IngestServiceServicer):
    """One coroutine pair per agent stream; bad input ends that stream only.

    A reader task validates each message and starts making it durable; the
    stream answers in order as each frame's commit completes, so one slow
    commit never stops the stream from reading, and nothing is acknowledged
    before it is durable.
    """

    def __init__(self, core: IngestCore, window: int = 64,
                 ack_latency: Histogram | None = None) -> None:
        self._core = core
        self._window = window
        self._ack_latency = ack_latency

    async def Stream(self, request_iterator: AsyncIterator[pb.AgentMessage],
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CollectorMessage]:
        """Hello -> Welcome, then Frame -> Ack until the agent goes away."""
        answers: asyncio.Queue[_Answer] = asyncio.Queue(self._window)
        sessions: list[Session] = []
        reader = asyncio.create_task(self._read(request_iterator, answers, sessions))
        try:
            while (answer := await answers.get()) is not None:
                try:
                    if isinstance(answer, GputelError):
                        raise answer
                    message = await answer
                except GputelError as exc:
                    await self._refuse(context, exc)
                except StorageError as exc:  # the agent keeps the frame and retries
                    await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
                yield message
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            for session in sessions:
                self._core.close(session)

    async def _read(self, requests: AsyncIterator[pb.AgentMessage],
                    answers: asyncio.Queue[_Answer], sessions: list[Session]) -> None:
        try:
            async for message in requests:
                await answers.put(self._handle(message, sessions))
            await answers.put(None)
        except GputelError as exc:
            await answers.put(exc)

    def _handle(self, message: pb.AgentMessage | Undecodable,
                sessions: list[Session]) -> asyncio.Future[pb.CollectorMessage]:
        if isinstance(message, Undecodable):
            self._core.reject("undecodable")
            raise InvalidFrameError(f"message does not parse as gputel.v1.AgentMessage: "
                                    f"{message.reason}")
        kind = message.WhichOneof("kind")
        if kind == "hello" and not sessions:
            session, acked = self._core.open(message.hello)
            sessions.append(session)
            return _done(pb.CollectorMessage(welcome=pb.Welcome(collector_version=VERSION,
                                                                acked_through=acked)))
        if kind == "frame" and sessions:
            prepared = self._core.prepare(sessions[0], message.frame)  # raises on bad input
            return asyncio.ensure_future(self._frame(sessions[0], message.frame, prepared))
        self._core.reject("protocol")
        raise InvalidFrameError(_out_of_order(kind, bool(sessions)))

    async def _frame(self, session: Session, frame: pb.Frame,
                     prepared: Prepared) -> pb.CollectorMessage:
        t0 = time.perf_counter()
        if self._core.seen(session, frame.seq):
            duplicate = self._core.commit(session, prepared, new=False)
        else:
            new = await asyncio.wrap_future(self._core.persist(session, frame, prepared))
            duplicate = self._core.commit(session, prepared, new)
        if self._ack_latency is not None:
            self._ack_latency.observe(time.perf_counter() - t0)
        return pb.CollectorMessage(ack=pb.Ack(seq=frame.seq, duplicate=duplicate))

    async def _refuse(self, context: grpc.aio.ServicerContext, error: GputelError) -> None:
        log.warning("ingest from %s refused: %s", context.peer(), error.message)
        seq = error.details.get("seq") if isinstance(error, InvalidFrameError) else None
        context.set_trailing_metadata(((BAD_SEQ_KEY, str(seq)),) if seq else ())
        await context.abort(status_of(error), error.message)


def _done(message: pb.CollectorMessage) -> asyncio.Future[pb.CollectorMessage]:
    future: asyncio.Future[pb.CollectorMessage] = asyncio.get_running_loop().create_future()
    future.set_result(message)
    return future


def _out_of_order(kind: str | None, after_hello: bool) -> str:
    if kind is None:
        return "empty message: set hello or frame"
    if after_hello:
        return "a second hello on one stream"
    return "the first message of a stream must be a hello"
