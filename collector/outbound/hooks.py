"""Webhooks registered through the API: name, URL, event filter, own secret, active flag,
body format; kept in `<data dir>/webhooks.json` (mode 0600: it holds secrets) so they
survive restarts, and counted per hook (deliveries, failures, last error) since start.

Event names follow the Kubernetes GPU Management API (seed 004): each alert rule fires
one (`GPU_OVERHEATING` for over_temperature, ...) and its resolution `<NAME>_RESOLVED`;
`ALLOCATION_FAILED` and `COST_THRESHOLD_EXCEEDED` are accepted in filters, so that API's
registrations work, but gputel never sends them (it does not allocate; cost thresholds are
not built). An empty filter takes every event. Body formats: `gputel` (the flags'
webhooks' body: `{"event": "firing"|"resolved", "sentAt", "alert"}`) or `k8s-gpu` (004's
payload: `{"event": "GPU_OVERHEATING", "timestamp", "data": {...}, "signature"}`, the
signature over the payload without it). Either way `X-Gputel-Signature` signs the raw body
with the hook's own secret.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gputel.collector.errors import GputelError, InvalidParameterError, NotFoundError
from gputel.collector.outbound.webhooks import Target, event_body, sign
from gputel.collector.query.alerts import AlertEvent
from gputel.collector.timefmt import format_time

RULE_EVENTS = {"over_temperature": "GPU_OVERHEATING", "gpu_lost": "GPU_LOST",
               "node_unreachable": "NODE_UNREACHABLE", "xid": "GPU_XID_ERROR",
               "allocated_idle": "GPU_ALLOCATED_IDLE"}
NEVER_SENT = ("ALLOCATION_FAILED", "COST_THRESHOLD_EXCEEDED")
EVENTS = (*RULE_EVENTS.values(), *(f"{e}_RESOLVED" for e in RULE_EVENTS.values()), *NEVER_SENT)
FORMATS = ("gputel", "k8s-gpu")
MAX_HOOKS = 100
MAX_URL = 2048
MAX_NAME = 128
MAX_SECRET = 512


class HookStoreError(GputelError):
    """The hooks file cannot be read or written."""

    code = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class HookSpec:
    """What a client gives (None: keep the old value on update)."""

    name: str | None = None
    url: str | None = None
    events: tuple[str, ...] | None = None
    secret: str | None = None
    active: bool | None = None
    format: str | None = None


@dataclass(frozen=True, slots=True)
class Hook:
    """A registered webhook; times Unix ns."""

    id: str
    name: str
    url: str
    events: tuple[str, ...]
    secret: str
    active: bool
    format: str
    created_ns: int
    updated_ns: int


@dataclass(slots=True)
class HookStats:
    """Deliveries and failures since the collector started; the last error and attempt."""

    deliveries: int = 0
    failures: int = 0
    last_error: str = ""
    last_attempt_ns: int = 0


@dataclass(slots=True)
class _State:
    hooks: dict[str, Hook] = field(default_factory=dict)
    stats: dict[str, HookStats] = field(default_factory=dict)


def event_name(event: AlertEvent) -> str:
    """The 004-style name of an alert event."""
    name = RULE_EVENTS.get(event.alert.rule, event.alert.rule.upper())
    return name if event.kind == "firing" else f"{name}_RESOLVED"


def k8s_body(secret: bytes) -> Callable[[AlertEvent, int], bytes]:
    """004's payload, its `signature` field over the payload without it."""
    def build(event: AlertEvent, sent_ns: int) -> bytes:
        a = event.alert
        payload: dict[str, Any] = {
            "event": event_name(event), "timestamp": format_time(sent_ns),
            "data": {"deviceId": a.gpu or None, "nodeName": a.node, "value": a.value,
                     "threshold": a.threshold, "severity": a.severity.upper(),
                     "state": a.state, "alertId": a.id, "message": a.message,
                     **({"temperature": a.value} if a.rule == "over_temperature" else {})}}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        payload["signature"] = sign(secret, raw) if secret else None
        return json.dumps(payload, separators=(",", ":")).encode()
    return build


