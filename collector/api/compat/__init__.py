"""Compatibility routers: the APIs gputel replaces, answered from its own query services.

`gputel collector --compat primus-lens,k8s-gpu` mounts the named routers beside /api/v1;
/api/v1/health lists them. Each module maps one API document (the project's seeds) onto
the query core: its paths, envelope, field names, units, pages and errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI

from gputel.collector.api.access import AccessPolicy
from gputel.collector.api.compat import gpu_monitoring, k8s_gpu, kai_visualizer, primus_lens
from gputel.collector.api.compat.common import ErrorRenderer
from gputel.collector.api.compat.k8s_envelope import K8sAccessMiddleware
from gputel.collector.api.compat.refusals import SeedRefusalMiddleware
from gputel.collector.outbound.hooks import HookRegistry
from gputel.collector.query.services import QueryServices

ROUTERS: dict[str, Callable[[QueryServices], APIRouter]] = {
    primus_lens.NAME: primus_lens.router, kai_visualizer.NAME: kai_visualizer.router,
    gpu_monitoring.NAME: gpu_monitoring.router, k8s_gpu.NAME: k8s_gpu.router}
NAMES = tuple(ROUTERS)
# Where each seed under /api/ lives, and how it words an error (refusals of its requests
# by gputel's access middleware are re-rendered so).
REFUSALS: dict[str, tuple[tuple[str, ...], ErrorRenderer]] = {
    primus_lens.NAME: (primus_lens.PREFIXES, primus_lens.render_error),
    kai_visualizer.NAME: (kai_visualizer.PREFIXES, kai_visualizer.render_error),
    gpu_monitoring.NAME: (gpu_monitoring.PREFIXES, gpu_monitoring.render_error)}


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """The names, deduplicated in order. Raises ValueError naming an unknown one."""
    for name in names:
        if name not in ROUTERS:
            raise ValueError(f"unknown compat API {name!r} (known: {', '.join(NAMES)})")
    return tuple(dict.fromkeys(names))


def mount(app: FastAPI, services: QueryServices, names: Sequence[str],
          policy: AccessPolicy, hooks: HookRegistry | None = None) -> None:
    """Include the named routers; seed 004's prefix gets its own access middleware, and
    refusals on the other seeds' paths their error form; its webhook registration goes to
    `hooks` when given. Call after gputel's AccessMiddleware is added (these go outside it).

    Raises ValueError for an unknown name.
    """
    mounted = check_names(names)
    if k8s_gpu.NAME in mounted and hooks is not None:
        app.include_router(k8s_gpu.webhook_router(hooks))  # before its router's 501
    for name in mounted:
        app.include_router(ROUTERS[name](services))
    if k8s_gpu.NAME in mounted:
        app.add_middleware(K8sAccessMiddleware, policy=policy)
    renderers = [(prefix, REFUSALS[n][1]) for n in mounted if n in REFUSALS
                 for prefix in REFUSALS[n][0]]
    if renderers:
        app.add_middleware(SeedRefusalMiddleware, renderers=renderers)
