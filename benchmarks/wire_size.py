"""Wire size: bytes per sample of the agent's frames against Prometheus remote write 1.0.

One frame as the agent sends it (an `AgentMessage` holding a `Frame`, from the agent's own
`Batcher`) over simulated GPUs, 8 GPUs x 8 metrics, one second of ticks at 10 Hz and at
100 Hz, encoded two ways: exact integers (`int_values` and the timestamp step, what the
agent sends now) and float32 (`values` and plain timestamp deltas, what agents sent before).
Beside them, the same samples as a remote write 1.0 request (snappy), with the labels the
collector's remote write gives them (`__name__`, gpu, model, node, uuid). Also the CPU
cost of encoding (Batcher flush, serialise) and decoding (parse, `frames.decode_frame`)
one frame, median of `--repeat` runs. Run:

    .venv/bin/python benchmarks/wire_size.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gputel.agent.backends.sim import SimBackend
from gputel.agent.batcher import Batcher
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import METRICS, wire_per_unit
from gputel.proto.prometheus import write_request

T0 = 1_800_000_000 * 10**9
GPUS = 8
NODE = "gpu-node-017"


def sim_ticks(rate_hz: int, seconds: float = 60.0) -> tuple[SimBackend, list[tuple[int, Any]]]:
    """A minute of warm simulator ticks, then one second of them: the frame's ticks."""
    sim = SimBackend(gpus=GPUS, seed=1, salt=NODE)
    sim.open()
    period = 10**9 // rate_hz
    for k in range(int(seconds * rate_hz)):
        sim.read(T0 + k * period)
    start = T0 + int(seconds * rate_hz) * period
    return sim, [(start + k * period, sim.read(start + k * period)) for k in range(rate_hz)]


def exact_frame(sim: SimBackend, ticks: list[tuple[int, Any]]) -> pb.AgentMessage:
    """The frame as the agent builds it now (its Batcher)."""
    out: list[pb.Frame] = []
    batcher = Batcher(GPUS, sim.metrics(), len(ticks), lambda frame, n: out.append(frame))
    for ts, reading in ticks:
        batcher.add(ts, reading)
    out[0].seq = 1
    return pb.AgentMessage(frame=out[0])


def float32_frame(sim: SimBackend, ticks: list[tuple[int, Any]]) -> pb.AgentMessage:
    """The same samples as agents sent them before exact integers: float32, API units."""
    per_unit = np.array(wire_per_unit(sim.metrics()), dtype=np.float64)
    ts = np.array([t for t, _ in ticks], dtype=np.int64)
    values = np.stack([r.values / per_unit for _, r in ticks])  # (ticks, gpus, metrics)
    metrics = tuple(range(len(sim.metrics())))
    blocks = [frames.encode_block(d, metrics, ts, values[:, d, :].T) for d in range(GPUS)]
    for block in blocks:  # nor the timestamp step: plain deltas, as before
        deltas = np.array(block.ts_delta_ns, dtype=np.int64)
        deltas[1:] += block.ts_step_ns
        block.ClearField("ts_step_ns")
        block.ClearField("ts_delta_ns")
        block.ts_delta_ns.extend(deltas.tolist())
    return pb.AgentMessage(frame=pb.Frame(seq=1, blocks=blocks))


def remote_write_body(sim: SimBackend, ticks: list[tuple[int, Any]]) -> bytes:
    """The same samples as one remote write 1.0 request, snappy-compressed."""
    per_unit = np.array(wire_per_unit(sim.metrics()), dtype=np.float64)
    ts_ms = np.array([t // 10**6 for t, _ in ticks], dtype=np.int64)
    values = np.stack([r.values / per_unit for _, r in ticks])
    series = []
    for device in sim.devices():
        for col, metric_id in enumerate(sim.metrics()):
            meta = METRICS[metric_id]
            labels = sorted((("__name__", meta.prom_series), ("gpu", str(device.index)),
                             ("model", device.model), ("node", NODE), ("uuid", device.uuid)))
            series.append((write_request.series_header(labels), ts_ms,
                           values[:, device.index, col] * meta.prom_scale))
    return write_request.encode(series)


def median_us(fn: Callable[[], object], repeat: int) -> float:
    """Median wall microseconds of one call."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times)


def measure(rate_hz: int, repeat: int) -> dict[str, float]:
    """Bytes per sample and encode/decode microseconds for one frame at `rate_hz`."""
    sim, ticks = sim_ticks(rate_hz)
    samples = GPUS * len(sim.metrics()) * len(ticks)
    new, old = exact_frame(sim, ticks), float32_frame(sim, ticks)
    new_bytes, old_bytes = new.SerializeToString(), old.SerializeToString()
    rw = remote_write_body(sim, ticks)
    ids = sim.metrics()

    def decode(body: bytes) -> list[frames.Block]:
        return frames.decode_frame(pb.AgentMessage.FromString(body).frame, GPUS, ids)

    return {
        "rate_hz": rate_hz, "samples": samples,
        "exact_b": len(new_bytes) / samples, "float32_b": len(old_bytes) / samples,
        "rw_b": len(rw) / samples,
        "exact_enc_us": median_us(lambda: exact_frame(sim, ticks).SerializeToString(), repeat),
        "float32_enc_us": median_us(lambda: float32_frame(sim, ticks).SerializeToString(),
                                    repeat),
        "exact_dec_us": median_us(lambda: decode(new_bytes), repeat),
        "float32_dec_us": median_us(lambda: decode(old_bytes), repeat),
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; {GPUS} GPUs x 8 metrics, one 1 s frame, simulator")
    print("| rate | samples | exact int64 B/sample | float32 B/sample | remote write 1.0 + "
          "snappy B/sample | exact / RW | encode us (exact / float32) | decode us "
          "(exact / float32) |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in (10, 100):
        r = measure(rate, args.repeat)
        print(f"| {rate} Hz | {r['samples']} | {r['exact_b']:.2f} | {r['float32_b']:.2f} | "
              f"{r['rw_b']:.2f} | {r['exact_b'] / r['rw_b']:.3f} | "
              f"{r['exact_enc_us']:.0f} / {r['float32_enc_us']:.0f} | "
              f"{r['exact_dec_us']:.0f} / {r['float32_dec_us']:.0f} |")


if __name__ == "__main__":
    main()
