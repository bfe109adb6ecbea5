"""The suite's three query questions against two collectors side by side, asked alternately.

    python benchmarks/query_profile.py --base-path DIR [--profile OUT_DIR] [--reps 40]

Writes the `small` suite's query data (100 nodes of 8 GPUs x 8 metrics at 10 Hz: node 0 for
1200 s, the others for 120 s; one pod per node holds GPUs 0 and 1) into two collectors: one
running this tree's code, the other the code under `--base-path` (a directory holding a
`gputel/` package tree: `gputel/collector`, `gputel/proto`, ... , e.g. symlinks into an
exported older commit). Then asks each question of both, alternating which goes first,
checks that both answer the same JSON, and prints p50/p99 per question and side. With
`--profile`, both collectors run under `benchmarks.suite.profiled` and their cProfile stats
are written there on exit (SIGTERM). No live feed (the suite has one): the data stay still,
so the two answers can be compared byte for byte.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.ingest import encode_node, start_collector, workload_of
from benchmarks.suite import data, feed
from benchmarks.suite.procs import COLLECTOR_FLAGS, wait_for

Ask = Callable[[httpx.Client, str], Any]
DUMPS = Path(tempfile.gettempdir())  # each side's first answer, as <question>-<side>.json


def _launcher(pythonpath: str, profile: Path | None) -> tuple[str, ...]:
    env = ("env", f"PYTHONPATH={pythonpath}") if pythonpath else ()
    if profile is None:
        return (*env, sys.executable, "-m", "gputel.cli")
    return (*env, sys.executable, "-m", "benchmarks.suite.profiled", str(profile), "--")


def _questions(end_ns: int, nodes: int) -> dict[str, tuple[str, dict[str, Any]]]:
    held = data.node(0, 1200, end_ns)
    uuid, pod = held.hello.devices[0].uuid, workload_of(held.node)
    end = end_ns / 1e9
    return {"raw 60 s": (f"/gpus/{uuid}/metrics", {"metric": "power", "start": end - 60,
                                                     "end": end, "step": "0.1s"}),
            f"cluster {8 * nodes} GPUs 120 s at 1 s": (
                "/utilization/history", {"start": end - 120, "end": end, "step": "1s"}),
            "workload 1200 s at 10 s": (f"/workloads/{pod.uid}/metrics", {
                "metric": "power", "start": end - 1200, "end": end, "step": "10s"})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-path", required=True, help="PYTHONPATH of the 'before' code")
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--profile", type=Path, help="write before.prof and after.prof here")
    args = parser.parse_args()
    end_ns = time.time_ns()
    nodes = [data.node(0, 1200, end_ns), *(data.node(i, 120, end_ns)
                                           for i in range(1, args.nodes))]
    streams = [encode_node(n) for n in nodes]
    scratch = Path(tempfile.mkdtemp(prefix="gputel-qprof-"))
    sides = {}
    for name, path in (("before", os.path.abspath(args.base_path)), ("after", "")):
        prof = args.profile / f"{name}.prof" if args.profile else None
        (scratch / name).mkdir()
        sides[name] = start_collector("duckdb", str(scratch / name / "data"), COLLECTOR_FLAGS,
                                      _launcher(path, prof),
                                      log_path=str(scratch / name / "collector.log"))
    try:
        for name, proc in sides.items():
            t0 = time.perf_counter()
            feed.gputel_bulk(proc.target, streams)
            print(f"{name}: fed {len(nodes)} nodes in {time.perf_counter() - t0:.1f} s")
        clients = {name: httpx.Client(base_url=f"{p.base}/api/v1", timeout=120)
                   for name, p in sides.items()}
        for c in clients.values():  # the maintenance thread seals what is older than 60 s
            wait_for(lambda c=c: c.get("/nodes").status_code == 200, 60, "the API")
        time.sleep(3)  # not a test: let the first seal after the feed run
        _ask_all(clients, _questions(end_ns, args.nodes), args.reps)
    finally:
        for proc in sides.values():
            proc.proc.terminate()
            proc.proc.wait(300)


def _ask_all(clients: dict[str, httpx.Client], questions: dict[str, tuple[str, dict[str, Any]]],
             reps: int) -> None:
    times: dict[tuple[str, str], list[float]] = {}
    for q, (path, params) in questions.items():
        bodies = {name: c.get(path, params=params).content for name, c in clients.items()}
        same = len(set(bodies.values())) == 1
        for name, body in bodies.items():
            (DUMPS / f"{q.split()[0]}-{name}.json").write_bytes(body)
        print(f"{q}: answers identical: {same} ({len(next(iter(bodies.values()))):,} bytes)")
    for rep in range(reps):
        order = list(clients) if rep % 2 == 0 else list(reversed(clients))
        for q, (path, params) in questions.items():
            for name in order:
                t0 = time.perf_counter()
                got = clients[name].get(path, params=params)
                times.setdefault((q, name), []).append(time.perf_counter() - t0)
                if got.status_code != 200:
                    raise SystemExit(f"{name} {q}: {got.status_code} {got.text[:300]}")
    for q in questions:
        cells = []
        for name in clients:
            t = sorted(times[(q, name)])
            cells.append(f"{name} p50 {statistics.median(t) * 1e3:6.1f} ms "
                         f"p99 {t[int(0.99 * (len(t) - 1))] * 1e3:6.1f} ms")
        print(f"{q:32s} " + " | ".join(cells))


if __name__ == "__main__":
    main()
