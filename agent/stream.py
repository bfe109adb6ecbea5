"""The long-lived ingest stream to the collector, with reconnect and resend.

One bidirectional gRPC stream: Hello, then frames from the outbox; the collector
answers Welcome, then one Ack per frame. When the stream breaks, the outbox
rewinds so every unacknowledged frame is sent again, and the client reconnects
(tenacity, interruptible by shutdown) after a wait the ending status decides
(see telemetry.proto): exponential backoff with jitter that keeps growing across
sessions that break soon after the Welcome; at least the collector's
`gputel-retry-after-ms`; a slow retry (and not ready) when the Hello is refused.

Several collectors (`target` a comma-separated list): each session connects to the next
in turn after the one whose stream broke, so an agent fails over when its collector goes
away; the unacknowledged frames go to that one (over a shared TSDB a frame stored by both
is kept once). A DNS name with several records is gRPC's own: each session's channel
tries its addresses in order (pick_first).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc
import tenacity

from gputel.agent.clock import Clock, SystemClock
from gputel.agent.errors import AgentError
from gputel.agent.outbox import Outbox
from gputel.agent.reconnect import Backoff, Ending, is_refusal, retry_after_seconds
from gputel.proto import frames
from gputel.proto.contract import BAD_SEQ_KEY, MAX_MESSAGE_BYTES, RETRY_AFTER_KEY
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

# Keepalive pings find a dead collector (kill -9, cable cut) within seconds.
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)
# A stream up at least this long resets the backoff; one that breaks sooner keeps it growing.
STABLE_SESSION_S = 10.0
MAX_MESSAGE_CHARS = 200  # of a collector's refusal, kept for /readyz and /metrics


@dataclass(slots=True)
class StreamStats:
    """Connection state for /metrics and /readyz. Written by the stream thread only; each
    field is replaced whole (`ends` too), so readers see a consistent value."""

    connects: int = 0
    disconnects: int = 0
    connected: bool = False
    last_error: str = ""
    refusal: str = ""  # the collector's refusal of our Hello, "" while not refused
    clock_skew_seconds: float | None = None  # agent minus collector, from the last Welcome
    frames_out_of_range: int = 0  # frames the collector refused as outside its time window
    retry_wait_seconds: float = 0.0  # the wait before the next connect (0 while connected)
    ends: dict[str, int] = field(default_factory=dict)  # stream endings by gRPC code


class StreamBrokenError(AgentError):
    """The stream ended; `ending` says how and decides the wait before the next connect."""

    def __init__(self, ending: Ending) -> None:
        super().__init__(ending.message)
        self.ending = ending
        self.code = ending.code


class StreamClient:
    """Keeps one ingest stream open to `target` (one address or several, comma-separated)
    until `stop()`, feeding it from `outbox`."""

    def __init__(self, target: str, outbox: Outbox, hello: Callable[[], pb.Hello],
                 credentials: grpc.ChannelCredentials | None = None,
                 backoff: Backoff | None = None, token: str | None = None, *,
                 clock: Clock | None = None, rand: Callable[[], float] = random.random,
                 stable_s: float = STABLE_SESSION_S, compressed: bool = True) -> None:
        self._targets = [t.strip() for t in target.split(",") if t.strip()] or [target]
        self._target = self._targets[0]  # this session's collector
        self._turn = 0
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._outbox = outbox
        self._hello = hello
        self._credentials = credentials
        self._backoff = backoff or Backoff()
        self._clock = clock or SystemClock()
        self._rand = rand
        self._stable_s = stable_s
        self._compression = grpc.Compression.Gzip if compressed else grpc.Compression.NoCompression
        self._failures = 0  # quick failures in a row
        self._welcomed_at: float | None = None  # monotonic time of this session's Welcome
        self._welcome = threading.Event()  # this session's Welcome arrived
        self._shares_timestamps = False  # this session's collector decodes ts_of_block
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._call: grpc.Future | None = None
        self.stats = StreamStats()

    @property
    def target(self) -> str:
        """The collector of the current (or last) session."""
        return self._target

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
            retry=tenacity.retry_if_exception_type(StreamBrokenError),
            wait=self._wait,
            stop=lambda _state: self._stop.is_set(),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        with contextlib.suppress(StreamBrokenError):  # the last ending, after stop()
            retrying(self._session)  # returns on stop

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The wait after the session that just ended (tenacity's `wait`)."""
        exc = state.outcome.exception() if state.outcome else None
        assert isinstance(exc, StreamBrokenError)
        self._failures = 1 if exc.ending.stable else self._failures + 1
        seconds = self._backoff.wait_s(exc.ending, self._failures, self.stats.connects > 0,
                                       self._rand())
        self.stats.retry_wait_seconds = seconds
        return seconds

    def _sleep(self, seconds: float) -> None:
        """Back off, cut short by stop()."""
        self._stop.wait(seconds)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        assert isinstance(exc, StreamBrokenError)
        wait = self.stats.retry_wait_seconds
        if exc.ending.refused:
            log.error("collector at %s refused this agent (%s); not ready; retrying in %.0f s",
                      self._target, exc, wait)
        elif exc.ending.retry_after_s is not None:
            log.warning("collector at %s ended the stream (%s) and asked to wait %.1f s; "
                        "reconnecting in %.1f s", self._target, exc, exc.ending.retry_after_s,
                        wait)
        else:
            log.warning("collector stream at %s broke (%s); reconnecting in %.1f s",
                        self._target, exc, wait)

    def _session(self) -> None:
        """One stream from connect to break. Returns only on stop; raises StreamBrokenError."""
        if self._stop.is_set():
            return
        self._target = self._targets[self._turn % len(self._targets)]
        channel = (grpc.secure_channel(self._target, self._credentials, CHANNEL_OPTIONS,
                                       compression=self._compression)
                   if self._credentials else grpc.insecure_channel(
                       self._target, CHANNEL_OPTIONS, compression=self._compression))
        alive = threading.Event()
        alive.set()
        self._outbox.rewind()
        self._welcomed_at = None
        self._welcome.clear()
        try:
            call = pb_grpc.IngestServiceStub(channel).Stream(self._requests(alive),
                                                             metadata=self._metadata)
            self._call = call
            self._read_answers(call)
            ending = self._ending(grpc.StatusCode.UNAVAILABLE, "collector ended the stream", ())
        except grpc.RpcError as err:
            ending = self._ending(err.code(), err.details() or "", err.trailing_metadata() or ())
        finally:
            alive.clear()
            self._outbox.wake()
            self._call = None
            if self.stats.connected:
                self.stats.disconnects += 1
            self.stats.connected = False
            channel.close()
        if self._stop.is_set():
            return
        self._turn += 1  # the next session tries the next collector (if there are several)
        raise StreamBrokenError(ending)

    def _requests(self, alive: threading.Event) -> Iterator[pb.AgentMessage]:
        yield pb.AgentMessage(hello=self._hello())
        # Frames wait for the Welcome: it says which frames the collector already holds
        # and whether it decodes blocks that share timestamps.
        while not self._welcome.wait(0.5):
            if not alive.is_set() or self._stop.is_set():
                return
        while alive.is_set() and not self._stop.is_set():
            msg = self._outbox.next_to_send(alive, timeout=0.5)
            if msg is not None:
                yield msg if self._shares_timestamps else _unshared(msg)

    def _read_answers(self, call: Iterator[pb.CollectorMessage]) -> None:
        for answer in call:
            kind = answer.WhichOneof("kind")
            if kind == "ack":
                self._outbox.ack(answer.ack.seq)
            elif kind == "welcome":
                self._welcomed(answer.welcome)

    def _welcomed(self, welcome: pb.Welcome) -> None:
        if welcome.collector_time_ns:  # 0: a collector that does not say
            self.stats.clock_skew_seconds = (self._clock.time_ns()
                                             - welcome.collector_time_ns) / 1e9
        self._welcomed_at = time.monotonic()
        self.stats.connects += 1
        self.stats.connected = True
        self.stats.last_error = ""
        self.stats.refusal = ""
        self.stats.retry_wait_seconds = 0.0
        self._outbox.ack_through(welcome.acked_through)
        self._shares_timestamps = welcome.shared_timestamps
        self._welcome.set()
        log.info("streaming to collector %s", self._target)

    def _ending(self, code: grpc.StatusCode, details: str,
                trailers: tuple[tuple[str, str | bytes], ...]) -> Ending:
        """Classify how the stream ended; act on a refused frame; update the stats."""
        welcomed = self._welcomed_at is not None
        meta = dict(trailers)
        bad_seq = meta.get(BAD_SEQ_KEY)
        if bad_seq is not None:
            self._refused_frame(code, details, bad_seq)
        ending = Ending(
            code, details[:MAX_MESSAGE_CHARS],
            refused=is_refusal(code, welcomed, bad_seq is not None),
            stable=welcomed and time.monotonic() - (self._welcomed_at or 0.0) >= self._stable_s,
            retry_after_s=retry_after_seconds(meta[RETRY_AFTER_KEY])
            if RETRY_AFTER_KEY in meta else None)
        self.stats.last_error = ending.message
        self.stats.ends = {**self.stats.ends, code.name: self.stats.ends.get(code.name, 0) + 1}
        if ending.refused:
            self.stats.refusal = ending.message
        return ending

    def _refused_frame(self, code: grpc.StatusCode, details: str, value: str | bytes) -> None:
        """The collector named one frame: drop it if malformed, keep it if out of its window."""
        text = value.decode() if isinstance(value, bytes) else value
        if not text.isdigit():
            log.error("collector named frame %r, not a sequence number: %s", text, details)
            return
        if code is grpc.StatusCode.INVALID_ARGUMENT:
            log.error("collector rejected frame %s: %s", text, details)
            self._outbox.reject(int(text))
        elif code is grpc.StatusCode.OUT_OF_RANGE:
            self.stats.frames_out_of_range += 1
            log.error("collector refused frame %s as outside its time window (%s); kept, "
                      "retrying; clock skew %s s", text, details, self.stats.clock_skew_seconds)


def _unshared(message: pb.AgentMessage) -> pb.AgentMessage:
    """`message` with every block's own timestamps, for a collector from before
    `ts_of_block`; a copy when it changes (the outbox keeps the original to resend)."""
    if not any(b.ts_of_block for b in message.frame.blocks):
        return message
    copy = pb.AgentMessage()
    copy.CopyFrom(message)
    frames.unshare_timestamps(copy.frame)
    return copy
