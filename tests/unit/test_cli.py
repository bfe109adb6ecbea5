"""The CLI: every flag has a GPUTEL_ variable; a bad flag or value is one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gputel.cli.commands import agent_argv, agent_config
from gputel.cli.main import build_parser


def _gputel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gputel.cli", *args], capture_output=True,
                          text=True, timeout=60, env=env, check=False)


@pytest.mark.parametrize(("args", "words"), [
    (["agent", "--rate", "fast"], "--rate"),
    (["agent", "--rate", "5000"], "--rate"),
    (["agent", "--backend", "cuda"], "--backend"),
    (["agent", "--collector", "nowhere"], "--collector"),
    (["agent", "--collector", "a:50051,nowhere"], "--collector"),
    (["collector", "--grpc-port", "70000"], "--grpc-port"),
    (["up", "--gpus", "0"], "--gpus"),
    (["agent", "--max-clock-skew", "-1"], "--max-clock-skew"),
    (["agent", "--refused-retry-interval", "0.1"], "--refused-retry-interval"),
    (["agent", "--reconnect-max", "soon"], "--reconnect-max"),
    (["agent", "--spool-max-bytes", "1000"], "--spool-max-bytes"),
    (["agent", "--no-such-flag"], "--no-such-flag"),
    (["launch"], "launch"),
])
def test_bad_flags_are_one_line_and_exit_2(args: list[str], words: str) -> None:
    done = _gputel(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert words in lines[0]
    assert "Traceback" not in done.stderr


def test_environment_variables_set_every_flag() -> None:
    env = {"GPUTEL_RATE": "100", "GPUTEL_GRPC_PORT": "6000", "GPUTEL_NODE": "n7",
           "GPUTEL_BACKEND": "sim", "GPUTEL_GPUS": "8"}
    args = build_parser(env).parse_args(["up"])
    assert (args.rate, args.grpc_port, args.node, args.backend, args.gpus) == (
        100.0, 6000, "n7", "sim", 8)
    assert build_parser(env).parse_args(["up", "--rate", "5"]).rate == 5.0  # flag wins


def test_an_agent_takes_several_collectors() -> None:
    args = build_parser({}).parse_args(["agent", "--collector", "c-0:50051, c-1:50051"])
    assert args.collector == "c-0:50051,c-1:50051"


def test_a_bad_environment_value_is_refused_like_a_flag() -> None:
    done = _gputel("agent", env={"GPUTEL_RATE": "-3", "PATH": ""})
    assert done.returncode == 2
    assert "--rate" in done.stderr


@pytest.mark.parametrize(("name", "value"), [("GPUTEL_BACKEND", "simulated"),
                                             ("GPUTEL_LOG_LEVEL", "loud"),
                                             ("GPUTEL_STORE", "postgres")])
def test_a_bad_environment_choice_is_one_line_and_exit_2(name: str, value: str) -> None:
    command = "collector" if name == "GPUTEL_STORE" else "agent"
    done = _gputel(command, env={name: value, "PATH": ""})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert value in lines[0]


def test_agent_without_gpu_library_says_so_in_one_line() -> None:
    done = _gputel("agent", "--backend", "auto", "--agent-port", "0")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("gputel: no GPU library found")
    assert "Traceback" not in done.stderr


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize(("given", "spool"), [
    (["--spool-dir", "/srv/spool"], "/srv/spool"),
    ([], "/data/agent-spool"),
    (["--spool-dir", ""], ""),  # in memory
])
def test_up_gives_its_agent_the_spool_dir_it_was_given(given: list[str], spool: str) -> None:
    args = build_parser({"HOME": "/home/u"}).parse_args(["up", "--data-dir", "/data", *given])
    assert _flag(agent_argv(args, "sim", 50051), "--spool-dir") == spool


@pytest.mark.parametrize(("env", "spool"), [
    ({"HOME": "/home/u"}, "/home/u/.local/state/gputel/agent-spool"),
    ({"HOME": "/home/u", "XDG_STATE_HOME": "/state"}, "/state/gputel/agent-spool"),
    ({"HOME": "/home/u", "GPUTEL_SPOOL_DIR": "/var/lib/gputel-agent/spool"},
     "/var/lib/gputel-agent/spool"),
])
def test_the_agents_default_spool_is_a_state_directory_not_the_working_directory(
        env: dict[str, str], spool: str) -> None:
    assert build_parser(env).parse_args(["agent"]).spool_dir == spool


def test_the_agents_delivery_flags_reach_its_config() -> None:
    args = build_parser({"GPUTEL_MAX_CLOCK_SKEW": "2.5"}).parse_args([
        "agent", "--spool-max-bytes", "2097152", "--reconnect-max", "1",
        "--refused-retry-interval", "45"])
    config = agent_config(args)
    assert (config.spool_max_bytes, config.reconnect_max_seconds, config.refused_retry_seconds,
            config.max_clock_skew_seconds) == (2097152, 1.0, 45.0, 2.5)


def test_a_bad_remote_write_headers_file_stops_the_collector_in_one_line(tmp_path: Path) -> None:
    headers = tmp_path / "headers"
    headers.write_text("Authorization Bearer s3cret\n")
    done = _gputel("collector", "--store", "memory", "--grpc-port", "0", "--http-port", "0",
                   "--remote-write-url", "http://127.0.0.1:9/api/v1/write",
                   "--remote-write-headers-file", str(headers))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [f"gputel: {headers}: line 1 is not 'Name: value'"], done.stderr
    assert "s3cret" not in done.stderr
