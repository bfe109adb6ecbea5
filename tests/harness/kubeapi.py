"""A stand-in Kubernetes API server speaking the real list/watch protocol over HTTPS.

What the collector's client sees is what kube-apiserver sends:

- `GET /api/v1/pods?limit=N[&continue=T]`: a `PodList` with `metadata.resourceVersion`
  (and `continue` while more pages remain);
- `GET ...?watch=true&resourceVersion=V&allowWatchBookmarks=true&timeoutSeconds=S`: HTTP
  200 and a chunked stream of `{"type": ADDED|MODIFIED|DELETED|BOOKMARK, "object": ...}`
  lines, every event after V first; a V older than the last compaction gets one
  `{"type": "ERROR", "object": <Status 410 Expired>}` line, as etcd compaction makes the
  real server do;
- errors as `Status` objects: 401 without the bearer token, 403 for a denied resource,
  404 for a resource not served (a CRD not installed).

The test drives it: `apply` and `delete` objects (the server assigns uid,
resourceVersion and creationTimestamp where a manifest has none), send `bookmark()`s,
`compact()` the history (the next watch gets 410), `end_watches()` (as a server timeout
does), `deny()` a resource, `stop()` and `start()` again on the same port (the server
killed and restarted, its store kept as etcd keeps it).
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from gputel.collector.kube.settings import RESOURCES
from tests.harness.certs import TestCA

Obj = dict[str, Any]
Key = tuple[str, str, str]  # group, version, plural
_PATH = re.compile(r"^/(?:api|apis/(?P<group>[^/]+))/(?P<version>v[^/]+)/(?P<plural>[a-z]+)$")
TOKEN = "stand-in-token"
KINDS = {r.plural: r.kind for r in RESOURCES}  # plural -> kind, as the real API names them


def plural_of(kind: str) -> str:
    """The resource name of a kind, as the real API names the ones we serve."""
    return kind.lower() + ("es" if kind.endswith("s") else "s")


def key_of(obj: Obj) -> Key:
    """(group, version, plural) of an object from its apiVersion and kind."""
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    return group, version, plural_of(str(obj["kind"]))


def load_manifests(path: Path) -> list[Obj]:
    """Every object of a multi-document YAML file."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


