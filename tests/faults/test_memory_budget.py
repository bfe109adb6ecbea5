"""A flood of large frames against a collector with a memory budget, a good agent beside it.

The collector runs as its own process so its resident memory can be measured; the flood
streams send valid 10 MB frames as fast as the collector acknowledges them, reconnecting
whenever they are refused, for a bounded number of frames: enough that most of the flood
cannot stay (the store is full many times over), few enough to finish well inside the test
timeout on a loaded machine. The collector must stay under its
budget (with a margin for the interpreter's own slack), count what it refused or evicted on
/metrics, and still take every one of the good agent's ticks exactly once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import psutil
import pytest

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import CORE_METRICS
from tests.harness.raw_stream import hello
from tests.harness.servers import CollectorProcess, running_agent

BUDGET_MIB = 768  # above the process's own floor (~190 MiB with DuckDB and Arrow loaded)
FLOODERS, FRAMES_EACH, TICKS, DEVICES = 3, 20, 40_000, 8  # 2.56 M values (10 MB) a frame
pytestmark = pytest.mark.slow


class _Peak:
    """The highest RSS of a process, sampled every 50 ms until stopped or the process is
    gone. A context manager: the sampler ends with the block even when the test fails
    in it (a sampler left running fails a later test when the process ends)."""

    def __init__(self, pid: int) -> None:
        self.bytes = 0
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.bytes = max(self.bytes, self._process.memory_info().rss)
            except psutil.NoSuchProcess:
                return


def _template(node: str) -> tuple[pb.Hello, pb.Frame]:
    metrics = tuple(range(len(CORE_METRICS)))
    rng = np.random.default_rng(7)
    values = rng.integers(0, 100, (len(metrics), TICKS)).astype(np.float32)
    ts = np.arange(TICKS, dtype=np.int64) * 1_000_000
    blocks = [frames.encode_block(d, metrics, ts, values) for d in range(DEVICES)]
    return (hello(node=node, n_devices=DEVICES, agent_instance=f"{node}-1"),
            pb.Frame(blocks=blocks))


def _flood(target: str, node: str, counts: dict[str, int]) -> None:
    """Send FRAMES_EACH frames of fresh timestamps; reconnect after each refusal."""
    first, template = _template(node)
    t0 = time.time_ns() - 20 * 3600 * 10**9  # inside the collector's 24 h window
    span = TICKS * 1_000_000
    sent = 0
    while sent < FRAMES_EACH:
        requests: queue.Queue[bytes | None] = queue.Queue()
        requests.put(pb.AgentMessage(hello=first).SerializeToString())
        with grpc.insecure_channel(target, options=(
                ("grpc.max_send_message_length", 32 * 1024 * 1024),)) as channel:
            call = channel.stream_stream("/gputel.v1.IngestService/Stream",
                                         request_serializer=lambda b: b,
                                         response_deserializer=pb.CollectorMessage.FromString)
            answers = call(iter(requests.get, None))
            try:
                next(answers)  # Welcome
                while sent < FRAMES_EACH:
                    template.seq = sent + 1
                    for block in template.blocks:
                        block.base_ts_ns = t0 + sent * span
                    requests.put(pb.AgentMessage(frame=template).SerializeToString())
                    next(answers)
                    sent += 1
                    counts["acked"] += 1
            except grpc.RpcError as err:
                counts[err.code().name] = counts.get(err.code().name, 0) + 1
                time.sleep(0.2)  # an attacker's pause; the collector is not waited on
            finally:
                requests.put(None)
                answers.cancel()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(str(tmp_path / "data"), args=[
        "--store", "memory", "--max-memory", f"{BUDGET_MIB}MiB", "--retry-after", "0.5s"])
    process.start()
    yield process
    process.stop()


def test_a_flood_of_large_frames_stays_under_the_memory_budget(
        collector: CollectorProcess) -> None:
    assert collector.proc is not None
    target = f"127.0.0.1:{collector.grpc_port}"
    counts: dict[str, int] = {"acked": 0}
    with _Peak(collector.proc.pid) as peak, running_agent(
            target, node="good", gpus=2, rate_hz=20, flush_seconds=0.1) as agent:
        flooders = [threading.Thread(target=_flood, args=(target, f"flood-{i}", counts))
                    for i in range(FLOODERS)]
        for thread in flooders:
            thread.start()
        for thread in flooders:
            thread.join(300)
        assert not any(t.is_alive() for t in flooders)
        assert agent.stop(drain_timeout=60), "the good agent's frames were all acknowledged"
    rss = peak.bytes
    assert rss < BUDGET_MIB * 2**20 * 1.25, f"peak RSS {rss / 2**20:.0f} MiB"
    metrics = httpx.get(f"{collector.http_base}/metrics", timeout=10).text
    refused = _value(metrics, "gputel_collector_memory_refusals_total")
    evicted = _value(metrics, "gputel_collector_store_samples_evicted_total")
    assert refused + evicted > 0, "the budget was reached and what it cost is counted"
    flood = counts["acked"] * DEVICES * TICKS * len(CORE_METRICS)
    assert evicted > flood / 2, f"most of the flood could not stay ({evicted=:.0f}, {flood=})"
    ticks = len(agent.backend.ticks)  # type: ignore[attr-defined]
    node = httpx.get(f"{collector.http_base}/api/v1/nodes/good", timeout=10).json()["data"]
    assert node["samplesIngested"] == ticks * 2 * len(agent.backend.metrics())
    print(f"flood: {counts}, peak RSS {rss / 2**20:.0f} MiB of {BUDGET_MIB}, "
          f"refused {refused:.0f}, evicted {evicted:.0f} of {flood} samples")


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0
