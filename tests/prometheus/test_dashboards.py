"""The Grafana dashboards query only series the exporters emit, in PromQL Prometheus accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gputel.collector.api.metrics.exporter import CollectorCollector, ack_latency_histogram
from gputel.collector.outbound.remote_write import RemoteWriteConfig, RemoteWriter
from tests.harness.servers import CollectorThread, running_agent
from tests.prometheus.helpers import WORKLOADS, agent_metrics, gpu_exporter
from tests.prometheus.promserver import PrometheusServer

DASHBOARDS = Path(__file__).resolve().parents[2] / "daemonset" / "dashboards"
METRIC = re.compile(r"\b(gputel_[a-zA-Z0-9_]+|DCGM_FI_[A-Z0-9_]+)\b")
SAMPLE_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", re.MULTILINE)
VARIABLES = {"$__range": "1h", "$__rate_interval": "1m", "$node": ".*", "$gpu": ".*",
             "$namespace": ".*", "$pod": ".*"}


def _queries() -> dict[str, list[str]]:
    """Every PromQL expression of every dashboard (panel targets and variable queries)."""
    out: dict[str, list[str]] = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
        for var in board["templating"]["list"]:
            if var["type"] == "query":
                exprs.append(re.sub(r"^label_values\((.*), \w+\)$", r"\1",
                                    var["query"]["query"]))
        out[path.name] = exprs
    return out


def _exported_names(collector: CollectorThread) -> set[str]:
    """Sample names the agent and the collector emit, the optional families included."""
    texts = []
    with running_agent(collector.grpc_target, node="dash-node", gpus=2, rate_hz=20) as agent:
        assert agent.outbox.wait(lambda s: s.frames_acked >= 1, timeout=20)
        texts.append(agent_metrics(agent))
        texts.append(httpx.get(f"{collector.http_base}/metrics", timeout=5).text)
    holders = {0: [("pod", "ns", "c", 1.0)]}
    texts.append(gpu_exporter(holders)[0].render("dashboard-test"))  # workload shares
    writer = RemoteWriter(RemoteWriteConfig("http://127.0.0.1:9/api/v1/write"))
    latency = ack_latency_histogram()
    latency.observe(0.001)
    c = collector.collector
    registry = CollectorRegistry()
    registry.register(CollectorCollector(c.ingest, c.query, c.store, remote_write=writer,
                                         workloads=lambda: WORKLOADS, ack_latency=latency))
    texts.append(generate_latest(registry).decode())
    writer.stop(timeout=0)
    return {m for text in texts for m in SAMPLE_NAME.findall(text)}


def test_every_dashboard_metric_is_exported(collector: CollectorThread) -> None:
    exported = _exported_names(collector)
    queries = _queries()
    assert set(queries) == {"cluster.json", "node.json", "workload.json"}
    for board, exprs in queries.items():
        assert exprs, board
        missing = {m for e in exprs for m in METRIC.findall(e)} - exported
        assert not missing, f"{board} queries series no exporter emits: {sorted(missing)}"


@pytest.mark.slow
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    prom = PrometheusServer(tmp_path / "prom").start()
    try:
        for board, exprs in _queries().items():
            for template in exprs:
                expr = template
                for var, value in VARIABLES.items():
                    expr = expr.replace(var, value)
                body = httpx.get(f"{prom.base}/api/v1/query", params={"query": expr},
                                 timeout=10).json()
                assert body["status"] == "success", f"{board}: {expr}: {body.get('error')}"
    finally:
        prom.stop()


def test_dashboards_use_the_datasource_variable() -> None:
    for path in DASHBOARDS.glob("*.json"):
        board = json.loads(path.read_text())
        names = [v["name"] for v in board["templating"]["list"]]
        assert names[0] == "datasource", path.name
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
