"""The outbox: sequence numbers, a send window, resend after rewind, bounded with counted drops."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from gputel.agent.outbox import Outbox
from gputel.agent.spool import Spool, SpooledFrame, SpoolError, SpoolFullError
from gputel.proto import frames
from tests.harness.spools import FullDisk

ALIVE = threading.Event()
ALIVE.set()


def _block(value: float = 1.0) -> list:
    return [frames.encode_block(0, (0,), np.array([1], dtype=np.int64),
                                np.full((1, 1), value, dtype=np.float32))]


def _take(box: Outbox) -> list[int]:
    seqs = []
    while (msg := box.next_to_send(ALIVE, timeout=0)) is not None:
        seqs.append(msg.frame.seq)
    return seqs


def test_sequence_numbers_start_at_one_and_grow() -> None:
    box = Outbox()
    assert [box.put(_block(), 1) for _ in range(3)] == [1, 2, 3]


def test_the_window_bounds_frames_in_flight() -> None:
    box = Outbox(window=2)
    for _ in range(5):
        box.put(_block(), 1)
    assert _take(box) == [1, 2]
    box.ack(1)
    assert _take(box) == [3]


def test_rewind_resends_exactly_the_unacknowledged_frames() -> None:
    box = Outbox(window=10)
    for _ in range(4):
        box.put(_block(), 10)
    assert _take(box) == [1, 2, 3, 4]
    box.ack(1)
    box.ack(3)
    box.rewind()  # the stream broke
    assert _take(box) == [2, 4]
    assert box.stats.frames_resent == 2
    box.ack(2)
    box.ack(4)
    assert box.wait_drained(0)
    assert box.stats.ticks_acked == 40


def test_overflow_drops_the_oldest_and_counts_it() -> None:
    box = Outbox(max_frames=3)
    for i in range(5):
        box.put(_block(float(i)), 1)
    assert box.stats.frames_dropped == 2
    assert _take(box) == [3, 4, 5]


def test_welcome_acks_everything_the_collector_already_holds() -> None:
    box = Outbox()
    for _ in range(5):
        box.put(_block(), 1)
    box.ack_through(3)
    assert _take(box) == [4, 5]


def test_a_rejected_frame_is_dropped_not_resent() -> None:
    box = Outbox()
    box.put(_block(), 1)
    box.put(_block(), 1)
    assert _take(box) == [1, 2]
    box.reject(1)
    box.rewind()
    assert _take(box) == [2]
    assert box.stats.frames_rejected == 1


def test_a_waiting_sender_wakes_when_the_stream_dies() -> None:
    box = Outbox()
    alive = threading.Event()
    alive.set()
    result: list[object] = []
    waiter = threading.Thread(target=lambda: result.append(box.next_to_send(alive, timeout=30)))
    waiter.start()
    alive.clear()
    box.wake()
    waiter.join(5)
    assert not waiter.is_alive()
    assert result == [None]


def test_a_spooled_outbox_sends_each_frame_from_disk_intact(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    box = Outbox(spool=spool)
    for i in range(5):
        box.put(_block(float(i)), 1)
    sent = []
    while (msg := box.next_to_send(ALIVE, timeout=0)) is not None:
        sent.append(msg)
    assert [m.frame.seq for m in sent] == [1, 2, 3, 4, 5]
    values = [np.frombuffer(m.frame.blocks[0].values, "<f4")[0] for m in sent]
    assert values == [0.0, 1.0, 2.0, 3.0, 4.0]
    box.ack(1)
    box.ack(2)
    assert spool.payload(3)  # unacknowledged frames stay on disk...
    with pytest.raises(SpoolError):
        spool.payload(1)  # ...acknowledged ones are gone
    spool.close()


class ReadOnlyDisk(Spool):
    """A spool whose every write fails (a volume remounted read-only)."""

    def _insert(self, frame: SpooledFrame) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")


def test_a_full_disk_drops_the_oldest_spooled_frames_counted_and_keeps_the_new(
        tmp_path: Path) -> None:
    spool = FullDisk(tmp_path, capacity=3)
    box = Outbox(spool=spool)
    for i in range(5):
        box.put(_block(float(i)), 1)  # never raises
    assert box.stats.frames_dropped == 2
    sent = []
    while (msg := box.next_to_send(ALIVE, timeout=0)) is not None:
        sent.append(msg)
    assert [m.frame.seq for m in sent] == [3, 4, 5]
    assert [np.frombuffer(m.frame.blocks[0].values, "<f4")[0] for m in sent] == [2.0, 3.0, 4.0]
    spool.close()


def test_a_spool_that_cannot_be_written_keeps_frames_in_memory_counted(tmp_path: Path) -> None:
    spool = ReadOnlyDisk(tmp_path)
    box = Outbox(spool=spool)
    for i in range(3):
        box.put(_block(float(i)), 1)
    assert box.stats.spool_write_errors == 3
    assert box.stats.frames_dropped == 0
    assert _take(box) == [1, 2, 3]
    for seq in (1, 2, 3):
        box.ack(seq)
    assert box.wait_drained(0)
    spool.close()


def test_a_frame_whose_spooled_bytes_are_gone_is_dropped_counted_and_the_next_sent(
        tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    box = Outbox(spool=spool)
    for _ in range(3):
        box.put(_block(), 1)
    spool.remove([2])  # lost behind the outbox's back (a damaged or replaced file)
    assert _take(box) == [1, 3]
    assert box.stats.frames_unreadable == 1
    assert len(box) == 2
    spool.close()


def test_the_byte_bound_drops_the_oldest_frames_counted() -> None:
    probe = Outbox()
    probe.put(_block(), 1)
    one = probe.held_bytes()  # every frame here has the same size
    box = Outbox(max_bytes=3 * one)
    for _ in range(5):
        box.put(_block(), 1)
    assert box.stats.frames_dropped == 2
    assert box.held_bytes() <= 3 * one
    assert _take(box) == [3, 4, 5]


class JammedDisk(FullDisk):
    """Full, and too full even to delete a row (SQLite's WAL needs room for a delete too)."""

    def remove(self, seqs: list[int]) -> None:
        raise SpoolFullError("cannot delete from the spool: database or disk is full")


def test_a_disk_too_full_to_delete_keeps_every_frame_deliverable(tmp_path: Path) -> None:
    spool = JammedDisk(tmp_path, capacity=2)
    box = Outbox(spool=spool)
    for i in range(4):
        box.put(_block(float(i)), 1)
    assert box.stats.frames_dropped == 0  # deleting could not make room: nothing thrown away
    assert box.stats.spool_write_errors == 2  # frames 3 and 4 wait in memory
    sent = []
    while (msg := box.next_to_send(ALIVE, timeout=0)) is not None:
        sent.append(msg)
        box.ack(msg.frame.seq)  # its delete fails: retried later, never raised
    assert [np.frombuffer(m.frame.blocks[0].values, "<f4")[0] for m in sent] == [0, 1, 2, 3]
    assert box.wait_drained(0)
    spool.close()


def test_acked_samples_count_exact_and_float_values_but_not_nan() -> None:
    box = Outbox()
    ts = np.array([1, 2, 3], dtype=np.int64)
    exact = frames.encode_block(0, (0, 1), ts, np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]]),
                                (True, True))
    floats = frames.encode_block(1, (0,), ts, np.array([[1.0, np.nan, 2.0]]))
    seq = box.put([exact, floats], 3)
    box.ack(seq)
    assert box.stats.samples_acked == 5 + 2
