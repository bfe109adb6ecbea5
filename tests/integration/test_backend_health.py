"""The backend's health reaches the agent's /metrics through the backend interface."""

from __future__ import annotations

import httpx

from gputel.agent.backends.base import BackendHealth
from gputel.agent.backends.sim import SimBackend
from tests.harness.servers import CollectorThread, running_agent, wait_sampled


class Ailing:
    """A sim backend whose GPU 1 is lost, GPU 0 stalled, with XIDs and failed fields."""

    def __init__(self, inner: SimBackend) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def health(self) -> BackendHealth:
        return BackendHealth({"power": 4}, lost=(1,), stalled=(0,), recoveries=2,
                             xids=(0, 3))


def test_lost_stalled_recovered_gpus_and_xids_are_on_the_agents_metrics(
        collector: CollectorThread) -> None:
    with running_agent(collector.grpc_target, gpus=2, max_ticks=3, wrap=Ailing) as agent:
        assert wait_sampled(agent, timeout=30)
        uuid = agent.backend.devices()[1].uuid
        text = httpx.get(f"http://127.0.0.1:{agent.http.port}/metrics").text  # type: ignore[union-attr]
    assert "gputel_agent_gpus_lost 1.0" in text
    assert "gputel_agent_gpus_stalled 1.0" in text
    assert "gputel_agent_gpu_recoveries_total 2.0" in text
    assert f'gputel_agent_xid_errors_total{{gpu="{uuid}"}} 3.0' in text
    assert 'gputel_agent_field_errors_total{field="power"} 4.0' in text
