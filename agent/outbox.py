"""Frames waiting for the collector's acknowledgement: sequence numbers, a send window, resend.

With a Spool, every frame is also on disk until acknowledged, so an agent restart
resends what the collector had not acknowledged.

Every frame gets the next sequence number and stays here until acknowledged.
The stream takes unsent frames in order while fewer than `window` are in flight;
after a reconnect everything unacknowledged is sent again. The outbox is bounded:
when full, the oldest frame is dropped and counted (`dropped_frames`), never silently.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gputel.agent.spool import Spool, SpooledFrame
from gputel.proto.gputel.v1 import telemetry_pb2 as pb


@dataclass(slots=True)
class OutboxStats:
    """Counters for /metrics; samples are non-NaN values."""

    frames_queued: int = 0
    frames_sent: int = 0
    frames_resent: int = 0
    frames_acked: int = 0
    frames_dropped: int = 0
    frames_rejected: int = 0
    samples_acked: int = 0
    ticks_acked: int = 0


@dataclass(slots=True)
class _Entry:
    message: pb.AgentMessage | None  # None: on the spool only, read back when sent
    ticks: int
    samples: int
    sent: bool = False
    sent_before: bool = False


class Outbox:
    """Thread-safe: the batcher puts, the stream takes and acknowledges."""

    def __init__(self, max_frames: int = 3600, window: int = 32, spool: Spool | None = None,
                 next_seq: int = 1, spooled: list[SpooledFrame] | None = None) -> None:
        if max_frames < 1 or window < 1:
            raise ValueError("outbox size and window must be at least 1")
        self._max = max_frames
        self._window = window
        self._spool = spool
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        for f in spooled or ():
            self._entries[f.seq] = _Entry(None, f.ticks, f.samples)
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
            self.stats.frames_queued += 1
            if self._spool is not None:  # memory holds only the index; the bytes are on disk
                self._spool.add(SpooledFrame(seq, ticks, samples, message.SerializeToString()))
                self._entries[seq] = _Entry(None, ticks, samples)
            else:
                self._entries[seq] = _Entry(message, ticks, samples)
            self._trim()
            self._cond.notify_all()
        return seq

    def _trim(self) -> None:
        """Drop the oldest frames beyond the bound, counted."""
        dropped = []
        while len(self._entries) > self._max:
            seq, old = self._entries.popitem(last=False)
            self._in_flight -= old.sent
            self.stats.frames_dropped += 1
            dropped.append(seq)
        if dropped and self._spool is not None:
            self._spool.remove(dropped)

    def next_to_send(self, alive: threading.Event, timeout: float) -> pb.AgentMessage | None:
        """Oldest unsent frame once the window allows; None on timeout or once `alive` clears."""
        with self._cond:
            self._cond.wait_for(
                lambda: not alive.is_set() or self._first_unsent() is not None, timeout)
            found = self._first_unsent() if alive.is_set() else None
            if found is None:
                return None
            seq, entry = found
            entry.sent = True
            self._in_flight += 1
            self.stats.frames_sent += 1
            self.stats.frames_resent += entry.sent_before
            entry.sent_before = True
            if entry.message is not None:
                return entry.message
            assert self._spool is not None
            return pb.AgentMessage.FromString(self._spool.payload(seq))

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
            entry = self._entries.pop(seq, None)
            if entry is not None:
                self._in_flight -= entry.sent
                self.stats.frames_acked += 1
                self.stats.samples_acked += entry.samples
                self.stats.ticks_acked += entry.ticks
                if self._spool is not None:
                    self._spool.remove([seq])
            self._cond.notify_all()

    def ack_through(self, seq: int) -> None:
        """The collector already holds every frame up to `seq` (from its Welcome)."""
        with self._cond:
            for s in [s for s in self._entries if s <= seq]:
                self.ack(s)

    def reject(self, seq: int) -> None:
        """The collector refused frame `seq` as malformed: drop it rather than resend it forever."""
        with self._cond:
            entry = self._entries.pop(seq, None)
            if entry is not None:
                self._in_flight -= entry.sent
                self.stats.frames_rejected += 1
                if self._spool is not None:
                    self._spool.remove([seq])
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
    vals = np.frombuffer(block.values, dtype="<f4")
    return int(np.count_nonzero(~np.isnan(vals)))
