"""A TCP proxy on loopback that a test can cut (connections reset, new ones refused) and restore."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target_port> while open."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open = True
        self.bytes_up = 0  # bytes forwarded from clients to the target
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Reset every connection; refuse new ones until restore()."""
        with self._lock:
            self._open = False
            conns, self._conns = self._conns, set()
        for conn in conns:
            _close(conn)

    def restore(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                is_open = self._open
            if not is_open:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns.update((client, upstream))
            for a, b, count in ((client, upstream, self._count_up), (upstream, client, None)):
                threading.Thread(target=_pump, args=(a, b, count), daemon=True).start()

    def _count_up(self, n: int) -> None:
        with self._lock:
            self.bytes_up += n


def _pump(src: socket.socket, dst: socket.socket, count: Callable[[int], None] | None) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
            if count is not None:
                count(len(data))
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
