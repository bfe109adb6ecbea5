"""Remote write into a real Prometheus, through an outage, and the sender's rules on a fake one."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np
import pytest

from gputel.collector.api.secrets import SecurityConfigError, read_headers
from gputel.collector.outbound.remote_write import RemoteWriteConfig, RemoteWriter
from gputel.collector.registry.workloads import WorkloadIndex
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.prometheus import remote_pb2 as prompb
from gputel.proto.prometheus import write_request
from tests.harness.servers import CollectorThread, running_agent, wait_until
from tests.prometheus.helpers import sim_blocks
from tests.prometheus.promserver import PrometheusServer, free_port, wait_for_value

NODE = "rw-node"
GPUS, RATE = 2, 10


def _writer(url: str, client: httpx.Client | None = None, **overrides: object) -> RemoteWriter:
    settings: dict[str, object] = {"url": url, "batch_samples": 500, "batch_seconds": 0.1,
                                   "backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.3,
                                   "retry_deadline_seconds": 60.0, "timeout_seconds": 2.0}
    return RemoteWriter(RemoteWriteConfig(**{**settings, **overrides}),  # type: ignore[arg-type]
                        client=client)


@pytest.mark.slow
def test_samples_arrive_and_an_outage_loses_nothing(tmp_path: Path) -> None:
    start_ns = (time.time_ns() - 20 * 10**9) // 10**8 * 10**8
    devices, metrics, frames = sim_blocks(NODE, GPUS, start_ns, ticks=100, rate_hz=RATE)
    prom = PrometheusServer(tmp_path / "prom", remote_write_receiver=True).start()
    writer = _writer(f"{prom.base}/api/v1/write")
    writer.start()
    try:
        for blocks in frames[:5]:
            writer.enqueue_blocks(NODE, devices, metrics, blocks)
        wait_until(lambda: writer.queued() == 0, timeout=20, what="first half sent")
        assert writer.stats.sent == 5 * RATE * GPUS * len(metrics)
        _check_arrived(prom, frames[:5], metrics, start_ns)

        prom.stop()  # the receiver goes away; the collector keeps writing
        for blocks in frames[5:]:
            writer.enqueue_blocks(NODE, devices, metrics, blocks)
        wait_until(lambda: writer.stats.retried > 0, timeout=20, what="a retry while down")
        assert writer.queued() > 0
        assert writer.lag_seconds() > 0
        prom.start()  # same TSDB, same port
        wait_until(lambda: writer.queued() == 0, timeout=30, what="queue drained")
        assert writer.stop(timeout=5)
        s = writer.stats
        assert s.sent == s.enqueued == 10 * RATE * GPUS * len(metrics)
        assert (s.failed, s.dropped["queue_full"], s.dropped["out_of_order"]) == (0, 0, 0)
        assert writer.lag_seconds() == 0
        _check_arrived(prom, frames, metrics, start_ns)
    finally:
        writer.stop(timeout=1)
        prom.stop()


@pytest.mark.slow
def test_a_prometheus_that_scrapes_the_agent_and_receives_remote_write_counts_each_gpu_once(
        tmp_path: Path) -> None:
    """Issue 12: sum(gputel_gpu_power_watts) was twice the truth, and the remote-written
    series had no pod labels. Both paths into one Prometheus, simulated pods on 4 GPUs."""
    node, gpus = "both-paths", 4
    port = free_port()
    collector = CollectorThread(remote_write_url=f"http://127.0.0.1:{port}/api/v1/write").start()
    try:
        with running_agent(collector.grpc_target, node, gpus=gpus, attribution="sim") as agent:
            assert agent.http is not None
            prom = PrometheusServer(tmp_path / "prom", {"agent": f"127.0.0.1:{agent.http.port}"},
                                    remote_write_receiver=True, port=port).start()
            try:
                sel = f'{{node="{node}"}}'
                for name in ("gputel_gpu_power_watts", "gputel_collector_gpu_power_watts"):
                    wait_for_value(prom, f"count({name}{sel})", lambda v: v >= gpus)
                total = sum(d.memory_total_bytes for d in agent.backend.devices())
                assert prom.scalar(f"count(gputel_gpu_power_watts{sel})") == gpus
                assert prom.scalar(f"count(gputel_collector_gpu_power_watts{sel})") == gpus
                assert prom.scalar(f"sum(gputel_gpu_memory_total_bytes{sel})") == total
                assert prom.scalar(f"sum(gputel_collector_gpu_memory_total_bytes{sel})") == total
                scraped = _holders(prom.query(f"gputel_gpu_power_watts{sel}"))
                written = _holders(prom.query(f"gputel_collector_gpu_power_watts{sel}"))
                assert written == scraped
                assert scraped["0"] == ("llm-pretrain-0", "ml-research", "main")
                assert scraped["2"] == ("chat-api-0", "inference", "main")
            finally:
                prom.stop()
    finally:
        collector.stop()


def _holders(result: list[dict]) -> dict[str, tuple[str, str, str]]:
    """gpu -> (pod, namespace, container) of an instant query's series."""
    return {r["metric"]["gpu"]: (r["metric"].get("pod", ""), r["metric"].get("namespace", ""),
                                 r["metric"].get("container", "")) for r in result}


