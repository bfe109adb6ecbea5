"""Ingest core: validates hellos and frames, drops duplicates, writes the store and nodes.

Transport-free: the gRPC servicer calls `open`, `prepare`, `persist`, `commit` and
`close`, and maps the error tree to a gRPC status. Duplicates are recognised by
(node, agent instance, sequence number) so a frame resent after a reconnect is
acknowledged again but stored once; a resend whose content differs from what is
held under its number is refused, never acknowledged as a duplicate.

What one client can do to other nodes is bounded here: one live stream per node,
an agent instance cannot change its inventory, timestamps of a device never overlap
or go back across frames, and every table input can grow has a limit (IngestLimits).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from gputel.collector.errors import (
    AlreadyStreamingError,
    GputelError,
    InvalidFrameError,
    LimitError,
    OutOfWindowError,
)
from gputel.collector.ingest import inventory
from gputel.collector.ingest.admission import IngestLimits, check_frame, hello_problem
from gputel.collector.ingest.dedup import INSTANCES_KEPT, Instance, inventory_of
from gputel.collector.registry.inventory import InventoryBook
from gputel.collector.registry.nodes import DeviceRecord, NodeRegistry, NodeState
from gputel.collector.registry.workloads import WorkloadIndex, WorkloadLimits
from gputel.collector.storage.engine import DeviceRows
from gputel.collector.storage.store import SeriesStore
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import METRICS

log = logging.getLogger(__name__)
SNAPSHOT = "ingest"  # the state snapshot's name in the store


@dataclass(slots=True)
class Session:
    """One open ingest stream, after its Hello. `last_ts` is the newest timestamp admitted
    per device (ns), so frames of one stream never overlap while earlier ones commit."""

    node: str
    instance: str
    uuids: list[str]
    metric_ids: list[str]
    period_ns: int = 100_000_000
    state: Instance = field(default_factory=lambda: Instance(b""))
    last_ts: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated, decoded frame waiting to become durable. Times in Unix ns.

    `duplicate`: the frame was held already (a true resend: nothing to write).
    """

    seq: int
    blocks: list[frames.Block]
    min_ts: int
    max_ts: int
    frame: pb.Frame
    payload: bytes = b""
    digest: bytes = b""
    duplicate: bool = False


class Journal(Protocol):
    """Where frames become durable before they are acknowledged, and what start-up reads
    back (storage.durable.DurableStore)."""

    def append(self, node: str, instance: str, seq: int, digest: bytes, payload: bytes,
               metric_ids: Sequence[str], rows: Sequence[DeviceRows]) -> Future[bool]:
        """Write a frame; resolves True if new, False if already written."""

    def remember_agent(self, node: str, instance: str, hello: bytes,
                       seen_ns: int | None = None) -> Future[bool]:
        """Keep an agent's Hello (bytes), seen at seen_ns (Unix ns; default now)."""

    def forget(self, node: str) -> None:
        """The node was forgotten: let go of what is kept in memory for its agents."""

    def snapshot(self, name: str, body: bytes,
                 folded: Sequence[tuple[str, str, int]]) -> Future[bool]:
        """Keep a state snapshot that holds the `folded` frames (dropped from the tail)."""

    def recovery(self) -> Recovery:
        """What start-up reads back."""


class Recovery(Protocol):
    """The persisted state start-up reads (the engine): never the retained samples."""

    def agents(self) -> list[tuple[str, str, bytes, int]]:
        """Every (node, instance, hello bytes, seen ns) held."""

    def first_seen(self) -> dict[str, int]:
        """Each node's first hello ever (Unix ns)."""

    def applied(self) -> list[tuple[str, str, int, bytes]]:
        """(node, instance, seq, digest) of the newest applied frames."""

    def tail(self) -> Iterable[tuple[str, str, int, bytes]]:
        """(node, instance, seq, payload) of frames the snapshot does not hold yet."""

    def snapshot(self, name: str) -> bytes | None:
        """The state snapshot `name`, None when none was written."""


# Called after each new frame is durable and applied: node, its devices (index-aligned
# with the blocks' device numbers), the agent's metric ids, the decoded blocks.
OnCommit = Callable[[str, Sequence[DeviceRecord], Sequence[str], list[frames.Block]], object]


@dataclass(slots=True)
class IngestStats:
    """Counters for the collector's /metrics."""

    frames: int = 0
    samples: int = 0
    duplicates: int = 0
    samples_unknown_metric: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    nodes_forgotten: int = 0
    frames_quarantined: int = 0


