"""/metrics rendering: gputel's text renderer against prometheus_client's generate_latest.

Both render the same series from the same TickWindow view: every GPU family the agent
exports (latest, _max and _min of each gauge, the energy counter, gputel_gpu_up), with
the same names, labels and values; the script checks that both outputs parse to the
same samples before timing them. The baseline is the usual prometheus_client custom
collector (one GaugeMetricFamily per family, add_metric per GPU) plus generate_latest.

    .venv/bin/python benchmarks/metrics_render.py [--series 10000] [--repeats 30]

Prints the median and best time per scrape of each, and the speed-up; also the cost
when every GPU gets a new holder on every scrape (the label-prefix cache rebuilt each
time, one gputel_gpu_workload_share series per GPU more) and the per-tick cost of
TickWindow.observe.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gputel.agent.backends.base import DeviceInfo  # noqa: E402
from gputel.agent.backends.sim import SimBackend  # noqa: E402
from gputel.agent.exporter import GpuExporter, TickWindow, _families  # noqa: E402


class BaselineCollector(Collector):
    """The same families the prometheus_client way: objects per sample, then generate_latest."""

    def __init__(self, node: str, devices: list[DeviceInfo], metrics: tuple[str, ...],
                 window: TickWindow) -> None:
        self._node, self._devices, self._window = node, devices, window
        self._families = _families(metrics, "")

    def collect(self) -> Iterator[Metric]:
        view = self._window.view("baseline")
        assert view is not None
        arrays = {"latest": view.latest, "max": view.max, "min": view.min}
        labels = [[self._node, str(d.index), d.uuid, d.model] for d in self._devices]
        names = ("node", "gpu", "uuid", "model")
        for fam in self._families:
            values = arrays[fam.source][:, fam.column].astype(np.float64) * fam.scale
            family: GaugeMetricFamily | CounterMetricFamily
            if fam.kind == "counter":
                family = CounterMetricFamily(fam.name.removesuffix("_total"), fam.help,
                                             labels=names)
            else:
                family = GaugeMetricFamily(fam.name, fam.help, labels=names)
            for row, label_values in enumerate(labels):
                if not np.isnan(values[row]):
                    family.add_metric(label_values, float(values[row]))
            yield family
        up = GaugeMetricFamily("gputel_gpu_up", "1 while the GPU gives values, 0 once it "
                               "stopped.", labels=names)
        for row, label_values in enumerate(labels):
            up.add_metric(label_values, float(view.up[row]))
        yield up


def _setup(gpus: int) -> tuple[GpuExporter, CollectorRegistry, TickWindow, list[DeviceInfo]]:
    sim = SimBackend(gpus=gpus, seed=1, salt="bench-node")
    sim.open()
    devices = sim.devices()
    metrics = sim.metrics()
    window = TickWindow(gpus, len(metrics))
    values = sim.read(1_700_000_000 * 10**9).values
    window.observe(1_700_000_000 * 10**9, values)
    exporter = GpuExporter("bench-node", devices, metrics, window)
    registry = CollectorRegistry()
    registry.register(BaselineCollector("bench-node", devices, metrics, window))
    return exporter, registry, window, devices


def _samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {(s.name, tuple(sorted(s.labels.items())), s.value)
            for f in text_string_to_metric_families(text) for s in f.samples
            if not s.name.startswith("gputel_agent_")}


def _time(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm up (and fill caches)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _observe_cost(gpus: int, ticks: int = 5000) -> float:
    """Microseconds per TickWindow.observe of one tick."""
    window = TickWindow(gpus, 8)
    values = np.random.default_rng(0).random((gpus, 8), dtype=np.float32)
    t0 = time.perf_counter()
    for k in range(ticks):
        window.observe(k, values)
    return (time.perf_counter() - t0) / ticks * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    opts = parser.parse_args()
    per_gpu = len(_families(SimBackend(gpus=1).metrics(), "")) + 1  # + gputel_gpu_up
    gpus = max(1, round(opts.series / per_gpu))
    exporter, registry, window, devices = _setup(gpus)
    fast_text = exporter.render("bench")
    slow_text = generate_latest(registry).decode()
    same = _samples(fast_text) == _samples(slow_text)
    n_series = len(_samples(slow_text))
    assert same, "the two renderings differ"

    fast = _time(lambda: exporter.render("bench"), opts.repeats)
    slow = _time(lambda: generate_latest(registry), opts.repeats)
    flip = [0]

    def churn() -> dict[int, list[tuple[str, str, str, float]]]:
        flip[0] += 1  # every GPU gets a new pod: the whole prefix cache is rebuilt
        return {d.index: [(f"pod-{flip[0]}-{d.index}", "ns", "main", 1.0)] for d in devices}

    churning = GpuExporter("bench-node", devices, SimBackend(gpus=1).metrics(), window,
                           holders=churn)
    miss = _time(lambda: churning.render("bench"), max(5, opts.repeats // 3))
    observe_us = {n: _observe_cost(n) for n in (8, gpus)}

    print(f"series={n_series} gpus={gpus} families/gpu={per_gpu} bytes={len(fast_text):,} "
          f"repeats={opts.repeats} (outputs parse to the same samples: {same})")
    for name, runs in (("gputel renderer", fast), ("prometheus_client generate_latest", slow),
                       ("gputel, every holder new every scrape", miss)):
        print(f"{name:40s} median {statistics.median(runs) * 1e3:8.2f} ms   "
              f"best {min(runs) * 1e3:8.2f} ms")
    print(f"speed-up (median): {statistics.median(slow) / statistics.median(fast):.1f}x; "
          f"with the cache rebuilt every scrape: "
          f"{statistics.median(slow) / statistics.median(miss):.1f}x")
    for n, us in observe_us.items():
        print(f"TickWindow.observe, {n} GPUs x 8 metrics, 16 scraper slots: {us:.1f} us per tick")
    return 0


if __name__ == "__main__":
    sys.exit(main())
