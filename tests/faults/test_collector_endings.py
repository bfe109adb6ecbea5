"""How the agent answers each way the collector can end its stream (telemetry.proto's contract).

A scripted collector on loopback ends each connect as the test says; the agent under test
is the real one. Gaps between connects are lower bounds the agent's backoff guarantees
(its jitter is "equal jitter": at least half of each step), so no test depends on luck.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import httpx
import pytest

from gputel.agent.runtime import Agent
from gputel.proto.contract import BAD_SEQ_KEY, RETRY_AFTER_KEY
from tests.harness.scripted import Answer, ScriptedCollector
from tests.harness.servers import running_agent, wait_until

ACCEPT = Answer()


@contextmanager
def scripted(script: object) -> Iterator[ScriptedCollector]:
    server = ScriptedCollector(script)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def _get(agent: Agent, path: str) -> httpx.Response:
    assert agent.http is not None
    return httpx.get(f"http://127.0.0.1:{agent.http.port}{path}", timeout=5)


def _metric(agent: Agent, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", _get(agent, "/metrics").text, re.MULTILINE)
    return float(found[1]) if found else None


@pytest.mark.parametrize(("welcome", "code"), [
    (False, grpc.StatusCode.UNAVAILABLE),  # storage failing, refused at the Hello
    (True, grpc.StatusCode.RESOURCE_EXHAUSTED),  # a limit, after a frame was acknowledged
])
def test_the_agent_waits_at_least_the_collectors_retry_after(welcome: bool,
                                                              code: grpc.StatusCode) -> None:
    ending = Answer(welcome=welcome, ack=int(welcome), code=code, details="disk full",
                    trailers=((RETRY_AFTER_KEY, "1500"),))
    with scripted(lambda n: ending if n == 1 else ACCEPT) as server, \
            running_agent(server.target, gpus=1, rate_hz=20, flush_seconds=0.1) as agent:
        first, second = server.next_call(), server.next_call()
        assert second.at - first.at >= 1.5
        assert agent.outbox.wait(lambda s: s.frames_acked >= 2, timeout=10)
        assert _metric(agent, f'gputel_agent_stream_ends_total{{code="{code.name}"}}') == 1


def test_sessions_that_break_right_after_the_welcome_back_off_more_and_more() -> None:
    quick = Answer(code=grpc.StatusCode.UNAVAILABLE, details="write failed")
    with scripted(lambda n: quick) as server, \
            running_agent(server.target, gpus=1, backoff_max_seconds=2.0,
                          reconnect_max_seconds=2.0) as agent:
        times = [server.next_call().at for _ in range(5)]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Steps 0.2, 0.4, 0.8, 1.6 s, each at least half of itself: never a reconnect storm.
        for i, gap in enumerate(gaps):
            assert gap >= 0.1 * 2 ** i, gaps
        stream = agent.stream
        assert stream is not None
        wait_until(lambda: stream.stats.connects >= 5, what="the fifth Welcome")


@pytest.mark.parametrize(("code", "details"), [
    (grpc.StatusCode.PERMISSION_DENIED, "node 'node-a' is not allowed for this identity"),
    (grpc.StatusCode.UNAUTHENTICATED, "no valid bearer token"),
    (grpc.StatusCode.INVALID_ARGUMENT, "node name 'node-a' is not a DNS-1123 subdomain"),
])
def test_a_refused_hello_is_not_ready_with_the_reason_retried_slowly_and_sampling_goes_on(
        code: grpc.StatusCode, details: str) -> None:
    refused = threading.Event()
    refused.set()

    def script(_n: int) -> Answer:
        return Answer(welcome=False, code=code, details=details) if refused.is_set() else ACCEPT

    with scripted(script) as server, \
            running_agent(server.target, gpus=1, rate_hz=20, flush_seconds=0.1,
                          refused_retry_seconds=1.0) as agent:
        first = server.next_call()
        wait_until(lambda: _get(agent, "/readyz").status_code == 503, what="not ready")
        body = _get(agent, "/readyz").json()
        assert details in body["message"]
        assert code.name in body["message"]
        refusal = f'gputel_agent_collector_refused{{message="{code.name}: {details}"}}'
        assert _metric(agent, refusal) == 1
        queued = agent.outbox.stats.frames_queued
        assert agent.outbox.wait(lambda s: s.frames_queued >= queued + 3, timeout=10)
        second = server.next_call()
        assert second.at - first.at >= 1.0  # slowly: refused_retry_seconds at least
        refused.clear()  # the operator fixed the node's identity
        wait_until(lambda: _get(agent, "/readyz").status_code == 200, what="ready again")
        assert _metric(agent, 'gputel_agent_collector_refused{message=""}') == 0
        assert agent.stop(drain_timeout=10)
    assert agent.outbox.stats.frames_dropped == 0
    assert sorted(server.acked) == list(range(1, agent.outbox.last_seq + 1))


def test_a_skewed_clock_is_reported_and_its_out_of_range_frames_are_kept_and_delivered() -> None:
    skewed = threading.Event()
    skewed.set()
    named: list[int] = []

    def script(n: int) -> Answer:
        if not skewed.is_set():
            return ACCEPT
        return Answer(collector_time_ns=time.time_ns() - 400 * 10**9, ack=1,
                      code=grpc.StatusCode.OUT_OF_RANGE,
                      details="frame timestamps 400 s ahead of the collector's clock",
                      frame_trailer=BAD_SEQ_KEY)

    with scripted(script) as server, \
            running_agent(server.target, gpus=1, rate_hz=20, flush_seconds=0.1,
                          max_clock_skew_seconds=10.0) as agent:
        wait_until(lambda: (_metric(agent, "gputel_agent_frames_out_of_range_total") or 0) >= 2,
                   what="two out-of-range refusals")
        skew = _metric(agent, "gputel_agent_clock_skew_seconds")
        assert skew is not None
        assert 399 <= skew <= 401
        ready = _get(agent, "/readyz")
        assert ready.status_code == 503
        assert "400" in ready.json()["message"]
        assert "ahead of" in ready.json()["message"]
        named = [call.frames[-1].seq for call in _drain(server) if call.frames]
        skewed.clear()  # NTP fixed; the collector's window now takes the frames
        wait_until(lambda: _get(agent, "/readyz").status_code == 200, what="ready again")
        assert agent.stop(drain_timeout=10)
    assert agent.outbox.stats.frames_rejected == 0
    assert set(named) <= set(server.acked), "an out-of-range frame was dropped, not kept"
    assert sorted(server.acked) == list(range(1, agent.outbox.last_seq + 1))


def _drain(server: ScriptedCollector) -> list:
    calls = []
    while not server.calls.empty():
        calls.append(server.calls.get_nowait())
    return calls


def test_already_exists_is_transient_retried_soon_and_not_a_refusal() -> None:
    busy = Answer(welcome=False, code=grpc.StatusCode.ALREADY_EXISTS,
                  details="a stream of (node-a, instance) is still open")
    with scripted(lambda n: busy if n == 1 else ACCEPT) as server, \
            running_agent(server.target, gpus=1, rate_hz=20, flush_seconds=0.1,
                          refused_retry_seconds=60.0) as agent:
        first, second = server.next_call(), server.next_call(timeout=10)
        assert second.at - first.at < 10  # a refusal would wait 60 s or more
        assert agent.outbox.wait(lambda s: s.frames_acked >= 1, timeout=10)
        assert agent.stream is not None
        assert agent.stream.stats.refusal == ""


def test_stop_cuts_a_long_retry_after_short() -> None:
    away = Answer(welcome=False, code=grpc.StatusCode.UNAVAILABLE, details="storage failing",
                  trailers=((RETRY_AFTER_KEY, "3600000"),))
    with scripted(lambda n: away) as server, \
            running_agent(server.target, gpus=1) as agent:
        server.next_call()
        assert agent.stream is not None
        stream = agent.stream
        wait_until(lambda: stream.stats.retry_wait_seconds >= 600, what="the long wait")
        assert stream.stats.retry_wait_seconds <= 720  # bounded: at most 600 s + jitter
        started = time.monotonic()
        agent.stop(drain_timeout=0)
        assert time.monotonic() - started < 5
