"""Pod UID <-> namespace/name from the kubelet's log folders, `/var/log/pods/<ns>_<name>_<uid>`.

The PodResources API names pods without their UID and a cgroup path gives the UID
without a name; the kubelet's per-pod log folder carries all three. Namespaces and
pod names cannot contain `_`, so the folder name splits unambiguously. Optional: the
agent only reads it where the folder is mounted (read-only hostPath, as log shippers do).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_POD_LOG_DIR = "/var/log/pods"
_ENTRY = re.compile(r"^([a-z0-9.-]+)_([a-z0-9.-]+)_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                    r"[0-9a-f]{4}-[0-9a-f]{12})$")


class PodLogDirectory:
    """Reads the pod log folder on demand, at most once per `min_gap_ns` (default 1 s)."""

    def __init__(self, path: Path | str = DEFAULT_POD_LOG_DIR,
                 min_gap_ns: int = 1_000_000_000) -> None:
        self.path = Path(path)
        self.min_gap_ns = min_gap_ns
        self._names: dict[str, tuple[str, str]] = {}
        self._uids: dict[tuple[str, str], str] = {}
        self._scanned_ns: int | None = None

    def lookup(self, pod_uid: str, now_ns: int) -> tuple[str, str] | None:
        """(namespace, name) of the pod with this UID, rescanning if it is new to us."""
        found = self._names.get(pod_uid)
        if found is None and self._may_scan(now_ns):
            self._scan(now_ns)
            found = self._names.get(pod_uid)
        return found

    def uid_of(self, namespace: str, name: str, now_ns: int) -> str | None:
        """The UID of pod namespace/name, rescanning (rate-limited) if it is new to us."""
        found = self._uids.get((namespace, name))
        if found is None and self._may_scan(now_ns):
            self._scan(now_ns)
            found = self._uids.get((namespace, name))
        return found

    def _may_scan(self, now_ns: int) -> bool:
        return self._scanned_ns is None or abs(now_ns - self._scanned_ns) >= self.min_gap_ns

    def _scan(self, now_ns: int) -> None:
        self._scanned_ns = now_ns
        try:
            entries = os.listdir(self.path)
        except OSError:
            return
        names = {}
        for entry in entries:
            match = _ENTRY.match(entry)
            if match:
                names[match.group(3)] = (match.group(1), match.group(2))
        self._names = names
        self._uids = {name: uid for uid, name in names.items()}
