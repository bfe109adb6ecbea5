"""The node registry: every node that said hello, with its GPUs. Times in Unix ns.

The ingest core is its only writer (always under its own lock, so a read-modify-write
of ingest is atomic against every other write); the query side reads copies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


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


class NodeRegistry:
    """Node states by name; thread-safe. Reads return copies, never the held records."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeState] = {}
        self._by_uuid: dict[str, set[str]] = {}  # GPU UUID -> the nodes declaring it
        self._lock = threading.Lock()

    # -------------------------------------------------------------- reads
    def nodes(self) -> list[NodeState]:
        """A copy of every node's state, sorted by name."""
        with self._lock:
            return [_copy(n) for _, n in sorted(self._nodes.items())]

    def node(self, name: str) -> NodeState | None:
        """A copy of one node's state."""
        with self._lock:
            state = self._nodes.get(name)
            return _copy(state) if state is not None else None

    def find(self, uuid: str, node: str | None = None
             ) -> tuple[NodeState, DeviceRecord] | None:
        """A copy of the node that declares GPU `uuid` (`node` when given, else the first by
        name: UUIDs may repeat across nodes), and that GPU; None when none does."""
        with self._lock:
            for name in sorted(self._by_uuid.get(uuid, ())):
                if node in (None, name):
                    state = self._nodes[name]
                    device = next(d for d in state.devices if d.uuid == uuid)
                    return _copy(state), device
        return None

    def names(self) -> list[str]:
        """Every node's name, in registration order."""
        with self._lock:
            return list(self._nodes)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._nodes

    def __len__(self) -> int:
        with self._lock:
            return len(self._nodes)

    def devices_declared(self, other_than: str) -> int:
        """GPUs declared by every node but `other_than`."""
        with self._lock:
            return sum(len(n.devices) for name, n in self._nodes.items() if name != other_than)

    # ------------------------------------------------------------- writes
    def put(self, state: NodeState) -> None:
        """Register a node, or replace its state (a new Hello)."""
        with self._lock:
            self._unindex(self._nodes.get(state.name))
            self._nodes[state.name] = state
            for d in state.devices:
                self._by_uuid.setdefault(d.uuid, set()).add(state.name)

    def pop(self, name: str) -> NodeState | None:
        """Forget a node; return its last state."""
        with self._lock:
            state = self._nodes.pop(name, None)
            self._unindex(state)
            return state

    def _unindex(self, state: NodeState | None) -> None:
        """Take `state`'s GPUs out of the UUID index (under the lock)."""
        if state is None:
            return
        for d in state.devices:
            names = self._by_uuid.get(d.uuid)
            if names is not None:
                names.discard(state.name)
                if not names:
                    del self._by_uuid[d.uuid]

    def set_streams(self, name: str, streams: int) -> None:
        """The node's live stream count (0 when its stream ended)."""
        with self._lock:
            state = self._nodes.get(name)
            if state is not None:
                state.streams = streams

    def set_first_seen(self, name: str, first_seen_ns: int) -> None:
        """When the node first said hello, ever (from the journal)."""
        with self._lock:
            state = self._nodes.get(name)
            if state is not None:
                state.first_seen_ns = first_seen_ns

    def restore_counts(self, name: str, frames: int, samples: int, last_seen_ns: int) -> None:
        """Counters of a node from the state snapshot (after its hello is restored)."""
        with self._lock:
            state = self._nodes.get(name)
            if state is not None:
                state.frames, state.samples = frames, samples
                state.last_seen_ns = max(state.last_seen_ns, last_seen_ns)

    def count(self, name: str, samples: int, seen_ns: int | None = None,
              ) -> list[DeviceRecord] | None:
        """One more frame of `samples` applied for the node (seen at `seen_ns` when given);
        return its devices, or None if the node is not known."""
        with self._lock:
            state = self._nodes.get(name)
            if state is None:
                return None
            state.frames += 1
            state.samples += samples
            if seen_ns is not None:
                state.last_seen_ns = seen_ns
            return state.devices


def _copy(state: NodeState) -> NodeState:
    return NodeState(**{f: getattr(state, f) for f in NodeState.__slots__})
