"""Agent overhead: CPU (% of one core) and RSS (MiB) of sampling + batching + encoding.

Drives the real agent pipeline as `agent.runtime` wires it (Sampler -> tick: TickHandoff
-> frame writer thread: TickWindow for /metrics, Batcher -> Outbox, frames serialised and
acknowledged locally by a thread standing in for the stream) over 8 GPUs at 10 Hz and
100 Hz, for the sim backend and for the NVML backend over the fake pynvml
(tests/fakes/fake_pynvml.py), which builds the same ctypes structures pynvml builds.
Each configuration runs in a fresh process so its RSS is its own.

NVML driver time is replayed as `time.sleep` inside the fake (a sleeping driver call holds
no GIL and no CPU, like a ctypes call waiting on the GPU); the per-call figures are in
DRIVER_LATENCY_S with their sources. Run:

    .venv/bin/python benchmarks/agent_overhead.py [--seconds 20] [--gpus 8]
    .venv/bin/python benchmarks/agent_overhead.py --threads-breakdown --seconds 10
    .venv/bin/python benchmarks/agent_overhead.py --fake-costs
    .venv/bin/python benchmarks/agent_overhead.py --only nvml:100 --seconds 20
    .venv/bin/python benchmarks/agent_overhead.py --runs 5 --seconds 10   # medians
    .venv/bin/python benchmarks/agent_overhead.py --profile nvml:100 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.fakes

# Driver latency per pynvml call, seconds, for the "nvml+driver" rows. Only the one call
# with a millisecond-scale figure is given one: the batched field read holds POWER_AVERAGE
# (~3.3 ms in one probe) and the energy counter (TotalEnergy 2.4 ms p50 in another); on a
# real GPU, nvmlFieldValue_t.latencyUsec reports it per field (NVML API reference,
# https://docs.nvidia.com/deploy/nvml-api/, "nvmlFieldValue_t"). Every other call is
# reported at 0.5-6 us including the Python wrapper, which the fake already spends in Python.
DRIVER_LATENCY_S = {"nvmlDeviceGetFieldValues": 3.3e-3}
CONFIGS = ("null", "sim", "nvml", "nvml+driver")
RATES = (10.0, 100.0)
WARMUP_S = 2.0


class NullBackend:
    """Returns the same eight values per GPU each tick: the pipeline's own cost, no backend."""

    name = "null"

    def __init__(self, gpus: int) -> None:
        import numpy as np  # noqa: PLC0415

        from gputel.agent.backends.base import DeviceInfo, Reading  # noqa: PLC0415
        self._infos = [DeviceInfo(i, f"GPU-null-{i}", "null", "null", 0) for i in range(gpus)]
        self._reading = Reading(np.ones((gpus, 8), dtype=np.float32))

    def open(self) -> None:
        """Nothing to open."""

    def devices(self) -> list[Any]:
        """The null devices."""
        return self._infos

    def metrics(self) -> tuple[str, ...]:
        """The eight core metrics."""
        return ("gpu_util", "mem_util", "mem_used", "mem_total", "power", "temperature",
                "sm_clock", "energy")

    def read(self, ts_ns: int) -> Any:
        """The same reading every tick."""
        return self._reading

    def health(self) -> Any:
        """Nothing fails."""
        from gputel.agent.backends.base import BackendHealth  # noqa: PLC0415

        return BackendHealth()

    def close(self) -> None:
        """Nothing to close."""


def make_backend(kind: str, gpus: int) -> Any:
    """The backend under test; NVML ones over the fake pynvml in a loaded-GPU state."""
    if kind == "null":
        return NullBackend(gpus)
    if kind == "sim":
        from gputel.agent.backends.sim import SimBackend  # noqa: PLC0415
        return SimBackend(gpus=gpus)
    import pynvml  # noqa: PLC0415

    from gputel.agent.backends.nvml import NvmlBackend  # noqa: PLC0415
    from tests.fakes.fake_pynvml import FakeGpu, FakeNvml  # noqa: PLC0415
    fake_gpus = [FakeGpu(f"GPU-{i:08d}-0000-0000-0000-000000000000", util_gpu=97,
                         util_mem=41, power_mw=650_000,
                         sample_period_us={pynvml.NVML_TOTAL_POWER_SAMPLES: 16_667,
                                           pynvml.NVML_GPU_UTILIZATION_SAMPLES: 166_667})
                 for i in range(gpus)]
    latency = DRIVER_LATENCY_S if kind == "nvml+driver" else None
    return NvmlBackend(nvml=FakeNvml(fake_gpus, latency_s=latency, count_calls=False))


