"""The query core's windows and aggregations, checked against a plain-Python reference."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from gputel.collector.errors import InvalidParameterError, NotFoundError
from gputel.collector.ingest.core import IngestCore
from gputel.collector.query.core import AGGREGATIONS, QueryCore
from gputel.collector.storage.store import SeriesStore
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.harness.raw_stream import hello

T0 = 1_800_000_000 * 10**9


def _core(samples: dict[str, list[tuple[int, float]]]) -> QueryCore:
    store = SeriesStore(retention_ns=10**18)
    ingest = IngestCore(store, lambda: T0)
    msg = hello(node="n", n_devices=len(samples))
    for i, uuid in enumerate(samples):
        msg.devices[i].uuid = uuid
    ingest.open(msg)
    for uuid, points in samples.items():
        ts = np.array([t for t, _ in points], dtype=np.int64)
        vals = np.array([v for _, v in points], dtype=np.float32)
        store.append(("n", uuid, "power"), ts, vals)
    return QueryCore(ingest.registry, ingest.workloads, store, lambda: T0)


def _reference(points: list[tuple[int, float]], start: int, end: int, step: int,
               agg: str) -> list[tuple[int, float]]:
    out = []
    t = start
    while t <= end:
        window = [float(np.float32(v)) for ts, v in points if t - step < ts <= t]
        if window:
            value = {"avg": lambda w: math.fsum(w) / len(w), "min": min, "max": max,
                     "sum": math.fsum, "last": lambda w: w[-1], "count": len}[agg](window)
            out.append((t, float(value)))
        t += step
    return out


@pytest.mark.parametrize("agg", AGGREGATIONS)
@pytest.mark.parametrize("seed", range(4))
def test_range_query_matches_reference(agg: str, seed: int) -> None:
    rng = random.Random(seed)
    times = sorted(rng.sample(range(T0, T0 + 10**10, 1000), 300))
    points = [(t, rng.uniform(50, 700)) for t in times]
    rng.shuffle(points)  # arrival order must not matter
    core = _core({"GPU-a": points})
    start, step = T0 + rng.randrange(10**9), rng.randrange(10**7, 10**9)
    end = start + rng.randrange(10**9, 9 * 10**9)
    got = core.query_range("n", "power", start, end, step, agg)
    (series,) = got.gpus
    want = _reference(sorted(points), start, end, step, agg)
    assert [int(t) for t in series.ts_ns] == [t for t, _ in want]
    np.testing.assert_allclose(series.values, [v for _, v in want], rtol=1e-12)


def test_node_total_sums_power_over_gpus() -> None:
    core = _core({"GPU-a": [(T0 + 10, 100.0), (T0 + 20, 300.0)], "GPU-b": [(T0 + 10, 50.0)]})
    got = core.query_range("n", "power", T0, T0 + 100, 100, "avg")
    assert list(got.node_total.values) == [250.0]  # 200 (avg of a) + 50


def test_points_with_no_sample_are_left_out() -> None:
    core = _core({"GPU-a": [(T0 + 5, 1.0), (T0 + 35, 2.0)]})
    got = core.query_range("n", "power", T0, T0 + 40, 10, "last")
    assert [int(t) - T0 for t in got.gpus[0].ts_ns] == [10, 40]


def test_default_step_keeps_a_series_under_a_thousand_points() -> None:
    core = _core({"GPU-a": [(T0, 1.0)]})
    got = core.query_range("n", "power", T0 - 86400 * 10**9, T0)
    assert (got.end_ns - got.start_ns) // got.step_ns + 1 <= 1000


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"node": "x", "metric": "power"}, NotFoundError),
    ({"node": "n", "metric": "nope"}, InvalidParameterError),
    ({"node": "n", "metric": "power", "gpu": "GPU-z"}, NotFoundError),
    ({"node": "n", "metric": "power", "agg": "p42"}, InvalidParameterError),
    ({"node": "n", "metric": "power", "start_ns": T0, "end_ns": T0 - 1}, InvalidParameterError),
    ({"node": "n", "metric": "power", "step_ns": -1}, InvalidParameterError),
    ({"node": "n", "metric": "power", "start_ns": 0, "end_ns": T0, "step_ns": 1},
     InvalidParameterError),
])
def test_bad_questions_raise_the_core_errors(kwargs: dict[str, object],
                                             error: type[Exception]) -> None:
    core = _core({"GPU-a": [(T0, 1.0)]})
    with pytest.raises(error):
        core.query_range(**kwargs)  # type: ignore[arg-type]


def test_store_drops_old_chunks_and_keeps_recent_ones() -> None:
    store = SeriesStore(retention_ns=10**9)
    ts = T0 + np.arange(10_000, dtype=np.int64) * 1000  # 10 ms of samples
    store.append(("n", "g", "power"), ts, np.ones(10_000, dtype=np.float32))
    later = T0 + 100 * 10**9
    store.append(("n", "g", "power"), np.array([later], dtype=np.int64),
                 np.ones(1, dtype=np.float32))
    dropped = store.enforce_retention(later)
    assert dropped >= 8192  # the two full chunks
    assert store.sample_count() == 10_001 - dropped
    assert store.latest(("n", "g", "power")) == (later, 1.0)


def test_nan_values_are_not_stored() -> None:
    store = SeriesStore(retention_ns=10**18)
    n = store.append(("n", "g", "power"), np.array([1, 2, 3], dtype=np.int64),
                     np.array([1.0, np.nan, 3.0], dtype=np.float32))
    assert n == 2
    assert store.sample_count() == 2


def test_unknown_node_in_core_answers() -> None:
    core = _core({"GPU-a": [(T0, 1.0)]})
    with pytest.raises(NotFoundError):
        core.list_devices("ghost")
    assert [n.state.name for n in core.list_nodes()] == ["n"]
    assert isinstance(pb.PROTOCOL_VERSION_1, int)


def test_a_timeline_grows_with_changes_not_with_restatements() -> None:
    from gputel.collector.registry.workloads import Timeline  # noqa: PLC0415

    timeline = Timeline()
    held, free = (("ml/a", 1.0),), ()
    for k in range(100):  # every frame restates who holds the device
        timeline.set(T0 + k * 10**9, held if k < 60 else free)
    assert timeline.since == [T0, T0 + 60 * 10**9]
    assert timeline.segments(T0, T0 + 100 * 10**9) == [
        (T0, T0 + 60 * 10**9, held), (T0 + 60 * 10**9, T0 + 100 * 10**9, free)]
    timeline.set(T0 + 30 * 10**9, held)  # a late resend inside a run changes nothing
    assert len(timeline.since) == 2
