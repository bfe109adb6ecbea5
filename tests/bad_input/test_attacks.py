"""Every attack on ingest found so far, with a good agent streaming beside them.

Each test is one attack (the numbers are issue 11's); the module's fixture holds a
durable collector and a good agent, and its teardown checks that the collector stayed
up, still answers every route, and stored each of the good agent's ticks exactly once
with its exact values.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from gputel.agent.runtime import Agent
from gputel.proto.contract import BAD_SEQ_KEY
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.servers import CollectorThread, running_agent, wait_until

GOOD, GOOD_GPUS = "good", 2
_Server = tuple[CollectorThread, Agent]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    data = tmp_path_factory.mktemp("attacked")
    collector = CollectorThread(data_dir=data, maintenance_seconds=0.1).start()
    try:
        with running_agent(collector.grpc_target, node=GOOD, gpus=GOOD_GPUS, rate_hz=20,
                           flush_seconds=0.1) as agent:
            yield collector, agent
            assert agent.stop(drain_timeout=10), "the good agent's frames were all acknowledged"
        _every_route_answers(collector, agent)
        _stored_exactly_once(collector, agent)
        assert agent.outbox.stats.frames_dropped == 0
        assert agent.outbox.stats.frames_rejected == 0
    finally:
        collector.stop()


def _stored_exactly_once(collector: CollectorThread, agent: Agent) -> None:
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    metrics = agent.backend.metrics()
    store = collector.collector.store
    assert store.sample_count(GOOD) == len(ticks) * GOOD_GPUS * len(metrics)
    stamps = np.array([t for t, _ in ticks], dtype=np.int64)
    for device in agent.backend.devices():
        for col, metric in enumerate(metrics):
            ts, values = store.read((GOOD, device.uuid, metric), 0, 2**62)
            np.testing.assert_array_equal(ts, stamps)
            expected = np.array([v[device.index, col] for _, v in ticks], dtype=np.float64)
            np.testing.assert_array_equal(values, expected)


def _every_route_answers(collector: CollectorThread, agent: Agent) -> None:
    """GET every route of the OpenAPI document with the good node's ids: never a 5xx."""
    base = collector.http_base
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    device = agent.backend.devices()[0]
    ids = {"node": GOOD, "uuid": device.uuid, "gpu": device.uuid, "uid": "none",
           "alert_id": "none", "id": "none"}
    for path, item in spec["paths"].items():
        if "get" not in item:
            continue
        url = re.sub(r"{(\w+)}", lambda m: ids.get(m[1], "x"), path)
        if "text/event-stream" in item["get"]["responses"]["200"].get("content", {}):
            with httpx.stream("GET", f"{base}{url}", params={"metric": "power"},
                              timeout=30) as stream:  # endless: its status is the answer
                assert stream.status_code < 500, path
            continue
        response = httpx.get(f"{base}{url}", params={"metric": "power"}, timeout=30)
        assert response.status_code < 500, (path, response.text)
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{base}{probe}", timeout=10).status_code == 200, probe


def _refused(target: str, *messages: pb.AgentMessage,
             hello_msg: pb.Hello | None = None) -> grpc.RpcError:
    """Open a raw stream, send a Hello (and its Welcome), then messages; the error."""
    raw = RawStream(target)
    try:
        if hello_msg is not None:
            raw.send_hello(hello_msg)
            if messages:
                assert raw.answer().WhichOneof("kind") == "welcome"
        for message in messages:
            raw.send(message)
        return raw.error()
    finally:
        raw.close()


def _frame(seq: int, **kwargs: object) -> pb.AgentMessage:
    return pb.AgentMessage(frame=good_frame(seq, **kwargs))  # type: ignore[arg-type]


def _rejected(collector: CollectorThread, reason: str) -> int:
    return collector.collector.ingest.stats.rejected.get(reason, 0)


# ------------------------------------------------- 1-4: one message stops the collector
def test_1_a_sequence_number_past_int64_is_refused_and_the_writer_goes_on(
        server: _Server, tmp_path: Path) -> None:
    collector, _agent = server
    err = _refused(collector.grpc_target, _frame(2**63), _frame(2**64 - 1),
                   hello_msg=hello(node="seq-attacker"))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "outside 1 to 2^63-1" in err.details()
    raw = RawStream(collector.grpc_target)  # the writer still acknowledges
    try:
        raw.send_hello(hello(node="seq-attacker"))
        assert raw.answer().WhichOneof("kind") == "welcome"
        raw.send_frame(good_frame(2**63 - 1))
        assert raw.answer().ack.seq == 2**63 - 1
    finally:
        raw.close()
    assert httpx.get(f"{collector.http_base}/readyz").status_code == 200


