"""The agent's HTTP endpoints on 9401: /metrics, /healthz, /readyz (standard library server).

/metrics is the GPU families (GpuExporter, rendered straight from numpy) followed by the
registry (the agent's health and process metrics, through prometheus_client). Each
scraper gets the max/min since its own previous scrape: it is told apart by
`?scraper=NAME`, else by its address and User-Agent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, generate_latest

from gputel.agent.exporter import GpuExporter
from gputel.proto.prometheus.exposition import CONTENT_TYPE

Probe = Callable[[], tuple[bool, dict[str, object]]]


class AgentHTTPServer:
    """Serves the GPU families, the registry and two probes; binds on construction (port 0)."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry,
                 healthy: Probe, ready: Probe, gpus: GpuExporter | None = None) -> None:
        handler = _handler(registry, healthy, ready, gpus)
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


def scraper_key(query: str, client_host: str, user_agent: str) -> str:
    """Who is scraping: `?scraper=NAME` when given, else client address and User-Agent."""
    named = parse_qs(query).get("scraper")
    if named and named[0]:
        return "name:" + named[0]
    return f"addr:{client_host} {user_agent}"


def _handler(registry: CollectorRegistry, healthy: Probe, ready: Probe,
             gpus: GpuExporter | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/metrics":
                body = b""
                if gpus is not None:
                    key = scraper_key(query, str(self.client_address[0]),
                                      self.headers.get("User-Agent", ""))
                    body = gpus.render(key).encode()
                self._send(200, CONTENT_TYPE, body + generate_latest(registry))
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
