"""What the attributor hands to other threads is a snapshot, never the dict it keeps changing.

The sampler thread calls `observe`; the agent's HTTP thread reads `current()` (through
`Agent.holders()`) on every scrape. Issue 12 saw 240 of 77,530 scrapes raise
"dictionary keys changed during iteration" when both shared one live dict.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from gputel.agent.attribution import Attributor, ProcessSample, Share
from gputel.agent.backends.base import DeviceInfo
from gputel.agent.backends.sim import SimBackend
from gputel.agent.runtime import Agent, AgentConfig

GPUS = 32


def _devices() -> list[DeviceInfo]:
    return [DeviceInfo(i, f"GPU-{i:08d}", "nvidia", "H100", 80 << 30) for i in range(GPUS)]


def _procs(tick: int) -> dict[int, list[ProcessSample]]:
    """Odd ticks: a process on every GPU; even ticks: none (every share appears, then goes)."""
    return {i: [ProcessSample(1000 + i, 1 << 30)] if tick % 2 else [] for i in range(GPUS)}


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Let the interpreter switch threads every microsecond, so races show within a second."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_a_view_already_handed_out_never_changes() -> None:
    att = Attributor(_devices())
    att.observe(1, _procs(1))
    view, names = att.current(), att.workloads()
    assert view[0] == (Share("process/1000", 1.0),)
    att.observe(2, _procs(2))  # every process leaves
    assert len(view) == GPUS
    assert view[0] == (Share("process/1000", 1.0),)
    assert "process/1000" in names
    assert att.current() == {}  # the next read sees the change
    assert att.workloads() == {}
    with pytest.raises(TypeError):
        view[0] = ()  # type: ignore[index]


@pytest.mark.usefixtures("fast_switching")
def test_holders_read_on_another_thread_while_the_attributor_updates() -> None:
    agent = Agent(AgentConfig(node="n", collector="127.0.0.1:1"), SimBackend(gpus=1))
    att = agent.attributor = Attributor(_devices())
    errors: list[str] = []
    reads = [0]
    done = threading.Event()

    def scrape() -> None:  # what the HTTP thread does per /metrics
        while not done.is_set():
            try:
                holders = agent.holders()
            except RuntimeError as exc:  # "dictionary changed size during iteration"
                errors.append(repr(exc))
                continue
            if len(holders) not in (0, GPUS):
                errors.append("a view mixing two ticks")
            reads[0] += 1

    reader = threading.Thread(target=scrape)
    reader.start()
    try:
        for tick in range(1, 3001):
            att.observe(tick, _procs(tick))
    finally:
        done.set()
        reader.join()
    assert reads[0] > 0
    assert sorted(set(errors)) == []
