"""Attribution end to end: a PodResources stand-in on a unix socket, real agents, a real
collector; pods arrive and leave, a GPU is shared, the kubelet goes away and comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gputel.agent.backends.base import ProcessSample, Reading
from gputel.collector.timefmt import format_time
from tests.harness.kubelet import KubeletStandIn, gpu_pod
from tests.harness.servers import (
    CollectorThread,
    get_json,
    running_agent,
    wait_sampled,
    wait_until,
)

PROC = Path(__file__).resolve().parents[1] / "data" / "proc"
POLL_S, RATE = 0.2, 20
PERIOD_NS = 10**9 // RATE


@pytest.fixture
def kubelet() -> Iterator[KubeletStandIn]:
    standin = KubeletStandIn().start()
    yield standin
    standin.close()


def _workloads(base: str) -> dict[str, dict]:
    status, body = get_json(f"{base}/api/v1/workloads")
    assert status == 200
    return {w["uid"]: w for w in body["data"]}


def _holders(base: str, node: str) -> dict[int, list[tuple[str, float]]]:
    _, body = get_json(f"{base}/api/v1/nodes/{node}/gpus")
    return {g["index"]: [(h["workload"], h["fraction"]) for h in g["heldBy"]]
            for g in body["data"]}


def test_attribution_follows_pods_arriving_and_leaving_within_one_poll(
        collector: CollectorThread, kubelet: KubeletStandIn) -> None:
    with running_agent(collector.grpc_target, gpus=4, rate_hz=RATE, flush_seconds=0.1,
                       attribution="kubelet", kubelet_socket=kubelet.socket_path,
                       kubelet_poll_seconds=POLL_S) as agent:
        uuid = [d.uuid for d in agent.backend.devices()]
        kubelet.set_pods([gpu_pod("ml", "train-a", uuid[0], uuid[1]),
                          gpu_pod("ml", "infer-b", f"{uuid[2]}::0"),
                          gpu_pod("web", "infer-c", f"{uuid[2]}::1")])
        base = collector.http_base
        wait_until(lambda: len(_workloads(base)) == 3, what="three workloads")
        wait_until(lambda: len(_holders(base, "node-a")[2]) == 2, what="the shared GPU split")
        held = _holders(base, "node-a")
        assert held[0] == held[1] == [("ml/train-a", 1.0)]
        assert sorted(held[2]) == [("ml/infer-b", 0.5), ("web/infer-c", 0.5)]  # split, not copied
        assert held[3] == []

        changed_at = time.time_ns()
        kubelet.set_pods([gpu_pod("ml", "infer-b", f"{uuid[2]}::0"),
                          gpu_pod("web", "infer-c", f"{uuid[2]}::1"),
                          gpu_pod("eval", "eval-d", uuid[3])])
        wait_until(lambda: _workloads(base).get("eval/eval-d", {}).get("status") == "running"
                   and _workloads(base)["ml/train-a"]["status"] == "ended",
                   what="train-a gone and eval-d running")
        index = collector.collector.ingest.workloads
        for device, now in ((0, ()), (3, (("eval/eval-d", 1.0),))):
            since, _, shares = index.segments(("node-a", uuid[device]), 0, 2**62)[-1]
            assert shares == now
            # Seen at the first poll after the change: within one poll interval (+ a tick).
            assert since - changed_at <= POLL_S * 1e9 + 2 * PERIOD_NS
        ns = {n["namespace"]: n for n in get_json(f"{base}/api/v1/namespaces")[1]["data"]}
        assert ns["ml"]["workloads"] == 2
        assert ns["eval"]["running"] == 1


def test_energy_is_conserved_across_workloads_and_unattributed(
        collector: CollectorThread, kubelet: KubeletStandIn) -> None:
    with running_agent(collector.grpc_target, gpus=3, rate_hz=RATE, flush_seconds=0.1,
                       attribution="kubelet", kubelet_socket=kubelet.socket_path,
                       kubelet_poll_seconds=POLL_S) as agent:
        uuid = [d.uuid for d in agent.backend.devices()]
        kubelet.set_pods([gpu_pod("ml", "a", uuid[0]), gpu_pod("ml", "b", f"{uuid[1]}::0"),
                          gpu_pod("ml", "c", f"{uuid[1]}::1")])
        assert agent.outbox.wait(lambda s: s.frames_acked >= 10, timeout=30)
        kubelet.set_pods([gpu_pod("ml", "c", f"{uuid[1]}::1")])  # a and b leave mid-run
        acked = agent.outbox.stats.frames_acked
        assert agent.outbox.wait(lambda s: s.frames_acked >= acked + 10, timeout=30)
        assert agent.stop(drain_timeout=10)
    base = collector.http_base
    _, gpus = get_json(f"{base}/api/v1/nodes/node-a/gpus")
    device_j = sum(g["energyJoules"] for g in gpus["data"])
    unattributed_j = sum(g["unattributedEnergyJoules"] for g in gpus["data"])
    attributed_j = sum(w["energyJoules"] for w in _workloads(base).values())
    assert attributed_j > 0
    assert unattributed_j > 0  # GPU 2 was never held; GPU 0 after a left
    assert attributed_j + unattributed_j == pytest.approx(device_j, rel=1e-9)
    # And the device's joules are its counter's own difference over the run.
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    for g in gpus["data"]:
        counter = [float(v[g["index"], 7]) for _, v in ticks]  # joules holding every mJ
        assert g["energyJoules"] == pytest.approx(counter[-1] - counter[0], rel=1e-9)


class WithProcesses:
    """A sim backend whose GPU 0 runs host PID 5001 (a Slurm job) from tick `start` to `end`."""

    def __init__(self, inner: object, start: int, end: int) -> None:
        self.inner, self.start, self.end, self.k = inner, start, end, 0
        self.name = "sim"

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def read(self, ts_ns: int) -> Reading:
        reading = self.inner.read(ts_ns)  # type: ignore[attr-defined]
        running = self.start <= self.k < self.end
        reading.processes = {0: [ProcessSample(5001, 2**30)] if running else []}
        self.k += 1
        return reading


def test_a_workload_series_begins_and_ends_at_the_right_tick(collector: CollectorThread,
                                                            tmp_path: Path) -> None:
    with running_agent(collector.grpc_target, gpus=2, rate_hz=RATE, flush_seconds=0.25,
                       max_ticks=40, proc_root=PROC,
                       wrap=lambda sim: WithProcesses(sim, start=10, end=30)) as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10)
    ticks = [t for t, _ in agent.backend.ticks]  # type: ignore[attr-defined]
    _, body = get_json(f"{collector.http_base}/api/v1/workloads/slurm/4242/metrics",
                       metric="power", agg="count", step=f"{1000 // RATE}ms",
                       start=format_time(ticks[0]), end=format_time(ticks[-1]))
    points = body["data"]["total"]["points"]
    assert [p[0] for p in points] == [format_time(t) for t in ticks[10:30]]
    workload = get_json(f"{collector.http_base}/api/v1/workloads/slurm/4242")[1]["data"]
    assert workload["kind"] == "slurm"
    assert workload["labels"]["slurm_job_user"] == "alice"
    assert workload["gpuSecondsAllocated"] == pytest.approx(20 / RATE, rel=1e-6)


def test_kubelet_away_keeps_sampling_marks_attribution_unavailable_and_retries(
        collector: CollectorThread, kubelet: KubeletStandIn) -> None:
    kubelet.stop()  # the socket is gone, as during a kubelet restart
    with running_agent(collector.grpc_target, gpus=1, rate_hz=RATE, flush_seconds=0.1,
                       attribution="kubelet", kubelet_socket=kubelet.socket_path,
                       kubelet_poll_seconds=POLL_S) as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 3, timeout=30)  # still sampling
        assert agent.http is not None
        ready = httpx.get(f"http://127.0.0.1:{agent.http.port}/readyz")
        assert ready.status_code == 200
        assert ready.json()["attribution"] == "unavailable"
        node = f"{collector.http_base}/api/v1/nodes/node-a"
        wait_until(lambda: get_json(node)[1]["data"]["attribution"] == "unavailable",
                   what="the collector to see attribution down")
        kubelet.start()
        kubelet.set_pods([gpu_pod("ml", "late", agent.backend.devices()[0].uuid)])
        wait_until(lambda: get_json(node)[1]["data"]["attribution"] == "up", timeout=30,
                   what="attribution to come back by itself")
        wait_until(lambda: "ml/late" in _workloads(collector.http_base), what="the pod")
        assert httpx.get(f"http://127.0.0.1:{agent.http.port}/readyz").json()[
            "attribution"] == "up"


def test_simulated_pods_hold_simulated_gpus_for_demos(collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, gpus=4, rate_hz=RATE, flush_seconds=0.1,
                       attribution="sim") as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 3, timeout=30)
        base = collector.http_base
        wait_until(lambda: len(_workloads(base)) == 3, what="the simulated pods")
        held = _holders(base, "node-a")
        assert held[0] == held[1] == [("ml-research/llm-pretrain-0", 1.0)]
        assert held[2] == [("inference/chat-api-0", 1.0)]
        assert held[3] == [("ml-research/notebook-alice-0", 1.0)]  # the idle GPU, held
        ns = {n["namespace"]: n for n in get_json(f"{base}/api/v1/namespaces")[1]["data"]}
        assert set(ns) == {"ml-research", "inference"}
