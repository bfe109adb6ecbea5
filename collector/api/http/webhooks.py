"""HTTP routes for webhooks registered through the API (admin only: hooks hold secrets).

`POST /webhooks` registers one, `GET /webhooks` lists them, `GET|PUT|DELETE
/webhooks/{id}` reads, changes (the fields given) or removes one. Answers never carry the
secret, only whether one is set; each hook shows its deliveries and failures since start.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from gputel.collector.api.access import AccessPolicy, ForbiddenError, Role
from gputel.collector.api.http.wire import ERRORS, Answer, ApiModel, Envelope, ok, time_or_none
from gputel.collector.api.secrets import bearer_token
from gputel.collector.outbound.hooks import (
    EVENTS,
    MAX_NAME,
    MAX_SECRET,
    MAX_URL,
    Hook,
    HookRegistry,
    HookSpec,
    HookStats,
)
from gputel.collector.timefmt import format_time

Format = Literal["gputel", "k8s-gpu"]


class WebhookIn(ApiModel):
    """A hook to register: `events` empty takes every event; `secret` signs each body."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL)]
    events: Annotated[list[str], Field(max_length=len(EVENTS))] = []
    secret: Annotated[str, Field(max_length=MAX_SECRET)] = ""
    active: bool = True
    format: Format = "gputel"


class WebhookPatch(ApiModel):
    """The fields to change; the rest stay."""

    name: Annotated[str | None, Field(min_length=1, max_length=MAX_NAME)] = None
    url: Annotated[str | None, Field(min_length=1, max_length=MAX_URL)] = None
    events: Annotated[list[str] | None, Field(max_length=len(EVENTS))] = None
    secret: Annotated[str | None, Field(max_length=MAX_SECRET)] = None
    active: bool | None = None
    format: Format | None = None


class WebhookOut(ApiModel):
    """A registered hook and its deliveries and failures since the collector started."""

    id: str
    name: str
    url: str
    events: list[str]
    active: bool
    format: str
    secret_set: bool
    created: str
    updated: str
    deliveries: int
    failures: int
    last_error: str | None
    last_attempt: str | None

    @classmethod
    def from_core(cls, hook: Hook, stats: HookStats) -> Self:
        """A hook as the API shows it (never its secret)."""
        return cls(id=hook.id, name=hook.name, url=hook.url, events=list(hook.events),
                   active=hook.active, format=hook.format, secret_set=bool(hook.secret),
                   created=format_time(hook.created_ns), updated=format_time(hook.updated_ns),
                   deliveries=stats.deliveries, failures=stats.failures,
                   last_error=stats.last_error or None,
                   last_attempt=time_or_none(stats.last_attempt_ns or None))


class EventsMeta(ApiModel):
    """The event names a filter may use."""

    events: list[str]


def webhooks_router(hooks: HookRegistry, policy: AccessPolicy) -> APIRouter:
    """/webhooks, every route admin-only."""

    def admin(request: Request) -> None:
        """Reads too need admin (the access middleware already refused unknown tokens)."""
        if policy.tokens is None:
            return
        token = bearer_token(request.headers.get("authorization"))
        if not token or policy.tokens.grant_of(token) != Role.ADMIN:
            raise ForbiddenError("webhooks hold secrets: an admin token is needed")

    router = APIRouter(prefix="/api/v1", responses=ERRORS, dependencies=[Depends(admin)])

    @router.post("/webhooks", summary="Register a webhook (admin)")
    def create(body: WebhookIn) -> Answer[WebhookOut]:
        hook = hooks.create(HookSpec(body.name, body.url, tuple(body.events), body.secret,
                                     body.active, body.format))
        return ok(WebhookOut.from_core(*hooks.get(hook.id)))

    @router.get("/webhooks", summary="Registered webhooks (admin)")
    def list_hooks() -> Envelope[list[WebhookOut], EventsMeta]:
        return Envelope(data=[WebhookOut.from_core(h, s) for h, s in hooks.hooks()],
                        meta=EventsMeta(events=list(EVENTS)))

    @router.get("/webhooks/{hook_id}", summary="One webhook (admin)")
    def get(hook_id: str) -> Answer[WebhookOut]:
        return ok(WebhookOut.from_core(*hooks.get(hook_id)))

    @router.put("/webhooks/{hook_id}", summary="Change a webhook (admin)")
    def update(hook_id: str, body: WebhookPatch) -> Answer[WebhookOut]:
        events = None if body.events is None else tuple(body.events)
        hooks.update(hook_id, HookSpec(body.name, body.url, events, body.secret, body.active,
                                       body.format))
        return ok(WebhookOut.from_core(*hooks.get(hook_id)))

    @router.delete("/webhooks/{hook_id}", summary="Remove a webhook (admin)")
    def delete(hook_id: str) -> Answer[WebhookOut]:
        _, stats = hooks.get(hook_id)
        return ok(WebhookOut.from_core(hooks.delete(hook_id), stats))

    return router
