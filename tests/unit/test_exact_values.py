"""Whole-number driver values reach the collector's decode exactly (issue 13).

Before exact integers, values crossed the wire as float32: memory above 2^24 bytes and an
energy counter near 3e10 mJ came out rounded (1.4e11 bytes by up to 8 KiB, the counter by
about 2 J).
"""

from __future__ import annotations

import numpy as np

from gputel.agent.backends.base import Reading
from gputel.agent.backends.sim import SimBackend
from gputel.agent.batcher import Batcher
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

T0 = 1_800_000_000 * 10**9
METRICS = ("mem_used", "energy", "power")


def _through_the_wire(metrics: tuple[str, ...], ticks: list[tuple[int, Reading]]
                      ) -> list[frames.Block]:
    """Agent batcher -> serialised frame -> collector decode."""
    emitted: list[pb.Frame] = []
    batcher = Batcher(1, metrics, len(ticks), lambda frame, n: emitted.append(frame))
    for ts, reading in ticks:
        batcher.add(ts, reading)
    (frame,) = emitted
    frame.seq = 1
    return frames.decode_frame(pb.Frame.FromString(frame.SerializeToString()), 1, metrics)


def test_memory_and_energy_counter_round_trip_exactly() -> None:
    mem = [140_000_000_001, 140_000_004_097, 139_999_999_999]  # bytes, odd on purpose
    energy = [30_000_000_123, 30_000_065_124, 30_000_130_001]  # mJ, a driver's counter
    power = [650_123, 649_001, 700_000]  # mW
    ticks = [(T0 + k * 100_000_000, Reading(np.array([[mem[k], energy[k], power[k]]],
                                                     dtype=np.float64))) for k in range(3)]
    (block,) = _through_the_wire(METRICS, ticks)
    assert block.values.dtype == np.float64
    assert block.values[0].tolist() == mem
    assert [round(j * 1000) for j in block.values[1]] == energy  # joules holding every mJ
    assert block.values[1].tolist() == [mj / 1000 for mj in energy]
    assert block.values[2].tolist() == [mw / 1000 for mw in power]  # watts


def test_the_simulator_s_values_round_trip_exactly() -> None:
    sim = SimBackend(gpus=1, seed=5, salt="exact")
    sim.open()
    ticks = [(T0 + k * 10_000_000, sim.read(T0 + k * 10_000_000)) for k in range(100)]
    raw = np.stack([r.values[0] for _, r in ticks], axis=1)  # (metrics, ticks), wire units
    (block,) = _through_the_wire(sim.metrics(), ticks)
    energy = sim.metrics().index("energy")
    assert raw[energy, 0] > 1e10  # a counter near 3e10 mJ, whole and only growing
    assert np.all(np.diff(raw[energy]) > 0)
    per_unit = np.array([1000 if m in ("power", "energy") else 1 for m in sim.metrics()])
    np.testing.assert_array_equal(block.values, raw / per_unit[:, None])
