"""Ingest into a remote TSDB: frames acknowledged once the TSDB accepted every sample.

`RemoteJournal` takes the place of the embedded store's writer (the ingest core's Journal):
each frame's samples, its holdings, its workloads' metadata and its node's and GPUs'
descriptions go out in remote write requests, several frames batched per request by one
writer thread (so each series' samples reach the TSDB in time order), and a frame's future
resolves only once the TSDB answered 2xx for the request holding it. Retryable answers
(429, 5xx, unreachable) are retried with backoff until `write_deadline_seconds`; then the
frames fail (their streams are answered UNAVAILABLE, never acknowledged) and the agents
keep them. Frames of an agent queued behind one that failed fail with it, and so does any
later frame of that agent until it resends from the failed one: written first, they would
make the resend of the failed frame look like going back in time, and it would be refused.
Nothing is read back at start-up: the TSDB is the state (state.py reads it).

Series written (besides the samples, storage.remote):
- `gputel_state_node{node, instance, backend, agent_version, rate_hz}` = newest tick
- `gputel_state_node_first_seen{node}` = first hello
(times as values: `time_value`, ms since 2020)
- `gputel_state_device{node, uuid, index, vendor, model, memory_total_bytes,
  mig_parent_uuid, pci_bus_id}` = 1
- `gputel_state_holders{node, uuid}` = number of holders, and
  `gputel_state_holding{node, uuid, workload}` = fraction, at each holding's since
- `gputel_state_workload{node, uid, kind, namespace, pod, container, pod_uid, owners,
  labels}` = 1 (owners and labels as JSON)
- `gputel_state_attribution{node}` = the agent's AttributionState
- `gputel_state_inventory{node, uuid, inventory}` = 1: the GPU's newest inventory (the
  registry's DeviceInventory as JSON; a new series when it changes, which is rare)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gputel.collector.ingest.dedup import INSTANCES_KEPT
from gputel.collector.ingest.inventory import inventory_of
from gputel.collector.registry.nodes import NodeRegistry
from gputel.collector.storage.durable import StorageError
from gputel.collector.storage.engine import DeviceRows
from gputel.collector.storage.remote import sample_series
from gputel.collector.storage.tsdb import TsdbClient, TsdbError, time_value
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import METRICS
from gputel.proto.prometheus import write_request

log = logging.getLogger(__name__)
Labels = tuple[tuple[str, str], ...]
Series = tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]
MAX_BATCH_FRAMES = 64
@dataclass(slots=True)
class RemoteWriteStats:
    """Counters for /metrics: requests and frames accepted, failed, retried."""

    requests: int = 0
    frames: int = 0
    samples: int = 0
    failures: int = 0
    retries: int = 0
    agents_forgotten: int = 0  # instances let go: replaced by newer ones, or node forgotten


@dataclass(slots=True)
class _Agent:
    """One agent instance's Hello and its newest inventory per device position."""

    hello: pb.Hello
    inventory: dict[int, pb.GpuInventory]


@dataclass(slots=True)
class _Pending:
    series: list[Series]
    future: Future[bool]
    origin: tuple[str, str, int] | None = None  # a frame's node, agent instance, seq


