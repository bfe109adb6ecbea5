"""`promtool check metrics` finds no problem in the agent's or the collector's /metrics."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from gputel.collector.api.metrics.exporter import (
    CollectorCollector,
    StoreGauges,
    ack_latency_histogram,
)
from gputel.collector.outbound.remote_write import RemoteWriteConfig, RemoteWriter
from gputel.collector.storage.rollups import RollupReader
from tests.harness.servers import CollectorThread, running_agent
from tests.prometheus.helpers import WORKLOADS, agent_metrics
from tests.prometheus.promserver import promtool_check


def test_agent_and_collector_metrics_pass_promtool(collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, node="lint-node", gpus=2, rate_hz=20) as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 1, timeout=20)
        agent_text = agent_metrics(agent)
        collector_text = httpx.get(f"{collector.http_base}/metrics", timeout=5).text
    assert "gputel_gpu_power_watts_max{" in agent_text
    assert "gputel_gpu_sm_clock_hertz{" in agent_text
    assert "gputel_agent_frames_acked_total" in agent_text
    assert 'gputel_node_gpus{node="lint-node"} 2.0' in collector_text
    for name, text in (("agent", agent_text), ("collector", collector_text)):
        code, complaints = promtool_check(text)
        assert (code, complaints) == (0, ""), f"{name} /metrics: {complaints}"


def test_every_collector_family_passes_promtool(tmp_path: Path) -> None:
    server = CollectorThread(data_dir=tmp_path / "data").start()
    writer = RemoteWriter(RemoteWriteConfig("http://127.0.0.1:9/api/v1/write"))
    try:
        c = server.collector
        assert c.log is not None
        sizes = StoreGauges(c.log, RollupReader(c.log.engine), c.config.tiers)
        sizes.refresh()
        latency = ack_latency_histogram()
        latency.observe(0.002)
        registry = CollectorRegistry()
        registry.register(CollectorCollector(
            c.ingest, c.query, c.store, frame_log=c.log, store_sizes=sizes,
            remote_write=writer, workloads=lambda: WORKLOADS, ack_latency=latency))
        text = generate_latest(registry).decode()
    finally:
        writer.stop(timeout=0)
        server.stop()
    for family in ("gputel_collector_ack_latency_seconds_bucket",
                   "gputel_collector_store_rollup_rows{tier=\"10s\"}",
                   "gputel_collector_remote_write_lag_seconds",
                   'gputel_collector_remote_write_series_forgotten_total{reason="idle"} 0.0',
                   "gputel_collector_remote_write_series 0.0",
                   "gputel_workload_energy_joules_total{",
                   'gputel_namespace_gpu_utilization_percent{namespace="ml"} 96.5',
                   'gputel_namespace_gpus{namespace="serving"} 0.5'):
        assert family in text
    code, complaints = promtool_check(text)
    assert (code, complaints) == (0, "")
