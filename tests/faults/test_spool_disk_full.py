"""The agent's spool on a real filesystem that fills up (a tiny tmpfs; needs root to mount).

Nothing raises to the framing thread, every frame stays deliverable (on disk, or in memory
once SQLite cannot even delete), the failures are counted, and the spool is written again
once the disk has room.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gputel.agent.outbox import Outbox
from gputel.agent.spool import Spool
from gputel.proto import frames

ALIVE = threading.Event()
ALIVE.set()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def _fill(path: Path) -> None:
    """Take every free byte of the filesystem, as another writer would."""
    with path.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def _frame(rng: np.random.Generator) -> list:
    ts = np.arange(10, dtype=np.int64) * 100 + 1
    return [frames.encode_block(d, tuple(range(8)), ts, rng.random((8, 10)).astype(np.float32))
            for d in range(4)]


def test_a_spool_whose_disk_fills_keeps_every_frame_deliverable_and_recovers(
        tiny_disk: Path) -> None:
    rng = np.random.default_rng(0)
    spool = Spool(tiny_disk / "spool")
    box = Outbox(max_frames=10_000, spool=spool)
    _fill(tiny_disk / "filler")
    for _ in range(1500):
        box.put(_frame(rng), 10)  # never raises, although the disk is full
    failures = box.stats.spool_write_errors + box.stats.frames_dropped
    assert failures > 0, "the disk never filled: the test proves nothing"
    kept = len(box)
    assert kept + box.stats.frames_dropped == 1500
    sent = []
    while (msg := box.next_to_send(ALIVE, timeout=0)) is not None:
        sent.append(msg.frame.seq)
        box.ack(msg.frame.seq)
    assert len(sent) == kept
    assert sent == sorted(sent)
    assert box.stats.frames_unreadable == 0
    (tiny_disk / "filler").unlink()  # room again
    errors = box.stats.spool_write_errors
    for _ in range(20):
        box.put(_frame(rng), 10)
    assert box.stats.spool_write_errors == errors, "the spool was not written again"
    assert spool.payload(box.last_seq)  # the newest frame is on disk
    spool.close()
