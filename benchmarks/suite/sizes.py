"""How much data each row uses at each `--size`.

`full` is the issue's figure for every row (1 h of one GPU, 800 GPUs over 2 h, a workload
over 24 h, 1,000 nodes with 1 h retained). `small` and `tiny` scale the windows and counts
down; the report prints the size each row actually ran at.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Size:
    """Nodes are 8 simulated GPUs x 8 metrics at 10 Hz (640 samples a second); times in s."""

    name: str
    ingest_nodes: int  # ingest and wire: nodes x seconds replayed as fast as taken
    ingest_seconds: int
    ingest_hf_nodes: int  # the ingest row again at 100 Hz (6,400 samples a frame)
    ingest_hf_seconds: int
    rest_nodes: int  # at rest: nodes x seconds stored, then measured on disk
    rest_seconds: int
    query_nodes: int  # query: GPUs = 8 x nodes
    query_raw_s: int  # one GPU's raw samples over this window
    query_cluster_s: int  # every GPU averaged over this window, 120 points
    query_workload_s: int  # one workload (node 0's pod) over this window, 120 points
    query_reps: int  # times each question is asked of each side
    live_nodes: int  # nodes streaming in real time while the queries run
    scale_nodes: tuple[int, ...]  # node counts tried, largest first, until one is sustained
    scale_history_s: int  # retained history written before the live phase
    scale_live_s: int  # live phase: frames offered in real time
    restart_nodes: int
    restart_seconds: int  # history held at the last restart (a quarter at the first)
    fresh_seconds: int  # freshness: how long one real agent is watched

    @property
    def points(self) -> int:
        """Points per range answer for the cluster and workload questions."""
        return 120


SIZES = {
    "tiny": Size("tiny", ingest_nodes=4, ingest_seconds=10, ingest_hf_nodes=2,
                 ingest_hf_seconds=5, rest_nodes=2, rest_seconds=20,
                 query_nodes=4, query_raw_s=10, query_cluster_s=20, query_workload_s=40,
                 query_reps=3, live_nodes=1, scale_nodes=(5,), scale_history_s=10,
                 scale_live_s=2, restart_nodes=2, restart_seconds=20, fresh_seconds=2),
    "small": Size("small", ingest_nodes=50, ingest_seconds=60, ingest_hf_nodes=20,
                  ingest_hf_seconds=30, rest_nodes=10, rest_seconds=300, query_nodes=100,
                  query_raw_s=60, query_cluster_s=120,
                  query_workload_s=1200, query_reps=40, live_nodes=10,
                  scale_nodes=(500, 450, 400, 350, 300, 250, 200, 150, 100, 50), scale_history_s=60,
                  scale_live_s=30,
                  restart_nodes=50, restart_seconds=240, fresh_seconds=30),
    "full": Size("full", ingest_nodes=100, ingest_seconds=600,
                 ingest_hf_nodes=100, ingest_hf_seconds=120, rest_nodes=20,
                 rest_seconds=3600, query_nodes=100, query_raw_s=3600, query_cluster_s=7200,
                 query_workload_s=86400, query_reps=200, live_nodes=100,
                 scale_nodes=(1000, 500, 250, 125), scale_history_s=3600, scale_live_s=300,
                 restart_nodes=1000, restart_seconds=3600, fresh_seconds=120),
}