class HookRegistry:
    """The registered hooks; thread-safe; persisted on every change when `path` is set."""

    def __init__(self, path: Path | None, time_ns: Callable[[], int],
                 max_hooks: int = MAX_HOOKS) -> None:
        self.path = path
        self._time_ns = time_ns
        self.max_hooks = max_hooks
        self._state = _State()
        self._lock = threading.Lock()

    def load(self) -> int:
        """Read the hooks file (none yet: nothing); return how many. Raises HookStoreError."""
        if self.path is None or not self.path.exists():
            return 0
        try:
            rows = json.loads(self.path.read_text())["hooks"]
            hooks = [Hook(**{**r, "events": tuple(r["events"])}) for r in rows]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HookStoreError(f"cannot read the webhooks file {self.path}: {exc}") from exc
        with self._lock:
            self._state = _State({h.id: h for h in hooks}, {h.id: HookStats() for h in hooks})
        return len(hooks)

    # ------------------------------------------------------------- reads
    def hooks(self) -> list[tuple[Hook, HookStats]]:
        """Every hook with a copy of its stats, oldest first."""
        with self._lock:
            return [(h, replace(self._state.stats[h.id])) for h in
                    sorted(self._state.hooks.values(), key=lambda h: (h.created_ns, h.id))]

    def get(self, hook_id: str) -> tuple[Hook, HookStats]:
        """One hook. Raises NotFoundError."""
        with self._lock:
            hook = self._state.hooks.get(hook_id)
            if hook is None:
                raise NotFoundError("webhook", hook_id)
            return hook, replace(self._state.stats[hook_id])

    # ------------------------------------------------------------ writes
    def create(self, spec: HookSpec) -> Hook:
        """Register a hook. Raises InvalidParameterError (a field, or the count limit)."""
        if spec.name is None or spec.url is None:
            raise InvalidParameterError("name" if spec.name is None else "url", "is required")
        now = self._time_ns()
        hook = _checked(Hook(uuid.uuid4().hex, spec.name, spec.url, spec.events or (),
                             spec.secret or "", True if spec.active is None else spec.active,
                             spec.format or "gputel", now, now))
        with self._lock:
            if len(self._state.hooks) >= self.max_hooks:
                raise InvalidParameterError("webhooks", f"at most {self.max_hooks} may be "
                                            "registered; delete one first")
            self._unique_name(hook)
            self._commit({**self._state.hooks, hook.id: hook})
            self._state.stats[hook.id] = HookStats()
        return hook

    def update(self, hook_id: str, spec: HookSpec) -> Hook:
        """Change the given fields. Raises NotFoundError or InvalidParameterError."""
        with self._lock:
            old = self._state.hooks.get(hook_id)
            if old is None:
                raise NotFoundError("webhook", hook_id)
            changes = {k: v for k, v in asdict(spec).items() if v is not None}
            hook = _checked(replace(old, **changes, updated_ns=self._time_ns()))
            self._unique_name(hook)
            self._commit({**self._state.hooks, hook_id: hook})
        return hook

    def delete(self, hook_id: str) -> Hook:
        """Remove a hook. Raises NotFoundError."""
        with self._lock:
            hook = self._state.hooks.get(hook_id)
            if hook is None:
                raise NotFoundError("webhook", hook_id)
            self._commit({k: v for k, v in self._state.hooks.items() if k != hook_id})
            self._state.stats.pop(hook_id, None)
        return hook

    def _unique_name(self, hook: Hook) -> None:
        if any(h.name == hook.name and h.id != hook.id for h in self._state.hooks.values()):
            raise InvalidParameterError("name", f"{hook.name!r} is already registered")

    def _commit(self, hooks: dict[str, Hook]) -> None:
        """Write the file (atomically, mode 0600), then take the new set. Under the lock."""
        if self.path is not None:
            rows = [{**asdict(h), "events": list(h.events)} for h in hooks.values()]
            tmp = self.path.with_suffix(".tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as out:
                    json.dump({"hooks": rows}, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except OSError as exc:
                raise HookStoreError(f"cannot write the webhooks file {self.path}: "
                                     f"{exc.strerror}") from exc
        self._state.hooks = hooks

    # ---------------------------------------------------------- delivery
    def targets(self, event: AlertEvent) -> list[Target]:
        """The active hooks whose filter takes the event, each with its secret and body."""
        name = event_name(event)
        with self._lock:
            chosen = [h for h in self._state.hooks.values()
                      if h.active and (not h.events or name in h.events)]
        return [self._target(h) for h in sorted(chosen, key=lambda h: (h.created_ns, h.id))]

    def _target(self, hook: Hook) -> Target:
        secret = hook.secret.encode()
        body = k8s_body(secret) if hook.format == "k8s-gpu" else event_body
        return Target(hook.url, secret, body, lambda ok, error: self._count(hook.id, ok, error))

    def _count(self, hook_id: str, ok: bool, error: str) -> None:
        with self._lock:
            stats = self._state.stats.get(hook_id)
            if stats is None:  # deleted meanwhile
                return
            stats.last_attempt_ns = self._time_ns()
            if ok:
                stats.deliveries += 1
            else:
                stats.failures += 1
                stats.last_error = error[:500]


def _checked(hook: Hook) -> Hook:
    """The hook if every field is valid. Raises InvalidParameterError naming the field."""
    if not 0 < len(hook.name) <= MAX_NAME:
        raise InvalidParameterError("name", f"must be 1 to {MAX_NAME} characters")
    if not hook.url.startswith(("http://", "https://")) or len(hook.url) > MAX_URL:
        raise InvalidParameterError("url", f"must be an http(s) URL of at most {MAX_URL} "
                                    "characters")
    unknown = [e for e in hook.events if e not in EVENTS]
    if unknown:
        raise InvalidParameterError("events", f"unknown event(s) {', '.join(unknown[:5])}; "
                                    f"known: {', '.join(EVENTS)}")
    if len(hook.secret) > MAX_SECRET:
        raise InvalidParameterError("secret", f"is longer than {MAX_SECRET} characters")
    if hook.format not in FORMATS:
        raise InvalidParameterError("format", f"{hook.format!r} is not one of "
                                    f"{', '.join(FORMATS)}")
    return replace(hook, events=tuple(dict.fromkeys(hook.events)))


__all__: Sequence[str] = ("EVENTS", "FORMATS", "Hook", "HookRegistry", "HookSpec",
                          "HookStats", "HookStoreError", "event_name")
