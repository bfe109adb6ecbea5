"""TLS, mutual TLS and bearer tokens with certificates made in the test; no secret is logged."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.harness.certs import Issued, TestCA
from tests.harness.raw_stream import RawStream, hello
from tests.harness.servers import CollectorThread, running_agent, wait_until

TOKEN = "s3cr3t-ingest-token-7f1c"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("pki")
    ca, rogue = TestCA(d), TestCA(d, "rogue CA")
    return {"ca": ca, "server": ca.issue("collector", server=True),
            "client": ca.issue("node-a", server=False),
            "rogue": rogue.issue("intruder", server=False)}


@pytest.fixture
def mtls(pki: dict[str, object]) -> Iterator[CollectorThread]:
    server: Issued = pki["server"]  # type: ignore[assignment]
    ca: TestCA = pki["ca"]  # type: ignore[assignment]
    collector = CollectorThread(tls_cert=server.cert, tls_key=server.key,
                                tls_client_ca=ca.cert).start()
    yield collector
    collector.stop()


def _streams(target: str, **tls: object) -> tuple[int, str]:
    """Start an agent, wait until it is acknowledged or refused; (frames acked, last error)."""
    with running_agent(target, gpus=1, rate_hz=20, flush_seconds=0.1, **tls) as agent:
        stream = agent.stream
        assert stream is not None
        wait_until(lambda: stream.stats.last_error != "" or agent.outbox.stats.frames_acked > 0,
                   what="the stream to be acknowledged or refused")
        result = agent.outbox.stats.frames_acked, stream.stats.last_error
        agent.stop(drain_timeout=0)  # a refused agent has nothing to drain
        return result


def test_an_agent_with_a_valid_client_certificate_streams(mtls: CollectorThread,
                                                         pki: dict[str, object]) -> None:
    client: Issued = pki["client"]  # type: ignore[assignment]
    ca: TestCA = pki["ca"]  # type: ignore[assignment]
    acked, error = _streams(mtls.grpc_target, tls_ca=ca.cert, tls_cert=client.cert,
                            tls_key=client.key)
    assert acked > 0
    assert error == ""
    assert mtls.collector.store.sample_count("node-a") > 0


@pytest.mark.parametrize("who", ["no certificate", "rogue certificate", "plaintext"])
def test_an_agent_without_a_valid_client_certificate_is_refused(
        mtls: CollectorThread, pki: dict[str, object], who: str) -> None:
    ca: TestCA = pki["ca"]  # type: ignore[assignment]
    rogue: Issued = pki["rogue"]  # type: ignore[assignment]
    tls = {"no certificate": {"tls_ca": ca.cert},
           "rogue certificate": {"tls_ca": ca.cert, "tls_cert": rogue.cert,
                                 "tls_key": rogue.key},
           "plaintext": {}}[who]
    acked, error = _streams(mtls.grpc_target, **tls)
    assert acked == 0
    assert error.startswith("UNAVAILABLE")
    assert mtls.collector.store.sample_count() == 0
    assert mtls.collector.nodes.nodes() == []


def test_a_client_certificate_streams_only_as_the_node_it_names(
        mtls: CollectorThread, pki: dict[str, object]) -> None:
    """The certificate issued to node-a cannot speak for node-b (PERMISSION_DENIED), so a
    stolen or shared agent credential cannot rewrite another node's data."""
    client: Issued = pki["client"]  # type: ignore[assignment]
    ca: TestCA = pki["ca"]  # type: ignore[assignment]
    raw = RawStream(mtls.grpc_target, credentials=grpc.ssl_channel_credentials(
        ca.cert.read_bytes(), client.key.read_bytes(), client.cert.read_bytes()),
        options=(("grpc.ssl_target_name_override", "localhost"),))
    try:
        raw.send_hello(hello(node="node-b"))
        err = raw.error()
    finally:
        raw.close()
    assert err.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "does not name node 'node-b'" in err.details()
    assert mtls.collector.nodes.nodes() == []


def test_the_http_api_is_served_over_tls(mtls: CollectorThread, pki: dict[str, object]) -> None:
    ca: TestCA = pki["ca"]  # type: ignore[assignment]
    port = mtls.collector.http_port
    context = ssl.create_default_context(cafile=str(ca.cert))
    response = httpx.get(f"https://127.0.0.1:{port}/api/v1/health", verify=context)
    assert response.status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health")


@pytest.fixture
def tokens(tmp_path: Path) -> Iterator[CollectorThread]:
    path = tmp_path / "tokens"
    path.write_text(f"# ingest tokens\n{TOKEN}\nanother-token\n")
    collector = CollectorThread(token_file=path).start()
    yield collector
    collector.stop()


@pytest.mark.parametrize(("token", "accepted"), [(TOKEN, True), ("wrong", False), (None, False)])
def test_bearer_tokens_guard_ingest(tokens: CollectorThread, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture, token: str | None,
                                    accepted: bool) -> None:
    caplog.set_level(logging.DEBUG)
    kwargs: dict[str, object] = {}
    if token is not None:
        (tmp_path / "agent-token").write_text(token + "\n")
        kwargs["token_file"] = tmp_path / "agent-token"
    acked, error = _streams(tokens.grpc_target, **kwargs)
    assert (acked > 0) is accepted
    if not accepted:
        assert error.startswith("UNAUTHENTICATED")
    assert TOKEN not in caplog.text  # never logged, whatever happened


@pytest.fixture
def scoped(tmp_path: Path) -> Iterator[CollectorThread]:
    path = tmp_path / "tokens"
    path.write_text(f"{TOKEN}: node-a, rack2-*\nany-node-token\n")
    collector = CollectorThread(token_file=path).start()
    yield collector
    collector.stop()


@pytest.mark.parametrize(("token", "node", "accepted"), [
    (TOKEN, "node-a", True), (TOKEN, "rack2-gpu7", True), (TOKEN, "node-b", False),
    ("any-node-token", "node-b", True)])
def test_a_token_scoped_to_nodes_streams_only_as_those_nodes(
        scoped: CollectorThread, token: str, node: str, accepted: bool) -> None:
    raw = RawStream(scoped.grpc_target, metadata=(("authorization", f"Bearer {token}"),))
    try:
        raw.send_hello(hello(node=node))
        if accepted:
            assert raw.answer().WhichOneof("kind") == "welcome"
        else:
            err = raw.error()
            assert err.code() is grpc.StatusCode.PERMISSION_DENIED
            assert f"may not stream as node {node!r}" in err.details()
    finally:
        raw.close()
    assert TOKEN not in repr(scoped.collector.ingest.stats)
