"""Webhooks managed through the API (must-show 3): two hooks with different secrets and
event filters, registered with an admin token, survive a restart of the collector; when
the fed frames fire alerts, each hook gets only its events, each body signed with its own
secret; deliveries are counted per hook."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import POLICY, RULES
from tests.api.feed import feed, uuid
from tests.api.test_alerts_webhooks import Receiver
from tests.harness.servers import CollectorThread, wait_until

TOKENS = "boss:admin,reader:read"
ADMIN = {"Authorization": "Bearer boss"}
READER = {"Authorization": "Bearer reader"}


def _collector(data_dir: Path) -> CollectorThread:
    return CollectorThread(data_dir=data_dir, alert_rules=RULES, health_policy=POLICY,
                           alert_interval_seconds=0.1, rate_limit_per_second=0.0,
                           api_tokens=TOKENS).start()


def _call(server: CollectorThread, method: str, path: str, body: Any = None,
          headers: dict[str, str] = ADMIN) -> httpx.Response:
    return httpx.request(method, f"{server.http_base}/api/v1{path}", json=body,
                         headers=headers, timeout=10)


def _received(receiver: Receiver) -> list[tuple[dict[str, str], bytes]]:
    out = []
    while True:
        try:
            out.append(receiver.posts.get_nowait())
        except queue.Empty:
            return out


def _verified(posts: list[tuple[dict[str, str], bytes]], secret: bytes) -> list[dict]:
    bodies = []
    for headers, body in posts:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Gputel-Signature"], expected)
        bodies.append(json.loads(body))
    return bodies


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    pair = Receiver(), Receiver()
    yield pair
    for receiver in pair:
        receiver.close()


def test_two_hooks_survive_a_restart_and_get_only_their_events(
        tmp_path: Path, receivers: tuple[Receiver, Receiver]) -> None:
    hot, down = receivers
    first = _collector(tmp_path)
    try:
        a = _call(first, "POST", "/webhooks", {"name": "hot", "url": hot.url,
                                               "events": ["GPU_OVERHEATING"],
                                               "secret": "alpha-secret"})
        b = _call(first, "POST", "/webhooks", {"name": "down", "url": down.url,
                                               "events": ["NODE_UNREACHABLE", "GPU_LOST"],
                                               "secret": "beta-secret", "format": "k8s-gpu"})
        c = _call(first, "POST", "/webhooks", {"name": "spare", "url": down.url})
        assert [r.status_code for r in (a, b, c)] == [200, 200, 200], c.text
        assert "secret" not in a.json()["data"]
        assert a.json()["data"]["secretSet"]
        moved = _call(first, "PUT", f"/webhooks/{c.json()['data']['id']}", {"active": False})
        assert moved.json()["data"]["active"] is False
        assert _call(first, "DELETE", f"/webhooks/{c.json()['data']['id']}").status_code == 200
    finally:
        first.stop()
    assert stat.S_IMODE((tmp_path / "webhooks.json").stat().st_mode) == 0o600  # secrets

    second = _collector(tmp_path)
    try:
        listed = _call(second, "GET", "/webhooks").json()["data"]
        assert [(h["name"], h["events"], h["format"]) for h in listed] == [
            ("hot", ["GPU_OVERHEATING"], "gputel"),
            ("down", ["NODE_UNREACHABLE", "GPU_LOST"], "k8s-gpu")]
        streams = feed(second.grpc_target)
        try:
            wait_until(lambda: len(_call(second, "GET", "/alerts").json()["data"]) == 5,
                       what="five alerts")
            wait_until(lambda: _deliveries(second) == [1, 2], what="one delivery to hot, "
                       "two to down")
            got = _received(hot), _received(down)  # before closing the streams fires more
        finally:
            streams.close()
    finally:
        second.stop()
    _check_bodies(*got)


def _check_bodies(hot: list[tuple[dict[str, str], bytes]],
                  down: list[tuple[dict[str, str], bytes]]) -> None:
    """Each hook got only its events, each signed with its own secret (and not the other's)."""
    for headers, body in down:
        wrong = "sha256=" + hmac.new(b"alpha-secret", body, hashlib.sha256).hexdigest()
        assert headers["X-Gputel-Signature"] != wrong
    hot_bodies = _verified(hot, b"alpha-secret")
    assert [(p["event"], p["alert"]["rule"], p["alert"]["gpu"]) for p in hot_bodies] == [
        ("firing", "over_temperature", uuid("n1", 0))]
    down_bodies = _verified(down, b"beta-secret")
    assert sorted((p["event"], p["data"]["nodeName"]) for p in down_bodies) == [
        ("GPU_LOST", "n2"), ("NODE_UNREACHABLE", "n3")]
    for p in down_bodies:  # 004's payload: its signature over the payload without it
        inner = {k: v for k, v in p.items() if k != "signature"}
        raw = json.dumps(inner, separators=(",", ":")).encode()
        assert p["signature"] == "sha256=" + hmac.new(b"beta-secret", raw,
                                                      hashlib.sha256).hexdigest()


def _deliveries(server: CollectorThread) -> list[int]:
    return [h["deliveries"] for h in _call(server, "GET", "/webhooks").json()["data"]]


def test_webhooks_need_admin_and_valid_fields(tmp_path: Path) -> None:
    server = _collector(tmp_path)
    try:
        assert _call(server, "GET", "/webhooks", headers=READER).status_code == 403
        assert _call(server, "GET", "/webhooks", headers={}).status_code == 401
        bad = _call(server, "POST", "/webhooks", {"name": "x", "url": "http://h/",
                                                  "events": ["GPU_ON_FIRE"]})
        assert bad.status_code == 400
        assert bad.json()["error"]["details"]["parameter"] == "events"
        assert _call(server, "POST", "/webhooks", {"name": "x", "url": "ftp://h/"}
                     ).json()["error"]["details"]["parameter"] == "url"
        assert _call(server, "GET", "/webhooks/nope").status_code == 404
        ok = _call(server, "POST", "/webhooks", {"name": "x", "url": "http://h/"})
        again = _call(server, "POST", "/webhooks", {"name": "x", "url": "http://h/"})
        assert (ok.status_code, again.status_code) == (200, 400)
    finally:
        server.stop()
