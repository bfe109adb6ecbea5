"""The suite's rows: each runs gputel and its peer (Prometheus 2.42) on the same samples and
returns a Row with both figures, their ratio and whether the goal is met.
"""

from __future__ import annotations

import gzip
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import numpy as np

from benchmarks.ingest import NodeSamples, encode_node, workload_of
from benchmarks.suite import data, feed
from benchmarks.suite.procs import (
    BenchError,
    Gputel,
    Prometheus,
    binary,
    cpu_seconds,
    disk_bytes,
    rss_bytes,
    wait_for,
)
from benchmarks.suite.sizes import Size
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

GRPC_PREFIX = 5  # bytes gRPC puts before each message on the stream (flag + length)
GRPC_GZIP_LEVEL = 6  # the zlib level gRPC's gzip message compression uses (Z_DEFAULT_COMPRESSION)


@dataclass
class Row:
    """One line of the table, plus what the results file shows under it."""

    key: str
    title: str
    goal: str
    gputel: str
    peer: str
    ratio: float | None  # gputel / peer, or the figure against an absolute goal
    met: bool | None
    details: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """met / missed / no goal."""
        return {True: "met", False: "missed", None: "-"}[self.met]


@dataclass
class Context:
    """What every row shares: the size, runs, a scratch directory, the data's end time."""

    size: Size
    runs: int
    workdir: Path
    end_ns: int
    profile_top: int = 0  # > 0: profile the ingest and scale rows' collector once, keep
    profiles: dict[str, list[str]] = field(default_factory=dict)  # this many entries; by title
    collectors: int = 2  # the scale-out row's collectors over VictoriaMetrics

    def scratch(self, name: str) -> Path:
        """A fresh directory for one server's data."""
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.workdir))

    def nodes(self, count: int, seconds: int, prefix: str = "bench",
              rate_hz: float = data.RATE_HZ) -> list[NodeSamples]:
        """count simulated nodes, each `seconds` of samples ending at end_ns."""
        return [data.node(i, seconds, self.end_ns, prefix, rate_hz) for i in range(count)]


def median(values: list[float]) -> float:
    """The median (statistics.median, spelled once)."""
    return float(statistics.median(values))


def pct(values: list[float], q: float) -> float:
    """The q-th percentile, linear interpolation."""
    return float(np.percentile(values, q))


# ---- ingest -------------------------------------------------------------------------------

def ingest(ctx: Context) -> list[Row]:
    """Samples durably acknowledged per collector CPU-second, against samples Prometheus'
    remote-write receiver accepted per Prometheus CPU-second; fresh servers each run. At the
    default 10 Hz (640 samples a frame) and again at 100 Hz (6,400): a frame's cost is
    mostly per frame, Prometheus' per sample."""
    s = ctx.size
    rows = [_ingest_at(ctx, s.ingest_nodes, s.ingest_seconds, data.RATE_HZ,
                       "ingest: samples acknowledged per CPU-second")]
    if ctx.profile_top:
        streams = [encode_node(n) for n in ctx.nodes(s.ingest_nodes, s.ingest_seconds)]
        ctx.profiles["the ingest row"] = _profiled_ingest(ctx, streams)
    rows.append(_ingest_at(ctx, s.ingest_hf_nodes, s.ingest_hf_seconds, data.FAST_RATE_HZ,
                           "ingest: the same at 100 Hz"))
    return rows


def _ingest_at(ctx: Context, count: int, seconds: int, rate_hz: float, title: str) -> Row:
    nodes = ctx.nodes(count, seconds, rate_hz=rate_hz)
    streams = [encode_node(n) for n in nodes]
    bodies = feed.bodies_of(nodes)
    samples = sum(n.samples for n in nodes)
    ours, theirs = [], []
    for _ in range(ctx.runs):
        ours.append(samples / _gputel_ingest_cpu(ctx, streams))
        theirs.append(_peer_ingest(ctx, bodies, samples))
    g, p = median(ours), median(theirs)
    per_frame = samples // (count * seconds)
    return Row("ingest", title, ">= 2x Prometheus", f"{g:,.0f}", f"{p:,.0f}", g / p,
               g / p >= 2.0, [
                   f"{count} nodes x {seconds} s at {rate_hz:g} Hz = {samples:,} samples "
                   f"({per_frame:,} a frame), {ctx.runs} runs, fresh servers each run",
                   "gputel: acknowledged after the store's fsync, "
                   f"runs {', '.join(f'{v:,.0f}' for v in ours)}",
                   f"Prometheus: remote write 1.0, {data.REMOTE_WRITE_BATCH}-sample bodies over "
                   f"{feed.PEER_CONNECTIONS} connections, answered once in its head and WAL "
                   f"(no fsync per request), runs {', '.join(f'{v:,.0f}' for v in theirs)}"])


