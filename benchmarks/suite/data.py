"""The samples both sides get: simulated nodes, and the same samples on the peer's wires.

Every node comes from `benchmarks/ingest.py` (`simulate_node`, quantised as drivers report
values). Here they become what Prometheus takes: remote-write 1.0 request bodies (protobuf
+ snappy, `gputel.proto.prometheus.write_request`) and OpenMetrics text for
`promtool tsdb create-blocks-from openmetrics`. Series names and labels are the agent's
`/metrics` ones (`gputel_gpu_power_watts{node,gpu,uuid,model,pod,namespace,container}`),
values in Prometheus' base units (`prom_scale`), as an operator's Prometheus holds them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from benchmarks.ingest import HELD_GPUS, NodeSamples, simulate_node, workload_of
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import METRICS
from gputel.proto.prometheus import write_request

GPUS, RATE_HZ = 8, 10.0
FAST_RATE_HZ = 100.0  # the agent's highest rate: the ingest row runs at both
SIMULATED_FRAMES_MAX = 120  # longer cycled series repeat these (only where bytes do not count)
# Prometheus' remote write sends at most this many samples per request (queue_config
# max_samples_per_send, 2.42's default); the peer's bodies batch one node's frames up to it.
REMOTE_WRITE_BATCH = 2000


@functools.cache
def node(index: int, n_frames: int, end_ns: int, prefix: str = "bench",
         rate_hz: float = RATE_HZ) -> NodeSamples:
    """n_frames seconds of one simulated node, its last tick just before end_ns."""
    return simulate_node(index, n_frames, GPUS, rate_hz, end_ns - n_frames * 10**9, prefix)


def cycled(index: int, n_frames: int, end_ns: int, prefix: str = "bench") -> NodeSamples:
    """Like `node`, but only SIMULATED_FRAMES_MAX frames are simulated and repeated (counters
    carried on), for load where time matters and bytes do not (scale, restart)."""
    if n_frames <= SIMULATED_FRAMES_MAX:
        return node(index, n_frames, end_ns, prefix)
    base = node(index, SIMULATED_FRAMES_MAX, end_ns, prefix)
    return extend(base, n_frames, end_ns - n_frames * 10**9)


def extend(base: NodeSamples, n_frames: int, start_ns: int) -> NodeSamples:
    """n_frames of base's values, repeated, stamped from start_ns on; counters keep rising."""
    cycle, ticks = base.ts_ns.shape
    period = int(base.ts_ns[0, 1] - base.ts_ns[0, 0]) if ticks > 1 else 10**9
    reps = -(-n_frames // cycle)
    values = np.concatenate([base.values] * reps)[:n_frames].copy()
    counters = [i for i, m in enumerate(base.hello.metrics) if METRICS[m].prom_type == "counter"]
    flat = base.values.reshape(cycle * ticks, *base.values.shape[2:])
    rise = flat[-1] - flat[0] + (flat[-1] - flat[-2])  # per cycle, per GPU and metric
    for r in range(1, reps):
        part = values[r * cycle:(r + 1) * cycle]
        part[..., counters] += r * rise[:, counters]
    ts = start_ns + period * np.arange(n_frames * ticks, dtype=np.int64)
    return NodeSamples(base.hello, ts.reshape(n_frames, ticks), values)


def series_labels(samples: NodeSamples) -> list[list[tuple[str, str]]]:
    """Labels of each (gpu, metric) series, GPU-major, as on the agent's /metrics."""
    hello, pod = samples.hello, workload_of(samples.node)
    out: list[list[tuple[str, str]]] = []
    for device in hello.devices:
        held = [("pod", pod.pod), ("namespace", pod.namespace), ("container", pod.container)]
        base = [("node", hello.node), ("gpu", str(device.index)), ("uuid", device.uuid),
                ("model", device.model), *(held if device.index in HELD_GPUS else [])]
        out.extend([("__name__", METRICS[m].prom_series), *base] for m in hello.metrics)
    return out


def _scales(samples: NodeSamples) -> npt.NDArray[np.float64]:
    """Wire units (the samples') to Prometheus base units, per metric."""
    return np.array([METRICS[m].prom_scale / METRICS[m].wire_per_unit
                     for m in samples.hello.metrics])


def remote_write_bodies(samples: NodeSamples, first: int = 0, last: int | None = None
                        ) -> Iterator[tuple[bytes, int]]:
    """Frames [first, last) of a node as remote-write bodies of at most REMOTE_WRITE_BATCH
    samples (whole frames, at least one); yields (body, samples in it)."""
    stop = samples.ts_ns.shape[0] if last is None else last
    headers = [write_request.series_header(labels) for labels in series_labels(samples)]
    per_frame = samples.values[0].size
    step = max(1, REMOTE_WRITE_BATCH // per_frame)
    scales = _scales(samples)
    for f in range(first, stop, step):
        g = min(stop, f + step)
        ts_ms = samples.ts_ns[f:g].reshape(-1) // 10**6
        values = (samples.values[f:g] * scales).reshape(ts_ms.size, -1)  # (ticks, series)
        body = write_request.encode((h, ts_ms, values[:, i]) for i, h in enumerate(headers))
        yield body, int(values.size)


def openmetrics(nodes: list[NodeSamples]) -> Iterator[str]:
    """The nodes' samples as OpenMetrics text, one family at a time, ending in # EOF."""
    if not nodes:
        yield "# EOF\n"
        return
    metrics = list(nodes[0].hello.metrics)
    for m, metric_id in enumerate(metrics):
        metric = METRICS[metric_id]
        yield f"# TYPE {metric.prom_name} {metric.prom_type}\n"
        for samples in nodes:
            labels = series_labels(samples)[m::len(metrics)]
            secs = [f"{t / 1e9:.3f}" for t in samples.ts_ns.reshape(-1).tolist()]
            for gpu, series in enumerate(labels):
                yield _series_text(series, samples.values[:, :, gpu, m].reshape(-1)
                                   * metric.prom_scale / metric.wire_per_unit, secs)
    yield "# EOF\n"


def _series_text(labels: list[tuple[str, str]], values: npt.NDArray[np.float64],
                 secs: list[str]) -> str:
    name = labels[0][1]
    head = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels[1:]) + "} "
    return "".join(f"{head}{v!r} {t}\n" for v, t in zip(values.tolist(), secs, strict=True))


@dataclass(frozen=True, slots=True)
class Frames:
    """A node's messages for one stream: its Hello and frames, pre-encoded."""

    node: NodeSamples
    messages: list[pb.AgentMessage]

    @property
    def samples(self) -> int:
        """Values in these frames."""
        return (len(self.messages) - 1) * int(self.node.values[0].size)
