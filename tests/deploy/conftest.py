"""Each overlay rendered once per session, and two ways users extend one."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import (
    DAEMONSET,
    OPTIONAL_COMPONENTS,
    OVERLAYS,
    Manifests,
    compose,
    render,
)

COMPOSED = "sim+components"  # sim with every optional component (TLS, hostPID, monitors)
MOVED = "nvidia@telemetry"  # nvidia deployed to another namespace
ALL = (*OVERLAYS, COMPOSED, MOVED)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Manifests]:
    """Rendering name (ALL) -> its objects."""
    out = {name: Manifests(name, tuple(render(DAEMONSET / "overlays" / name)))
           for name in OVERLAYS}
    composed = compose(tmp_path_factory.mktemp("composed"), "sim", OPTIONAL_COMPONENTS)
    out[COMPOSED] = Manifests(COMPOSED, tuple(composed))
    moved = compose(tmp_path_factory.mktemp("moved"), "nvidia", namespace="telemetry")
    out[MOVED] = Manifests(MOVED, tuple(moved))
    return out
