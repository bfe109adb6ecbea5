"""The allocated_idle rule over many GPUs: each GPU judged on its own window before its
newest sample, the peaks read in one store statement per group of GPUs whose newest
samples are close (not one read per GPU per pass)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from gputel.collector.query.alerts import AlertEngine, AlertRules
from gputel.collector.query.core import DeviceView
from gputel.collector.registry.nodes import DeviceRecord, NodeState
from gputel.collector.storage.store import SeriesStore

T0 = 1_700_000_000 * 10**9
S = 10**9
PERIOD = S // 10
RULES = AlertRules(idle_util_percent=5.0, idle_seconds=2.0, xid_window_seconds=1.0)
HELD_SINCE = {"GPU-late-held": T0 + 3600 * S + 4 * S}  # others: held long before


def _gpu(node: str, index: int, uuid: str, util: list[float], first_ns: int,
         store: SeriesStore) -> DeviceView:
    ts = first_ns + np.arange(len(util), dtype=np.int64) * PERIOD
    store.write(node, ("gpu_util",), [(uuid, ts, (0,), np.array([util], dtype=float))])
    record = DeviceRecord(node, index, uuid, "nvidia", "H200", 2**37, "", "")
    return DeviceView(record, {"gpu_util": util[-1]}, int(ts[-1]),
                      holders=(("ml/pod", 1.0),), status="allocated")


def _segments(node: str, uuid: str, start: int, end: int) -> list[Any]:
    since = HELD_SINCE.get(uuid, T0 - 3600 * S)
    return [(max(since, start), end, (("ml/pod", 1.0),))] if since < end else []


def test_each_gpu_is_judged_on_its_own_window_in_one_read_per_group() -> None:
    store = SeriesStore(10**15)
    later = T0 + 3600 * S  # the second node's samples are an hour newer
    views = {
        "old": [_gpu("old", 0, "GPU-old-idle", [1.0] * 50, T0, store),
                _gpu("old", 1, "GPU-old-busy", [1.0] * 45 + [80.0] * 5, T0, store)],
        "new": [_gpu("new", 0, "GPU-new-idle", [2.0] * 40 + [4.0] + [1.0] * 9, later, store),
                _gpu("new", 1, "GPU-new-busy-early", [90.0] * 25 + [0.0] * 25, later, store),
                _gpu("new", 2, "GPU-late-sampled", [0.0] * 10, later + 4 * S, store),
                _gpu("new", 3, "GPU-late-held", [0.0] * 50, later, store)],
    }
    states = [NodeState(n, "nvidia", "i", "v", 10.0, [v.device for v in vs], T0, later,
                        streams=1) for n, vs in views.items()]
    reads: list[int] = []
    read_peaks = store.read_peaks

    def counted(series: Any, metric: str, spans: Any) -> Any:
        reads.append(len(series))
        return read_peaks(series, metric, spans)

    store.read_peaks = counted  # type: ignore[method-assign]
    core = SimpleNamespace(node_states=lambda: states, list_devices=lambda n: views[n],
                           store=store, workloads=SimpleNamespace(segments=_segments),
                           time_ns=lambda: later + 10 * S)
    engine = AlertEngine(core, RULES)  # type: ignore[arg-type]
    fired = {e.alert.gpu: e.alert for e in engine.evaluate() if e.alert.rule == "allocated_idle"}
    # Idle for the last 2 s of its own samples, an hour apart; busy within its last 2 s, or
    # busy only before them; sampled for less than the window; held for less of it.
    assert sorted(fired) == ["GPU-new-busy-early", "GPU-new-idle", "GPU-old-idle"]
    assert fired["GPU-new-idle"].value == 4.0  # the largest in its window, not 2.0 before it
    assert fired["GPU-old-idle"].value == 1.0
    assert fired["GPU-new-busy-early"].value == 0.0
    # One statement per group of close newest samples (a node each here), not one per GPU;
    # a GPU not held for the whole window is not read at all.
    assert sorted(reads) == [2, 3]
