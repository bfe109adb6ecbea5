"""Feeding both sides the same samples: gputel over gRPC ingest streams (pre-encoded frames,
`benchmarks/ingest.py`'s replay), Prometheus over remote write (pre-encoded bodies).

Bulk feeds go as fast as each side acknowledges; a live feed stamps frames with the wall
clock and offers each one second after its first tick, as an agent would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import overload

import httpx

from benchmarks.ingest import NodeSamples, encode_frame, encode_node, replay
from benchmarks.suite.data import extend, remote_write_bodies
from benchmarks.suite.procs import BenchError, Prometheus
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

PEER_CONNECTIONS = 4  # concurrent remote-write senders (Prometheus shards its queue likewise)


def gputel_bulk(target: str, streams: Sequence[Sequence[pb.AgentMessage]]) -> int:
    """Replay every stream concurrently; return the frames acknowledged.
    Raises BenchError when some frame was not."""
    acks = asyncio.run(_gather(target, streams))
    sent = sum(len(s) - 1 for s in streams)
    if acks != sent:
        raise BenchError(f"gputel acknowledged {acks} of {sent} frames")
    return acks


async def _gather(target: str, streams: Sequence[Sequence[pb.AgentMessage]]) -> int:
    return sum(await asyncio.gather(*(replay(target, s) for s in streams)))


def prometheus_bulk(prom: Prometheus, per_node: Sequence[Sequence[bytes]]) -> None:
    """POST every node's bodies (in order within a node) over PEER_CONNECTIONS connections."""
    def send(nodes: Sequence[Sequence[bytes]]) -> None:
        with httpx.Client(timeout=300) as client:
            for bodies in nodes:
                for body in bodies:
                    prom.write(body, client)

    with ThreadPoolExecutor(PEER_CONNECTIONS) as pool:
        list(pool.map(send, [per_node[i::PEER_CONNECTIONS] for i in range(PEER_CONNECTIONS)]))


def bodies_of(nodes: Sequence[NodeSamples], first: int = 0, last: int | None = None
              ) -> list[list[bytes]]:
    """Remote-write bodies per node for frames [first, last)."""
    return [[b for b, _ in remote_write_bodies(n, first, last)] for n in nodes]


class _StoppedError(Exception):
    """The live feed was told to stop."""


class _LazyStream(Sequence[pb.AgentMessage]):
    """A node's Hello and frames, each encoded when the replay reaches it."""

    def __init__(self, node: NodeSamples, seq0: int) -> None:
        self._node, self._seq0 = node, seq0
        self._hello = pb.AgentMessage(hello=node.hello)

    def __len__(self) -> int:
        return int(self._node.ts_ns.shape[0]) + 1

    @overload
    def __getitem__(self, i: int) -> pb.AgentMessage: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[pb.AgentMessage]: ...

    def __getitem__(self, i: int | slice) -> pb.AgentMessage | Sequence[pb.AgentMessage]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._hello if i == 0 else encode_frame(self._node, i - 1, self._seq0 + i)


@dataclass
class LiveFeed:
    """Nodes streaming in real time into gputel (and the same samples into Prometheus).

    `prepare` stamps `seconds` frames per node from the wall clock on (pre-encoded unless
    `lazy`: then each frame is encoded when due, for long background feeds); `start` offers
    frame i of every node at its stamped start + i + 1 s, in threads, until `stop`.
    """

    target: str
    prom: Prometheus | None
    nodes: Sequence[NodeSamples]
    seconds: int
    seq0: int = 0  # frames the nodes already sent (a live phase after their history)
    lazy: bool = False
    acks: int = 0
    lag_s: float = 0.0  # how late the last acknowledgement came after its frame was due
    start_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    _streams: list[Sequence[pb.AgentMessage]] = field(default_factory=list)
    _live: list[NodeSamples] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def prepare(self) -> LiveFeed:
        """Stamp and encode (frames start 0.5 s from now, leaving time to encode)."""
        self.start_s = time.time() + 0.5
        self._live = [extend(n, self.seconds, int(self.start_s * 1e9)) for n in self.nodes]
        self._streams = [_LazyStream(n, self.seq0) if self.lazy
                         else encode_node(n, seq0=self.seq0) for n in self._live]
        return self

    @property
    def frames(self) -> int:
        """Frames offered in all."""
        return len(self.nodes) * self.seconds

    def start(self) -> LiveFeed:
        """Begin offering frames (threads)."""
        self._threads = [threading.Thread(target=self._run_gputel, daemon=True)]
        if self.prom is not None:
            self._threads.append(threading.Thread(target=self._run_peer, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> LiveFeed:
        """Wait until every frame was offered and answered (or the feed was stopped)."""
        for thread in self._threads:
            thread.join()
        return self

    def stop(self) -> None:
        """Offer nothing more; returns once the threads ended."""
        self._stop.set()
        self.join()

    async def _pace(self, i: int) -> None:
        while (wait := self.start_s + i + 1 - time.time()) > 0:
            if self._stop.is_set():
                raise _StoppedError
            await asyncio.sleep(min(wait, 0.2))
        if self._stop.is_set():
            raise _StoppedError

    def _run_gputel(self) -> None:
        async def all_streams() -> int:
            return sum(await asyncio.gather(*(replay(self.target, s, self._pace)
                                              for s in self._streams)))
        try:
            self.acks = asyncio.run(all_streams())
        except _StoppedError:
            return
        except Exception as exc:  # noqa: BLE001 - reported in the row, not a traceback
            self.errors.append(f"gputel live feed: {exc!r}")
        self.lag_s = time.time() - (self.start_s + self.seconds)

    def _run_peer(self) -> None:
        assert self.prom is not None
        with httpx.Client(timeout=60) as client:
            for i in range(self.seconds):
                while not self._stop.is_set() and time.time() < self.start_s + i + 1:
                    time.sleep(0.05)
                if self._stop.is_set():
                    return
                for node in self._live:
                    for body, _ in remote_write_bodies(node, i, i + 1):
                        try:
                            self.prom.write(body, client)
                        except (BenchError, httpx.HTTPError) as exc:
                            self.errors.append(f"prometheus live feed: {exc}")
                            return
