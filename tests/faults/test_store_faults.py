"""The columnar store across restarts and damage: a restart reads back only the frames after
the last state snapshot (never the retained history), a damaged or truncated file is moved
aside, reported and the rest served, and a second collector on a data directory is refused."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gputel.collector.storage.durable import StorageError
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.servers import CollectorThread

TICKS, DEVICES, METRICS = 50, 2, 8  # good_frame: 5 s of 10 Hz ticks, every core metric
PER_FRAME = TICKS * DEVICES * METRICS


def _feed(server: CollectorThread, first_seq: int, count: int, t0: int) -> None:
    raw = RawStream(server.grpc_target)
    try:
        raw.send_hello(hello(node="old", n_devices=DEVICES))
        assert raw.answer().WhichOneof("kind") == "welcome"
        for i in range(count):
            seq = first_seq + i
            raw.send_frame(good_frame(seq, ticks=TICKS, devices=DEVICES,
                                      t0_ns=t0 + (seq - 1) * TICKS * 100_000_000))
            assert raw.answer().ack.seq == seq
    finally:
        raw.close()
    server.collector.ingest.wait_for(lambda: server.collector.ingest.live_streams() == 0, 10)


def _crash(server: CollectorThread) -> None:
    """Stop without the final state snapshot, as after kill -9: the frames committed since
    the last snapshot stay in the tail."""

    async def no_snapshot() -> None:
        return None

    server.collector.maintenance.checkpoint = no_snapshot  # type: ignore[method-assign]
    server.stop()


def _t0(minutes_ago: int) -> int:
    return (time.time_ns() - minutes_ago * 60 * 10**9) // 10**9 * 10**9


def test_a_restart_reads_back_only_the_frames_after_the_last_snapshot(tmp_path: Path) -> None:
    history, tail = 60, 3
    t0 = _t0(40)
    first = CollectorThread(data_dir=tmp_path / "d", maintenance_seconds=3600).start()
    _feed(first, 1, history, t0)
    first.run(first.collector.maintain_now())  # seals the history, snapshots the state
    assert first.collector.log.engine.blocks(), "the history was sealed into a block"
    _feed(first, history + 1, tail, t0)
    _crash(first)
    second = CollectorThread(data_dir=tmp_path / "d", maintenance_seconds=3600).start()
    try:
        engine = second.collector.log.engine
        assert engine.stats.tail_frames_read == tail  # not the 60 frames of history
        total = (history + tail) * PER_FRAME
        assert second.collector.store.sample_count("old") == total
        state = second.collector.nodes.node("old")
        assert state is not None
        assert state.samples == total
        assert state.frames == history + tail
        end = t0 + (history + tail) * TICKS * 100_000_000
        answer = second.collector.query.query_range("old", "power", t0, end, 10**9, "count")
        assert sum(answer.gpus[0].values) == (history + tail) * TICKS  # all of it, at once
        assert second.collector.ingest.held("old", "raw-1", 1)
        assert second.collector.ingest.held("old", "raw-1", history + tail)
        _feed(second, 1, 1, t0)  # a resend of the first frame: acknowledged, not stored
        assert second.collector.store.sample_count("old") == total
    finally:
        second.stop()


def _two_blocks(data_dir: Path) -> tuple[int, int]:
    """A store with two sealed blocks (30 frames each) and one frame in the head; return
    the samples of one block and of the head."""
    t0 = _t0(40)
    server = CollectorThread(data_dir=data_dir, maintenance_seconds=3600).start()
    try:
        _feed(server, 1, 30, t0)
        server.run(server.collector.maintain_now())
        _feed(server, 31, 30, t0)
        server.run(server.collector.maintain_now())
        _feed(server, 61, 1, _t0(0) - (10 + 60 * 5) * 10**9)  # seconds old: in the head
        assert len(server.collector.log.engine.blocks()) == 2
    finally:
        server.stop()
    return 30 * PER_FRAME, PER_FRAME


def _health(server: CollectorThread) -> dict[str, object]:
    store: dict[str, object] = httpx.get(f"{server.http_base}/api/v1/health").json()["data"][
        "store"]
    return store


def test_a_flipped_byte_in_a_block_is_quarantined_and_the_rest_served(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    block_samples, head_samples = _two_blocks(tmp_path / "d")
    damaged = sorted((tmp_path / "d" / "blocks").glob("*.parquet"))[0]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 3] ^= 0xFF
    damaged.write_bytes(bytes(data))
    server = CollectorThread(data_dir=tmp_path / "d", maintenance_seconds=3600).start()
    try:
        with caplog.at_level(logging.ERROR):
            server.run(server.collector.maintain_now())  # verifies block checksums
        assert (tmp_path / "d" / "quarantine" / damaged.name).is_file()
        assert not damaged.exists()
        assert any(damaged.name in r.getMessage() and "damaged" in r.getMessage()
                   for r in caplog.records)
        assert server.collector.store.sample_count("old") == block_samples + head_samples
        health = _health(server)
        assert health["status"] == "degraded"
        assert damaged.name in str(health["problems"])
        assert "gputel_collector_store_files_quarantined_total 1.0" in httpx.get(
            f"{server.http_base}/metrics").text
    finally:
        server.stop()


def test_a_truncated_block_is_quarantined_at_start_and_reported(tmp_path: Path) -> None:
    block_samples, head_samples = _two_blocks(tmp_path / "d")
    cut = sorted((tmp_path / "d" / "blocks").glob("*.parquet"))[1]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a half-written file
    server = CollectorThread(data_dir=tmp_path / "d", maintenance_seconds=3600).start()
    try:
        assert (tmp_path / "d" / "quarantine" / cut.name).is_file()
        assert server.collector.store.sample_count("old") == block_samples + head_samples
        health = _health(server)
        assert health["status"] == "degraded"
        assert cut.name in str(health["problems"])
    finally:
        server.stop()


def test_a_zero_length_database_is_reported_not_ok(tmp_path: Path) -> None:
    block_samples, head_samples = _two_blocks(tmp_path / "d")
    (tmp_path / "d" / "gputel.duckdb").write_bytes(b"")
    (tmp_path / "d" / "gputel.duckdb.wal").unlink(missing_ok=True)
    server = CollectorThread(data_dir=tmp_path / "d", maintenance_seconds=3600).start()
    try:
        health = _health(server)
        assert health["status"] == "degraded"
        assert "truncated" in str(health["problems"])
        assert (tmp_path / "d" / "quarantine" / "gputel.duckdb").is_file()
        # The sealed history is still served: both blocks, and the head the stop sealed.
        assert server.collector.store.sample_count("old") == 2 * block_samples + head_samples
    finally:
        server.stop()


def test_a_second_collector_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    first = CollectorThread(data_dir=tmp_path / "d").start()
    try:
        with pytest.raises(StorageError, match="in use by another collector"):
            CollectorThread(data_dir=tmp_path / "d")
        done = subprocess.run(
            [sys.executable, "-m", "gputel.cli", "collector", "--host", "127.0.0.1",
             "--grpc-port", "0", "--http-port", "0", "--data-dir", str(tmp_path / "d")],
            capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "in use by another collector" in lines[0]
        assert httpx.get(f"{first.http_base}/readyz").status_code == 200  # untouched
    finally:
        first.stop()