def run_one(kind: str, rate_hz: float, seconds: float, gpus: int) -> dict[str, Any]:
    """One configuration in this process; returns its measurements."""
    import psutil  # noqa: PLC0415

    import gputel.agent.runtime  # noqa: F401, PLC0415 - the agent's imports count in its RSS
    backend = make_backend(kind, gpus)
    backend.open()
    sampler, handoff, batcher, outbox = _pipeline(backend, rate_hz)
    alive = threading.Event()
    alive.set()
    sent_bytes = [0]
    acker = threading.Thread(target=_ack_loop, args=(outbox, alive, sent_bytes), daemon=True)
    acker.start()
    handoff.start()
    sampler.start()
    time.sleep(WARMUP_S)
    threads0 = _thread_cpu()
    ticks0, cpu0, wall0 = sampler.stats.ticks, time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    threads = {name: 100.0 * (s - threads0.get(name, 0.0)) / wall
               for name, s in _thread_cpu().items()}
    ticks = sampler.stats.ticks - ticks0
    sampler.stop()
    handoff.stop()
    batcher.flush()
    outbox.wait_drained(5.0)
    alive.clear()
    outbox.wake()
    acker.join(5.0)
    backend.close()
    rss = psutil.Process().memory_info().rss
    if not ticks or not outbox.stats.frames_acked:
        raise SystemExit(f"{kind} at {rate_hz} Hz: the pipeline produced nothing (see stderr)")
    return {"backend": kind, "rate_hz": rate_hz, "gpus": gpus, "seconds": round(wall, 1),
            "cpu_pct": 100.0 * cpu / wall, "cpu_us_per_tick": 1e6 * cpu / max(ticks, 1),
            "rss_mib": rss / 2**20, "max_rss_mib": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024,
            "ticks": ticks, "ticks_missed": sampler.stats.ticks_missed,
            "max_read_ms": 1e3 * sampler.stats.max_read_seconds,
            "ticks_dropped": handoff.stats.ticks_dropped,
            "samples_acked": outbox.stats.samples_acked, "frames_acked": outbox.stats.frames_acked,
            "bytes_sent": sent_bytes[0],
            "threads_pct": {k: round(v, 2) for k, v in threads.items() if v >= 0.05}}


def _thread_cpu() -> dict[str, float]:
    """CPU seconds per thread of this process, summed by name (device threads as one);
    /proc's per-thread times tick at 10 ms, so figures over a few seconds are coarse."""
    import psutil  # noqa: PLC0415

    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for t in psutil.Process().threads():
        name = names.get(t.id, "other").rstrip("0123456789").rstrip("-")
        out[name] = out.get(name, 0.0) + t.user_time + t.system_time
    return out


def _pipeline(backend: Any, rate_hz: float) -> tuple[Any, Any, Any, Any]:
    """Sampler, hand-off, batcher and outbox, wired as agent.runtime.Agent.start wires them."""
    from gputel.agent.batcher import Batcher  # noqa: PLC0415
    from gputel.agent.clock import SystemClock  # noqa: PLC0415
    from gputel.agent.exporter import TickWindow  # noqa: PLC0415
    from gputel.agent.handoff import TickHandoff  # noqa: PLC0415
    from gputel.agent.outbox import Outbox  # noqa: PLC0415
    from gputel.agent.runtime import HANDOFF_SECONDS  # noqa: PLC0415
    from gputel.agent.sampler import Sampler  # noqa: PLC0415

    outbox = Outbox()
    ticks = max(1, round(rate_hz))  # one frame a second
    n_devices, n_metrics = len(backend.devices()), len(backend.metrics())
    batcher = Batcher(n_devices, backend.metrics(), ticks, outbox.put_frame)
    window = TickWindow(n_devices, n_metrics)

    def frame_tick(ts_ns: int, reading: Any) -> None:  # Agent._frame_tick
        window.observe(ts_ns, reading.values, reading.buffered)
        batcher.add(ts_ns, reading)

    handoff = TickHandoff(frame_tick, max(2 * ticks, round(rate_hz * HANDOFF_SECONDS)))
    # Agent._on_tick without attribution is handoff.put
    return Sampler(backend, rate_hz, handoff.put, SystemClock()), handoff, batcher, outbox


