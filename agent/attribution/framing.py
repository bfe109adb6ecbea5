"""Turns the attributor's changes into each frame's self-contained holdings and workloads."""

from __future__ import annotations

from collections.abc import Collection

from gputel.agent.attribution.attributor import Attributor
from gputel.agent.attribution.model import Share, Workload
from gputel.proto.gputel.v1 import telemetry_pb2 as pb


class HoldingsTracker:
    """Keeps who holds each device at the end of the last frame; called from the frame writer.

    Every frame drains the attributor's changes and workload updates, so what waits
    in the attributor stays one frame's worth, and keeps the metadata of the workloads
    the holdings can name: a workload that came and went within one frame is gone from
    the attributor by the time the frame is built, but its update was drained here.
    """

    def __init__(self, attributor: Attributor, n_devices: int) -> None:
        self._attributor = attributor
        self._state: dict[int, tuple[Share, ...]] = dict.fromkeys(range(n_devices), ())
        self._meta: dict[str, Workload] = {}  # the holders in _state, and the last drain

    def decorate(self, frame: pb.Frame, first_ts_ns: int) -> None:
        """Add holdings (every device, from first_ts_ns), workload metadata and state."""
        starts = {d: pb.Holding(device=d, since_ts_ns=first_ts_ns, shares=_shares(s))
                  for d, s in self._state.items()}
        later: list[pb.Holding] = []
        # Changes before updates: a change's workload was registered before the change.
        for change in sorted(self._attributor.drain_changes(), key=lambda c: c.ts_ns):
            d = change.device_index
            if d not in self._state:
                continue
            self._state[d] = change.shares
            if change.ts_ns <= first_ts_ns:  # before this frame: it is the starting state
                starts[d] = pb.Holding(device=d, since_ts_ns=first_ts_ns,
                                       shares=_shares(change.shares))
            else:
                later.append(pb.Holding(device=d, since_ts_ns=change.ts_ns,
                                        shares=_shares(change.shares)))
        updated = {w.uid: w for w in self._attributor.drain_workload_updates()}
        self._meta.update(updated)
        frame.holdings.extend([*starts.values(), *later])
        known = self._attributor.workloads()
        for uid in sorted({s.workload for h in frame.holdings for s in h.shares}):
            workload = self._meta.get(uid) or known.get(uid)
            if workload is not None:
                frame.workloads.append(workload_pb(workload))
        self._forget(updated.keys())
        frame.attribution = (pb.ATTRIBUTION_STATE_UP if self._attributor.available
                             else pb.ATTRIBUTION_STATE_DOWN)

    def _forget(self, just_updated: Collection[str]) -> None:
        """Keep the metadata of today's holders and of this drain (its change may be next)."""
        holders = {s.workload_uid for shares in self._state.values() for s in shares}
        keep = holders.union(just_updated)
        self._meta = {uid: w for uid, w in self._meta.items() if uid in keep}


def _shares(shares: tuple[Share, ...]) -> list[pb.Share]:
    return [pb.Share(workload=s.workload_uid, fraction=s.fraction) for s in shares]


def workload_pb(w: Workload) -> pb.Workload:
    """Workload -> its wire form."""
    return pb.Workload(uid=w.uid, kind=w.kind, namespace=w.namespace, pod=w.pod,
                       container=w.container, labels=dict(w.labels), pod_uid=w.pod_uid,
                       owners=[pb.Owner(kind=k, name=n) for k, n in w.owners])