def test_1_a_writer_thread_that_dies_takes_readiness_and_is_restarted(server: _Server) -> None:
    collector, agent = server
    frame_log = collector.collector.log
    assert frame_log is not None
    restarts = frame_log.stats.writer_restarts
    frame_log._queue.put(None)  # the writer thread ends as if it had crashed
    wait_until(lambda: frame_log.stats.writer_restarts > restarts, what="a restarted writer")
    wait_until(lambda: httpx.get(f"{collector.http_base}/readyz").status_code == 200,
               what="ready again")
    acked = agent.outbox.stats.frames_acked
    wait_until(lambda: agent.outbox.stats.frames_acked > acked + 3, what="acks again")


def test_2_a_hello_that_changes_a_known_instance_s_devices_is_refused(server: _Server) -> None:
    collector, _agent = server
    raw = RawStream(collector.grpc_target)
    try:
        raw.send_hello(hello(node="shrinker", n_devices=2, agent_instance="i-1"))
        assert raw.answer().WhichOneof("kind") == "welcome"
        raw.send_frame(good_frame(1))
        assert raw.answer().ack.seq == 1
    finally:
        raw.close()
    wait_until(lambda: collector.collector.ingest.live_streams() == 1, what="stream ended")
    err = _refused(collector.grpc_target, hello_msg=hello(node="shrinker", n_devices=1,
                                                          agent_instance="i-1"))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "declared other devices" in err.details()
    collector.run(collector.collector.maintain_now())  # rollups fold it with the right hello
    assert collector.collector.log is not None
    assert collector.collector.log.writing()


def test_2_a_collector_restarts_over_frames_of_a_shrunk_inventory(tmp_path: Path) -> None:
    first = CollectorThread(data_dir=tmp_path).start()
    raw = RawStream(first.grpc_target)
    try:
        raw.send_hello(hello(node="n", n_devices=2, agent_instance="i-1"))
        assert raw.answer().WhichOneof("kind") == "welcome"
        raw.send_frame(good_frame(1))
        assert raw.answer().ack.seq == 1
    finally:
        raw.close()
    first.stop()
    second = CollectorThread(data_dir=tmp_path).start()
    try:
        assert second.collector.store.sample_count("n") == 3 * 2 * 8
        second.run(second.collector.maintain_now())
    finally:
        second.stop()


@pytest.mark.parametrize("rate", [1e-300, math.nan, math.inf, -1.0, 0.0, 1e6])
def test_3_a_sample_rate_no_agent_can_have_is_refused(server: _Server, rate: float) -> None:
    collector, agent = server
    err = _refused(collector.grpc_target, hello_msg=hello(node="slow", sample_rate_hz=rate))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "sample_rate_hz" in err.details()
    _every_route_answers(collector, agent)


@pytest.mark.parametrize(("field", "count", "words"), [
    ("blocks", 1_100_000, "blocks"), ("holdings", 900_000, "holdings")])
def test_4_a_frame_of_a_million_empty_parts_is_refused_cheaply(
        server: _Server, field: str, count: int, words: str) -> None:
    collector, _agent = server
    frame = pb.Frame(seq=1)
    parts = getattr(frame, field)
    for _ in range(count):
        parts.add()
    before = _rejected(collector, "oversized")
    err = _refused(collector.grpc_target, pb.AgentMessage(frame=frame),
                   hello_msg=hello(node="bloater"))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert words in err.details()
    assert _rejected(collector, "oversized") == before + 1


@pytest.mark.parametrize(("ticks", "int_metrics", "int_values"), [
    (1, 1, 5_000_000),  # a long list of exact values behind one declared sample
    (70_000, 64, 0),  # a grid of exact rows, 4.5 M values, declared with nothing in it
])
def test_4_exact_integer_rows_count_against_the_frame_s_values_before_decoding(
        server: _Server, ticks: int, int_metrics: int, int_values: int) -> None:
    collector, agent = server
    block = pb.DeviceBlock(device=0, base_ts_ns=time.time_ns(), ts_delta_ns=[1] * ticks,
                           int_metrics=range(int_metrics), int_values=[1] * int_values)
    before = _rejected(collector, "oversized")
    err = _refused(collector.grpc_target, pb.AgentMessage(frame=pb.Frame(seq=1, blocks=[block])),
                   hello_msg=hello(node="int-bloater"))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "values; at most" in err.details()
    assert _rejected(collector, "oversized") == before + 1
    _every_route_answers(collector, agent)