def _gputel_ingest_cpu(ctx: Context, streams: list[list[pb.AgentMessage]]) -> float:
    side = Gputel(ctx.scratch("gputel-ingest") / "data")
    side.start()
    try:
        cpu0 = cpu_seconds(side.pid)
        feed.gputel_bulk(side.target, streams)
        return cpu_seconds(side.pid) - cpu0
    finally:
        side.stop()


def _peer_ingest(ctx: Context, bodies: list[list[bytes]], samples: int) -> float:
    prom = Prometheus(ctx.scratch("prom-ingest"))
    prom.start()
    try:
        before = prom.appended()
        cpu0 = cpu_seconds(prom.pid)
        feed.prometheus_bulk(prom, bodies)
        cpu = cpu_seconds(prom.pid) - cpu0
        accepted = prom.appended() - before
        if accepted < samples:
            raise BenchError(f"prometheus appended {accepted:,.0f} of {samples:,} samples")
        return accepted / cpu
    finally:
        prom.stop()


def _profiled_ingest(ctx: Context, streams: list[list[pb.AgentMessage]]) -> list[str]:
    """The ingest run once more with the collector under cProfile (every thread)."""
    out = ctx.workdir / "ingest.prof"
    side = Gputel(ctx.scratch("gputel-profile") / "data", _profiled(out))
    side.start()
    try:
        feed.gputel_bulk(side.target, streams)
    finally:
        side.stop()
    return _top(out, ctx.profile_top)


def _profiled(out: Path) -> tuple[str, ...]:
    """A collector launcher under cProfile (every thread), stats to `out` at SIGTERM."""
    return (sys.executable, "-m", "benchmarks.suite.profiled", str(out), "--")


def _top(out: Path, n: int) -> list[str]:
    from benchmarks.suite.profiled import top  # noqa: PLC0415

    return top(out, n)


# ---- at rest ------------------------------------------------------------------------------