class RemoteJournal:
    """The ingest core's Journal over a TSDB. `start()`, then `close()`; thread-safe."""

    def __init__(self, client: TsdbClient, registry: NodeRegistry,
                 write_deadline_seconds: float = 30.0) -> None:
        self._client = client
        self._registry = registry
        self._deadline = write_deadline_seconds
        # Per node, its newest INSTANCES_KEPT agent instances (as the ingest core keeps).
        self._agents: dict[str, OrderedDict[str, _Agent]] = {}
        self._queue: list[_Pending] = []
        self._failed_from: dict[tuple[str, str], int] = {}  # agent -> oldest failed seq
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="gputel-tsdb-write", daemon=True)
        self.failing = ""  # why the last write failed; "" once one succeeds again
        self.stats = RemoteWriteStats()

    @property
    def path(self) -> str:
        """Where frames go (for log lines)."""
        return self._client.settings.endpoints.write

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def writing(self) -> bool:
        """True while the writer runs and the last write was accepted."""
        return self._thread.is_alive() and not self.failing

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to `timeout` s), then stop; idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._client.settings.timeout_seconds + 1)
        self._fail(self._take(len(self._queue)), StorageError("the collector is stopping"))

    # ---------------------------------------------------------- the Journal
    def append(self, node: str, instance: str, seq: int, digest: bytes, payload: bytes,
               metric_ids: Sequence[str], rows: Sequence[DeviceRows]) -> Future[bool]:
        """Queue a frame's series; resolves True once the TSDB accepted them."""
        frame = pb.Frame.FromString(payload)
        with self._cond:
            instances = self._agents.get(node)
            agent = instances.get(instance) if instances is not None else None
            hello = agent.hello if agent is not None else None
            held = agent.inventory if agent is not None else {}
            for entry in frame.inventory:
                if entry.device not in held or held[entry.device].read_ts_ns <= entry.read_ts_ns:
                    held[entry.device] = entry
            inventory = list(held.values())
        series = [*_sample_series(node, metric_ids, rows),
                  *self._state_series(node, hello, frame, rows),
                  *_inventory_series(node, hello, inventory, rows)]
        return self._submit(series, (node, instance, seq))

    def remember_agent(self, node: str, instance: str, hello: bytes,
                       seen_ns: int | None = None) -> Future[bool]:
        """Keep the agent's Hello (its node and GPU descriptions go with every frame)."""
        message = pb.Hello.FromString(hello)
        with self._cond:
            instances = self._agents.setdefault(node, OrderedDict())
            instances[instance] = _Agent(message, {e.device: e for e in message.inventory})
            instances.move_to_end(instance)
            while len(instances) > INSTANCES_KEPT:
                self._let_go(node, instances.popitem(last=False)[0])
        done: Future[bool] = Future()
        done.set_result(True)
        return done

    def forget(self, node: str) -> None:
        """Let go of a forgotten node's agent instances."""
        with self._cond:
            for instance in self._agents.pop(node, {}):
                self._let_go(node, instance)

    def agents_held(self) -> int:
        """Agent instances whose Hello is kept (for /metrics)."""
        with self._cond:
            return sum(len(instances) for instances in self._agents.values())

    def _let_go(self, node: str, instance: str) -> None:  # under the lock
        self._failed_from.pop((node, instance), None)
        self.stats.agents_forgotten += 1

    def snapshot(self, name: str, body: bytes,
                 folded: Sequence[tuple[str, str, int]]) -> Future[bool]:
        """Nothing to snapshot: the TSDB holds the state."""
        done: Future[bool] = Future()
        done.set_result(True)
        return done

    def recovery(self) -> EmptyRecovery:
        """Nothing to read back at start-up (state.StateSync reads the TSDB)."""
        return EmptyRecovery()

    def queued(self) -> int:
        """Frames waiting for the TSDB."""
        with self._cond:
            return len(self._queue)

    def probe(self) -> bool:
        """While failing: one empty write; True (and not failing) once it is accepted."""
        if not self.failing:
            return True
        return not self._submit([]).exception(self._client.settings.timeout_seconds + 1)

    # -------------------------------------------------------------- writer
    def _submit(self, series: list[Series],
                origin: tuple[str, str, int] | None = None) -> Future[bool]:
        pending = _Pending(series, Future(), origin)
        with self._cond:
            if self._closing:
                pending.future.set_exception(StorageError("the collector is stopping"))
                return pending.future
            if self._behind_a_failure(pending):
                pending.future.set_exception(StorageError(
                    "an earlier frame of this agent was not written; resend from it"))
                return pending.future
            if origin is not None:  # the agent resends from its failed frame: in order again
                self._failed_from.pop(origin[:2], None)
            self._queue.append(pending)
            self._cond.notify()
        return pending.future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
            batch = self._take(MAX_BATCH_FRAMES)
            with self._cond:  # frames queued behind one that failed meanwhile
                behind = [p for p in batch if self._behind_a_failure(p)]
            if behind:
                self._fail(behind, StorageError("an earlier frame of this agent was not "
                                                "written; resend from it"))
                batch = [p for p in batch if not p.future.done()]
                if not batch:
                    continue
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001  # the writer survives anything
                self._fail(batch, StorageError(f"TSDB write failed: {exc}"))

    def _behind_a_failure(self, pending: _Pending) -> bool:
        """A frame later than its agent's oldest failed one (under the lock)."""
        if pending.origin is None:
            return False
        failed = self._failed_from.get(pending.origin[:2])
        return failed is not None and pending.origin[2] > failed

    def _take(self, n: int) -> list[_Pending]:
        with self._cond:
            batch, self._queue = self._queue[:n], self._queue[n:]
            return batch

    def _write(self, batch: list[_Pending]) -> None:
        body = encode_series([s for p in batch for s in p.series])
        try:
            self._client.write(body, self._deadline, self._stop, self._retried)
        except TsdbError as exc:
            self.stats.failures += 1
            self._failing(str(exc))
            with self._cond:
                for p in batch:
                    if p.origin is not None:
                        agent, seq = p.origin[:2], p.origin[2]
                        self._failed_from[agent] = min(seq, self._failed_from.get(agent, seq))
            self._fail(batch, StorageError(f"TSDB write failed: {exc}"))
            return
        if self.failing:
            log.warning("TSDB writes work again")
            self.failing = ""
        self.stats.requests += 1
        self.stats.frames += len(batch)
        self.stats.samples += sum(ts.size for p in batch for _, ts, _ in p.series)
        for p in batch:
            p.future.set_result(True)

    def _retried(self, exc: BaseException) -> None:
        self.stats.retries += 1
        self._failing(str(exc))

    def _failing(self, why: str) -> None:
        if not self.failing:  # one line when writes start failing
            log.error("TSDB writes failing (%s); frames are not acknowledged until the TSDB "
                      "accepts them", why)
        self.failing = why or "failed"

    @staticmethod
    def _fail(batch: Iterable[_Pending], error: StorageError) -> None:
        for p in batch:
            if not p.future.done():
                p.future.set_exception(error)

    # ------------------------------------------------------------- state
    def _state_series(self, node: str, hello: pb.Hello | None, frame: pb.Frame,
                      rows: Sequence[DeviceRows]) -> list[Series]:
        stamps = [int(ts[-1]) for _, ts, _, _ in rows if ts.size]
        newest = max(stamps, default=max((h.since_ts_ns for h in frame.holdings), default=0))
        if not newest:
            return []
        out = [one_sample((("__name__", "gputel_state_attribution"), ("node", node)), newest,
                    float(frame.attribution))]
        if hello is not None:
            out += _inventory(node, hello, newest, self._first_seen(node, newest))
        uuids = [d.uuid for d in hello.devices] if hello is not None else []
        for h in frame.holdings:
            if h.device < len(uuids):
                out += _holding(node, uuids[h.device], h)
        out += [one_sample(_workload_labels(node, w), newest, 1.0) for w in frame.workloads]
        return out

    def _first_seen(self, node: str, default_ns: int) -> int:
        state = self._registry.node(node)
        return state.first_seen_ns if state is not None else default_ns


