"""Backend selection: `nvml`, `amdsmi`, `sim`, or `auto` (NVML, then AMD SMI)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from gputel.agent.backends.base import Backend, BackendUnavailable
from gputel.agent.backends.sim import SimBackend

CHOICES = ("auto", "nvml", "amdsmi", "sim")
# backend name -> (module under gputel.agent.backends, class name)
_VENDOR = {"nvml": ("nvml", "NvmlBackend"), "amdsmi": ("amd", "AmdSmiBackend")}


def probe(name: str) -> str | None:
    """None when the vendor backend can run here, else one line saying why not."""
    module_name, _ = _VENDOR[name]
    try:
        module = importlib.import_module(f"gputel.agent.backends.{module_name}")
    except ImportError as exc:
        return f"{name} backend is not available in this build ({exc})"
    check: Callable[[], str | None] = module.probe
    return check()


def vendor_backend(name: str) -> Backend:
    """Construct the NVML or AMD SMI backend. Raises BackendUnavailable with the reason."""
    reason = probe(name)
    if reason is not None:
        raise BackendUnavailable(reason)
    module_name, class_name = _VENDOR[name]
    module = importlib.import_module(f"gputel.agent.backends.{module_name}")
    backend: Backend = getattr(module, class_name)()
    return backend


def create(name: str, gpus: int, seed: int, node: str) -> Backend:
    """The backend `name` asks for; `auto` picks NVML, then AMD SMI.

    Raises BackendUnavailable naming what is missing (for `auto`: both libraries).
    """
    if name == "sim":
        return SimBackend(gpus=gpus, seed=seed, salt=node, processes=True)
    if name in _VENDOR:
        return vendor_backend(name)
    if name != "auto":
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(CHOICES)}")
    reasons = []
    for vendor in _VENDOR:
        reason = probe(vendor)
        if reason is None:
            return vendor_backend(vendor)
        reasons.append(reason)
    raise BackendUnavailable("no GPU library found: " + "; ".join(reasons))
