"""What a remote-store collector keeps per agent instance (its Hello and inventory, to
describe the frames it writes) is bounded: restarted agents and forgotten nodes let go."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gputel.collector.ingest.admission import IngestLimits
from gputel.collector.ingest.dedup import INSTANCES_KEPT
from tests.harness.raw_stream import RawStream, hello
from tests.harness.servers import CollectorThread, wait_until
from tests.harness.tsdb import remote_config
from tests.prometheus.promserver import TsdbServer

RESTARTS = INSTANCES_KEPT + 5


def _metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not on /metrics")


def _say_hello(target: str, node: str, instance: str) -> None:
    raw = RawStream(target)
    try:
        raw.send_hello(hello(node=node, agent_instance=instance))
        assert raw.answer().WhichOneof("kind") == "welcome"
    finally:
        raw.close()


def test_restarted_agents_and_forgotten_nodes_are_let_go(vm: TsdbServer) -> None:
    collector = CollectorThread(**remote_config(vm, limits=IngestLimits(node_ttl_ns=1))).start()
    try:
        ingest, base = collector.collector.ingest, collector.http_base
        for i in range(RESTARTS):  # one agent restarted again and again: a new instance each
            _say_hello(collector.grpc_target, "churn", f"instance-{i}")
            wait_until(lambda: ingest.live_streams() == 0, what="the stream's end")
        _say_hello(collector.grpc_target, "other", "only")
        wait_until(lambda: ingest.live_streams() == 0, what="the stream's end")
        assert _metric(base, "gputel_collector_tsdb_agents_held") == INSTANCES_KEPT + 1
        assert _metric(base, "gputel_collector_tsdb_agents_forgotten_total") == RESTARTS - (
            INSTANCES_KEPT)
        assert ingest.forget_idle() == 2  # both nodes unseen past their 1 ns TTL
        assert _metric(base, "gputel_collector_tsdb_agents_held") == 0
        assert _metric(base, "gputel_collector_tsdb_agents_forgotten_total") == RESTARTS + 1
    finally:
        collector.stop()
