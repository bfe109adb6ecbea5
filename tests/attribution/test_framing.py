"""Each frame's holdings and workload metadata, as the frame writer builds them.

Defects (issue 12 review): nothing drained the workload book's pending updates in
production, so they grew with every workload the agent ever saw; and a workload that
started and ended within one frame was named in the holdings without its metadata.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from gputel.agent.attribution import Attributor, CgroupResolver, ProcessSample
from gputel.agent.attribution.framing import HoldingsTracker
from gputel.agent.backends.sim import SimBackend
from gputel.agent.runtime import Agent, AgentConfig
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.attribution.conftest import MS, devices

TICK = 10 * MS
FRAME = 100 * TICK  # one frame a second at 100 Hz


def _frame(tracker: HoldingsTracker, first_ts_ns: int) -> pb.Frame:
    frame = pb.Frame()
    tracker.decorate(frame, first_ts_ns)
    return frame


def _named(frame: pb.Frame) -> set[str]:
    return {s.workload for h in frame.holdings for s in h.shares}


def test_a_workload_that_starts_and_ends_within_one_frame_keeps_its_metadata(
        resolver: CgroupResolver) -> None:
    att = Attributor(devices(), resolver=resolver)
    tracker = HoldingsTracker(att, len(devices()))
    att.observe(0, {0: []})
    att.observe(100 * MS, {0: [ProcessSample(6001, 1 << 20)]})  # nvidia-smi, 150 ms
    att.observe(250 * MS, {0: []})
    frame = _frame(tracker, 0)
    assert "process/6001" in _named(frame)
    meta = {w.uid: w for w in frame.workloads}
    assert meta["process/6001"].container == "nvidia-smi"


def test_every_named_workload_has_metadata_in_its_frame_across_many_short_ones() -> None:
    att = Attributor(devices())
    tracker = HoldingsTracker(att, len(devices()))
    for k in range(20):  # per frame: a process on GPU 0 for 30 ms, then a long one on GPU 1
        base = k * FRAME
        att.observe(base + TICK, {0: [ProcessSample(10_000 + k, 1 << 20)]})
        att.observe(base + 4 * TICK, {0: [], 1: [ProcessSample(20_000 + k, 1 << 20)]})
        frame = _frame(tracker, base)
        assert _named(frame) == {w.uid for w in frame.workloads}
        assert {f"process/{10_000 + k}", f"process/{20_000 + k}"} <= _named(frame)


def test_framing_drains_the_pending_updates_so_the_book_stays_bounded() -> None:
    att = Attributor(devices())
    tracker = HoldingsTracker(att, len(devices()))
    for k in range(200):  # 200 short pods' worth of workloads, one per frame
        att.observe(k * FRAME + TICK, {0: [ProcessSample(10_000 + k, 1 << 20)]})
        att.observe(k * FRAME + 2 * TICK, {0: []})
        _frame(tracker, k * FRAME)
        assert att.pending_workload_updates == 0
    assert att.drain_workload_updates() == []


def test_pending_updates_without_a_reader_are_capped_oldest_first_and_counted() -> None:
    att = Attributor(devices(), max_pending_updates=8)
    for k in range(20):
        att.observe(k * TICK, {0: [ProcessSample(10_000 + k, 1 << 20)]})
    assert att.pending_workload_updates == 8
    assert att.stats.workload_updates_dropped == 12
    assert [w.uid for w in att.drain_workload_updates()] == [
        f"process/{10_000 + k}" for k in range(12, 20)]


def test_pending_changes_without_a_reader_are_capped_oldest_first_and_counted() -> None:
    att = Attributor(devices(), max_pending_changes=5)
    for k in range(12):  # a process comes and goes: one change per tick
        att.observe(k * TICK, {0: [ProcessSample(500, 1 << 20)] if k % 2 == 0 else []})
    assert att.stats.changes_dropped == 7
    assert [c.ts_ns for c in att.drain_changes()] == [k * TICK for k in range(7, 12)]


def test_what_the_bounds_dropped_is_on_the_agent_metrics() -> None:
    registry = CollectorRegistry()
    agent = Agent(AgentConfig(node="n1", collector="127.0.0.1:1", attribution="sim",
                              http_port=0, max_ticks=1),
                  SimBackend(gpus=2, seed=1), registry=registry)
    agent.start()
    try:
        assert agent.attributor is not None
        agent.attributor.stats.workload_updates_dropped = 3
        agent.attributor.stats.changes_dropped = 4
        text = generate_latest(registry).decode()
    finally:
        agent.stop(drain_timeout=0.1)
    assert "gputel_agent_attribution_updates_dropped_total 3.0" in text
    assert "gputel_agent_attribution_changes_dropped_total 4.0" in text
