"""Shared state over a remote TSDB: what one collector learned from its streams, every
replica reads back, so any collector answers any route the same.

`StateWriter` keeps the accounted figures current in the TSDB (they change with every
frame, so only the newest value matters; written each pass for the nodes that changed,
and when a stream ends):
- `gputel_state_usage{node, uid, part=energy|allocated|busy}` (J, GPU-seconds)
- `gputel_state_workload_span{node, uid, edge=first|last}` (ingest.remote.time_value)
- `gputel_state_device_usage{node, uuid, part=energy|unattributed|seconds}`
- `gputel_state_node_counts{node, part=frames|samples|last_seen|streams|heartbeat}`
  (heartbeat: when this collector last said the node streams here; written every pass
  for each live stream, so a replica tells a connected node from a silent one)

`StateSync` reads those and the series the journal writes with each frame (ingest.remote)
into the node registry and the workload index, for every node whose stream is not on this
collector. A full read (the workload retention) at start and every `full_every` passes;
in between the last few minutes. So a replica sees another's node within one pass
(`--tsdb-sync-interval`) plus the TSDB's own delay before new samples are searchable.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from gputel.collector.ingest.remote import Series, encode_series, one_sample
from gputel.collector.registry.inventory import DeviceInventory, InventoryBook
from gputel.collector.registry.nodes import DeviceRecord, NodeRegistry, NodeState
from gputel.collector.registry.workloads import (
    DeviceUsage,
    NodeSlice,
    Shares,
    Usage,
    WorkloadIndex,
    WorkloadInfo,
)
from gputel.collector.storage.tsdb import TsdbClient, TsdbError, time_value, value_time

log = logging.getLogger(__name__)
SHORT_WINDOW_MS = 300_000
HOLDINGS_MARGIN_MS = 60_000
CONNECTED_NS = 10 * 10**9  # a node without a heartbeat for this long streams nowhere


class StateWriter:
    """Writes the figures of the nodes streaming here; thread-safe `note`/`closed`."""

    def __init__(self, client: TsdbClient, registry: NodeRegistry, index: WorkloadIndex,
                 streaming: Callable[[], Iterable[str]] = tuple,
                 time_ns: Callable[[], int] = time.time_ns) -> None:
        """`streaming()`: the nodes streaming here now (their heartbeat is written each
        pass)."""
        self._client = client
        self._streaming = streaming
        self._registry = registry
        self._index = index
        self._time_ns = time_ns
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self.failures = 0

    def note(self, node: str, *_: object) -> None:
        """A frame of `node` was applied (the ingest core's on_commit)."""
        with self._lock:
            self._dirty.add(node)

    def flush(self) -> bool:
        """Write the figures of every node noted since the last flush; False when the TSDB
        refused (they are noted again, for the next pass)."""
        with self._lock:
            nodes, self._dirty = self._dirty | set(self._streaming()), set()
        if not nodes:
            return True
        now = self._time_ns()
        series = [s for n in sorted(nodes) for s in self._figures(n, now)]
        try:
            self._client.write_once(encode_series(series))
        except TsdbError as exc:
            self.failures += 1
            log.warning("could not write the shared state of %d node(s): %s", len(nodes), exc)
            with self._lock:
                self._dirty |= nodes
            return False
        return True

    def _figures(self, node: str, now: int) -> list[Series]:
        out: list[Series] = []
        state = self._registry.node(node)
        if state is not None:
            for part, value in (("frames", state.frames), ("samples", state.samples),
                                ("last_seen", time_value(state.last_seen_ns)),
                                ("streams", state.streams),
                                ("heartbeat", time_value(now))):
                out.append(one_sample(_labels("node_counts", node, part=part), now, float(value)))
        held = self._index.node_slice(node)
        for info, usage in held.workloads:
            for name, value in (("energy", usage.energy_joules),
                                ("allocated", usage.gpu_seconds_allocated),
                                ("busy", usage.gpu_seconds_busy)):
                out.append(one_sample(_labels("usage", node, uid=info.uid, part=name), now, value))
            for edge, ns in (("first", info.first_ns), ("last", info.last_ns)):
                if 0 < ns < 2**62:
                    out.append(one_sample(_labels("workload_span", node, uid=info.uid, edge=edge),
                                    now, time_value(ns)))
        for (_, uuid), d in held.devices.items():
            for name, value in (("energy", d.energy_joules),
                                ("unattributed", d.unattributed_joules),
                                ("seconds", d.seconds)):
                out.append(one_sample(_labels("device_usage", node, uuid=uuid, part=name), now,
                                value))
        return out


def _labels(kind: str, node: str, **more: str) -> tuple[tuple[str, str], ...]:
    return (("__name__", f"gputel_state_{kind}"), ("node", node), *sorted(more.items()))


class StateSync:
    """Reads the shared state into this collector's registry and index."""

    def __init__(self, client: TsdbClient, registry: NodeRegistry, index: WorkloadIndex,
                 local: Callable[[str], bool], window_ns: int,
                 time_ns: Callable[[], int] = time.time_ns, full_every: int = 60,
                 inventory: InventoryBook | None = None) -> None:
        """`local(node)`: the node streams to this collector now (its state is ours)."""
        self._client = client
        self._inventory = inventory
        self._registry = registry
        self._index = index
        self._local = local
        self._window_ms = max(SHORT_WINDOW_MS, window_ns // 1_000_000)
        self._time_ns = time_ns
        self._full_every = full_every
        self._passes = 0
        self._holdings_from_ms = 0
        self._synced_at: float | None = None
        self.failures = 0
        self.last_error = ""

    @property
    def synced(self) -> bool:
        """True once a pass read the shared state."""
        return self._synced_at is not None

    def age_seconds(self) -> float:
        """Seconds since the last pass that read the state (-1 before the first)."""
        return -1.0 if self._synced_at is None else time.monotonic() - self._synced_at

    def refresh(self) -> bool:
        """One pass; False (counted, logged at debug) when the TSDB could not answer."""
        now_ms = self._time_ns() // 1_000_000
        full = self._passes % self._full_every == 0
        window = self._window_ms if full else SHORT_WINDOW_MS
        try:
            got = {name: self._last(name, window, now_ms)
                   for name in ("node", "node_first_seen", "device", "node_counts",
                                "attribution", "workload", "workload_span", "usage",
                                "device_usage", "inventory")}
            since = (now_ms - self._window_ms if full or not self._holdings_from_ms
                     else self._holdings_from_ms - HOLDINGS_MARGIN_MS)
            span = max(1, now_ms - since)
            holders = self._client.query(f"gputel_state_holders[{span}ms]", now_ms)
            holdings = self._client.query(f"gputel_state_holding[{span}ms]", now_ms)
        except TsdbError as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.debug("state sync failed: %s", exc)
            return False
        self._passes += 1
        self._holdings_from_ms = now_ms
        self._synced_at = time.monotonic()
        self._apply(got, _timelines(holders, holdings), now_ms * 1_000_000)
        return True

    def _last(self, name: str, window_ms: int, now_ms: int) -> list[dict[str, Any]]:
        return self._client.query(f"last_over_time(gputel_state_{name}[{window_ms}ms])",
                                  now_ms)

    def _apply(self, got: dict[str, list[dict[str, Any]]],
               timelines: dict[tuple[str, str], list[tuple[int, Shares]]], now_ns: int) -> None:
        by_node: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
            lambda: defaultdict(list))
        for name, result in got.items():
            for series in result:
                by_node[series["metric"].get("node", "")][name].append(series)
        for node, parts in by_node.items():
            if not node or not parts["node"] or self._local(node):
                continue
            state = _node_state(node, parts, now_ns, self._registry.node(node))
            if state is None:
                continue
            self._registry.put(state)
            if self._inventory is not None:
                _keep_inventory(self._inventory, node, parts["inventory"])
            mine = {k: v for k, v in timelines.items() if k[0] == node}
            self._index.replace_node(node, _slice(node, parts, mine, state))


def _keep_inventory(book: InventoryBook, node: str, found: list[dict[str, Any]]) -> None:
    """Another collector's inventory of the node's GPUs (the newest read wins)."""
    for series in found:
        labels = series["metric"]
        try:
            fields = json.loads(labels.get("inventory", ""))
            book.put_inventory(node, labels.get("uuid", ""), DeviceInventory(**fields))
        except (ValueError, TypeError) as exc:
            log.debug("unreadable inventory of %s in the TSDB: %s", node, exc)


def _value(series: dict[str, Any]) -> float:
    return float(series["value"][1])


def _ns(value: float) -> int:
    return value_time(value)


def _node_state(node: str, parts: dict[str, list[dict[str, Any]]], now_ns: int,
                old: NodeState | None) -> NodeState | None:
    info = max(parts["node"], key=_value)
    labels = info["metric"]
    counts = {s["metric"].get("part", ""): _value(s) for s in parts["node_counts"]}
    newest = _ns(_value(info))
    last_seen = _ns(counts["last_seen"]) if "last_seen" in counts else newest
    if old is not None and old.last_seen_ns // 1_000_000 * 1_000_000 > last_seen:
        return None  # this collector knows newer (the node just left it)
    first = [_ns(_value(s)) for s in parts["node_first_seen"]]
    heartbeat = _ns(counts["heartbeat"]) if "heartbeat" in counts else newest
    streams = int(counts.get("streams", 1)) if now_ns - heartbeat < CONNECTED_NS else 0
    devices = sorted({DeviceRecord(node, int(d["metric"].get("index", 0)),
                                   d["metric"].get("uuid", ""), d["metric"].get("vendor", ""),
                                   d["metric"].get("model", ""),
                                   int(d["metric"].get("memory_total_bytes", 0)),
                                   d["metric"].get("mig_parent_uuid", ""),
                                   d["metric"].get("pci_bus_id", ""))
                      for d in parts["device"]}, key=lambda d: d.index)
    return NodeState(node, labels.get("backend", ""), labels.get("instance", ""),
                     labels.get("agent_version", ""), float(labels.get("rate_hz", 0) or 0),
                     devices, min(first, default=newest), last_seen, streams,
                     int(counts.get("frames", 0)), int(counts.get("samples", 0)))


def _slice(node: str, parts: dict[str, list[dict[str, Any]]],
           timelines: dict[tuple[str, str], list[tuple[int, Shares]]],
           state: NodeState) -> NodeSlice:
    usage: dict[str, Usage] = defaultdict(Usage)
    for s in parts["usage"]:
        u, part = usage[s["metric"].get("uid", "")], s["metric"].get("part", "")
        if part == "energy":
            u.energy_joules = _value(s)
        elif part == "allocated":
            u.gpu_seconds_allocated = _value(s)
        elif part == "busy":
            u.gpu_seconds_busy = _value(s)
    spans = {(s["metric"].get("uid", ""), s["metric"].get("edge", "")): _ns(_value(s))
             for s in parts["workload_span"]}
    held = {uid: {k for k, changes in timelines.items()
                  for _, shares in changes if any(w == uid for w, _ in shares)}
            for uid in usage}
    workloads = []
    for s in parts["workload"]:
        m = s["metric"]
        uid = m.get("uid", "")
        info = WorkloadInfo(uid, m.get("kind", ""), m.get("namespace", ""), m.get("pod", ""),
                            m.get("container", ""), json.loads(m.get("labels", "{}")),
                            [(str(k), str(n)) for k, n in json.loads(m.get("owners", "[]"))],
                            m.get("pod_uid", ""), spans.get((uid, "first"), 2**63 - 1),
                            spans.get((uid, "last"), 0), held.get(uid, set()))
        workloads.append((info, usage.get(uid, Usage())))
    devices: dict[tuple[str, str], DeviceUsage] = defaultdict(DeviceUsage)
    for s in parts["device_usage"]:
        d, part = devices[(node, s["metric"].get("uuid", ""))], s["metric"].get("part", "")
        if part == "energy":
            d.energy_joules = _value(s)
        elif part == "unattributed":
            d.unattributed_joules = _value(s)
        elif part == "seconds":
            d.seconds = _value(s)
    attribution = int(max((_value(s) for s in parts["attribution"]), default=0))
    closed = None if state.streams else state.last_seen_ns + 1
    return NodeSlice(workloads, dict(devices), timelines, attribution, closed)


def _timelines(holders: list[dict[str, Any]], holdings: list[dict[str, Any]]
               ) -> dict[tuple[str, str], list[tuple[int, Shares]]]:
    """Holdings changes per (node, GPU) in time order from the raw holder counts and
    shares: at each holder-count sample, the shares sampled at that same millisecond."""
    shares: dict[tuple[str, str, int], list[tuple[str, float]]] = defaultdict(list)
    for s in holdings:
        m = s["metric"]
        for t, v in s.get("values", ()):
            shares[(m.get("node", ""), m.get("uuid", ""), round(float(t) * 1000))].append(
                (m.get("workload", ""), float(v)))
    out: dict[tuple[str, str], list[tuple[int, Shares]]] = {}
    for s in holders:
        key = (s["metric"].get("node", ""), s["metric"].get("uuid", ""))
        changes = []
        for t, _ in s.get("values", ()):
            ms = round(float(t) * 1000)
            changes.append((ms * 1_000_000, tuple(sorted(shares.get((*key, ms), [])))))
        out[key] = sorted(changes)
    return out
