"""A real Prometheus scrapes a running agent and collector; PromQL sees the sim's numbers."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from tests.harness.servers import CollectorThread
from tests.prometheus.helpers import SPIKE_WATTS, agent_metrics, spiking_agent
from tests.prometheus.promserver import PrometheusServer, wait_for_value

pytestmark = pytest.mark.slow
NODE = "prom-node"


def _next_mid_scrape(last_scrape_s: float, after_s: float) -> float:
    """A time half-way between two 1 s scrapes, later than after_s: a scrape never sees it."""
    k = math.ceil(after_s - last_scrape_s - 0.5)
    return last_scrape_s + k + 0.5


def test_prometheus_sees_sim_values_and_a_spike_shorter_than_a_scrape(
        collector: CollectorThread, tmp_path: Path) -> None:
    with spiking_agent(collector.grpc_target, NODE, gpus=2) as (agent, spike, recorder):
        assert agent.http is not None
        assert agent.sampler is not None
        assert agent.outbox.wait(lambda s: s.frames_acked >= 1, timeout=20)
        agent_metrics(agent)  # fails clearly if the GPU families are not wired in
        prom = PrometheusServer(tmp_path / "prom", {
            "agent": f"127.0.0.1:{agent.http.port}",
            "collector": f"127.0.0.1:{collector.collector.http_port}"}).start()
        try:
            wait_for_value(prom, 'count_over_time(up{job="agent"}[1m])', lambda v: v >= 2)
            assert wait_for_value(prom, 'up{job="collector"}', lambda v: v == 1) == 1
            # Spike GPU 0 for one 100 ms tick half-way between two scrapes.
            last = prom.scalar('timestamp(up{job="agent"})')
            assert last is not None
            at = _next_mid_scrape(last, time.time() + 0.3)
            spike.arm(int(at * 1e9), agent.sampler.period_ns)
            assert spike.spiked.wait(10), "the spike tick never came"
            peak = wait_for_value(
                prom, f'max_over_time(gputel_gpu_power_watts_max{{node="{NODE}",gpu="0"}}[1m])',
                lambda v: v >= SPIKE_WATTS)
            assert peak == SPIKE_WATTS
            _check_gauge_saw_it_only_if_scraped_during_it(prom, spike.spiked_at_ns)
            _check_gauges_are_sim_values(prom, recorder.ticks, recorder.metrics())
            _check_units_and_counters(prom)
            _check_collector(prom)
        finally:
            prom.stop()


def _check_gauge_saw_it_only_if_scraped_during_it(prom: PrometheusServer,
                                                  spiked_at_ns: int | None) -> None:
    """The plain gauge holds one value per scrape: it shows the spike only if a scrape
    landed inside that 100 ms tick (the spike was placed half-way between two scrapes)."""
    assert spiked_at_ns is not None
    (points,) = prom.samples(f'gputel_gpu_power_watts{{node="{NODE}",gpu="0"}}', "1m").values()
    caught = [ts for ts, value in points if value == SPIKE_WATTS]
    spike_s = spiked_at_ns / 1e9
    assert all(spike_s - 0.05 <= ts <= spike_s + 0.6 for ts in caught), (spike_s, caught)


def _check_gauges_are_sim_values(prom: PrometheusServer, ticks: list, metrics: tuple) -> None:
    """Every scraped power value is one the sim produced on that GPU, in watts, exactly."""
    col = metrics.index("power")
    scraped = prom.samples(f'gputel_gpu_power_watts{{node="{NODE}"}}', "1m")
    assert {dict(k)["gpu"] for k in scraped} == {"0", "1"}
    for labels, points in scraped.items():
        gpu = int(dict(labels)["gpu"])
        produced = {float(values[gpu, col]) for _, values in ticks}
        assert points, labels
        assert all(v in produced for _, v in points), f"{labels}: a value the sim never gave"
    # The _max of each scrape is at least the value in force at that scrape.
    highs = _by_gpu(prom.samples(f'gputel_gpu_power_watts_max{{node="{NODE}"}}', "1m"))
    for labels, points in scraped.items():
        high = highs[dict(labels)["gpu"]]
        assert all(high[ts] >= value for ts, value in points if ts in high)


def _by_gpu(series: dict) -> dict[str, dict[float, float]]:
    return {dict(k)["gpu"]: dict(points) for k, points in series.items()}


def _check_units_and_counters(prom: PrometheusServer) -> None:
    clock = prom.scalar(f'max(gputel_gpu_sm_clock_hertz{{node="{NODE}"}})')
    assert clock is not None
    assert clock > 1e8, f"SM clock {clock} Hz: not converted from MHz"
    energy = prom.samples(f'gputel_gpu_energy_joules_total{{node="{NODE}",gpu="0"}}', "1m")
    (points,) = energy.values()
    values = [v for _, v in points]
    assert values == sorted(values), "the energy counter went backwards"
    assert prom.scalar(f'gputel_gpu_up{{node="{NODE}",gpu="1"}}') == 1


def _check_collector(prom: PrometheusServer) -> None:
    assert prom.scalar(f'gputel_node_gpus{{node="{NODE}"}}') == 2
    assert wait_for_value(prom, "gputel_collector_frames_ingested_total", lambda v: v > 0) > 0
    assert prom.scalar(f'gputel_collector_agent_connected{{node="{NODE}"}}') == 1
