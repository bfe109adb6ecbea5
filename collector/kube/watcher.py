"""List-then-watch of the Kubernetes API, once for the whole cluster, through lightkube.

One task per kind (RESOURCES) on a thread and event loop of its own, so decoding the API's
JSON never runs on the loop that serves ingest and queries:

1. list (in pages of `page_size`), which replaces the kind in the registry and gives a
   resourceVersion;
2. watch from that resourceVersion with `allowWatchBookmarks=true`: every event and every
   BOOKMARK moves the version on; a watch the server ends (its `timeoutSeconds`) is
   reopened from the last version by lightkube, with no list;
3. `410 Gone` (the version is older than the API server still holds): list again;
4. any other failure (the API server away, a broken stream, a 403): the kind is marked
   stale, its records stay, and the loop lists again after a backoff (1 s doubling to
   `backoff_max_seconds`, with jitter) until it succeeds.

A kind whose resource is not served (a CRD not installed: 404) holds no objects and is not
stale; it is retried every `backoff_max_seconds`, quietly, so a CRD installed later is
picked up. Every failure is counted by kind and reason (WatchStats.failures). The RBAC the
collector needs is exactly `list` and `watch` on RESOURCES (tests/deploy checks the
manifests against this table).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ApiError, ConfigError
from lightkube.core.generic_client import ALL_NS
from lightkube.generic_resource import (
    create_global_resource,
    create_namespaced_resource,
    get_generic_resource,
)

from gputel.collector.kube.settings import KubeConfigError, KubeSettings, Resource
from gputel.collector.registry.cluster import ClusterRegistry, Record

log = logging.getLogger(__name__)
@dataclass(slots=True)
class WatchStats:
    """Counters per kind: lists, relists after 410 Gone, events, bookmarks; failures per
    (kind, reason), the reason one of REASONS."""

    lists: dict[str, int] = field(default_factory=dict)
    gone: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    bookmarks: dict[str, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)

    def bump(self, counter: dict[str, int], kind: str) -> None:
        """Add one to `counter[kind]`."""
        counter[kind] = counter.get(kind, 0) + 1

    def failed(self, kind: str, reason: str) -> None:
        """Count one failed list or watch of `kind`."""
        self.failures[(kind, reason)] = self.failures.get((kind, reason), 0) + 1


# Why a list or watch failed, as /metrics labels it.
REASONS = ("unauthorized", "forbidden", "not_found", "throttled", "server_error",
           "http_error", "unreachable", "bad_answer")


def reason_of(exc: Exception) -> str:
    """One of REASONS for a failed list or watch (a refused watch is an httpx status error:
    lightkube turns only list answers into ApiError)."""
    if isinstance(exc, ApiError | httpx.HTTPStatusError):
        code = (exc.status.code or 0) if isinstance(exc, ApiError) else exc.response.status_code
        named = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "throttled"}
        return named.get(code, "server_error" if code >= 500 else "http_error")
    if isinstance(exc, (ValueError, KeyError)):
        return "bad_answer"
    return "unreachable"


def load_config(settings: KubeSettings) -> KubeConfig:
    """The kubeconfig file, else the pod's service account. Raises KubeConfigError."""
    try:
        if settings.kubeconfig is not None:
            return KubeConfig.from_file(settings.kubeconfig)
        return KubeConfig.from_service_account()
    except (ConfigError, OSError, ValueError, KeyError) as exc:
        where = settings.kubeconfig or "the service account"
        raise KubeConfigError(f"cannot configure the Kubernetes client from {where}: "
                              f"{exc}") from exc


