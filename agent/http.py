"""The agent's HTTP endpoints on 9401: /metrics, /healthz, /readyz (standard library server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Probe = Callable[[], tuple[bool, dict[str, object]]]


class AgentHTTPServer:
    """Serves the registry and two probes; binds on construction so port 0 works."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry,
                 healthy: Probe, ready: Probe) -> None:
        handler = _handler(registry, healthy, ready)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="gputel-http",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()


def _handler(registry: CollectorRegistry, healthy: Probe,
             ready: Probe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path in ("/healthz", "/readyz"):
                ok, detail = (healthy if path == "/healthz" else ready)()
                body = json.dumps({"status": "ok" if ok else "unavailable", **detail}).encode()
                self._send(200 if ok else 503, "application/json", body)
            else:
                body = json.dumps({"error": {"code": "NOT_FOUND",
                                             "message": f"no route {path}"}}).encode()
                self._send(404, "application/json", body)

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes every few seconds would flood the log; stay quiet."""

    return Handler