# -------------------------------------------- 5-6: one client rewrites another's data
def test_5_a_second_stream_for_a_live_node_is_refused(server: _Server) -> None:
    collector, _agent = server
    live = collector.collector.nodes.node(GOOD)
    assert live is not None
    err = _refused(collector.grpc_target, hello_msg=hello(
        node=GOOD, agent_instance=live.agent_instance, n_devices=1))
    assert err.code() is grpc.StatusCode.ALREADY_EXISTS
    assert "already has a live stream" in err.details()
    node = collector.collector.nodes.node(GOOD)
    assert node is not None
    assert len(node.devices) == GOOD_GPUS  # its GPU list untouched


def test_5_a_resend_that_differs_from_the_held_frame_is_refused_not_acked(
        server: _Server) -> None:
    collector, _agent = server
    raw = RawStream(collector.grpc_target)
    try:
        raw.send_hello(hello(node="victim", agent_instance="v-1"))
        assert raw.answer().WhichOneof("kind") == "welcome"
        raw.send_frame(good_frame(1))
        assert raw.answer().ack == pb.Ack(seq=1, duplicate=False)
    finally:
        raw.close()
    wait_until(lambda: collector.collector.nodes.node("victim") is not None
               and collector.collector.nodes.node("victim").streams == 0,  # type: ignore[union-attr]
               what="the stream to end")
    forged = good_frame(1, ticks=2)
    err = _refused(collector.grpc_target, pb.AgentMessage(frame=forged),
                   hello_msg=hello(node="victim", agent_instance="v-1"))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "differs from the frame held" in err.details()
    assert (BAD_SEQ_KEY, "1") in tuple(err.trailing_metadata())
    assert _rejected(collector, "conflict") >= 1
    assert collector.collector.store.sample_count("victim") == 3 * 2 * 8


def test_6_timestamps_that_overlap_an_earlier_frame_are_refused(server: _Server) -> None:
    collector, _agent = server
    t0 = time.time_ns()
    raw = RawStream(collector.grpc_target)
    try:
        raw.send_hello(hello(node="overlap", agent_instance="o-1"))
        assert raw.answer().WhichOneof("kind") == "welcome"
        raw.send_frame(good_frame(1, t0_ns=t0))
        assert raw.answer().ack.seq == 1
        raw.send_frame(good_frame(2, t0_ns=t0 + 100_000_000))  # its first tick is held
        err = raw.error()
    finally:
        raw.close()
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "overlap or go back" in err.details()
    err = _refused(collector.grpc_target, _frame(1, t0_ns=t0 - 10**9),  # a new instance, back
                   hello_msg=hello(node="overlap", agent_instance="o-2"))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "overlap or go back" in err.details()
    assert collector.collector.store.sample_count("overlap") == 3 * 2 * 8


# ------------------------------------------------------------- 8: bounded by configuration
def test_8_nodes_streams_and_series_past_their_limits_are_refused_naming_them(
        tmp_path: Path) -> None:
    from gputel.collector.ingest.admission import IngestLimits  # noqa: PLC0415

    limits = IngestLimits(max_nodes=3, max_streams=2, max_series=4 * 2 * 40)
    collector = CollectorThread(limits=limits).start()
    streams = []
    try:
        for i in range(2):
            raw = RawStream(collector.grpc_target)
            raw.send_hello(hello(node=f"n{i}"))
            assert raw.answer().WhichOneof("kind") == "welcome"
            streams.append(raw)
        err = _refused(collector.grpc_target, hello_msg=hello(node="n2"))
        assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max-streams" in err.details()
        streams.pop().close()
        wait_until(lambda: collector.collector.ingest.live_streams() == 1, what="one stream")
        err = _refused(collector.grpc_target, hello_msg=hello(node="big", n_devices=1024))
        assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max-series" in err.details()
        raw = RawStream(collector.grpc_target)
        raw.send_hello(hello(node="n2"))
        assert raw.answer().WhichOneof("kind") == "welcome"
        raw.close()
        wait_until(lambda: collector.collector.ingest.live_streams() == 1, what="one stream")
        err = _refused(collector.grpc_target, hello_msg=hello(node="n3"))
        assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max-nodes" in err.details()
        metrics = httpx.get(f"{collector.http_base}/metrics").text
        for reason in ("limit_streams", "limit_series", "limit_nodes"):
            assert f'gputel_collector_messages_rejected_total{{reason="{reason}"}} 1.0' in metrics
    finally:
        for raw in streams:
            raw.close()
        collector.stop()