class KubeWatcher:
    """Watches RESOURCES into a ClusterRegistry. `start()`, then `stop()` (idempotent)."""

    def __init__(self, settings: KubeSettings, registry: ClusterRegistry,
                 clock: Callable[[], int] = time.time_ns) -> None:
        """Raises KubeConfigError when no configuration can be loaded."""
        self.settings = settings
        self.registry = registry
        self.stats = WatchStats()
        self._config = load_config(settings)
        self._clock = clock
        self._types = {r.kind: _resource_type(r) for r in settings.resources}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Future[Any] | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def start(self) -> None:
        """Start the watch thread."""
        self._thread = threading.Thread(target=self._run, name="gputel-kube", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel every watch and wait for the thread."""
        if self._loop is not None and self._main is not None:
            self._loop.call_soon_threadsafe(self._main.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            _abort_leftovers(self._loop)
            self._loop.close()

    async def _serve(self) -> None:
        s = self.settings
        client = AsyncClient(self._config, timeout=httpx.Timeout(s.request_timeout_seconds),
                             trust_env=False)
        self._main = asyncio.gather(*(self._follow(client, r) for r in s.resources))
        self._started.set()
        try:
            await self._main
        finally:
            await client.close()

    async def _follow(self, client: AsyncClient, res: Resource) -> None:
        """List, then watch, for ever; list again after 410 Gone or any failure."""
        failures = 0
        while True:
            try:
                version = await self._list(client, res)
                failures = 0
                await self._watch(client, res, version)
            except ApiError as exc:
                failures += 1
                if exc.status.code == 410:  # at once, unless a fresh list expired already
                    self.stats.bump(self.stats.gone, res.kind)
                    log.info("kubernetes %s: watch expired (410 Gone); listing again", res.kind)
                    if failures > 1:
                        await asyncio.sleep(self._backoff(failures - 1, False))
                    continue
                absent = exc.status.code == 404
                self._failed(res, exc, f"{exc.status.code} {exc.status.reason}: {exc}",
                             quiet=absent)
                await asyncio.sleep(self._backoff(failures, absent))
            except httpx.HTTPStatusError as exc:  # a watch refused: the body is not read
                failures += 1
                code = exc.response.status_code
                self._failed(res, exc, f"{code} {exc.response.reason_phrase}: the watch of "
                             f"{res.plural} was refused", quiet=failures > 1 or code == 404)
                await asyncio.sleep(self._backoff(failures, code == 404))
            except (httpx.HTTPError, OSError, TimeoutError, ValueError, KeyError) as exc:
                failures += 1
                self._failed(res, exc, f"{type(exc).__name__}: {exc}", quiet=failures > 1)
                await asyncio.sleep(self._backoff(failures, False))

    def _failed(self, res: Resource, exc: Exception, error: str, quiet: bool) -> None:
        reason = reason_of(exc)
        self.stats.failed(res.kind, reason)
        if reason == "not_found":  # the kind is not served (a CRD not installed): none exist
            self.registry.mark_absent(res.kind, self._clock(), error[:300])
            return
        self.registry.mark_stale(res.kind, self._clock(), error[:300])
        if not quiet:
            log.warning("kubernetes %s: %s; keeping what is known, marked stale", res.kind,
                        error[:300])

    def _backoff(self, failures: int, absent: bool) -> float:
        cap = self.settings.backoff_max_seconds
        base = cap if absent else min(cap, 2.0 ** (failures - 1))
        return base * random.uniform(0.5, 1.0)

    async def _list(self, client: AsyncClient, res: Resource) -> str:
        """List the kind (paged) into the registry; return the list's resourceVersion."""
        found = client.list(self._types[res.kind], namespace=ALL_NS if res.namespaced else None,
                            chunk_size=self.settings.page_size)
        records: list[Record] = []
        keep = self.settings.annotations
        async for obj in found:
            records.append(res.convert(obj, keep))
        self.registry.replace(res.kind, records, self._clock())
        self.stats.bump(self.stats.lists, res.kind)
        return found.resourceVersion

    async def _watch(self, client: AsyncClient, res: Resource, version: str) -> None:
        """Apply watch events from `version` on; returns only by raising."""
        params = {"resourceVersion": version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(self.settings.watch_timeout_seconds)}
        # lightkube's public watch() has no bookmark flag; its request builder passes any
        # query parameter through, and its watch driver follows every event's version.
        inner = client._client
        request = inner.prepare_request("list", res=self._types[res.kind],
                                        namespace=ALL_NS if res.namespaced else None,
                                        watch=True, params=params)
        stream = inner.watch(request)
        # A silent stream (a half-open connection) ends by itself after the server's timeout.
        deadline = self.settings.watch_timeout_seconds + self.settings.request_timeout_seconds
        try:
            while True:
                async with asyncio.timeout(deadline):
                    kind, obj = await anext(stream)
                self._apply(res, kind, obj)
        finally:
            await stream.aclose()

    def _apply(self, res: Resource, event: str, obj: Mapping[str, Any]) -> None:
        if event == "BOOKMARK":
            self.stats.bump(self.stats.bookmarks, res.kind)
            return
        self.stats.bump(self.stats.events, res.kind)
        record = res.convert(obj, self.settings.annotations)
        if event == "DELETED":
            self.registry.delete(res.kind, record.uid)
        else:
            self.registry.upsert(res.kind, record)


def _abort_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Close the sockets of connections a stop cancelled mid-TLS-handshake: httpcore's
    start_tls closes its stream on Exception only, so a cancelled handshake leaves the socket
    to the garbage collector (and its ResourceWarning)."""
    held = getattr(loop, "_transports", None)  # the selector loop's fd -> transport map
    for transport in list(held.values()) if held is not None else []:
        if isinstance(transport, asyncio.Transport) and not transport.is_closing():
            transport.abort()
    loop.run_until_complete(asyncio.sleep(0))  # let the aborts' callbacks close the sockets


def _resource_type(res: Resource) -> Any:
    """lightkube's generic resource class for one kind (objects stay plain JSON dicts); made
    once per process, as lightkube registers each."""
    known = get_generic_resource(  # type: ignore[no-untyped-call]
        f"{res.group}/{res.version}".lstrip("/"), res.kind)
    if known is not None:
        return known
    make = create_namespaced_resource if res.namespaced else create_global_resource
    return make(res.group, res.version, res.kind, res.plural)
