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
from gputel.collector.api.compat.k8s_envelope import K8sAccessMiddleware
from gputel.collector.query.services import QueryServices

ROUTERS: dict[str, Callable[[QueryServices], APIRouter]] = {
    primus_lens.NAME: primus_lens.router, kai_visualizer.NAME: kai_visualizer.router,
    gpu_monitoring.NAME: gpu_monitoring.router, k8s_gpu.NAME: k8s_gpu.router}
NAMES = tuple(ROUTERS)


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """The names, deduplicated in order. Raises ValueError naming an unknown one."""
    for name in names:
        if name not in ROUTERS:
            raise ValueError(f"unknown compat API {name!r} (known: {', '.join(NAMES)})")
    return tuple(dict.fromkeys(names))


def mount(app: FastAPI, services: QueryServices, names: Sequence[str],
          policy: AccessPolicy) -> None:
    """Include the named routers (seed 004's with its own access middleware).

    Raises ValueError for an unknown name.
    """
    for name in check_names(names):
        app.include_router(ROUTERS[name](services))
    if k8s_gpu.NAME in names:
        app.add_middleware(K8sAccessMiddleware, policy=policy)