def profile_sampler(kind: str, rate_hz: float, seconds: float, gpus: int, top: int) -> str:
    """cProfile of the sampler thread alone (its run loop), as the pipeline runs."""
    import cProfile  # noqa: PLC0415
    import io  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    backend = make_backend(kind, gpus)
    backend.open()
    sampler, handoff, _batcher, outbox = _pipeline(backend, rate_hz)
    profiler = cProfile.Profile()
    loop = sampler._loop  # profile exactly the tick thread's work

    def profiled() -> None:
        profiler.runcall(loop)

    sampler._loop = profiled
    alive = threading.Event()
    alive.set()
    acker = threading.Thread(target=_ack_loop, args=(outbox, alive, [0]), daemon=True)
    acker.start()
    handoff.start()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    handoff.stop()
    alive.clear()
    outbox.wake()
    backend.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return f"{sampler.stats.ticks} ticks\n" + out.getvalue()


def threads_breakdown(rate_hz: float, seconds: float, gpus: int) -> dict[str, float]:
    """NVML backend alone, paced at rate_hz: CPU us per tick with per-device threads (as
    shipped), with every device read in turn on one worker thread, and on the tick thread."""
    from gputel.agent.backends.workers import DeviceWorkers  # noqa: PLC0415
    backend = make_backend("nvml", gpus)
    backend.open()
    readers = backend._readers  # the same readers, driven differently

    def paced(read: Any) -> float:
        n, period = round(seconds * rate_hz), 1.0 / rate_hz
        cpu0, due = time.process_time(), time.monotonic()
        for _ in range(n):
            read(time.time_ns())
            due += period
            time.sleep(max(0.0, due - time.monotonic()))
        return 1e6 * (time.process_time() - cpu0) / n

    out = {"per-device threads": paced(backend.read)}
    one: DeviceWorkers[list[Any]] = DeviceWorkers(1, 5.0)
    out["one worker thread"] = paced(
        lambda ts: one.run({0: lambda: [r.read(ts) for r in readers]}))
    one.close()
    out["tick thread"] = paced(lambda ts: [r.read(ts) for r in readers])
    backend.close()
    return out


def fake_call_costs(n: int = 20_000) -> dict[str, float]:
    """Microseconds per call of the fake pynvml, hot loop: to set beside pynvml's own costs
    (notes, section 1.4, measured over a C stub), so the fake is known not to flatter."""
    import timeit  # noqa: PLC0415

    import pynvml  # noqa: PLC0415

    from tests.fakes.fake_pynvml import FakeGpu, FakeNvml  # noqa: PLC0415
    gpu = FakeGpu("GPU-cost")
    fake = FakeNvml([gpu], count_calls=False)
    fake.nvmlInit()
    h = fake.handle_of(gpu)
    calls = {
        "nvmlDeviceGetFieldValues (7 ids)":
            lambda: fake.nvmlDeviceGetFieldValues(h, [185, 83, 82, 197, 198, 3, 4]),
        "nvmlDeviceGetMemoryInfo v2":
            lambda: fake.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2),
        "nvmlDeviceGetTemperatureV": lambda: fake.nvmlDeviceGetTemperatureV(h, 0),
        "nvmlDeviceGetClockInfo": lambda: fake.nvmlDeviceGetClockInfo(h, 1),
        "nvmlDeviceGetUtilizationRates": lambda: fake.nvmlDeviceGetUtilizationRates(h),
        "nvmlDeviceGetCurrentClocksEventReasons":
            lambda: fake.nvmlDeviceGetCurrentClocksEventReasons(h),
    }
    return {name: 1e6 * timeit.timeit(call, number=n) / n for name, call in calls.items()}


def _ack_loop(outbox: Any, alive: threading.Event, sent_bytes: list[int]) -> None:
    """Stand-in for the gRPC stream: serialise each frame, then acknowledge it."""
    while alive.is_set():
        message = outbox.next_to_send(alive, 0.5)
        if message is not None:
            sent_bytes[0] += len(message.SerializeToString())
            outbox.ack(message.frame.seq)


