"""Alerts from simulated GPUs (a pod holding an idle GPU, a training GPU heating past a low
threshold) reach a webhook receiver on loopback as signed POSTs, firing then resolved."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gputel.collector.query.alerts import AlertRules
from tests.harness.kubelet import KubeletStandIn, gpu_pod
from tests.harness.servers import CollectorThread, get_json, running_agent

SECRET = b"webhook-secret-5e1f"
# The sim's GPUs start at 32.4 C; training heats towards ~70 C, idle stays near 32 C.
RULES = AlertRules(temperature_by_model=(("H100", 34.0),), idle_util_percent=10.0,
                   idle_seconds=1.0)


class Receiver:
    """An HTTP server on loopback keeping every POST (headers, raw body)."""

    def __init__(self) -> None:
        self.posts: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.put((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def wait_for(self, event: str, rule: str, gpu: str, timeout: float = 30.0) -> dict:
        """The first verified POST of `event` for `rule` on `gpu`; fail after `timeout` s."""
        while True:
            headers, body = self.posts.get(timeout=timeout)
            expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-Gputel-Signature"], expected)
            payload = json.loads(body)
            assert headers["X-Gputel-Event"] == payload["event"]
            alert = payload["alert"]
            if (payload["event"], alert["rule"], alert["gpu"]) == (event, rule, gpu):
                return payload  # type: ignore[no-any-return]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def kubelet() -> Iterator[KubeletStandIn]:
    standin = KubeletStandIn().start()
    yield standin
    standin.close()


def test_idle_and_hot_gpus_fire_signed_webhooks_and_resolve(
        receiver: Receiver, kubelet: KubeletStandIn, tmp_path: Path) -> None:
    secret = tmp_path / "webhook-secret"
    secret.write_bytes(SECRET + b"\n")
    server = CollectorThread(alert_rules=RULES, alert_interval_seconds=0.1,
                             webhook_urls=(receiver.url,), webhook_secret_file=secret).start()
    try:
        with running_agent(server.grpc_target, gpus=4, rate_hz=20, flush_seconds=0.1,
                           attribution="kubelet", kubelet_socket=kubelet.socket_path,
                           kubelet_poll_seconds=0.2) as agent:
            uuids = [d.uuid for d in agent.backend.devices()]
            kubelet.set_pods([gpu_pod("ml", "trainer", uuids[0]),
                              gpu_pod("ml", "parked", uuids[3])])  # GPU 3 idles
            idle = receiver.wait_for("firing", "allocated_idle", uuids[3])
            assert idle["alert"]["workloads"] == ["ml/parked"]
            assert idle["alert"]["value"] < 10.0
            hot = receiver.wait_for("firing", "over_temperature", uuids[0])
            assert hot["alert"]["value"] > hot["alert"]["threshold"] == 34.0
            _, body = get_json(f"{server.http_base}/api/v1/alerts", rule="over_temperature")
            assert uuids[0] in {a["gpu"] for a in body["data"]}
            assert uuids[3] not in {a["gpu"] for a in body["data"]}  # idle stays cool

            kubelet.set_pods([gpu_pod("ml", "trainer", uuids[0])])  # the idle pod leaves
            gone = receiver.wait_for("resolved", "allocated_idle", uuids[3])
            assert gone["alert"]["state"] == "resolved"
            assert gone["alert"]["resolved"] is not None
    finally:
        server.stop()