class _Server(ThreadingHTTPServer):
    """TLS is negotiated in each connection's own thread, never in the accepting one: a
    client that connects and then stalls (its task cancelled mid-handshake) must not stop
    the server accepting, nor hang its shutdown."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # one watch per kind connects at once
    api: KubeApiStandIn
    tls: ssl.SSLContext
    open_sockets: set[socket.socket]

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        conn.settimeout(None)
        self.open_sockets.add(conn)
        try:
            super().finish_request(conn, client_address)
        finally:
            self.open_sockets.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-answer (the collector stopped) is not the test's business."""

    def drop_connections(self) -> None:
        """Cut every open connection, as a killed process does."""
        for sock in list(self.open_sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class KubeApiStandIn:
    """The stand-in server. `start()`, drive it, `stop()`; `kubeconfig` points at it."""

    def __init__(self, directory: Path, ca: TestCA) -> None:
        self.dir = directory
        self.ca = ca
        self.cert = ca.issue("kube-apiserver", server=True)
        self.port = 0
        self.denied: set[str] = set()  # plurals answered 403
        self.absent: set[str] = set()  # plurals answered 404 (a CRD not installed)
        self.requests: list[tuple[str, str]] = []  # (verb list|watch, plural), in order
        self.watch_queries: list[dict[str, str]] = []  # the query of every watch request
        self._objects: dict[Key, dict[tuple[str, str], Obj]] = {}
        self._events: list[tuple[int, Key, str, Obj]] = []
        self._rv = 100
        self._compacted = 0
        self._generation = 0  # bumped to end every open watch
        self._marks = 0  # bumped to send a bookmark on every open watch
        self._cond = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- running
    def start(self) -> KubeApiStandIn:
        """Serve on 127.0.0.1 (the same port again after a stop)."""
        server = _Server(("127.0.0.1", self.port), _Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert.cert, self.cert.key)
        server.tls = context
        server.api = self
        server.open_sockets = set()
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and end every open stream (the process killed)."""
        if self._server is not None:
            self.end_watches()
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
            self._server = None

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig for this server: its CA, a bearer token."""
        path = self.dir / "kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {
                "server": f"https://127.0.0.1:{self.port}",
                "certificate-authority": str(self.ca.cert)}}],
            "users": [{"name": "collector", "user": {"token": TOKEN}}],
            "contexts": [{"name": "standin",
                          "context": {"cluster": "standin", "user": "collector"}}]}))
        return path

    # ---------------------------------------------------------------- driving
    def apply(self, *objs: Obj) -> list[Obj]:
        """Create or replace objects; each change is one watch event."""
        return [self._apply(obj) for obj in objs]

    def _apply(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        with self._cond:
            held = self._objects.setdefault(key_of(obj), {})
            name = (meta.get("namespace", ""), meta["name"])
            old = held.get(name)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", old["metadata"]["creationTimestamp"] if old
                            else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            held[name] = obj
            self._event("MODIFIED" if old else "ADDED", obj)
        return obj

    def delete(self, obj: Obj) -> None:
        """Delete an object (by kind, namespace and name)."""
        meta = obj["metadata"]
        with self._cond:
            gone = self._objects.get(key_of(obj), {}).pop(
                (meta.get("namespace", ""), meta["name"]), None)
            if gone is not None:
                self._rv += 1
                gone = copy.deepcopy(gone)
                gone["metadata"]["resourceVersion"] = str(self._rv)
                self._event("DELETED", gone)

    def bookmark(self) -> int:
        """A BOOKMARK on every open watch at the current resourceVersion; returns it."""
        with self._cond:
            self._marks += 1
            self._cond.notify_all()
            return self._rv

    def compact(self) -> None:
        """Forget the history: a watch from any version held so far gets 410 Gone."""
        with self._cond:
            self._rv += 1  # other writes went on meanwhile
            self._compacted = self._rv  # every version held so far is gone
            self._events.clear()
        self.end_watches()

    def end_watches(self) -> None:
        """End every open watch stream cleanly (as `timeoutSeconds` does)."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def deny(self, plural: str) -> None:
        """Answer 403 Forbidden for a resource (RBAC without that verb)."""
        self.denied.add(plural)
        self.end_watches()

    def count(self, verb: str, plural: str) -> int:
        """Requests of `verb` (list, watch) on `plural` so far."""
        return sum(1 for r in list(self.requests) if r == (verb, plural))

    def _event(self, kind: str, obj: Obj) -> None:
        self._events.append((self._rv, key_of(obj), kind, obj))
        self._cond.notify_all()

    # --------------------------------------------------------------- serving
    def list_page(self, key: Key, limit: int, offset: int) -> tuple[list[Obj], int, int]:
        """(items from offset, resourceVersion, next offset or 0)."""
        with self._cond:
            items = [copy.deepcopy(o) for _, o in sorted(self._objects.get(key, {}).items())]
            rv = self._rv
        if limit <= 0:
            return items[offset:], rv, 0
        page = items[offset:offset + limit]
        return page, rv, offset + limit if offset + limit < len(items) else 0

    def events(self, key: Key, since: int, timeout: float) -> Iterator[tuple[str, Obj]]:
        """Watch events after `since`, waiting for more until `timeout`, the stream ended
        (end_watches, stop) or the history was compacted past `since` (one 410 ERROR)."""
        stop_at = time.monotonic() + timeout
        with self._cond:
            generation, marks, expired = self._generation, self._marks, since < self._compacted
        if expired:
            yield "ERROR", _status(410, "Expired", f"too old resource version: {since} "
                                   f"({self._compacted})")
            return
        while True:
            with self._cond:
                while True:
                    fresh = [e for e in self._events if e[0] > since and e[1] == key]
                    bookmark = marks != self._marks
                    ended = generation != self._generation or time.monotonic() >= stop_at
                    if fresh or bookmark or ended:
                        break
                    self._cond.wait(max(0.01, min(1.0, stop_at - time.monotonic())))
                marks, rv = self._marks, self._rv
            for event_rv, _, kind, obj in fresh:
                since = event_rv
                yield kind, obj
            if bookmark:
                since = rv
                yield "BOOKMARK", _bookmark(key, rv)
            if ended:
                return


def _bookmark(key: Key, rv: int) -> Obj:
    group, version, plural = key
    return {"kind": KINDS.get(plural, plural), "apiVersion": f"{group}/{version}".lstrip("/"),
            "metadata": {"resourceVersion": str(rv)}}


def _status(code: int, reason: str, message: str) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `requests` instead."""

    def do_GET(self) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        match = _PATH.match(url.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._json(401, _status(401, "Unauthorized", "Unauthorized"))
            return
        if match is None or match["plural"] in api.absent:
            self._json(404, _status(404, "NotFound", f"the server could not find {url.path}"))
            return
        key = (match["group"] or "", match["version"], match["plural"])
        watch = query.get("watch") in ("true", "1")
        api.requests.append(("watch" if watch else "list", key[2]))
        if watch:
            api.watch_queries.append(query)
        if key[2] in api.denied:
            self._json(403, _status(403, "Forbidden", f'{key[2]} is forbidden: cannot '
                                    f'{"watch" if watch else "list"} resource "{key[2]}"'))
        elif watch:
            self._watch(key, int(query.get("resourceVersion") or 0),
                        float(query.get("timeoutSeconds") or 1800))
        else:
            self._list(key, int(query.get("limit") or 0), int(query.get("continue") or 0))

    def _list(self, key: Key, limit: int, offset: int) -> None:
        items, rv, more = self.server.api.list_page(key, limit, offset)
        kind = _bookmark(key, rv)["kind"]
        meta: Obj = {"resourceVersion": str(rv)}
        if more:
            meta["continue"] = str(more)
        self._json(200, {"kind": f"{kind}List", "apiVersion": _bookmark(key, rv)["apiVersion"],
                         "metadata": meta, "items": items})

    def _watch(self, key: Key, since: int, timeout: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for kind, obj in self.server.api.events(key, since, timeout):
                self._chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def objects_of(objs: Iterable[Obj], kind: str) -> list[Obj]:
    """The objects of one kind."""
    return [o for o in objs if o["kind"] == kind]
