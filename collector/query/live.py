"""Live windows for the gRPC Watch: per selected GPU, each metric's avg/min/max/last/count
over the `window` that ends at the GPU's newest sample (so a window is never empty just
because the agent's next frame has not arrived yet)."""

from __future__ import annotations

from dataclasses import dataclass

from gputel.collector.errors import unknown_metric
from gputel.collector.query.core import DeviceView, QueryCore
from gputel.proto.metrics import METRICS

DEFAULT_METRICS = ("gpu_util", "mem_used", "power", "temperature")


@dataclass(frozen=True, slots=True)
class Selection:
    """What to watch: a node and/or a GPU UUID and/or a workload uid (devices it holds at
    each update), and metric ids."""

    node: str | None
    gpu: str | None
    workload: str | None
    metrics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One metric over one window, in its unit."""

    avg: float
    min: float
    max: float
    last: float
    count: int


@dataclass(frozen=True, slots=True)
class LiveDevice:
    """One GPU's windows; `fraction` is the watched workload's share (1 otherwise); times ns."""

    node: str
    uuid: str
    index: int
    fraction: float
    end_ns: int
    metrics: dict[str, WindowStats]


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """One update: when it was taken (Unix ns), the window length (ns), the GPUs."""

    ts_ns: int
    window_ns: int
    devices: list[LiveDevice]


class LiveQueries:
    """Resolves selections and takes snapshots over the query core."""

    def __init__(self, core: QueryCore) -> None:
        self._core = core

    def select(self, node: str | None = None, gpu: str | None = None,
               workload: str | None = None, metrics: tuple[str, ...] = ()) -> Selection:
        """Check a selection once. Raises NotFoundError (node, gpu, workload, metric)."""
        if node:
            self._core.node_state(node)
        if gpu:
            self._core.find_device(gpu, node or None)
        if workload:
            self._core.workloads.summary(workload)
        for metric in metrics:
            if metric not in METRICS:
                raise unknown_metric(metric)
        return Selection(node or None, gpu or None, workload or None,
                         tuple(metrics) or DEFAULT_METRICS)

    def snapshot(self, selection: Selection, window_ns: int) -> LiveSnapshot:
        """The selected GPUs' windows now. Raises NotFoundError if the workload is gone."""
        shares: dict[tuple[str, str], float] | None = None
        if selection.workload:
            held = self._core.workloads.summary(selection.workload).held
            shares = {(h.node, h.uuid): h.fraction for h in held}
        devices = []
        for view in self._core.all_devices():
            d = view.device
            if selection.node not in (None, d.node) or selection.gpu not in (None, d.uuid):
                continue
            if shares is not None and (d.node, d.uuid) not in shares:
                continue
            fraction = 1.0 if shares is None else shares[(d.node, d.uuid)]
            devices.append(self._device(view, fraction, selection.metrics, window_ns))
        return LiveSnapshot(self._core.time_ns(), window_ns, devices)

    def _device(self, view: DeviceView, fraction: float, metrics: tuple[str, ...],
                window_ns: int) -> LiveDevice:
        d, end = view.device, view.latest_ts_ns
        out = {}
        for metric in metrics:
            _, values = self._core.store.read((d.node, d.uuid, metric), end - window_ns + 1, end)
            if values.size:
                v = values.astype(float)
                out[metric] = WindowStats(float(v.mean()), float(v.min()), float(v.max()),
                                          float(v[-1]), int(v.size))
        return LiveDevice(d.node, d.uuid, d.index, fraction, end, out)