def test_8_nodes_unseen_past_their_ttl_are_forgotten(tmp_path: Path) -> None:
    from gputel.collector.ingest.admission import IngestLimits  # noqa: PLC0415

    collector = CollectorThread(limits=IngestLimits(node_ttl_ns=1)).start()
    try:
        for i in range(5):
            raw = RawStream(collector.grpc_target)
            raw.send_hello(hello(node=f"gone-{i}"))
            assert raw.answer().WhichOneof("kind") == "welcome"
            raw.close()
        wait_until(lambda: collector.collector.ingest.live_streams() == 0, what="no stream")
        assert collector.collector.ingest.forget_idle() == 5
        assert collector.collector.nodes.nodes() == []
        assert "gputel_collector_nodes_forgotten_total 5.0" in httpx.get(
            f"{collector.http_base}/metrics").text
    finally:
        collector.stop()


def test_8_series_under_a_chunk_age_out_and_memory_holds_at_most_max_samples() -> None:
    from gputel.collector.storage.store import SeriesStore  # noqa: PLC0415

    store = SeriesStore(retention_ns=10**9, max_samples=10_000)
    for i in range(40):  # 40 series of 2,000 samples: 80,000 offered
        ts = np.arange(2000, dtype=np.int64) + i * 2000
        store.append(("n", f"g{i}", "power"), ts, np.ones(2000, np.float32))
    assert store.sample_count() <= 10_000
    assert store.evicted == 80_000 - store.sample_count()
    store.append(("n", "small", "power"), np.array([5], np.int64), np.ones(1, np.float32))
    store.enforce_retention(now_ns=10**12)
    assert store.sample_count() == 0
    assert store.series_count() == 0


def test_8_an_in_memory_store_written_by_the_durable_writer_holds_at_most_max_samples() -> None:
    """The collector's own write path (not SeriesStore.write) keeps the in-memory bound, and
    keeps no frame bytes for a restart that cannot happen."""
    from gputel.collector.storage.durable import DurableStore  # noqa: PLC0415
    from gputel.collector.storage.engine import Engine  # noqa: PLC0415

    engine = Engine(None, max_samples=10_000)
    durable = DurableStore(engine)
    durable.start()
    try:
        for seq in range(1, 41):  # 40 frames of 2,000 samples: 80,000 offered
            ts = np.arange(2000, dtype=np.int64) + seq * 2000
            rows = [("g0", ts, (0,), np.ones((1, 2000), np.float32))]
            assert durable.append("n", "i-1", seq, b"d", b"x" * 1000, ("power",), rows
                                  ).result(10)
        assert engine.sample_count() <= 10_000
        assert engine.stats.samples_dropped["memory"] == 80_000 - engine.sample_count()
        assert engine.head_rows() == engine.sample_count()
        assert engine.cursor().execute("SELECT count(*) FROM tail").fetchone() == (0,)
    finally:
        durable.close()
        engine.close()


# ------------------------------------------------------- issue 12, defect 1: stuck streams
def test_cancelled_streams_never_leave_a_node_connected(server: _Server) -> None:
    collector, _agent = server
    for i in range(60):
        raw = RawStream(collector.grpc_target)
        raw.send_hello(hello(node=f"flicker-{i % 3}", agent_instance=f"f-{i}"))
        if i % 2:
            assert raw.answer().WhichOneof("kind") == "welcome"
        raw.close()
    ingest, nodes = collector.collector.ingest, collector.collector.nodes
    wait_until(lambda: ingest.live_streams() == 1, what="only the good agent's stream")
    assert all(n.streams == 0 for n in nodes.nodes() if n.name.startswith("flicker"))
