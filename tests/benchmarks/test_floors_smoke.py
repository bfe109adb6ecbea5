"""The floors and recent-reads benchmarks at tiny size, so they cannot rot: each figure comes
from reads that found what was written, and the recent-reads replay shows what the seal grid
is for (the newest five minutes in at most ten blocks with it, more without). No timing is
asserted.

Needs Debian's prometheus (scripts/install-test-deps.sh); without it the test fails saying
so, never skips.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from benchmarks.floors import frame_floors, http_floors, store_floors
from benchmarks.recent_reads import RETENTION_NS, run
from benchmarks.suite import data
from gputel.collector.storage import compaction
from gputel.collector.storage.durable import DEFAULT_SEAL_NS, SEAL_GRID_NS
from tests.prometheus.promserver import INSTALL_HINT

pytestmark = pytest.mark.slow


@pytest.mark.timeout(180)
def test_floors_are_measured_on_reads_that_found_what_was_written(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None and not Path("/usr/bin/prometheus").exists():
        pytest.fail(f"prometheus is not installed: {INSTALL_HINT}", pytrace=False)
    end_ns = time.time_ns()
    nodes = [data.node(i, 10, end_ns) for i in range(2)]
    store = dict(store_floors(nodes, end_ns, 2, tmp_path / "store", 4))
    # one GPU's 10 s at 10 Hz, read back from the head, then from the block it sealed into
    assert "store: one GPU's 100 samples, head only" in store
    assert any(name.startswith("store: the same 100 samples from one sealed block")
               for name in store)
    frame = frame_floors(nodes[0], 2)
    (tmp_path / "http").mkdir()
    http = http_floors(tmp_path / "http", 2)  # raises unless both servers answered 200
    assert (len(store), len(frame), len(http)) == (5, 2, 2)
    assert all(t > 0 for t in (*store.values(), *(t for _, t in frame),
                               *(t for _, a, b in http for t in (a, b))))


@pytest.mark.timeout(180)
def test_recent_reads_span_at_most_ten_blocks_with_the_seal_grid(tmp_path: Path) -> None:
    end_ns = time.time_ns() // 10**9 * 10**9
    nodes = [data.cycled(0, 660, end_ns)]  # reads from the sixth minute on: a whole window
    levels = compaction.levels(DEFAULT_SEAL_NS, RETENTION_NS)
    grid = run(nodes, levels, SEAL_GRID_NS, 1, tmp_path / "grid")
    each_pass = run(nodes, levels, 10**9, 1, tmp_path / "each")
    # 300 s of 30 s blocks, and the one merged block before them a read may still touch
    assert grid["blocks_max"] <= 300 // 30 + 1
    assert each_pass["blocks_max"] > 20  # a 10 s block per pass until the window merges