class IngestCore:
    """Applies agents' frames to the store (after the journal made them durable); thread-safe."""

    def __init__(self, store: SeriesStore, time_ns: Callable[[], int],
                 limits: IngestLimits | None = None, journal: Journal | None = None,
                 on_commit: OnCommit | None = None,
                 workload_limits: WorkloadLimits | None = None,
                 registry: NodeRegistry | None = None,
                 on_close: Callable[[str], object] | None = None,
                 ms_resolution: bool = False) -> None:
        """`on_close(node)`: a node's stream ended. `ms_resolution`: times are cut to whole
        milliseconds on arrival (a remote TSDB keeps ms), so what this collector accounts
        is what every replica reads back."""
        self._store = store
        self._on_close = on_close
        self._ms = ms_resolution
        self._on_commit = on_commit
        self._journal = journal
        self._time_ns = _whole_ms(time_ns) if ms_resolution else time_ns
        self.limits = limits or IngestLimits()
        self.registry = registry if registry is not None else NodeRegistry()
        self._instances: dict[str, OrderedDict[str, Instance]] = {}
        self._live: dict[str, Session] = {}
        self._last_ts: dict[tuple[str, str], int] = {}
        self._folded: list[tuple[str, str, int]] = []  # applied since the last snapshot
        self._lock = threading.Lock()
        self.changed = threading.Condition()
        self.stats = IngestStats()
        self.workloads = WorkloadIndex(on_refuse=self.reject, limits=workload_limits)
        self.inventory = InventoryBook()  # each GPU's inventory and processes, newest

    # ------------------------------------------------------------ streams
    def open(self, hello: pb.Hello) -> tuple[Session, int]:
        """Validate a Hello and register its node; return the session and acked-through seq.

        Raises InvalidFrameError (a bad Hello), AlreadyStreamingError (the node has a live
        stream) or LimitError (max-nodes, max-streams, max-series).
        """
        self._check_hello(hello)
        now = self._time_ns()
        identity = inventory_of(hello)
        with self._lock:
            self._admit_node(hello)
            instances = self._instances.setdefault(hello.node, OrderedDict())
            state = instances.get(hello.agent_instance)
            if state is not None and state.identity not in (identity, b""):
                self._reject_locked("hello")
                raise InvalidFrameError(
                    f"invalid hello: agent instance {hello.agent_instance!r} of node "
                    f"{hello.node!r} declared other devices or metrics before; a new "
                    "inventory needs a new agent instance")
            if state is None:
                state = instances[hello.agent_instance] = Instance(identity)
                while len(instances) > INSTANCES_KEPT:
                    instances.popitem(last=False)
            state.identity = identity
            instances.move_to_end(hello.agent_instance)
            old = self.registry.node(hello.node)
            self.registry.put(_node_state(hello, old, now, streams=1))
            session = _session(hello, state)
            session.last_ts = [self._last_ts.get((hello.node, u), 0) for u in session.uuids]
            self._live[hello.node] = session
            acked = state.dedup.watermark
        inventory.keep(self.inventory, hello.node, session.uuids, hello.inventory)
        if self._journal is not None:  # frames after it are committed after it
            self._journal.remember_agent(hello.node, hello.agent_instance,
                                         hello.SerializeToString(), now)
        self._notify()
        return session, acked

    def _admit_node(self, hello: pb.Hello) -> None:
        """One live stream per node, and the resource limits (called under the lock)."""
        if hello.node in self._live:
            self._reject_locked("already_streaming")
            raise AlreadyStreamingError(
                f"node {hello.node!r} already has a live stream; a second one is refused "
                "until it ends")
        limits = self.limits
        if len(self._live) >= limits.max_streams:
            self._reject_locked("limit_streams")
            raise LimitError("max-streams", f"{len(self._live)} streams are open")
        known = len(self.registry)
        if hello.node not in self.registry and known >= limits.max_nodes:
            self._reject_locked("limit_nodes")
            raise LimitError("max-nodes", f"{known} nodes are known")
        declared = self.registry.devices_declared(other_than=hello.node)
        series = (declared + len(hello.devices)) * len(METRICS)
        if series > limits.max_series:
            self._reject_locked("limit_series")
            raise LimitError("max-series", f"{series} series would be held")

    def close(self, session: Session) -> None:
        """The session's stream ended; idempotent."""
        with self._lock:
            gone = self._live.get(session.node) is session
            if gone:
                del self._live[session.node]
                self.registry.set_streams(session.node, 0)
        if gone:  # its holdings end with its data, not run on for ever
            self.workloads.close_node(session.node)
            if self._on_close is not None:
                self._on_close(session.node)
        self._notify()

    def streaming(self, node: str) -> bool:
        """True while `node` has a live stream on this collector."""
        with self._lock:
            return node in self._live

    def _check_hello(self, hello: pb.Hello) -> None:
        if hello.protocol_version != pb.PROTOCOL_VERSION_1:
            self.reject("version")
            raise InvalidFrameError(f"protocol version {hello.protocol_version} is not supported; "
                                    "this collector speaks version 1")
        problem = hello_problem(hello, self.limits)
        if problem:
            self.reject("hello")
            raise InvalidFrameError(f"invalid hello: {problem}")

    # ------------------------------------------------------------- frames
    def prepare(self, session: Session, frame: pb.Frame) -> Prepared:
        """Validate and decode a frame. Raises InvalidFrameError naming the problem.

        A frame already held is checked against the held one's digest: the same bytes are
        a duplicate (nothing to decode), other bytes are refused ("conflict").
        """
        try:
            check_frame(frame, len(session.uuids), self.limits)
        except InvalidFrameError:
            self.reject("oversized")
            raise
        payload = frame.SerializeToString(deterministic=True)
        digest = hashlib.blake2b(payload, digest_size=16).digest()
        with self._lock:
            if session.state.dedup.seen(frame.seq):
                held = session.state.dedup.digests.get(frame.seq)
                if held is not None and held != digest:
                    self._reject_locked("conflict")
                    raise InvalidFrameError(
                        f"frame {frame.seq}: differs from the frame held under that sequence "
                        "number; refused, not acknowledged", frame.seq)
                return Prepared(frame.seq, [], 0, 0, frame, payload, digest, duplicate=True)
        try:
            blocks = frames.decode_frame(frame, len(session.uuids), session.metric_ids)
        except frames.FrameError as exc:
            self.reject("malformed")
            raise InvalidFrameError(f"frame {frame.seq}: {exc}", frame.seq) from exc
        if self._ms:
            _to_ms(blocks, frame)
        self._check_times(blocks, frame.seq)
        self._check_holdings(frame, len(session.uuids))
        self._admit_times(session, blocks, frame.seq)
        stamps = [b.ts_ns for b in blocks if b.ts_ns.size]
        min_ts = min((int(t[0]) for t in stamps), default=0)
        max_ts = max((int(t[-1]) for t in stamps), default=0)
        return Prepared(frame.seq, blocks, min_ts, max_ts, frame, payload, digest)

    def _admit_times(self, session: Session, blocks: list[frames.Block], seq: int) -> None:
        """Refuse blocks that overlap or go back in time against what this device holds."""
        newest = list(session.last_ts)
        with self._lock:
            for block in blocks:
                if not block.ts_ns.size:
                    continue
                d = block.device
                floor = max(newest[d], self._last_ts.get((session.node, session.uuids[d]), 0))
                if int(block.ts_ns[0]) <= floor:
                    self._reject_locked("overlap")
                    raise InvalidFrameError(
                        f"frame {seq}: device {d} timestamps overlap or go back: "
                        f"{int(block.ts_ns[0])} is not after {floor} already held", seq)
                newest[d] = int(block.ts_ns[-1])
            session.last_ts = newest

    def _check_holdings(self, frame: pb.Frame, n_devices: int) -> None:
        for h in frame.holdings:
            fractions = [s.fraction for s in h.shares]
            if (h.device >= n_devices or any(not 0 <= f <= 1.0001 for f in fractions)
                    or sum(fractions) > 1.0001 or any(not s.workload for s in h.shares)):
                self.reject("holding")
                raise InvalidFrameError(
                    f"frame {frame.seq}: a holding names device {h.device}, an empty workload, "
                    "or fractions outside [0, 1] or summing above 1", frame.seq)

    def held(self, node: str, instance: str, seq: int) -> bool:
        """True if this agent instance's frame `seq` is already held (a resend)."""
        with self._lock:
            instances = self._instances.get(node)
            state = instances.get(instance) if instances is not None else None
            return state is not None and state.dedup.seen(seq)

    def persist(self, session: Session, prepared: Prepared) -> Future[bool]:
        """Make the frame durable; the Future says True when it was new to the journal."""
        if self._journal is None or prepared.duplicate:
            done: Future[bool] = Future()
            done.set_result(not prepared.duplicate)
            return done
        return self._journal.append(session.node, session.instance, prepared.seq,
                                    prepared.digest, prepared.payload, session.metric_ids,
                                    list(_rows(session.uuids, prepared.blocks)))

    def commit(self, session: Session, prepared: Prepared, new: bool) -> bool:
        """Apply a durable frame to the head; return True if it was a duplicate (not applied)."""
        with self._lock:
            duplicate = not new or session.state.dedup.seen(prepared.seq)
            if duplicate:
                self.stats.duplicates += 1
                return True
            session.state.dedup.add(prepared.seq, prepared.digest)
            self._advance(session.node, session.uuids, prepared.blocks)
        stored = self._store_blocks(session, prepared.blocks)
        self.workloads.apply(session.node, session.uuids, session.metric_ids, session.period_ns,
                             prepared.blocks, prepared.frame)
        inventory.keep(self.inventory, session.node, session.uuids, prepared.frame.inventory,
                       prepared.frame.processes)
        with self._lock:
            self.stats.frames += 1
            self.stats.samples += stored
            devices = self.registry.count(session.node, stored, seen_ns=self._time_ns())
            if self._journal is not None:  # the next state snapshot holds it
                self._folded.append((session.node, session.instance, prepared.seq))
        if self._on_commit is not None and devices is not None:  # remote write: queues only
            self._on_commit(session.node, devices, session.metric_ids, prepared.blocks)
        self._notify()
        return False

    def _advance(self, node: str, uuids: list[str], blocks: list[frames.Block]) -> None:
        """Move each device's newest committed timestamp (under the lock)."""
        for block in blocks:
            if block.ts_ns.size:
                key = (node, uuids[block.device])
                self._last_ts[key] = max(self._last_ts.get(key, 0), int(block.ts_ns[-1]))

    def apply(self, session: Session, frame: pb.Frame) -> bool:
        """prepare + commit without a journal (tests, benchmarks). Returns True if duplicate."""
        prepared = self.prepare(session, frame)
        return self.commit(session, prepared, new=not prepared.duplicate)

    # ------------------------------------------------------------ recovery
    def recover(self) -> int:
        """Rebuild nodes, duplicate detection, workloads and newest values from the persisted
        state: the last snapshot, then the frames committed after it (the tail, bounded by
        the snapshot interval, never by retention). Return the tail frames applied.

        A tail frame that no longer decodes against its agent's Hello is skipped with a log
        line and counted (frames_quarantined), never a crash.
        """
        if self._journal is None:
            return 0
        held = self._journal.recovery()
        sessions = self._recover_agents(held)
        for name, first_ns in held.first_seen().items():
            self.registry.set_first_seen(name, first_ns)  # not the latest restart's hello
        body = held.snapshot(SNAPSHOT)
        if body is not None:
            self._restore(json.loads(body))
        for node, instance, seq, digest in held.applied():
            known = self._instances.get(node)
            state = known.get(instance) if known is not None else None
            if state is not None:
                state.dedup.remember(seq, digest)
        replayed = 0
        for node, instance, seq, payload in held.tail():
            session = sessions.get((node, instance))
            if session is not None and not session.state.dedup.seen(seq) \
                    and self._replay_one(session, seq, payload):
                replayed += 1
        for name in self.registry.names():  # no stream is open yet: holdings wait for a new frame
            self.workloads.close_node(name)
        return replayed

    def _recover_agents(self, held: Recovery) -> dict[tuple[str, str], Session]:
        sessions: dict[tuple[str, str], Session] = {}
        horizon = self._time_ns() - self.limits.node_ttl_ns
        for name, instance, raw, seen_ns in held.agents():
            hello = pb.Hello.FromString(raw)
            state = self._instances.setdefault(name, OrderedDict()).setdefault(
                instance, Instance(inventory_of(hello)))
            sessions[(name, instance)] = _session(hello, state)
            if seen_ns >= horizon:
                self._restore_node(hello, seen_ns)
        return sessions

    def _replay_one(self, session: Session, seq: int, payload: bytes) -> bool:
        """Apply a tail frame to everything but the samples (they are in the store)."""
        try:
            frame = pb.Frame.FromString(payload)
            blocks = frames.decode_frame(frame, len(session.uuids), session.metric_ids)
        except (frames.FrameError, ValueError) as exc:
            self.stats.frames_quarantined += 1
            log.error("frame %d of %s/%s does not decode against its agent's hello (%s); "
                      "skipped", seq, session.node, session.instance, exc)
            return False
        session.state.dedup.add(seq, hashlib.blake2b(payload, digest_size=16).digest())
        self._advance(session.node, session.uuids, blocks)
        rows = _rows(session.uuids, blocks)
        self._store.observe(session.node, session.metric_ids, rows)
        self.workloads.apply(session.node, session.uuids, session.metric_ids,
                             session.period_ns, blocks, frame)
        inventory.keep(self.inventory, session.node, session.uuids, frame.inventory,
                       frame.processes)
        self.registry.count(session.node, _known_samples(session.metric_ids, rows))
        self._folded.append((session.node, session.instance, seq))
        return True

    def checkpoint(self) -> Future[bool] | None:
        """Snapshot what start-up would otherwise rebuild from frames (dedup, newest
        timestamps, node counters, workloads, newest values) and drop the frames it holds
        from the tail. Call it from the thread that commits (the event loop), so no frame
        is half applied; None without a journal."""
        if self._journal is None:
            return None
        with self._lock:
            folded, self._folded = self._folded, []
            state: dict[str, Any] = {
                "instances": [[node, instance, st.dedup.watermark, sorted(st.dedup.above)]
                              for node, insts in self._instances.items()
                              for instance, st in insts.items()],
                "last_ts": [[n, u, t] for (n, u), t in self._last_ts.items()],
                "nodes": [[n.name, n.frames, n.samples, n.last_seen_ns]
                          for n in self.registry.nodes()]}
        state["workloads"] = self.workloads.state()
        state["inventory"] = self.inventory.state()
        state["latest"] = self._store.latest_state()
        done = self._journal.snapshot(SNAPSHOT, json.dumps(state).encode(), folded)
        done.add_done_callback(
            lambda f: self._unfold(folded) if f.cancelled() or f.exception() else None)
        return done

    def _unfold(self, folded: list[tuple[str, str, int]]) -> None:
        """A snapshot that failed to write holds nothing: its frames stay to be folded."""
        with self._lock:
            self._folded[:0] = folded

    def _restore(self, state: dict[str, Any]) -> None:
        for node, instance, watermark, above in state["instances"]:
            inst = self._instances.setdefault(node, OrderedDict()).setdefault(
                instance, Instance(b""))
            inst.dedup.watermark = max(inst.dedup.watermark, int(watermark))
            inst.dedup.above.update(int(s) for s in above if s > inst.dedup.watermark)
        for node, uuid, ts in state["last_ts"]:
            self._last_ts[(node, uuid)] = int(ts)
        for name, frames_n, samples, last_seen in state["nodes"]:
            self.registry.restore_counts(name, int(frames_n), int(samples), int(last_seen))
        self.workloads.restore(state["workloads"])
        self.inventory.restore(state.get("inventory", {}))  # none in older snapshots
        self._store.restore_latest(state["latest"])

    def _restore_node(self, hello: pb.Hello, seen_ns: int) -> None:
        inventory.keep(self.inventory, hello.node, [d.uuid for d in hello.devices],
                       hello.inventory)
        old = self.registry.node(hello.node)
        if old is not None and old.last_seen_ns > seen_ns:
            self.registry.set_first_seen(hello.node, min(old.first_seen_ns, seen_ns))
            return
        self.registry.put(_node_state(hello, old, seen_ns, streams=0))

    def _check_times(self, blocks: list[frames.Block], seq: int) -> None:
        now = self._time_ns()
        ahead, behind = self.limits.max_future_ns, self.limits.max_past_ns
        for block in blocks:
            if not block.ts_ns.size:
                continue
            if int(block.ts_ns[-1]) > now + ahead:  # acceptable later: the agent keeps it
                self.reject("future")
                raise OutOfWindowError(f"frame {seq}: timestamps more than "
                                       f"{ahead // 10**9} s ahead of the collector's clock", seq)
            if int(block.ts_ns[0]) < now - behind:  # never acceptable: the agent drops it
                self.reject("past")
                raise InvalidFrameError(f"frame {seq}: timestamps more than "
                                        f"{behind // 10**9} s behind the collector's clock", seq)

    def _store_blocks(self, session: Session, blocks: list[frames.Block]) -> int:
        """Samples of known metrics in the blocks; written here without a journal (the
        journal wrote them durably before the ack otherwise), newest values noted."""
        rows = _rows(session.uuids, blocks)
        stored, unknown = _present_samples(session.metric_ids, rows)
        self.stats.samples_unknown_metric += unknown
        if self._journal is None:
            self._store.write(session.node, session.metric_ids, rows)
        else:
            self._store.observe(session.node, session.metric_ids, rows)
        return stored

    def reject(self, reason: str) -> None:
        """Count a refused message by reason."""
        with self._lock:
            self._reject_locked(reason)

    def _reject_locked(self, reason: str) -> None:
        self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1

    def refuse(self, error: GputelError) -> None:
        """Count a refusal decided outside the core (identity, memory), by its code."""
        self.reject(error.code.lower())

    # ------------------------------------------------------------ retention
    def forget_idle(self) -> int:
        """Forget nodes with no live stream, unseen for longer than the node TTL; return how
        many went (their series age out of the store by retention)."""
        horizon = self._time_ns() - self.limits.node_ttl_ns
        with self._lock:
            gone = [s.name for s in self.registry.nodes()
                    if s.name not in self._live and s.last_seen_ns < horizon]
            for name in gone:
                node = self.registry.pop(name)
                self._instances.pop(name, None)
                self.inventory.forget(name)
                if self._journal is not None:
                    self._journal.forget(name)
                for device in node.devices if node is not None else ():
                    self._last_ts.pop((name, device.uuid), None)
            self.stats.nodes_forgotten += len(gone)
        if gone:
            log.info("forgot %d node(s) unseen for %d s", len(gone),
                     self.limits.node_ttl_ns // 10**9)
        return len(gone)

    # -------------------------------------------------------------- reads
    def streaming_nodes(self) -> list[str]:
        """The nodes with a live stream on this collector now."""
        with self._lock:
            return sorted(self._live)

    def live_streams(self) -> int:
        """Streams open now (one per node at most)."""
        with self._lock:
            return len(self._live)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until predicate() holds after some ingest; for tests and `gputel up`."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()


def _node_state(hello: pb.Hello, old: NodeState | None, now: int, streams: int) -> NodeState:
    return NodeState(
        name=hello.node, backend=hello.backend, agent_instance=hello.agent_instance,
        agent_version=hello.agent_version, sample_rate_hz=hello.sample_rate_hz,
        devices=[DeviceRecord(hello.node, d.index, d.uuid, d.vendor, d.model,
                              d.memory_total_bytes, d.mig_parent_uuid, d.pci_bus_id)
                 for d in hello.devices],
        first_seen_ns=old.first_seen_ns if old else now, last_seen_ns=now,
        streams=streams,
        frames=old.frames if old else 0, samples=old.samples if old else 0)


def _rows(uuids: Sequence[str], blocks: Sequence[frames.Block]) -> list[DeviceRows]:
    """Decoded blocks as the store takes them: (GPU uuid, ts, metric indexes, values)."""
    return [(uuids[b.device], b.ts_ns, b.metrics, b.values) for b in blocks]


def _known_samples(metric_ids: Sequence[str], rows: Sequence[DeviceRows]) -> int:
    """Non-NaN values of metrics the catalogue knows."""
    return _present_samples(metric_ids, rows)[0]


def _present_samples(metric_ids: Sequence[str], rows: Sequence[DeviceRows]) -> tuple[int, int]:
    """Non-NaN values of metrics the catalogue knows, and of metrics it does not; one count
    per device block (this runs for every frame)."""
    known = unknown = 0
    for _, _, metrics, values in rows:
        present = np.count_nonzero(~np.isnan(values), axis=1)
        for count, m in zip(present.tolist(), metrics, strict=True):
            if metric_ids[m] in METRICS:
                known += count
            else:
                unknown += count
    return known, unknown


def _whole_ms(time_ns: Callable[[], int]) -> Callable[[], int]:
    """A clock cut to whole milliseconds (first and last seen as a remote TSDB keeps them)."""
    return lambda: time_ns() // 1_000_000 * 1_000_000


def _to_ms(blocks: Sequence[frames.Block], frame: pb.Frame) -> None:
    """Cut the frame's sample and holding times to whole milliseconds, in place."""
    for block in blocks:
        block.ts_ns[:] = block.ts_ns // 1_000_000 * 1_000_000
    for h in frame.holdings:
        h.since_ts_ns = h.since_ts_ns // 1_000_000 * 1_000_000


def _session(hello: pb.Hello, state: Instance) -> Session:
    return Session(hello.node, hello.agent_instance, [d.uuid for d in hello.devices],
                   list(hello.metrics), round(1e9 / hello.sample_rate_hz), state,
                   [0] * len(hello.devices))
