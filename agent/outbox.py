"""Frames waiting for the collector's acknowledgement: sequence numbers, a send window, resend.

With a Spool, every frame is also on disk until acknowledged, so an agent restart
resends what the collector had not acknowledged.

Every frame gets the next sequence number and stays here until acknowledged.
The stream takes unsent frames in order while fewer than `window` are in flight;
after a reconnect everything unacknowledged is sent again. The outbox is bounded, in
frames and in bytes: when full, the oldest frame is dropped and counted
(`frames_dropped`), never silently. A full disk is a full spool: the oldest spooled frames
make room for the new one; a spool that cannot be written at all degrades to memory
(bounded by `MEMORY_FALLBACK_BYTES`, counted), and a spooled frame that cannot be read
back is dropped and counted (`frames_unreadable`). No spool failure raises to the caller.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import DecodeError

from gputel.agent.spool import Spool, SpooledFrame, SpoolError, SpoolFullError
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
# Frames held in memory because the spool cannot be written: the rest is dropped, oldest first.
MEMORY_FALLBACK_BYTES = 64 * 1024 * 1024
# Oldest spooled frames dropped to make room on a full disk before a frame is kept in memory.
MAX_DROPS_PER_FULL = 8
# Spool deletes that failed (a full disk), retried with the next delete; the oldest beyond
# this are left to a restart (the collector recognises their resend).
MAX_ORPHANS = 4096


@dataclass(slots=True)
class OutboxStats:
    """Counters for /metrics; samples are non-NaN values."""

    frames_queued: int = 0
    frames_sent: int = 0
    frames_resent: int = 0
    frames_acked: int = 0
    frames_dropped: int = 0
    frames_rejected: int = 0
    frames_unreadable: int = 0
    spool_write_errors: int = 0
    samples_acked: int = 0
    ticks_acked: int = 0


@dataclass(slots=True)
class _Entry:
    message: pb.AgentMessage | None  # None: on the spool only, read back when sent
    ticks: int
    samples: int
    nbytes: int
    sent: bool = False
    sent_before: bool = False


class Outbox:
    """Thread-safe: the batcher puts, the stream takes and acknowledges."""

    def __init__(self, max_frames: int = 3600, window: int = 32, spool: Spool | None = None,
                 next_seq: int = 1, spooled: list[SpooledFrame] | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_frames < 1 or window < 1 or max_bytes < 1:
            raise ValueError("outbox size, byte bound and window must be at least 1")
        self._max = max_frames
        self._max_bytes = max_bytes
        self._window = window
        self._spool = spool
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        for f in spooled or ():
            self._entries[f.seq] = _Entry(None, f.ticks, f.samples, f.nbytes)
        self._bytes = sum(e.nbytes for e in self._entries.values())
        self._memory_bytes = 0  # of frames held in memory although there is a spool
        self._spool_failing = False  # the last spool write failed (logged once per streak)
        self._orphans: list[int] = []  # acknowledged or dropped, but their delete failed
        self._next_seq = next_seq
        self._in_flight = 0
        self._cond = threading.Condition()
        self.stats = OutboxStats()
        self._trim()

    def put(self, blocks: list[pb.DeviceBlock], ticks: int) -> int:
        """Queue a frame of blocks covering `ticks` ticks; return its sequence number."""
        return self.put_frame(pb.Frame(blocks=blocks), ticks)

    def put_frame(self, frame: pb.Frame, ticks: int) -> int:
        """Queue a frame (its seq is assigned here) covering `ticks` ticks; return the seq."""
        samples = sum(_block_samples(b) for b in frame.blocks)
        with self._cond:
            seq = self._next_seq
            self._next_seq += 1
            frame.seq = seq
            message = pb.AgentMessage(frame=frame)
            payload = message.SerializeToString()
            self.stats.frames_queued += 1
            self._trim(incoming=len(payload))  # room first: a full disk needs it
            entry = _Entry(message, ticks, samples, len(payload))
            if self._spool is not None and self._spooled(SpooledFrame(seq, ticks, samples,
                                                                      payload)):
                entry.message = None  # memory holds only the index; the bytes are on disk
            elif self._spool is not None:
                self._memory_bytes += entry.nbytes
            self._entries[seq] = entry
            self._bytes += entry.nbytes
            self._trim()
            self._cond.notify_all()
        return seq

    def _spooled(self, frame: SpooledFrame) -> bool:
        """Write `frame` to the spool, dropping the oldest spooled frames while the disk is
        full; False (counted, logged once per streak) when it must stay in memory."""
        assert self._spool is not None
        for _ in range(MAX_DROPS_PER_FULL + 1):
            try:
                self._spool.add(frame)
            except SpoolFullError as exc:
                if not self._drop_oldest_spooled():
                    self._spool_failed(exc)
                    return False
                continue
            except SpoolError as exc:
                self._spool_failed(exc)
                return False
            if self._spool_failing:
                self._spool_failing = False
                log.info("the spool can be written again")
            return True
        self._spool_failed(SpoolFullError("the spool's disk is full"))
        return False

    def _spool_failed(self, exc: SpoolError) -> None:
        if not self._spool_failing:
            log.error("%s; keeping new frames in memory (at most %d MiB) until it can be "
                      "written again", exc, MEMORY_FALLBACK_BYTES // (1024 * 1024))
        self._spool_failing = True
        self.stats.spool_write_errors += 1

    def _drop_oldest_spooled(self) -> bool:
        """Delete the oldest frame that is on disk (counted) to free room for a new one;
        False when there is none or the delete itself fails (the frame is kept, readable)."""
        seq = next((s for s, e in self._entries.items() if e.message is None), None)
        if seq is None or not self._removed([seq]):
            return False
        self._forget(seq)
        self.stats.frames_dropped += 1
        assert self._spool is not None
        self._spool.checkpoint()
        return True

    def _trim(self, incoming: int = 0) -> None:
        """Drop the oldest frames beyond the bounds (frames, bytes with `incoming` more, and
        memory-held bytes), counted."""
        while self._entries and (len(self._entries) > self._max
                                 or self._bytes + incoming > self._max_bytes):
            self._drop(next(iter(self._entries)))
            self.stats.frames_dropped += 1
        while self._memory_bytes > MEMORY_FALLBACK_BYTES:
            seq = next(s for s, e in self._entries.items() if e.message is not None)
            self._drop(seq)
            self.stats.frames_dropped += 1

    def _drop(self, seq: int) -> _Entry | None:
        """Forget frame `seq` here and on the spool."""
        entry = self._forget(seq)
        if entry is not None and entry.message is None:
            self._removed([seq])
        return entry

    def _forget(self, seq: int) -> _Entry | None:
        entry = self._entries.pop(seq, None)
        if entry is None:
            return None
        self._in_flight -= entry.sent
        self._bytes -= entry.nbytes
        if self._spool is not None and entry.message is not None:
            self._memory_bytes -= entry.nbytes
        return entry

    def _removed(self, seqs: list[int]) -> bool:
        """Delete `seqs` from the spool, with the deletes that failed before; False if it
        failed (they are retried with the next delete; at worst, after a restart, the
        collector recognises them as resends)."""
        assert self._spool is not None
        pending = self._orphans + seqs
        try:
            self._spool.remove(pending)
        except SpoolError as exc:
            if not self._orphans:
                log.warning("%s; retrying with the next delete", exc)
            self._orphans = pending[-MAX_ORPHANS:]
            return False
        self._orphans = []
        return True

    def next_to_send(self, alive: threading.Event, timeout: float) -> pb.AgentMessage | None:
        """Oldest unsent frame once the window allows; None on timeout or once `alive` clears."""
        with self._cond:
            self._cond.wait_for(
                lambda: not alive.is_set() or self._first_unsent() is not None, timeout)
            while alive.is_set() and (found := self._first_unsent()) is not None:
                message = self._message(*found)
                if message is None:
                    continue
                entry = found[1]
                entry.sent = True
                self._in_flight += 1
                self.stats.frames_sent += 1
                self.stats.frames_resent += entry.sent_before
                entry.sent_before = True
                return message
            return None

    def _message(self, seq: int, entry: _Entry) -> pb.AgentMessage | None:
        """The frame's message, from memory or the spool; None (dropped, counted) when its
        spooled bytes are gone or unreadable."""
        if entry.message is not None:
            return entry.message
        assert self._spool is not None
        try:
            return pb.AgentMessage.FromString(self._spool.payload(seq))
        except (SpoolError, DecodeError) as exc:
            log.error("spooled frame %d cannot be read back (%s); dropped", seq, exc)
        self._drop(seq)
        self.stats.frames_unreadable += 1
        self._cond.notify_all()
        return None

    def _first_unsent(self) -> tuple[int, _Entry] | None:
        if self._in_flight >= self._window:
            return None
        for seq, entry in self._entries.items():
            if not entry.sent:
                return seq, entry
        return None

    def ack(self, seq: int) -> None:
        """The collector holds frame `seq`: forget it."""
        with self._cond:
            entry = self._drop(seq)
            if entry is not None:
                self.stats.frames_acked += 1
                self.stats.samples_acked += entry.samples
                self.stats.ticks_acked += entry.ticks
            self._cond.notify_all()

    def ack_through(self, seq: int) -> None:
        """The collector already holds every frame up to `seq` (from its Welcome)."""
        with self._cond:
            for s in [s for s in self._entries if s <= seq]:
                self.ack(s)

    def reject(self, seq: int) -> None:
        """The collector refused frame `seq` as malformed: drop it rather than resend it forever."""
        with self._cond:
            if self._drop(seq) is not None:
                self.stats.frames_rejected += 1
            self._cond.notify_all()

    def rewind(self) -> None:
        """The stream broke: everything unacknowledged is to be sent again."""
        with self._cond:
            for entry in self._entries.values():
                entry.sent = False
            self._in_flight = 0
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake every waiter so it can re-check its condition (stream ending)."""
        with self._cond:
            self._cond.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        """Block until every queued frame is acknowledged (or dropped); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._entries, timeout)

    def wait(self, predicate: Callable[[OutboxStats], bool], timeout: float) -> bool:
        """Block until predicate(stats) holds (re-checked on every put, ack and drop)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.stats), timeout)

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def held_bytes(self) -> int:
        """Bytes of the frames held (encoded AgentMessages), on disk or in memory."""
        with self._cond:
            return self._bytes

    def spool_bytes(self) -> int:
        """Bytes of the on-disk spool, 0 without one."""
        with self._cond:
            return self._spool.size_bytes() if self._spool is not None else 0

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest frame queued (0 before the first)."""
        with self._cond:
            return self._next_seq - 1


def _block_samples(block: pb.DeviceBlock) -> int:
    """Values the block carries: non-NaN float32 ones, and every exact integer."""
    vals = np.frombuffer(block.values, dtype="<f4")
    return int(np.count_nonzero(~np.isnan(vals))) + len(block.int_values)
