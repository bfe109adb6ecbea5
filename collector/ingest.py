"""Ingest core: validates hellos and frames, drops duplicates, writes the store, tracks nodes.

Transport-free: the gRPC servicer calls `open`, `apply` and `close`, and maps
InvalidFrameError to a gRPC status. Duplicates are recognised by (node, agent
instance, sequence number) so a frame resent after a reconnect is acknowledged
again but stored once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from gputel.collector.errors import InvalidFrameError
from gputel.collector.store import SeriesStore
from gputel.collector.workloads import WorkloadIndex, WorkloadLimits
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import METRICS

NODE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
MAX_DEVICES = 1024
# Sequence numbers this far below the newest are taken as already held: no agent
# keeps that many frames unacknowledged (its outbox is smaller).
DEDUP_HORIZON = 100_000


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A GPU as its agent declared it. Memory in bytes."""

    node: str
    index: int
    uuid: str
    vendor: str
    model: str
    memory_total_bytes: int
    mig_parent_uuid: str
    pci_bus_id: str


@dataclass(slots=True)
class NodeState:
    """What the collector knows of one node. Times in Unix ns."""

    name: str
    backend: str
    agent_instance: str
    agent_version: str
    sample_rate_hz: float
    devices: list[DeviceRecord]
    first_seen_ns: int
    last_seen_ns: int
    streams: int = 0
    frames: int = 0
    samples: int = 0


@dataclass(slots=True)
class _Dedup:
    """Applied sequence numbers of one agent instance: all <= watermark, plus `above`."""

    watermark: int = 0
    above: set[int] = field(default_factory=set)

    def seen(self, seq: int) -> bool:
        return seq <= self.watermark or seq in self.above

    def add(self, seq: int) -> None:
        self.above.add(seq)
        while self.watermark + 1 in self.above:
            self.watermark += 1
            self.above.discard(self.watermark)
        floor = max(self.above, default=0) - DEDUP_HORIZON
        if floor > self.watermark:
            self.watermark = floor
            self.above = {s for s in self.above if s > floor}


@dataclass(slots=True)
class Session:
    """One open ingest stream, after its Hello."""

    node: str
    instance: str
    uuids: list[str]
    metric_ids: list[str]
    period_ns: int = 100_000_000


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated, decoded frame waiting to become durable. Times in Unix ns."""

    seq: int
    blocks: list[frames.Block]
    min_ts: int
    max_ts: int
    frame: pb.Frame


class Journal(Protocol):
    """Where frames become durable before they are acknowledged (the frame log)."""

    def append(self, node: str, instance: str, seq: int, min_ts: int, max_ts: int,
               payload: bytes) -> Future[bool]:
        """Write a frame; resolves True if new, False if already held."""

    def remember_agent(self, node: str, instance: str, hello: pb.Hello,
                       seen_ns: int | None = None) -> Future[bool]:
        """Keep an agent's Hello, seen at seen_ns (Unix ns; default now)."""

    def agents(self) -> list[tuple[str, str, pb.Hello, int]]:
        """Every (node, instance, hello, seen ns) held."""

    def first_seen(self) -> dict[str, int]:
        """Each node's first hello ever (Unix ns)."""

    def seqs(self) -> dict[tuple[str, str], list[int]]:
        """Sequence numbers held per (node, instance), ascending."""

    def replay(self, since_ns: int) -> Iterable[StoredFrameLike]:
        """Frames whose newest sample is at or after since_ns."""


class StoredFrameLike(Protocol):
    """What replay yields (read-only)."""

    @property
    def node(self) -> str:
        """The frame's node."""

    @property
    def instance(self) -> str:
        """The agent instance that sent it."""

    @property
    def payload(self) -> bytes:
        """The Frame's bytes."""


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


