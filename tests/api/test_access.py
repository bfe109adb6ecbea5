"""Tokens (read, admin), rate limits and CORS on the HTTP API and the gRPC QueryService."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.servers import CollectorThread

READ, ADMIN = "r3ad-only-t0ken", "adm1n-t0ken"
ORIGIN = "https://console.example"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    tokens = tmp_path_factory.mktemp("tokens") / "api-tokens"
    tokens.write_text(f"# who may ask\n{READ}: read\n")
    server = CollectorThread(api_token_file=tokens, api_tokens=f"{ADMIN}:admin",
                             metrics_need_token=True, cors_origins=(ORIGIN,)).start()
    yield server
    server.stop()


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_http_without_a_known_token_is_401(guarded: CollectorThread, token: str | None) -> None:
    response = httpx.get(f"{guarded.http_base}/api/v1/nodes", headers=_auth(token))
    _error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "X-RateLimit-Limit" in response.headers


@pytest.mark.parametrize("token", [READ, ADMIN])
def test_http_reads_need_any_known_token(guarded: CollectorThread, token: str) -> None:
    response = httpx.get(f"{guarded.http_base}/api/v1/overview", headers=_auth(token))
    assert response.status_code == 200
    assert int(response.headers["X-RateLimit-Remaining"]) >= 0


def test_http_admin_actions_need_an_admin_token(guarded: CollectorThread) -> None:
    url = f"{guarded.http_base}/api/v1/alerts/nope/acknowledge"
    _error(httpx.post(url, headers=_auth(READ)), 403, "FORBIDDEN")
    _error(httpx.post(url), 401, "UNAUTHORIZED")
    _error(httpx.post(url, headers=_auth(ADMIN)), 404, "NOT_FOUND")  # allowed; no such alert


def test_probes_and_docs_stay_open_and_metrics_is_guarded(guarded: CollectorThread) -> None:
    base = guarded.http_base
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert httpx.get(base + path).status_code == 200, path
    _error(httpx.get(f"{base}/metrics"), 401, "UNAUTHORIZED")
    assert httpx.get(f"{base}/metrics", headers=_auth(READ)).status_code == 200


def test_cors_allows_the_configured_origin_only(guarded: CollectorThread) -> None:
    url = f"{guarded.http_base}/api/v1/nodes"
    preflight = {"Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(url, headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.options(url, headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    answer = httpx.get(url, headers={"Origin": ORIGIN, **_auth(READ)})
    assert "X-RateLimit-Limit" in answer.headers["access-control-expose-headers"]


def _stub(server: CollectorThread) -> tuple[grpc.Channel, pb_grpc.QueryServiceStub]:
    channel = grpc.insecure_channel(server.grpc_target)
    return channel, pb_grpc.QueryServiceStub(channel)


def _code(call: object, **kwargs: object) -> grpc.StatusCode:
    try:
        result = call(**kwargs)  # type: ignore[operator]
        if not hasattr(result, "SerializeToString"):
            next(iter(result))  # a stream: its first message (or its error)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_grpc_tokens_and_roles(guarded: CollectorThread) -> None:
    channel, stub = _stub(guarded)
    with channel:
        nodes = pb.ListNodesRequest()
        assert _code(stub.ListNodes, request=nodes) == grpc.StatusCode.UNAUTHENTICATED
        assert _code(stub.ListNodes, request=nodes, metadata=(("authorization", "Bearer x"),)) \
            == grpc.StatusCode.UNAUTHENTICATED
        assert _code(stub.Watch, request=pb.WatchRequest()) == grpc.StatusCode.UNAUTHENTICATED
        read, admin = (("authorization", f"Bearer {READ}"),), (("authorization",
                                                                f"Bearer {ADMIN}"),)
        assert _code(stub.ListNodes, request=nodes, metadata=read) == grpc.StatusCode.OK
        ack = pb.AcknowledgeAlertRequest(id="nope")
        assert _code(stub.AcknowledgeAlert, request=ack, metadata=read) == \
            grpc.StatusCode.PERMISSION_DENIED
        assert _code(stub.AcknowledgeAlert, request=ack, metadata=admin) == \
            grpc.StatusCode.NOT_FOUND


def test_ingest_needs_no_query_token(guarded: CollectorThread) -> None:
    stream = RawStream(guarded.grpc_target)
    try:
        stream.send_hello(hello(node="ingest-only"))
        assert stream.answer().HasField("welcome")
        stream.send_frame(good_frame(1))
        assert stream.answer().ack.seq == 1
    finally:
        stream.close()


@pytest.fixture
def limited() -> Iterator[CollectorThread]:
    server = CollectorThread(rate_limit_per_second=0.01, rate_limit_burst=3).start()
    yield server
    server.stop()


def test_a_client_over_its_rate_limit_is_429_then_resource_exhausted(
        limited: CollectorThread) -> None:
    url = f"{limited.http_base}/api/v1/nodes"
    remaining = []
    for _ in range(3):
        response = httpx.get(url)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    refused = httpx.get(url)
    _error(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["Retry-After"]) >= 1
    assert int(refused.headers["X-RateLimit-Reset"]) >= 1
    assert httpx.get(f"{limited.http_base}/healthz").status_code == 200  # probes unlimited
    channel, stub = _stub(limited)  # the same client (address) over gRPC
    with channel:
        assert _code(stub.ListNodes, request=pb.ListNodesRequest()) == \
            grpc.StatusCode.RESOURCE_EXHAUSTED


def test_an_unreadable_token_file_refuses_to_start(tmp_path: Path) -> None:
    from gputel.collector.api.secrets import SecurityConfigError  # noqa: PLC0415

    bad = tmp_path / "tokens"
    bad.write_text("t0ken: superuser\n")
    server = CollectorThread(api_token_file=bad)
    with pytest.raises(SecurityConfigError, match="entry 1"):
        server.start()
    server.stop()
