"""What the collector remembers of each agent instance to recognise resends.

An instance's applied sequence numbers (a watermark plus the ones above it), the digests
of its newest frames (a resend must match the frame held under its number), and the
inventory it declared (which it may not change).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from gputel.proto.gputel.v1 import telemetry_pb2 as pb

# Sequence numbers this far below the newest are taken as already held: no agent
# keeps that many frames unacknowledged (its outbox is smaller).
DEDUP_HORIZON = 100_000
DIGESTS_KEPT = 4096  # per agent instance: resends come from the newest unacknowledged frames
INSTANCES_KEPT = 8  # per node: an agent restarted more often than this resumes nothing


@dataclass(slots=True)
class Dedup:
    """Applied sequence numbers of one agent instance: all <= watermark, plus `above`;
    the digests of the newest frames, to tell a true resend from a conflicting one."""

    watermark: int = 0
    above: set[int] = field(default_factory=set)
    digests: OrderedDict[int, bytes] = field(default_factory=OrderedDict)

    def seen(self, seq: int) -> bool:
        return seq <= self.watermark or seq in self.above

    def add(self, seq: int, digest: bytes = b"") -> None:
        self.above.add(seq)
        while self.watermark + 1 in self.above:
            self.watermark += 1
            self.above.discard(self.watermark)
        floor = max(self.above, default=0) - DEDUP_HORIZON
        if floor > self.watermark:
            self.watermark = floor
            self.above = {s for s in self.above if s > floor}
        if digest:
            self.remember(seq, digest)

    def remember(self, seq: int, digest: bytes) -> None:
        """Keep frame `seq`'s digest (the newest DIGESTS_KEPT are kept)."""
        self.digests[seq] = digest
        while len(self.digests) > DIGESTS_KEPT:
            self.digests.popitem(last=False)


@dataclass(slots=True)
class Instance:
    """One agent instance: the inventory it declared and the frames it has had applied."""

    identity: bytes
    dedup: Dedup = field(default_factory=Dedup)


def inventory_of(hello: pb.Hello) -> bytes:
    """What an agent instance may not change: its devices and metric catalogue."""
    return pb.Hello(devices=hello.devices, metrics=hello.metrics).SerializeToString(
        deterministic=True)