def _check_arrived(prom: PrometheusServer, frames: list, metrics: tuple, start_ns: int) -> None:
    """Every sample of the frames is in Prometheus, at its millisecond, with its value."""
    end_s = max(int(b.ts_ns[-1]) for blocks in frames for b in blocks) / 1e9
    window = f"{int(end_s - start_ns / 1e9) + 2}s"
    power = metrics.index("power")
    clock = metrics.index("sm_clock")
    got = prom.samples(f'gputel_collector_gpu_power_watts{{node="{NODE}"}}', window, at=end_s)
    hertz = prom.samples(f'gputel_collector_gpu_sm_clock_hertz{{node="{NODE}"}}', window, at=end_s)
    for gpu in range(GPUS):
        want = [(int(t) // 10**6, float(b.values[power, i]), float(b.values[clock, i]))
                for blocks in frames for b in blocks if b.device == gpu
                for i, t in enumerate(b.ts_ns)]
        (points,) = [p for k, p in got.items() if dict(k)["gpu"] == str(gpu)]
        assert [(round(t * 1000), v) for t, v in points] == [(t, w) for t, w, _ in want]
        (clocks,) = [p for k, p in hertz.items() if dict(k)["gpu"] == str(gpu)]
        assert [v for _, v in clocks] == [c * 1e6 for _, _, c in want]
    energy = prom.query(f'count(gputel_collector_gpu_energy_joules_total{{node="{NODE}"}})',
                        at=end_s)
    assert energy[0]["value"][1] == str(GPUS)


class _Receiver:
    """A fake endpoint answering a scripted status per request; it decodes what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[prompb.WriteRequest] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(write_request.decode(request.content))
        self.headers.append(request.headers)
        status = self.statuses.pop(0) if self.statuses else 204
        return httpx.Response(status, text="nope" if status >= 400 else "")


@pytest.fixture
def receiver() -> _Receiver:
    return _Receiver([])


def _labels(name: str, gpu: str = "0") -> tuple[tuple[str, str], ...]:
    return (("__name__", name), ("node", "n"), ("gpu", gpu))


def test_headers_order_and_one_sample_per_millisecond(receiver: _Receiver) -> None:
    writer = _writer("http://rw.test/api/v1/write", httpx.Client(
        transport=httpx.MockTransport(receiver)))
    writer.start()
    ms = 1_700_000_000_000
    ts = np.array([ms + 2, ms + 1, ms + 1, ms + 3], dtype=np.int64) * 10**6
    writer.enqueue(_labels("gputel_test_watts"), ts, np.array([2.0, 1.0, 1.5, np.nan]))
    writer.enqueue(_labels("gputel_test_watts"), np.array([ms * 10**6]), np.array([9.0]))
    assert writer.stop(timeout=5)
    (request,) = receiver.requests
    assert receiver.headers[0]["content-encoding"] == "snappy"
    assert receiver.headers[0]["content-type"] == "application/x-protobuf"
    assert receiver.headers[0]["x-prometheus-remote-write-version"] == "0.1.0"
    (series,) = request.timeseries
    assert [(lb.name, lb.value) for lb in series.labels] == [
        ("__name__", "gputel_test_watts"), ("gpu", "0"), ("node", "n")]
    assert [(s.timestamp, s.value) for s in series.samples] == [
        (ms, 9.0), (ms + 1, 1.5), (ms + 2, 2.0)]
    assert writer.stats.dropped["out_of_order"] == 1  # the first of two at ms + 1


def test_4xx_fails_the_batch_without_retry_and_5xx_retries(receiver: _Receiver) -> None:
    receiver.statuses = [400, 503, 429, 204]
    writer = _writer("http://rw.test/api/v1/write", httpx.Client(
        transport=httpx.MockTransport(receiver)), batch_samples=2)
    writer.start()
    writer.enqueue(_labels("gputel_a"), np.array([1, 2]) * 10**6 + 10**18, np.ones(2))
    wait_until(lambda: writer.stats.failed == 2, timeout=10, what="the 400 counted")
    writer.enqueue(_labels("gputel_b"), np.array([1, 2]) * 10**6 + 10**18, np.ones(2))
    wait_until(lambda: writer.stats.sent == 2, timeout=10, what="sent after 503 and 429")
    assert writer.stop(timeout=5)
    assert len(receiver.requests) == 4
    assert (writer.stats.failed, writer.stats.retried, writer.stats.sent) == (2, 4, 2)


def test_series_are_named_apart_from_the_agents_and_carry_the_holder_at_each_sample(
        receiver: _Receiver) -> None:
    """Issue 12: remote-written series had the agents' names and no pod labels, so a
    Prometheus holding both counted every GPU twice and could not say who used it."""
    devices, metrics, frames = sim_blocks(NODE, 1, 10**18, ticks=10, rate_hz=RATE)
    ts = frames[0][0].ts_ns
    change_ns = int(ts[4])  # the pod changes at the 5th tick; nobody before the 2nd
    asked: list[tuple[str, str, int, int]] = []

    def holders(node: str, uuid: str, start_ns: int, end_ns: int
                ) -> list[tuple[int, tuple[str, str, str]]]:
        asked.append((node, uuid, start_ns, end_ns))
        return [(start_ns, ("", "", "")), (int(ts[1]), ("train-0", "ml", "main")),
                (change_ns, ("serve-1", "web", "api,sidecar"))]

    writer = RemoteWriter(RemoteWriteConfig("http://rw.test/api/v1/write", batch_samples=10**4,
                                            batch_seconds=0.05),
                          client=httpx.Client(transport=httpx.MockTransport(receiver)),
                          holders=holders)
    writer.start()
    writer.enqueue_blocks(NODE, devices, metrics, frames[0])
    assert writer.stop(timeout=5)
    assert asked == [(NODE, devices[0].uuid, int(ts[0]), int(ts[-1]))]
    power: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for request in receiver.requests:
        for series in request.timeseries:
            labels = tuple((lb.name, lb.value) for lb in series.labels)
            assert not labels[0][1].startswith("gputel_gpu_"), labels  # never the agents' names
            if labels[0][1] == "gputel_collector_gpu_power_watts":
                power.setdefault(labels, []).extend(s.timestamp for s in series.samples)
    ms = [int(t) // 10**6 for t in ts]
    base = (("__name__", "gputel_collector_gpu_power_watts"), ("gpu", "0"),
            ("model", devices[0].model), ("node", NODE))
    pod = (("container", "main"), ("namespace", "ml"), ("pod", "train-0"))
    other = (("container", "api,sidecar"), ("namespace", "web"), ("pod", "serve-1"))
    assert {labels: sorted(stamps) for labels, stamps in power.items()} == {
        (*base, ("uuid", devices[0].uuid)): ms[:1],  # unattributed: no empty pod label
        tuple(sorted((*base, *pod, ("uuid", devices[0].uuid)))): ms[1:4],
        tuple(sorted((*base, *other, ("uuid", devices[0].uuid)))): ms[4:],
    }


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    writer = _writer("http://127.0.0.1:9/api/v1/write", max_queue_samples=1000,
                     batch_samples=500)
    for k in range(3):  # never started: the queue only fills
        ts = (np.arange(400) + 400 * k) * 10**6 + 10**18
        writer.enqueue(_labels("gputel_q"), ts, np.full(400, float(k)))
    assert writer.queued() == 1000
    assert writer.stats.dropped["queue_full"] == 200
    assert writer.stats.enqueued == 1200
    assert not writer.stop(timeout=0)  # nothing could be sent


def test_the_fast_encoding_is_the_protobuf_encoding() -> None:
    labels = [("node", "n"), ("__name__", "gputel_x_watts")]
    header = write_request.series_header(labels)
    for ts in ([1_700_000_000_000, 1_700_000_000_010], [5, 1_700_000_000_000]):  # fast, slow
        stamps = np.array(ts, dtype=np.int64)
        values = np.array([1.25, -np.inf])
        body = write_request.encode_grouped([header], np.zeros(2, dtype=np.int64), stamps,
                                            values)
        want = prompb.WriteRequest(timeseries=[prompb.TimeSeries(
            labels=[prompb.Label(name=k, value=v) for k, v in sorted(labels)],
            samples=[prompb.Sample(value=v, timestamp=t) for v, t in zip(values, ts,
                                                                          strict=True)])])
        assert write_request.decode(body).SerializeToString() == want.SerializeToString()
    fast = write_request.encode_grouped([header], np.zeros(1, dtype=np.int64),
                                        np.array([1_700_000_000_000]), np.array([2.0]))
    assert write_request.decode(fast) == prompb.WriteRequest(timeseries=[prompb.TimeSeries(
        labels=[prompb.Label(name=k, value=v) for k, v in sorted(labels)],
        samples=[prompb.Sample(value=2.0, timestamp=1_700_000_000_000)])])


def test_stub_field_numbers_are_prometheus_remote_write_1_0() -> None:
    def numbers(message: type) -> dict[str, int]:
        return {f.name: f.number for f in message.DESCRIPTOR.fields}

    assert prompb.DESCRIPTOR.package == "prometheus"
    assert numbers(prompb.WriteRequest) == {"timeseries": 1, "metadata": 3}
    assert numbers(prompb.TimeSeries) == {"labels": 1, "samples": 2}
    assert numbers(prompb.Label) == {"name": 1, "value": 2}
    assert numbers(prompb.Sample) == {"value": 1, "timestamp": 2}
    assert numbers(prompb.MetricMetadata) == {"type": 1, "metric_family_name": 2, "help": 4,
                                              "unit": 5}


def test_the_workload_index_names_the_largest_holder_in_force_at_each_time() -> None:
    index = WorkloadIndex()
    frame = pb.Frame(seq=1, workloads=[
        pb.Workload(uid="u1", kind="pod", namespace="ml", pod="a", container="main"),
        pb.Workload(uid="u2", kind="pod", namespace="ml", pod="b", container="main")],
        holdings=[pb.Holding(device=0, since_ts_ns=100, shares=[pb.Share(workload="u1",
                                                                         fraction=1.0)]),
                  pb.Holding(device=0, since_ts_ns=200, shares=[
                      pb.Share(workload="u1", fraction=0.25),
                      pb.Share(workload="u2", fraction=0.75)]),
                  pb.Holding(device=0, since_ts_ns=300, shares=[])])
    index.apply("n", ["GPU-0"], [], 10, [], frame)
    assert index.largest_holders("n", "GPU-0", 50, 250) == [
        (50, ("", "", "")), (100, ("a", "ml", "main")), (200, ("b", "ml", "main"))]
    assert index.largest_holders("n", "GPU-0", 150, 400) == [
        (150, ("a", "ml", "main")), (200, ("b", "ml", "main")), (300, ("", "", ""))]
    assert index.largest_holders("n", "GPU-9", 0, 10) == [(0, ("", "", ""))]


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sent_series(receiver: _Receiver) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for request in receiver.requests:
        for series in request.timeseries:
            name = next(lb.value for lb in series.labels if lb.name == "__name__")
            out.setdefault(name, []).extend(s.timestamp for s in series.samples)
    return out


def _table_writer(receiver: _Receiver, clock: _Clock, **overrides: object) -> RemoteWriter:
    config = RemoteWriteConfig(**{"url": "http://rw.test/api/v1/write",  # type: ignore[arg-type]
                                  "batch_samples": 1, **overrides})
    return RemoteWriter(config, client=httpx.Client(transport=httpx.MockTransport(receiver)),
                        monotonic=clock)


def test_series_idle_for_longer_than_the_limit_are_forgotten(receiver: _Receiver) -> None:
    """Issue 12 review: the series table never shrank, so with holder labels it grew with
    every pod that ever held a GPU."""
    clock = _Clock()
    writer = _table_writer(receiver, clock, series_idle_seconds=600.0)
    writer.start()
    ms = 1_700_000_000_000
    for pod in range(50):  # 50 pods, each one sample, all sent
        writer.enqueue((("__name__", "gputel_w"), ("pod", f"p{pod}")),
                       np.array([(ms + 1000) * 10**6]), np.ones(1))
    wait_until(lambda: writer.stats.sent == 50, timeout=10, what="the 50 samples sent")
    assert writer.series() == 50
    clock.now += 601.0
    writer.enqueue(_labels("gputel_late"), np.array([ms * 10**6]), np.ones(1))
    assert writer.series() == 1
    assert writer.stats.series_forgotten == {"idle": 50, "cap": 0}
    # A new series reusing a forgotten id keeps none of its past: its samples, older than
    # the ones the forgotten series sent, are not refused as out of order.
    wait_until(lambda: writer.stats.sent == 51, timeout=10, what="the new series sent")
    assert writer.stop(timeout=5)
    assert _sent_series(receiver)["gputel_late"] == [ms]
    assert writer.stats.dropped["out_of_order"] == 0


def test_series_beyond_the_cap_go_least_recently_written_first(receiver: _Receiver) -> None:
    clock = _Clock()
    writer = _table_writer(receiver, clock, max_series=3)
    writer.start()
    ms = 1_700_000_000_000
    for k, name in enumerate(["gputel_a", "gputel_b", "gputel_c", "gputel_a", "gputel_d"]):
        clock.now += 1.0
        writer.enqueue(_labels(name), np.array([(ms + k) * 10**6]), np.ones(1))
        wait_until(lambda k=k: writer.stats.sent == k + 1, timeout=10, what="sent")
    assert writer.series() == 3
    assert writer.stats.series_forgotten == {"idle": 0, "cap": 1}
    writer.enqueue(_labels("gputel_b"), np.array([(ms + 9) * 10**6]), np.ones(1))  # back: new
    assert writer.stop(timeout=5)
    assert writer.stats.series_forgotten["cap"] == 2  # c, the oldest left, made room
    assert _sent_series(receiver)["gputel_b"] == [ms + 1, ms + 9]


def test_series_with_samples_still_queued_are_kept() -> None:
    clock = _Clock()
    writer = RemoteWriter(RemoteWriteConfig("http://127.0.0.1:9/api/v1/write", batch_samples=1,
                                            max_series=1), monotonic=clock)
    for name in ("gputel_a", "gputel_b"):  # never started: both stay queued
        writer.enqueue(_labels(name), np.array([10**18]), np.ones(1))
    clock.now += 10_000.0
    writer.enqueue(_labels("gputel_a"), np.array([10**18 + 10**6]), np.ones(1))
    assert writer.series() == 2
    assert writer.stats.series_forgotten == {"idle": 0, "cap": 0}
    assert not writer.stop(timeout=0)


class _HeaderCatcher(http.server.BaseHTTPRequestHandler):
    """A remote-write endpoint on loopback that keeps each request's headers."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_headers_file_reaches_the_endpoint(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeaderCatcher)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    headers = tmp_path / "rw-headers"
    headers.write_text("# tenant and credentials\nAuthorization: Bearer s3cret\n"
                       "X-Scope-OrgID: team-a\n")
    url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/write"
    collector = CollectorThread(remote_write_url=url, remote_write_headers_file=headers).start()
    try:
        with running_agent(collector.grpc_target, "rw-hdr", gpus=1):
            wait_until(lambda: bool(_HeaderCatcher.seen), timeout=20, what="a remote write")
        sent = _HeaderCatcher.seen[0]
        assert sent["authorization"] == "Bearer s3cret"
        assert sent["x-scope-orgid"] == "team-a"
        assert sent["content-encoding"] == "snappy"
    finally:
        collector.stop()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("text", ["Authorization Bearer x\n", "Bad Name: v\n", "X-Empty:   \n"])
def test_a_bad_headers_file_is_one_line_naming_the_line(tmp_path: Path, text: str) -> None:
    headers = tmp_path / "rw-headers"
    headers.write_text("# fine\n" + text)
    with pytest.raises(SecurityConfigError) as err:
        read_headers(headers)
    assert str(err.value) == f"{headers}: line 2 is not 'Name: value'"
    assert "Bearer x" not in str(err.value)