def main() -> None:
    """Run every configuration in a child process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--one", nargs=2, metavar=("BACKEND", "RATE"), help=argparse.SUPPRESS)
    parser.add_argument("--threads-breakdown", action="store_true",
                        help="NVML backend alone: per-device threads against one thread")
    parser.add_argument("--fake-costs", action="store_true",
                        help="microseconds per call of the fake pynvml")
    parser.add_argument("--only", nargs="*", metavar="BACKEND:RATE",
                        help="run only these rows, e.g. nvml:100 null:100")
    parser.add_argument("--profile", metavar="BACKEND:RATE",
                        help="cProfile the sampler thread of one configuration")
    parser.add_argument("--runs", type=int, default=1,
                        help="run each row this many times (interleaved); print medians")
    args = parser.parse_args()
    if args.profile:
        kind, rate = args.profile.split(":")
        print(profile_sampler(kind, float(rate), args.seconds, args.gpus, 25))
        return
    if args.fake_costs:
        print("| fake pynvml call | us per call |\n|---|---|")
        for name, us in fake_call_costs().items():
            print(f"| {name} | {us:.1f} |")
        return
    if args.threads_breakdown:
        print("| NVML backend alone, CPU us per tick | " + " | ".join(
            f"{r:.0f} Hz" for r in RATES) + " |")
        print("|---|" + "---|" * len(RATES))
        results = [threads_breakdown(rate, args.seconds, args.gpus) for rate in RATES]
        for name in results[0]:
            print(f"| {name} | " + " | ".join(f"{r[name]:.0f}" for r in results) + " |")
        return
    if args.one:
        print(json.dumps(run_one(args.one[0], float(args.one[1]), args.seconds, args.gpus)))
        return
    todo = ([(k, float(r)) for k, r in (o.split(":") for o in args.only)] if args.only
            else [(kind, rate) for kind in CONFIGS for rate in RATES])
    runs: dict[tuple[str, float], list[dict[str, Any]]] = {row: [] for row in todo}
    for _ in range(args.runs):  # interleaved, so that the shared machine's noise is shared
        for kind, rate in todo:
            runs[(kind, rate)].append(_run_child(kind, rate, args.seconds, args.gpus))
            print(_row(runs[(kind, rate)][-1]), file=sys.stderr, flush=True)
    _print_table([_median(r) for r in runs.values()])
    for (kind, rate), results in runs.items():
        cpu = sorted(r["cpu_pct"] for r in results)
        print(f"{kind} {rate:.0f} Hz: CPU % of {len(cpu)} runs {', '.join(f'{c:.2f}' for c in cpu)}"
              f"; per thread (median run) {_median(results)['threads_pct']}")


def _run_child(kind: str, rate: float, seconds: float, gpus: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", kind, str(rate), "--seconds", str(seconds),
         "--gpus", str(gpus)],
        check=False, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    if out.returncode != 0:
        raise SystemExit(f"{kind} at {rate} Hz failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median CPU (the lower middle one for an even count)."""
    return sorted(results, key=lambda r: r["cpu_pct"])[(len(results) - 1) // 2]


def _row(r: dict[str, Any]) -> str:
    return (f"| {r['backend']:<12}| {r['rate_hz']:>5.0f} | {r['gpus']:>4} | {r['cpu_pct']:>6.2f} | "
            f"{r['cpu_us_per_tick']:>8.0f} | {r['rss_mib']:>6.1f} | {r['max_rss_mib']:>6.1f} | "
            f"{r['ticks']:>6} | {r['ticks_missed']:>6} | {r['max_read_ms']:>7.2f} | "
            f"{r['samples_acked']:>9} |")


def _print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{rows[0]['seconds']} s measured per row after {WARMUP_S:.0f} s warm-up")
    print("| backend     |    Hz | GPUs |  CPU % | us/tick  | RSS MiB| maxRSS | ticks  | missed "
          "| max read ms | samples  |")
    print("|-------------|-------|------|--------|----------|--------|--------|--------|--------"
          "|---------|-----------|")
    for r in rows:
        print(_row(r))


if __name__ == "__main__":
    main()
