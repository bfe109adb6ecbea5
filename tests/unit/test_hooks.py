"""The webhook registry: bounded, validated, persisted; a damaged file stops the start in
one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gputel.collector.errors import InvalidParameterError
from gputel.collector.outbound.hooks import HookRegistry, HookSpec, HookStoreError


def _registry(path: Path | None, max_hooks: int = 100) -> HookRegistry:
    return HookRegistry(path, lambda: 1_000, max_hooks)


def test_hooks_are_bounded_and_persisted(tmp_path: Path) -> None:
    hooks = _registry(tmp_path / "webhooks.json", max_hooks=2)
    first = hooks.create(HookSpec("a", "http://h/a", ("GPU_LOST", "GPU_LOST"), "s1"))
    hooks.create(HookSpec("b", "https://h/b"))
    with pytest.raises(InvalidParameterError) as refused:
        hooks.create(HookSpec("c", "http://h/c"))
    assert refused.value.parameter == "webhooks"
    again = _registry(tmp_path / "webhooks.json")
    assert again.load() == 2
    assert again.get(first.id)[0] == first
    assert first.events == ("GPU_LOST",)  # repeats folded


def test_an_update_keeps_what_it_does_not_name(tmp_path: Path) -> None:
    hooks = _registry(None)
    hook = hooks.create(HookSpec("a", "http://h/a", ("GPU_LOST",), "s1"))
    changed = hooks.update(hook.id, HookSpec(active=False))
    assert (changed.secret, changed.events, changed.active) == ("s1", ("GPU_LOST",), False)
    with pytest.raises(InvalidParameterError):
        hooks.update(hook.id, HookSpec(format="xml"))


def test_a_damaged_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "webhooks.json").write_text("{not json")
    with pytest.raises(HookStoreError, match="webhooks file"):
        _registry(tmp_path / "webhooks.json").load()
    done = subprocess.run([sys.executable, "-m", "gputel.cli", "collector", "--host",
                           "127.0.0.1", "--grpc-port", "0", "--http-port", "0", "--data-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "webhooks file" in done.stderr