class IngestCore:
    """Applies agents' frames to the store (after the journal made them durable); thread-safe."""

    def __init__(self, store: SeriesStore, time_ns: Callable[[], int],
                 max_future_ns: int = 300 * 10**9, max_past_ns: int = 86_400 * 10**9,
                 journal: Journal | None = None, on_commit: OnCommit | None = None,
                 workload_limits: WorkloadLimits | None = None) -> None:
        self._store = store
        self._on_commit = on_commit
        self._journal = journal
        self._time_ns = time_ns
        self._max_future_ns = max_future_ns
        self._max_past_ns = max_past_ns
        self._nodes: dict[str, NodeState] = {}
        self._dedup: dict[tuple[str, str], _Dedup] = {}
        self._lock = threading.Lock()
        self.changed = threading.Condition()
        self.stats = IngestStats()
        self.workloads = WorkloadIndex(on_refuse=self.reject, limits=workload_limits)

    # ------------------------------------------------------------ streams
    def open(self, hello: pb.Hello) -> tuple[Session, int]:
        """Validate a Hello and register its node; return the session and acked-through seq."""
        self._check_hello(hello)
        now = self._time_ns()
        devices = [DeviceRecord(hello.node, d.index, d.uuid, d.vendor, d.model,
                                d.memory_total_bytes, d.mig_parent_uuid, d.pci_bus_id)
                   for d in hello.devices]
        with self._lock:
            old = self._nodes.get(hello.node)
            self._nodes[hello.node] = NodeState(
                name=hello.node, backend=hello.backend, agent_instance=hello.agent_instance,
                agent_version=hello.agent_version, sample_rate_hz=hello.sample_rate_hz,
                devices=devices, first_seen_ns=old.first_seen_ns if old else now,
                last_seen_ns=now, streams=(old.streams if old else 0) + 1,
                frames=old.frames if old else 0, samples=old.samples if old else 0)
            dedup = self._dedup.setdefault((hello.node, hello.agent_instance), _Dedup())
            acked = dedup.watermark
        session = _session(hello)
        if self._journal is not None:  # frames after it are committed after it
            self._journal.remember_agent(hello.node, hello.agent_instance, hello, now)
        self._notify()
        return session, acked

    def close(self, session: Session) -> None:
        """The session's stream ended."""
        with self._lock:
            node = self._nodes.get(session.node)
            if node is not None:
                node.streams = max(0, node.streams - 1)
            gone = node is not None and node.streams == 0
        if gone:  # its holdings end with its data, not run on for ever
            self.workloads.close_node(session.node)
        self._notify()

    def _check_hello(self, hello: pb.Hello) -> None:
        if hello.protocol_version != pb.PROTOCOL_VERSION_1:
            self.reject("version")
            raise InvalidFrameError(f"protocol version {hello.protocol_version} is not supported; "
                                    "this collector speaks version 1")
        problem = _hello_problem(hello)
        if problem:
            self.reject("hello")
            raise InvalidFrameError(f"invalid hello: {problem}")

    # ------------------------------------------------------------- frames
    def prepare(self, session: Session, frame: pb.Frame) -> Prepared:
        """Validate and decode a frame. Raises InvalidFrameError naming the problem."""
        try:
            blocks = frames.decode_frame(frame, len(session.uuids), len(session.metric_ids))
        except frames.FrameError as exc:
            self.reject("malformed")
            raise InvalidFrameError(f"frame {frame.seq}: {exc}", frame.seq) from exc
        self._check_times(blocks, frame.seq)
        stamps = [b.ts_ns for b in blocks if b.ts_ns.size]
        min_ts = min((int(t[0]) for t in stamps), default=0)
        max_ts = max((int(t[-1]) for t in stamps), default=0)
        self._check_holdings(frame, len(session.uuids))
        return Prepared(frame.seq, blocks, min_ts, max_ts, frame)

    def _check_holdings(self, frame: pb.Frame, n_devices: int) -> None:
        for h in frame.holdings:
            fractions = [s.fraction for s in h.shares]
            if (h.device >= n_devices or any(not 0 <= f <= 1.0001 for f in fractions)
                    or sum(fractions) > 1.0001 or any(not s.workload for s in h.shares)):
                self.reject("holding")
                raise InvalidFrameError(
                    f"frame {frame.seq}: a holding names device {h.device}, an empty workload, "
                    "or fractions outside [0, 1] or summing above 1", frame.seq)

    def seen(self, session: Session, seq: int) -> bool:
        """True if this agent instance's frame `seq` is already held (a resend)."""
        with self._lock:
            return self._dedup[(session.node, session.instance)].seen(seq)

    def persist(self, session: Session, frame: pb.Frame, prepared: Prepared) -> Future[bool]:
        """Make the frame durable; the Future says True when it was new to the journal."""
        if self._journal is None:
            done: Future[bool] = Future()
            done.set_result(True)
            return done
        return self._journal.append(session.node, session.instance, frame.seq,
                                    prepared.min_ts, prepared.max_ts, frame.SerializeToString())

    def commit(self, session: Session, prepared: Prepared, new: bool) -> bool:
        """Apply a durable frame to the head; return True if it was a duplicate (not applied)."""
        key = (session.node, session.instance)
        with self._lock:
            duplicate = not new or self._dedup[key].seen(prepared.seq)
            if duplicate:
                self.stats.duplicates += 1
                return True
            self._dedup[key].add(prepared.seq)
        stored = self._store_blocks(session, prepared.blocks)
        self.workloads.apply(session.node, session.uuids, session.metric_ids, session.period_ns,
                             prepared.blocks, prepared.frame)
        with self._lock:
            self.stats.frames += 1
            self.stats.samples += stored
            node = self._nodes.get(session.node)
            if node is not None:
                node.frames += 1
                node.samples += stored
                node.last_seen_ns = self._time_ns()
        if self._on_commit is not None and node is not None:  # remote write: queues only
            self._on_commit(session.node, node.devices, session.metric_ids, prepared.blocks)
        self._notify()
        return False

    def apply(self, session: Session, frame: pb.Frame) -> bool:
        """prepare + commit without a journal (tests, benchmarks). Returns True if duplicate."""
        prepared = self.prepare(session, frame)
        if self.seen(session, frame.seq):
            with self._lock:
                self.stats.duplicates += 1
            return True
        return self.commit(session, prepared, new=True)

    # ------------------------------------------------------------ recovery
    def recover(self, since_ns: int) -> int:
        """Rebuild nodes, duplicate detection and the head from the journal; return frames."""
        if self._journal is None:
            return 0
        sessions: dict[tuple[str, str], Session] = {}
        for name, instance, hello, seen_ns in self._journal.agents():
            sessions[(name, instance)] = _session(hello)
            self._restore_node(hello, seen_ns)
        for name, first_ns in self._journal.first_seen().items():
            if name in self._nodes:  # not the latest restart's hello
                self._nodes[name].first_seen_ns = first_ns
        for key, seqs in self._journal.seqs().items():
            dedup = self._dedup.setdefault(key, _Dedup(watermark=seqs[0] - 1))
            for seq in seqs:  # older frames were held, then aged out
                dedup.add(seq)
        replayed = 0
        for stored in self._journal.replay(since_ns):
            session = sessions.get((stored.node, stored.instance))
            if session is None:
                continue
            frame = pb.Frame.FromString(stored.payload)
            blocks = frames.decode_frame(frame, len(session.uuids), len(session.metric_ids))
            samples = self._store_blocks(session, blocks)
            self.workloads.apply(session.node, session.uuids, session.metric_ids,
                                 session.period_ns, blocks, frame)
            node = self._nodes[session.node]
            node.frames += 1
            node.samples += samples
            replayed += 1
        for name in self._nodes:  # no stream is open yet: holdings wait for a new frame
            self.workloads.close_node(name)
        return replayed

    def _restore_node(self, hello: pb.Hello, seen_ns: int) -> None:
        old = self._nodes.get(hello.node)
        if old is not None and old.last_seen_ns > seen_ns:
            old.first_seen_ns = min(old.first_seen_ns, seen_ns)
            return
        self._nodes[hello.node] = NodeState(
            name=hello.node, backend=hello.backend, agent_instance=hello.agent_instance,
            agent_version=hello.agent_version, sample_rate_hz=hello.sample_rate_hz,
            devices=[DeviceRecord(hello.node, d.index, d.uuid, d.vendor, d.model,
                                  d.memory_total_bytes, d.mig_parent_uuid, d.pci_bus_id)
                     for d in hello.devices],
            first_seen_ns=min(seen_ns, old.first_seen_ns) if old else seen_ns,
            last_seen_ns=seen_ns)

    def _check_times(self, blocks: list[frames.Block], seq: int) -> None:
        now = self._time_ns()
        for block in blocks:
            if not block.ts_ns.size:
                continue
            if int(block.ts_ns[-1]) > now + self._max_future_ns:
                self.reject("future")
                raise InvalidFrameError(f"frame {seq}: timestamps more than "
                                        f"{self._max_future_ns // 10**9} s in the future", seq)
            if int(block.ts_ns[0]) < now - self._max_past_ns:
                self.reject("past")
                raise InvalidFrameError(f"frame {seq}: timestamps more than "
                                        f"{self._max_past_ns // 10**9} s in the past", seq)

    def _store_blocks(self, session: Session, blocks: list[frames.Block]) -> int:
        stored = 0
        for block in blocks:
            uuid = session.uuids[block.device]
            for row, m in enumerate(block.metrics):
                metric_id = session.metric_ids[m]
                if metric_id not in METRICS:
                    self.stats.samples_unknown_metric += block.ts_ns.size
                    continue
                stored += self._store.append((session.node, uuid, metric_id), block.ts_ns,
                                             block.values[row])
        return stored

    def reject(self, reason: str) -> None:
        """Count a refused message by reason."""
        with self._lock:
            self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1

    # -------------------------------------------------------------- reads
    def nodes(self) -> list[NodeState]:
        """A copy of every node's state, sorted by name."""
        with self._lock:
            return [NodeState(**{f: getattr(n, f) for f in NodeState.__slots__})
                    for _, n in sorted(self._nodes.items())]

    def node(self, name: str) -> NodeState | None:
        """A copy of one node's state."""
        return next((n for n in self.nodes() if n.name == name), None)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until predicate() holds after some ingest; for tests and `gputel up`."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()


def _session(hello: pb.Hello) -> Session:
    return Session(hello.node, hello.agent_instance, [d.uuid for d in hello.devices],
                   list(hello.metrics), round(1e9 / hello.sample_rate_hz))


def _hello_problem(hello: pb.Hello) -> str:
    """What is wrong with a Hello, or '' when nothing."""
    if not NODE_NAME.match(hello.node):
        return f"node name {hello.node[:64]!r} is not a valid host name"
    if not 0 < len(hello.agent_instance) <= 128:
        return "agent_instance must be 1 to 128 characters"
    if len(hello.devices) > MAX_DEVICES:
        return f"{len(hello.devices)} devices; at most {MAX_DEVICES}"
    uuids = [d.uuid for d in hello.devices]
    if any(not u or len(u) > 128 for u in uuids) or len(set(uuids)) != len(uuids):
        return "every device needs a unique uuid of 1 to 128 characters"
    if not hello.metrics or len(set(hello.metrics)) != len(hello.metrics):
        return "metrics must be a non-empty list of distinct ids"
    if not 0 < hello.sample_rate_hz <= 1000:
        return f"sample_rate_hz {hello.sample_rate_hz} is outside (0, 1000]"
    return ""
