"""Workload identities: stable ids for pods, the pod UID <-> name join, and the metadata book."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping

from gputel.agent.attribution.model import AttributionStats, Workload


class WorkloadBook:
    """Every workload still held, with the updates not yet drained (at most `max_updates`).

    A pod keeps the id it was first given for as long as it is seen: its UID when
    the UID was known at that moment, else "namespace/name". A UID learned later is
    added to the metadata (`pod_uid`) without renaming the workload, so its series
    do not split in two.
    """

    def __init__(self, max_updates: int = 4_096, stats: AttributionStats | None = None) -> None:
        if max_updates < 1:
            raise ValueError("the workload book keeps at least one pending update")
        self._workloads: dict[str, Workload] = {}
        self._updates: dict[str, Workload] = {}  # oldest first; drained on another thread
        self._updates_lock = threading.Lock()
        self._max_updates = max_updates
        self._stats = stats or AttributionStats()
        self._pod_ids: dict[tuple[str, str], str] = {}
        self._names: dict[str, tuple[str, str]] = {}  # pod UID -> (namespace, name)
        self.version = 0  # moves whenever what all() returns changes

    def get(self, uid: str) -> Workload | None:
        """The workload with this id, None if unknown."""
        return self._workloads.get(uid)

    def all(self) -> Mapping[str, Workload]:
        """Every workload still held or allocated, by id."""
        return self._workloads

    def drain_updates(self) -> list[Workload]:
        """Workloads new or changed since the last call, oldest first; any thread."""
        with self._updates_lock:
            updates, self._updates = self._updates, {}
        return list(updates.values())

    @property
    def pending_updates(self) -> int:
        """How many updates wait for drain_updates()."""
        return len(self._updates)

    def name_of(self, pod_uid: str) -> tuple[str, str] | None:
        """(namespace, name) of a pod UID, if the join is known."""
        return self._names.get(pod_uid)

    def is_joined(self, namespace: str, name: str) -> bool:
        """Whether the UID of pod namespace/name is known."""
        return (namespace, name) in self._names.values()

    def learn(self, pod_uid: str, namespace: str, name: str) -> None:
        """Record that pod namespace/name has this UID."""
        self._names[pod_uid] = (namespace, name)

    def pod(self, namespace: str, name: str, pod_uid: str = "",
            containers: Collection[str] = ()) -> str:
        """The id of pod namespace/name, registering or updating its metadata."""
        key = (namespace, name)
        uid = self._pod_ids.setdefault(key, pod_uid or f"{namespace}/{name}")
        old = self._workloads.get(uid)
        labels: Mapping[str, str] = {}
        owners: tuple[tuple[str, str], ...] = ()
        if old is not None:
            labels, owners = old.labels, old.owners
            pod_uid = pod_uid or old.pod_uid
            containers = containers or old.container.split(",")
        self.register(Workload(uid, "pod", namespace, name, ",".join(sorted(containers)),
                               dict(labels), tuple(owners), pod_uid))
        return uid

    def register(self, workload: Workload) -> str:
        """Add or replace a workload; an actual change is queued for drain_updates."""
        if self._workloads.get(workload.uid) != workload:
            self._workloads[workload.uid] = workload
            self._queue_update(workload)
            self.version += 1
        return workload.uid

    def _queue_update(self, workload: Workload) -> None:
        """Queue the newest metadata of a workload; beyond the bound drop the oldest, counted."""
        with self._updates_lock:
            self._updates.pop(workload.uid, None)  # re-queued at the end: newest last
            self._updates[workload.uid] = workload
            if len(self._updates) > self._max_updates:
                del self._updates[next(iter(self._updates))]
                self._stats.workload_updates_dropped += 1

    def retain(self, live: Collection[str], live_pod_uids: Collection[str]) -> None:
        """Forget workloads not in `live` and joins of pods whose UID is not live."""
        for uid in [u for u in self._workloads if u not in live]:
            del self._workloads[uid]  # a pending update stays: its changes are not drained yet
            self.version += 1
        self._pod_ids = {k: v for k, v in self._pod_ids.items() if v in live}
        alive = set(live_pod_uids) | {w.pod_uid for w in self._workloads.values()}
        self._names = {u: n for u, n in self._names.items() if u in alive}
