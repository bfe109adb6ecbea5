"""Seed 002 (GPU Monitoring API): its routes answer its envelope, snake_case and GB."""

from __future__ import annotations

import pytest

from tests.compat.conftest import Compat
from tests.compat.schemas import gpu_monitoring as s

GIB = 1024**3


def test_health(compat: Compat) -> None:
    body = compat.seed("/api/health", s.Success[s.Health])
    assert body["data"]["status"] == "healthy"
    assert body["data"]["version"] == compat.own("/health")["version"]


def test_metrics_are_the_latest_values_in_gb(compat: Compat) -> None:
    body = compat.seed("/api/v1/gpu/metrics", s.Success[list[s.GpuMetrics]])
    own = compat.own("/gpus", pageSize=1000)
    assert [(m["node_name"], m["gpu_index"]) for m in body["data"]] == [
        (g["node"], g["index"]) for g in own]
    for m, g in zip(body["data"], own, strict=True):
        latest = g["latest"]
        assert m["utilization"] == latest["gpu_util"]
        assert m["memory_used"] == pytest.approx(latest["mem_used"] / GIB)
        assert m["memory_total"] == pytest.approx(latest["mem_total"] / GIB)
        assert m["memory_free"] == pytest.approx(g["memoryFreeBytes"] / GIB)
        reserved = (g["inventory"] or {}).get("memoryReservedBytes") or 0
        assert g["memoryFreeBytes"] == latest["mem_total"] - reserved - latest["mem_used"]
        assert (m["temperature"], m["power_draw"], m["memory_utilization"]) == (
            latest["temperature"], latest["power"], latest["mem_util"])
        assert m["timestamp"] == g["latestTime"]
        assert m["power_limit"] == (g["inventory"] or {}).get("powerLimitWatts")
    assert "missing" not in body
    assert [m["power_limit"] for m in body["data"] if m["node_name"] == "n4"] == [
        700.0, None, None]  # n4's GPU reported its limit; a MIG slice has none of its own


def test_nodes(compat: Compat) -> None:
    body = compat.seed("/api/v1/gpu/nodes", s.Success[list[s.GpuNode]])
    assert [(n["node_name"], n["gpu_count"], n["utilization"]) for n in body["data"]] == [
        (n["name"], n["gpuCount"], n["gpuUtilization"]) for n in compat.own("/nodes")]


def test_utilization(compat: Compat) -> None:
    body = compat.seed("/api/v1/gpu/utilization", s.Success[list[s.GpuUtilization]])
    assert [u["utilization"] for u in body["data"]] == [
        g["latest"]["gpu_util"] for g in compat.own("/gpus", pageSize=1000)]


def test_errors_are_its_failure_envelope(compat: Compat) -> None:
    body = compat.seed("/api/v1/gpu/metrics", s.Failure, 400, node="n1")
    assert "node" in body["error"]
