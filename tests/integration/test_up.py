"""`gputel up` as a user runs it: a real process tree, simulated GPUs, clean stop on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.harness.servers import get_json, wait_until


@pytest.mark.slow
def test_up_brings_up_collector_and_agent_and_stops_cleanly(tmp_path: object) -> None:
    argv = [sys.executable, "-m", "gputel.cli", "up", "--host", "127.0.0.1", "--grpc-port", "0",
            "--http-port", "0", "--agent-port", "0", "--node", "laptop", "--gpus", "3",
            "--data-dir", str(tmp_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "HTTP on" in line:
                break
        text = "".join(lines)
        assert "no GPU library found" in text
        assert "using 3 simulated GPUs" in text
        http = int(re.search(r"HTTP on http://[^:]+:(\d+)", text)[1])  # type: ignore[index]
        base = f"http://127.0.0.1:{http}/api/v1"
        started = time.monotonic()
        wait_until(lambda: _gpus_reporting(base) == 3, timeout=30, interval=0.1,
                   what="the node and its 3 GPUs in /api/v1/nodes")
        assert time.monotonic() - started < 15  # "within a few seconds"
        status, body = get_json(f"{base}/nodes/laptop/metrics", metric="gpu_util")
        assert status == 200
        assert all(s["points"] for s in body["data"]["gpus"])
        # The demo attributes the simulated GPUs to simulated pods (3 GPUs: two pods).
        wait_until(lambda: {w["uid"] for w in get_json(f"{base}/workloads")[1]["data"]} == {
            "ml-research/llm-pretrain-0", "inference/chat-api-0"}, timeout=30, interval=0.1,
            what="the simulated pods in /api/v1/workloads")
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert "gputel: stopped" in rest
    assert "gputel agent: stopped" in rest
    assert "Traceback" not in "".join(lines) + rest


def _gpus_reporting(base: str) -> int:
    try:
        nodes = httpx.get(f"{base}/nodes", timeout=5).json()["data"]
    except httpx.TransportError:
        return 0
    return next((n["gpuCount"] for n in nodes if n["name"] == "laptop"
                 and n["samplesIngested"] > 0), 0)