def at_rest(ctx: Context) -> Row:
    """Bytes per sample on disk: gputel's data directory after a clean stop (which seals the
    head) and `gputel compact` (which merges the sealed blocks), against the block promtool
    builds from the same samples (OpenMetrics backfill)."""
    s = ctx.size
    nodes = ctx.nodes(s.rest_nodes, s.rest_seconds)
    samples = sum(n.samples for n in nodes)
    side = Gputel(ctx.scratch("gputel-rest") / "data")
    side.start()
    try:
        feed.gputel_bulk(side.target, [encode_node(n) for n in nodes])
    finally:
        side.stop()
    compacted = subprocess.run([*_gputel_cli(), "compact", "--data-dir", str(side.data_dir),
                                "--retention", "1h"], capture_output=True, text=True,
                               check=False, timeout=3600)
    if compacted.returncode:
        raise BenchError(f"gputel compact failed: {compacted.stderr[-1000:]}")
    ours = disk_bytes(side.data_dir / "blocks")  # the full-rate data, as promtool's block
    everything = disk_bytes(side.data_dir)
    work = ctx.scratch("promtool-rest")
    text = work / "samples.om"
    with text.open("w") as out:
        out.writelines(data.openmetrics(nodes))
    blocks = work / "blocks"
    done = subprocess.run([binary("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                           str(text), str(blocks)], capture_output=True, text=True,
                          check=False, timeout=3600)
    if done.returncode:
        raise BenchError(f"promtool create-blocks-from failed: {done.stderr[-1000:]}")
    theirs = disk_bytes(blocks)
    g, p = ours / samples, theirs / samples
    return Row("at_rest", "at rest: bytes per sample", "<= 0.5x Prometheus",
               f"{g:.2f}", f"{p:.2f}", g / p, g / p <= 0.5, [
                   f"{s.rest_nodes} nodes x {s.rest_seconds} s = {samples:,} samples, "
                   "values quantised as drivers report them",
                   f"gputel: Parquet blocks after SIGTERM (seals the head) and `gputel "
                   f"compact`, {ours:,} bytes on disk; the whole data directory "
                   f"{everything:,} bytes ({everything / samples:.2f} B/sample: the DuckDB "
                   "file adds the rollup tiers, the ingest state and the pages the head "
                   f"used); {compacted.stdout.strip()}",
                   f"Prometheus: `promtool tsdb create-blocks-from openmetrics` blocks, "
                   f"{theirs:,} bytes on disk"])


# ---- query --------------------------------------------------------------------------------

@dataclass
class Question:
    """One question asked of both sides; each ask returns the points or samples it got."""

    name: str
    ours: Callable[[], int]
    theirs: Callable[[], int]


def query(ctx: Context) -> list[Row]:
    """p50 and p99 of three questions, asked alternately of both sides while live nodes
    stream into both."""
    s = ctx.size
    longest = max(s.query_cluster_s, s.query_raw_s)
    nodes = [data.node(0, s.query_workload_s, ctx.end_ns),
             *(data.node(i, longest, ctx.end_ns) for i in range(1, s.query_nodes))]
    side, prom = Gputel(ctx.scratch("gputel-query") / "data"), Prometheus(
        ctx.scratch("prom-query"))
    side.start()
    prom.start()
    try:
        feed.gputel_bulk(side.target, [encode_node(n) for n in nodes])
        feed.prometheus_bulk(prom, feed.bodies_of(nodes))
        questions = _questions(ctx, side, prom, nodes[0])
        live_nodes = [data.node(i, 60, ctx.end_ns, "live") for i in range(s.live_nodes)]
        live = feed.LiveFeed(side.target, prom, live_nodes, 7200, lazy=True).prepare().start()
        try:
            wait_for(lambda: time.time() > live.start_s + 1, 10, "the live feed")
            timings = ask(questions, s.query_reps)
        finally:
            live.stop()
        if live.errors:
            raise BenchError("; ".join(live.errors))
    finally:
        side.kill()
        prom.kill()
    rows = []
    for q in questions:
        ours, theirs, got = timings[q.name]
        g50, p50 = pct(ours, 50), pct(theirs, 50)
        rows.append(Row(f"query_{q.name.split(':')[0]}", f"query: {q.name}",
                        "p50 <= 0.5x Prometheus",
                        f"p50 {g50 * 1e3:.1f} ms, p99 {pct(ours, 99) * 1e3:.1f} ms",
                        f"p50 {p50 * 1e3:.1f} ms, p99 {pct(theirs, 99) * 1e3:.1f} ms",
                        g50 / p50, g50 / p50 <= 0.5,
                        [f"{len(ours)} asks each, alternating, while {s.live_nodes} nodes "
                         f"stream into both; answers held {got[0]:,} (gputel) and {got[1]:,} "
                         "(Prometheus) points or samples"]))
    return rows


def _questions(ctx: Context, side: Gputel, prom: Prometheus, held: NodeSamples
               ) -> list[Question]:
    s, end = ctx.size, ctx.end_ns / 1e9
    uuid = held.hello.devices[0].uuid
    pod = workload_of(held.node)
    cluster_step = _step(s.query_cluster_s, s.points)
    workload_step = _step(s.query_workload_s, s.points)
    raw, cluster, work = s.query_raw_s, s.query_cluster_s, s.query_workload_s

    def ours_raw() -> int:
        got = side.get(f"/gpus/{uuid}/metrics", metric="power", start=end - raw, end=end,
                       step="0.1s")
        return len(got["points"])

    def theirs_raw() -> int:
        got = prom.query(f'gputel_gpu_power_watts{{uuid="{uuid}"}}[{raw}s]', end)
        return sum(len(r["values"]) for r in got)

    def ours_cluster() -> int:
        got = side.get("/utilization/history", start=end - cluster, end=end,
                       step=f"{cluster_step:g}s")
        return len(got["points"])

    def theirs_cluster() -> int:
        got = prom.query_range(f"avg(avg_over_time(gputel_gpu_utilization_percent"
                               f"[{cluster_step * 1000:.0f}ms]))", end - cluster, end, cluster_step)
        return sum(len(r["values"]) for r in got)

    def ours_workload() -> int:
        got = side.get(f"/workloads/{pod.uid}/metrics", metric="power", start=end - work,
                       end=end, step=f"{workload_step:g}s")
        return len(got["total"]["points"])

    def theirs_workload() -> int:
        got = prom.query_range(f'sum(avg_over_time(gputel_gpu_power_watts{{pod="{pod.pod}"}}'
                               f"[{workload_step * 1000:.0f}ms]))", end - work, end, workload_step)
        return sum(len(r["values"]) for r in got)

    gpus = 8 * s.query_nodes
    return [Question(f"raw: one GPU's samples over {raw} s", ours_raw, theirs_raw),
            Question(f"cluster: {gpus} GPUs averaged over {cluster} s at {cluster_step:g} s",
                     ours_cluster, theirs_cluster),
            Question(f"workload: one pod's power over {work} s at {workload_step:g} s",
                     ours_workload, theirs_workload)]


def _step(window_s: int, points: int) -> float:
    """A step giving about `points` points over the window: whole milliseconds, >= 1 s."""
    return max(1000, round(window_s * 1000 / points)) / 1000


def ask(questions: list[Question], reps: int
         ) -> dict[str, tuple[list[float], list[float], tuple[int, int]]]:
    out: dict[str, tuple[list[float], list[float], tuple[int, int]]] = {}
    for q in questions:
        ours, theirs, got = [], [], (0, 0)
        for _ in range(reps):
            t0 = time.perf_counter()
            n_ours = q.ours()
            t1 = time.perf_counter()
            n_theirs = q.theirs()
            t2 = time.perf_counter()
            ours.append(t1 - t0)
            theirs.append(t2 - t1)
            got = (n_ours, n_theirs)
        if not all(got):
            raise BenchError(f"{q.name}: an empty answer (gputel {got[0]}, peer {got[1]})")
        out[q.name] = (ours, theirs, got)
    return out


# ---- scale --------------------------------------------------------------------------------

def scale(ctx: Context) -> Row:
    """N nodes x 8 GPUs x 10 Hz offered in real time into one collector holding their
    history: collector cores and peak RSS; the largest N that stays within the goal."""
    s = ctx.size
    attempts: list[str] = []
    best: tuple[int, float, int] | None = None
    for count in s.scale_nodes:
        cores, rss, sustained = _scale_once(ctx, count, attempts)
        if sustained and cores <= 1.0 and rss <= 2 * 2**30:
            best = (count, cores, rss)
            break
    if ctx.profile_top and best is not None:
        out = ctx.workdir / "scale.prof"
        _scale_once(ctx, best[0], [], _profiled(out), stop=True)
        ctx.profiles[f"the scale row at {best[0]} nodes (history written, then the live "
                     "phase; a run of its own, not counted)"] = _top(out, ctx.profile_top)
    if best is None:
        figure = f"none of {', '.join(map(str, s.scale_nodes))} nodes within the goal"
    else:
        figure = f"{best[0]} nodes: {best[1]:.2f} cores, {best[2] / 2**20:,.0f} MiB"
    goal_nodes = 1000
    reached = best[0] if best else 0
    return Row("scale", "scale: 1,000 nodes x 8 GPUs x 10 Hz into one collector",
               "<= 1 core and <= 2 GiB, 1 h retained", figure, "-", reached / goal_nodes,
               reached >= goal_nodes, attempts)


def _scale_once(ctx: Context, count: int, attempts: list[str],
                launcher: tuple[str, ...] = (), stop: bool = False) -> tuple[float, int, bool]:
    """One try at `count` nodes: (cores, peak RSS, sustained); ends the collector with
    SIGKILL, or SIGTERM when `stop` (a profiled one writes its stats then)."""
    s = ctx.size
    nodes = [data.cycled(i, s.scale_history_s, ctx.end_ns) for i in range(count)]
    side = Gputel(ctx.scratch(f"gputel-scale-{count}") / "data", launcher)
    side.start()
    try:
        feed.gputel_bulk(side.target, [encode_node(n) for n in nodes])
        live = feed.LiveFeed(side.target, None, nodes, s.scale_live_s, s.scale_history_s)
        live.prepare()
        wait_for(lambda: time.time() >= live.start_s, 30, "the live phase")
        cpu0, t0 = cpu_seconds(side.pid), time.time()
        peak = _peak_rss_while(side.pid, live.start().join)
        cores = (cpu_seconds(side.pid) - cpu0) / (time.time() - t0)
    finally:
        side.stop() if stop else side.kill()
    sustained = live.acks == live.frames and live.lag_s <= 2.0 and not live.errors
    attempts.append(
        f"{count} nodes ({count * 640:,} samples/s offered, {s.scale_history_s} s history "
        f"= {count * 640 * s.scale_history_s:,} samples retained, {s.scale_live_s} s live): "
        f"{cores:.2f} cores, peak RSS {peak / 2**20:,.0f} MiB, {live.acks:,} of "
        f"{live.frames:,} frames acknowledged, last {live.lag_s:.2f} s after due"
        + (f"; {'; '.join(live.errors)}" if live.errors else ""))
    return cores, peak, sustained


def _peak_rss_while(pid: int, work: Callable[[], object]) -> int:
    peak, done = rss_bytes(pid), threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.wait(0.25):
            peak = max(peak, rss_bytes(pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        work()
    finally:
        done.set()
        watcher.join()
    return peak


# ---- restart ------------------------------------------------------------------------------

def restart(ctx: Context) -> Row:
    """SIGKILL, then start again on the same data: seconds until every retained second
    answers a query; at a quarter of the history and at all of it."""
    s = ctx.size
    nodes = [data.cycled(i, s.restart_seconds, ctx.end_ns) for i in range(s.restart_nodes)]
    quarter = s.restart_seconds // 4
    uuid = nodes[0].hello.devices[0].uuid
    side, prom = Gputel(ctx.scratch("gputel-restart") / "data"), Prometheus(
        ctx.scratch("prom-restart"))
    ours: tuple[list[float], list[float]] = ([], [])  # at a quarter, at all of it; seconds
    theirs: tuple[list[float], list[float]] = ([], [])
    try:
        side.start()
        prom.start()
        for slot, (first, last, runs) in enumerate(((0, quarter, 1),
                                                    (quarter, s.restart_seconds, ctx.runs))):
            feed.gputel_bulk(side.target, [encode_node(n, first, last) for n in nodes])
            feed.prometheus_bulk(prom, feed.bodies_of(nodes, first, last))
            span = (nodes[0].ts_ns[0, 0] / 1e9, nodes[0].ts_ns[last - 1, -1] / 1e9)
            ours[slot].extend(_restarts(side, partial(_ours_holds, side, uuid, *span), runs))
            theirs[slot].extend(_restarts(prom, partial(_theirs_holds, prom, uuid, *span),
                                          runs))
    finally:
        side.kill()
        prom.kill()
    g, p = median(ours[1]), median(theirs[1])
    samples = sum(n.samples for n in nodes)
    return Row("restart", "restart: SIGKILL to serving queries", "<= 5 s, flat in retention",
               f"{g:.2f} s ({ours[0][0]:.2f} s at a quarter)",
               f"{p:.2f} s ({theirs[0][0]:.2f} s at a quarter)", g / p, g <= 5.0, [
                   f"{s.restart_nodes} nodes x {s.restart_seconds} s = {samples:,} samples "
                   f"held; {ctx.runs} restarts at all of it, 1 at a quarter",
                   "timed from exec until the query API answers a query whose answer holds "
                   "the first and the last retained second of one GPU",
                   f"gputel runs: {', '.join(f'{v:.2f}' for v in ours[1])} s",
                   f"Prometheus runs: {', '.join(f'{v:.2f}' for v in theirs[1])} s"])


def _restarts(side: Gputel | Prometheus, holds: Callable[[], bool], runs: int
              ) -> list[float]:
    """`runs` times: SIGKILL, start again, time from exec until `holds()`."""
    out = []
    for _ in range(runs):
        side.kill()
        t0 = time.perf_counter()
        side.start()
        wait_for(holds, 600, "the restarted server to answer with its history")
        out.append(time.perf_counter() - t0)
    return out


def _ours_holds(side: Gputel, uuid: str, first: float, last: float) -> bool:
    try:
        got = side.get(f"/gpus/{uuid}/metrics", metric="power", start=first - 0.5,
                       end=last + 0.5, step="1s")
    except (BenchError, httpx.HTTPError):
        return False
    return len(got["points"]) >= int(last - first)


def _theirs_holds(prom: Prometheus, uuid: str, first: float, last: float) -> bool:
    try:
        got = prom.query(f'count_over_time(gputel_gpu_power_watts{{uuid="{uuid}"}}'
                         f"[{last - first + 1:.0f}s])", last + 0.5)
    except (BenchError, httpx.HTTPError):
        return False
    return bool(got) and float(got[0]["value"][1]) >= (last - first) * 10


# ---- freshness ----------------------------------------------------------------------------

def freshness(ctx: Context) -> Row:
    """A real agent (sim, 8 GPUs, 10 Hz) into a collector: for every tick, the time from its
    timestamp until the query API's latest time for that GPU reached it."""
    work = ctx.scratch("freshness")
    side = Gputel(work / "data")
    side.start()
    with (work / "agent.log").open("ab") as log:
        agent = subprocess.Popen(
            [*_gputel_cli(), "agent", "--backend", "sim", "--gpus", "8", "--rate", "10",
             "--collector", side.target, "--node", "fresh-0", "--agent-port", "0",
             "--http-host", "127.0.0.1", "--spool-dir", str(work / "spool"),
             "--attribution", "none", "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=log)
    try:
        delays = _watch_latest(side, ctx.size.fresh_seconds)
    finally:
        agent.terminate()
        agent.wait(30)
        side.kill()
    p99 = pct(delays, 99)
    return Row("freshness", "freshness: sample taken to visible in the query API, p99",
               "<= 1.5 s", f"{p99:.2f} s (p50 {pct(delays, 50):.2f} s)", "-", p99 / 1.5,
               p99 <= 1.5, [f"{len(delays):,} ticks of one GPU over {ctx.size.fresh_seconds} s; "
                            "the API polled every 20 ms; the agent's default 1 s frames"])


def _gputel_cli() -> list[str]:
    return [sys.executable, "-m", "gputel.cli"]


def _watch_latest(side: Gputel, seconds: float) -> list[float]:
    def latest() -> float | None:
        try:
            gpu = side.get("/nodes/fresh-0")["gpus"][0]
        except (BenchError, httpx.HTTPError):
            return None
        stamp = gpu.get("latestTime")
        return None if stamp is None else _unix(stamp)

    wait_for(lambda: latest() is not None, 60, "the agent's first frame")
    seen, delays = latest() or 0.0, []
    stop = time.time() + seconds
    while time.time() < stop:
        now = latest()
        visible_at = time.time()
        if now is not None and now > seen:
            ticks = np.arange(now, seen, -0.1)
            delays.extend((visible_at - ticks).tolist())
            seen = now
        time.sleep(0.02)
    if not delays:
        raise BenchError("no new sample became visible while watching")
    return delays


def _unix(rfc3339: str) -> float:
    """Unix seconds of an RFC 3339 time in UTC ("...Z", up to nanoseconds)."""
    whole, _, fraction = rfc3339.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
    return stamp + (float(f"0.{fraction}") if fraction else 0.0)


# ---- wire ---------------------------------------------------------------------------------

def wire(ctx: Context) -> Row:
    """Bytes per sample on the agent's stream (frames as sent: gzip message compression,
    the agent's default, plus gRPC's 5-byte prefix) against remote write 1.0 + snappy
    bodies of the same samples."""
    s = ctx.size
    nodes = ctx.nodes(s.ingest_nodes, s.ingest_seconds)
    samples = sum(n.samples for n in nodes)
    ours = sum(len(gzip.compress(m.SerializeToString(), GRPC_GZIP_LEVEL)) + GRPC_PREFIX
               for n in nodes for m in encode_node(n)[1:])
    plain = sum(m.ByteSize() + GRPC_PREFIX for n in nodes for m in encode_node(n)[1:])
    theirs = sum(len(b) for bodies in feed.bodies_of(nodes) for b in bodies)
    per_frame = sum(len(b) for n in nodes
                    for f in range(n.ts_ns.shape[0])
                    for b, _ in data.remote_write_bodies(n, f, f + 1))
    g, p = ours / samples, theirs / samples
    return Row("wire", "wire: bytes per sample, agent stream vs remote write", "<= 0.25x",
               f"{g:.2f}", f"{p:.2f}", g / p, g / p <= 0.25, [
                   f"{s.ingest_nodes} nodes x {s.ingest_seconds} s = {samples:,} samples",
                   "gputel: one frame per node and second (the agent's default), "
                   "with holdings of its pod, gzip as gRPC compresses messages "
                   f"(level {GRPC_GZIP_LEVEL}); uncompressed {plain / samples:.2f} B/sample",
                   f"remote write: bodies of up to {data.REMOTE_WRITE_BATCH} samples "
                   f"(Prometheus' max_samples_per_send); with one body per node and second "
                   f"it would be {per_frame / samples:.2f} B/sample"])


def scaleout(ctx: Context) -> Row:
    """N collectors over VictoriaMetrics against one embedded collector (suite.scaleout)."""
    from benchmarks.suite.scaleout import run  # noqa: PLC0415 - it imports this module

    return run(ctx)


ROWS: dict[str, Callable[[Context], Row | list[Row]]] = {
    "ingest": ingest, "at_rest": at_rest, "query": query, "scale": scale,
    "restart": restart, "freshness": freshness, "wire": wire, "scaleout": scaleout,
}
