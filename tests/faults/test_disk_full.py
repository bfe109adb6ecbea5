"""The collector's disk fills up while an agent streams, then frees up again.

Readiness must tell the truth while writes fail, the agent must be held back (no
reconnect storm, no log storm), nothing acknowledged may be lost, and the collector
must recover by itself once there is room again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from gputel.collector.storage.durable import PROBE_BYTES, DurableStore
from gputel.collector.storage.engine import DeviceRows, Engine, StorageError
from gputel.proto.metrics import CORE_METRICS
from tests.harness.servers import CollectorThread, running_agent, wait_until

FAILING_FOR_S = 3.0
RETRY_AFTER_S = 1.0


@contextlib.contextmanager
def small_disk(path: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at path (needs root, as in CI)."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(directory: Path, leave: int = 0) -> Path:
    """Write a file until the filesystem has not one byte left, then give back `leave`
    bytes; return it. (Stopping at the first refused 256 KiB left up to that much free
    besides.)"""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        size = 256 * 1024
        while size:
            try:
                os.write(fd, b"\0" * size)
            except OSError:
                size //= 2
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, filler.stat().st_size - leave)
    return filler


def _small_frame(second: int) -> list[DeviceRows]:
    """One GPU's second of 10 Hz ticks, every core metric: a few KiB in the log."""
    ts = (1_700_000_000 + second) * 10**9 + np.arange(10, dtype=np.int64) * 100_000_000
    return [("GPU-0", ts, tuple(range(len(CORE_METRICS))),
             np.ones((len(CORE_METRICS), 10), dtype=np.float32))]


def test_a_frame_in_a_full_disks_slack_is_stored_but_does_not_say_writes_work(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A small frame still fits in what a nearly full disk has left: it is stored and
    acknowledged, but the store stays failing (no flapping readiness, no second error line)
    until a write the size of a batch of frames (the maintenance probe) goes through."""
    with small_disk(tmp_path / "disk") as disk:
        durable = DurableStore(Engine(disk, retention_ns=10**15))
        durable.start()
        try:
            assert durable.append("n", "i", 1, b"", b"", CORE_METRICS, _small_frame(1)).result()
            filler = _fill(disk, leave=PROBE_BYTES // 4)
            with pytest.raises(StorageError):  # a write bigger than what is left
                durable.snapshot("big", os.urandom(2 * PROBE_BYTES), []).result()
            assert durable.failing
            assert durable.append("n", "i", 2, b"", b"", CORE_METRICS, _small_frame(2)).result()
            assert durable.failing, "a frame in the slack says nothing about the disk"
            with pytest.raises(StorageError):
                durable.maintain().result()  # the probe does not fit either
            filler.unlink()
            durable.maintain().result()
            assert not durable.failing
        finally:
            durable.close()
    errors = [r for r in caplog.records
              if r.name == "gputel.collector.storage.durable" and r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]


def test_a_full_disk_holds_agents_back_and_recovers_by_itself(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with small_disk(tmp_path / "disk") as disk:
        collector = CollectorThread(data_dir=disk, maintenance_seconds=0.2,
                                    retry_after_seconds=RETRY_AFTER_S).start()
        try:
            with running_agent(collector.grpc_target, node="n", gpus=2, rate_hz=20,
                               flush_seconds=0.1) as agent:
                stream = agent.stream
                assert stream is not None
                wait_until(lambda: agent.outbox.stats.frames_acked > 5, what="some acks")
                filler = _fill(disk)
                ready = f"{collector.http_base}/readyz"
                wait_until(lambda: httpx.get(ready).status_code == 503, what="not ready")
                health = httpx.get(f"{collector.http_base}/api/v1/health").json()["data"]
                assert health["store"]["status"] == "failing"
                connects, started = stream.stats.connects, time.monotonic()
                wait_until(lambda: time.monotonic() - started > FAILING_FOR_S, timeout=30,
                           what="a few seconds of failing writes")
                assert httpx.get(ready).status_code == 503  # still failing, still saying so
                reconnects = stream.stats.connects - connects
                assert reconnects <= FAILING_FOR_S / RETRY_AFTER_S + 2, reconnects
                filler.unlink()
                wait_until(lambda: httpx.get(ready).status_code == 200, what="ready again")
                assert agent.stop(drain_timeout=20), "everything drained after recovery"
            ticks = agent.backend.ticks  # type: ignore[attr-defined]
            metrics = agent.backend.metrics()
            store = collector.collector.store
            assert store.sample_count("n") == len(ticks) * 2 * len(metrics)
            device = agent.backend.devices()[0]
            ts, _values = store.read(("n", device.uuid, "power"), 0, 2**62)
            np.testing.assert_array_equal(ts, np.array([t for t, _ in ticks], dtype=np.int64))
        finally:
            collector.stop()
    errors = [r for r in caplog.records
              if r.name == "gputel.collector.storage.durable" and r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # one line, not one per batch
    assert any("store writes work again" in r.getMessage() for r in caplog.records)
