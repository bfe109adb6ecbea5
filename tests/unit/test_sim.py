"""The simulator: deterministic for a seed, believable per profile."""

from __future__ import annotations

import numpy as np

from gputel.agent.backends.sim import METRICS, SimBackend

T0 = 1_800_000_000 * 10**9


def _run(seed: int, seconds: int = 300, rate: int = 10) -> np.ndarray:
    sim = SimBackend(gpus=4, seed=seed, salt="node")
    sim.open()
    return np.stack([sim.read(T0 + k * 10**9 // rate).values for k in range(seconds * rate)])


def test_same_seed_same_values_other_seed_other_values() -> None:
    a, b, c = _run(1, 30), _run(1, 30), _run(2, 30)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_profiles_look_like_their_workloads() -> None:
    v = _run(3)
    col = {m: i for i, m in enumerate(METRICS)}
    util, power, temp, energy = (v[:, :, col[m]] for m in ("gpu_util", "power", "temperature",
                                                           "energy"))
    assert util[:, 0].mean() > 80  # training
    assert util[:, 3].max() == 0  # idle
    assert power[:, 3].max() < 100_000  # mW
    bursty = util[:, 2]
    assert bursty.std() > 15  # inference comes in bursts
    # Temperature lags power: hotter GPUs are the busier ones, and it moves slowly.
    assert temp[-1, 0] > temp[-1, 3] + 10
    assert np.abs(np.diff(temp[:, 0])).max() <= 1  # whole degrees
    assert np.all(np.diff(energy, axis=0) > 0)  # the counter only goes up
    assert np.all((energy[0] > 1e10) & (energy[0] < 5e10))  # mJ, a driver loaded long ago
    assert np.array_equal(v, np.rint(v))  # whole numbers of the drivers' units, as NVML's
    sim = SimBackend(gpus=4, seed=3, salt="node")
    assert len({d.uuid for d in sim.devices()}) == 4
