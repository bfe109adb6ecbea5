"""HTTP answers leave at once: every accepted connection has TCP_NODELAY.

Without it, a keep-alive client waited ~40 ms per request (uvicorn writes the head and the
body separately; Nagle held the second write back until the client's delayed ACK)."""

from __future__ import annotations

import socket

import httpx

from tests.harness.servers import CollectorThread


def test_every_http_connection_has_nodelay() -> None:
    server = CollectorThread().start()
    try:
        with httpx.Client() as client:
            assert client.get(f"{server.http_base}/healthz").status_code == 200
            http = server.collector._http  # the server's own sockets
            assert http is not None
            sockets = [c.transport.get_extra_info("socket")
                       for c in http.server_state.connections]
            assert sockets, "the keep-alive connection is open"
            for sock in sockets:
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.stop()
