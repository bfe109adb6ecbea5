"""The long-lived ingest stream to the collector, with reconnect and resend.

One bidirectional gRPC stream: Hello, then frames from the outbox; the collector
answers Welcome, then one Ack per frame. When the stream breaks, the outbox
rewinds so every unacknowledged frame is sent again, and the client reconnects
with exponential backoff and jitter (tenacity), interruptible by shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import tenacity

from gputel.agent.outbox import Outbox
from gputel.proto.contract import BAD_SEQ_KEY, MAX_MESSAGE_BYTES
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

# Codes worth another try as they are: the collector is away, restarting or busy.
RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INVALID_ARGUMENT,  # one bad frame: dropped, the stream resumes
})
# Keepalive pings find a dead collector (kill -9, cable cut) within seconds.
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)


@dataclass(slots=True)
class StreamStats:
    """Connection counters for /metrics."""

    connects: int = 0
    disconnects: int = 0
    connected: bool = False
    last_error: str = ""


class StreamBrokenError(Exception):
    """The stream ended; `code` is its gRPC status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code


class StreamClient:
    """Keeps one ingest stream open to `target` until `stop()`, feeding it from `outbox`."""

    def __init__(self, target: str, outbox: Outbox, hello: Callable[[], pb.Hello],
                 credentials: grpc.ChannelCredentials | None = None,
                 backoff_max_s: float = 10.0, token: str | None = None) -> None:
        self._target = target
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._outbox = outbox
        self._hello = hello
        self._credentials = credentials
        self._backoff_max_s = backoff_max_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._call: grpc.Future | None = None
        self.stats = StreamStats()

    def start(self) -> None:
        """Connect in a background thread."""
        self._thread = threading.Thread(target=self._run, name="gputel-stream", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the stream and stop reconnecting; idempotent."""
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._outbox.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(self._retryable),
            wait=tenacity.wait_random_exponential(multiplier=0.2, max=self._backoff_max_s),
            stop=lambda _state: self._stop.is_set(),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        while not self._stop.is_set():
            try:
                retrying(self._session)  # returns after a stream that was up breaks
            except StreamBrokenError as exc:
                if self._stop.is_set():
                    return
                log.error("collector refused the stream (%s); retrying in %.0f s",
                          exc, self._backoff_max_s)
                self._stop.wait(self._backoff_max_s)

    def _sleep(self, seconds: float) -> None:
        """Back off, cut short by stop()."""
        self._stop.wait(seconds)

    def _retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, StreamBrokenError) and exc.code in RETRYABLE

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("collector stream at %s broke (%s); reconnecting", self._target, exc)

    def _session(self) -> None:
        """One stream from connect to break. Returns only on stop; raises StreamBrokenError."""
        channel = (grpc.secure_channel(self._target, self._credentials, CHANNEL_OPTIONS)
                   if self._credentials else grpc.insecure_channel(self._target, CHANNEL_OPTIONS))
        alive = threading.Event()
        alive.set()
        self._outbox.rewind()
        welcomed = False
        try:
            call = pb_grpc.IngestServiceStub(channel).Stream(self._requests(alive),
                                                             metadata=self._metadata)
            self._call = call
            self._read_answers(call)
        except grpc.RpcError as err:
            self._on_broken(err)
            if self._stop.is_set():
                return
            if not self.stats.connected:
                raise StreamBrokenError(err.code(), err.details() or "") from err
            log.warning("collector stream at %s broke (%s); reconnecting",
                        self._target, self.stats.last_error)
        finally:
            welcomed = self.stats.connected
            alive.clear()
            self._outbox.wake()
            self._call = None
            if welcomed:
                self.stats.disconnects += 1
            self.stats.connected = False
            channel.close()
        # A stream that was up ends the retry round, so the next outage starts
        # its backoff from the beginning; one that never came up backs off.
        if not welcomed and not self._stop.is_set():
            raise StreamBrokenError(grpc.StatusCode.UNAVAILABLE, "collector ended the stream")

    def _requests(self, alive: threading.Event) -> Iterator[pb.AgentMessage]:
        yield pb.AgentMessage(hello=self._hello())
        while alive.is_set() and not self._stop.is_set():
            msg = self._outbox.next_to_send(alive, timeout=0.5)
            if msg is not None:
                yield msg

    def _read_answers(self, call: Iterator[pb.CollectorMessage]) -> None:
        for answer in call:
            kind = answer.WhichOneof("kind")
            if kind == "ack":
                self._outbox.ack(answer.ack.seq)
            elif kind == "welcome":
                self.stats.connects += 1
                self.stats.connected = True
                self.stats.last_error = ""
                self._outbox.ack_through(answer.welcome.acked_through)
                log.info("streaming to collector %s", self._target)

    def _on_broken(self, err: grpc.RpcError) -> None:
        self.stats.last_error = f"{err.code().name}: {err.details()}"
        if err.code() is grpc.StatusCode.INVALID_ARGUMENT:
            for key, value in err.trailing_metadata() or ():
                if key == BAD_SEQ_KEY:
                    log.error("collector rejected frame %s: %s", value, err.details())
                    self._outbox.reject(int(value))