class EmptyRecovery:
    """A start-up with nothing to read back."""

    def agents(self) -> list[tuple[str, str, bytes, int]]:
        """None."""
        return []

    def first_seen(self) -> dict[str, int]:
        """None."""
        return {}

    def applied(self) -> list[tuple[str, str, int, bytes]]:
        """None."""
        return []

    def tail(self) -> list[tuple[str, str, int, bytes]]:
        """None."""
        return []

    def snapshot(self, name: str) -> bytes | None:
        """None."""
        return None


def one_sample(labels: Labels, ts_ns: int, value: float) -> Series:
    return (labels, np.array([ts_ns // 1_000_000], np.int64), np.array([value], np.float64))


def _sample_series(node: str, metric_ids: Sequence[str],
                   rows: Sequence[DeviceRows]) -> list[Series]:
    """The frame's samples of catalogue metrics, one series per GPU and metric, NaN left
    out, one sample per millisecond (the later)."""
    out: list[Series] = []
    for uuid, ts, metrics, values in rows:
        ts_ms = ts // 1_000_000
        last_of_ms = np.append(ts_ms[1:] != ts_ms[:-1], True)
        for row, m in enumerate(metrics):
            if metric_ids[m] not in METRICS:
                continue
            vals = values[row].astype(np.float64)
            keep = last_of_ms & ~np.isnan(vals)
            if keep.any():
                out.append(((("__name__", sample_series(metric_ids[m])), ("node", node),
                             ("uuid", uuid)), ts_ms[keep], vals[keep]))
    return out


def _inventory(node: str, hello: pb.Hello, newest_ns: int, first_ns: int) -> list[Series]:
    out = [one_sample((("__name__", "gputel_state_node"), ("agent_version", hello.agent_version),
                 ("backend", hello.backend), ("instance", hello.agent_instance),
                 ("node", node), ("rate_hz", repr(float(hello.sample_rate_hz)))),
                newest_ns, time_value(newest_ns)),
           one_sample((("__name__", "gputel_state_node_first_seen"), ("node", node)), newest_ns,
                time_value(first_ns))]
    for d in hello.devices:
        out.append(one_sample((("__name__", "gputel_state_device"), ("index", str(d.index)),
                         ("memory_total_bytes", str(d.memory_total_bytes)),
                         ("mig_parent_uuid", d.mig_parent_uuid), ("model", d.model),
                         ("node", node), ("pci_bus_id", d.pci_bus_id), ("uuid", d.uuid),
                         ("vendor", d.vendor)), newest_ns, 1.0))
    return out


def _inventory_series(node: str, hello: pb.Hello | None, inventory: Sequence[pb.GpuInventory],
                      rows: Sequence[DeviceRows]) -> list[Series]:
    """The devices' newest inventory, stamped with the frame's newest tick."""
    newest = max((int(ts[-1]) for _, ts, _, _ in rows if ts.size), default=0)
    if hello is None or not newest:
        return []
    out = []
    for entry in inventory:
        if entry.device < len(hello.devices):
            described = json.dumps(dataclasses.asdict(inventory_of(entry)), sort_keys=True,
                                   separators=(",", ":"))
            out.append(one_sample((("__name__", "gputel_state_inventory"),
                                   ("inventory", described), ("node", node),
                                   ("uuid", hello.devices[entry.device].uuid)), newest, 1.0))
    return out


def _holding(node: str, uuid: str, h: pb.Holding) -> list[Series]:
    out = [one_sample((("__name__", "gputel_state_holders"), ("node", node), ("uuid", uuid)),
                h.since_ts_ns, float(len(h.shares)))]
    out += [one_sample((("__name__", "gputel_state_holding"), ("node", node), ("uuid", uuid),
                  ("workload", s.workload)), h.since_ts_ns, float(s.fraction))
            for s in h.shares]
    return out


def _workload_labels(node: str, w: pb.Workload) -> Labels:
    return (("__name__", "gputel_state_workload"), ("container", w.container),
            ("kind", w.kind), ("labels", json.dumps(dict(sorted(w.labels.items())))),
            ("namespace", w.namespace), ("node", node),
            ("owners", json.dumps([[o.kind, o.name] for o in w.owners])),
            ("pod", w.pod), ("pod_uid", w.pod_uid), ("uid", w.uid))


def encode_series(series: list[Series]) -> bytes:
    """One WriteRequest: each series' samples in time order (a series met twice, e.g. in
    two frames of one batch, is merged; the later value of a millisecond wins)."""
    merged: dict[Labels, list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]] = {}
    for labels, ts, values in series:
        merged.setdefault(labels, []).append((ts, values))
    parts = []
    for labels, chunks in merged.items():
        ts = np.concatenate([c[0] for c in chunks])
        values = np.concatenate([c[1] for c in chunks])
        if len(chunks) > 1:
            order = np.argsort(ts, kind="stable")
            ts, values = ts[order], values[order]
            keep = np.append(ts[1:] != ts[:-1], True)
            ts, values = ts[keep], values[keep]
        parts.append((write_request.series_header(
            [(k, v) for k, v in labels if v or k == "__name__"]), ts, values))
    return write_request.encode(parts)
