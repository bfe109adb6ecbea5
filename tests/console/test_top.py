"""`gputel top` in a real terminal (tmux: send-keys to type, capture-pane to read the
screen) against `gputel up`: every GPU with the API's values, the sort keys, `q`, and a
collector that goes away or was never there."""

from __future__ import annotations

import math
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gputel.cli.main import main
from gputel.cli.top import fmt, gpu_row, sorted_rows
from tests.console.conftest import READ_TOKEN
from tests.harness.proxy import TcpProxy
from tests.harness.servers import wait_until
from tests.harness.up import UpProcess

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.slow


class Tmux:
    """A tmux server of the test run's own, on a socket in a temporary folder: other tmux
    users on the machine (other test runs) cannot end it, and it does not exit between
    tests when its last session is killed (exit-empty off), which a shared server does
    while the next test's new-session is already connecting ("server exited
    unexpectedly")."""

    def __init__(self, socket: Path) -> None:
        assert TMUX, "tmux is needed (scripts/install-test-deps.sh installs it)"
        self.socket = str(socket)
        self("-f", "/dev/null", "start-server", ";", "set-option", "-g", "exit-empty", "off")

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], check=False,
                       capture_output=True)


class Pane:
    """A detached tmux session of 160 x 30 running one command; the pane stays after it
    exits, so its last screen and exit status can be read."""

    def __init__(self, tmux: Tmux, command: list[str], env: dict[str, str]) -> None:
        self._tmux = tmux
        self.name = f"gputel-top-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # COLUMNS and LINES from the test's own environment would override the pane's size.
        line = f"env -u COLUMNS -u LINES {exports} {shlex.join(command)}"
        tmux("new-session", "-d", "-s", self.name, "-x", "160", "-y", "30")
        tmux("set-option", "-t", self.name, "remain-on-exit", "on")
        tmux("respawn-pane", "-k", "-t", self.name, line)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def width(self) -> int:
        return int(self._tmux("display-message", "-p", "-t", self.name, "#{pane_width}"))

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def dead_status(self) -> int | None:
        """The command's exit status once it ended, else None."""
        dead, status, signal = (self._tmux(
            "display-message", "-p", "-t", self.name,
            "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}").strip().split(":"))
        if dead != "1":
            return None
        return int(status) if status else -int(signal or 0)

    def wait_for(self, text: str, timeout: float = 15) -> str:
        wait_until(lambda: text in self.screen(), timeout=timeout, interval=0.1,
                   what=f"{text!r} on the screen:\n{self.screen()}")
        return self.screen()

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self._tmux.socket, "kill-session", "-t", self.name],
                       check=False, capture_output=True)


@pytest.fixture(scope="module")
def tmux(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tmux]:
    server = Tmux(tmp_path_factory.mktemp("tmux") / "socket")
    yield server
    server.kill()


def _top(tmux: Tmux, base: str, *extra: str, token: str | None = READ_TOKEN) -> Pane:
    env = {"GPUTEL_API_TOKEN": token} if token else {}
    return Pane(tmux, [sys.executable, "-m", "gputel.cli", "top", "--collector", base, *extra], env)


@pytest.fixture
def pane(tmux: Tmux, up: UpProcess) -> Iterator[Pane]:
    p = _top(tmux, up.base)
    yield p
    p.close()


def _rows(screen: str) -> list[tuple[str, int, str]]:
    """(node, GPU index, the rest of the line) of each GPU row on the screen, in order."""
    out = []
    for line in screen.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == "laptop" and parts[1].isdigit():
            out.append((parts[0], int(parts[1]), parts[2]))
    return out


def _order(pane: Pane) -> list[int]:
    return [index for _, index, _ in _rows(pane.screen())]


def _expected_line(up: UpProcess, index: int) -> list[str]:
    """What top must print for GPU `index`, from /api/v1/gpus."""
    row = next(gpu_row(g) for g in up.api("/gpus") if g["index"] == index)
    return [fmt(row.util, 1, "%"), fmt(row.mem_used / 2**30, 1, "GiB"), fmt(row.power, 1, "W"),
            fmt(row.temperature, 1, "°C"), row.holders]


def _shows_the_api(pane: Pane, up: UpProcess) -> bool:
    rows = _rows(pane.screen())
    return len(rows) == 4 and all(
        all(text in rest for text in _expected_line(up, index)) for _, index, rest in rows)


def test_top_shows_every_gpu_with_the_apis_values_and_sorts(pane: Pane, up: UpProcess) -> None:
    pane.wait_for("sorted by node")
    assert pane.width() == 160, pane.width()
    with up.frozen():
        wait_until(lambda: _shows_the_api(pane, up), timeout=10, interval=0.2,
                   what=f"the API's values on screen:\n{pane.screen()}")
        assert [i for _, i, _ in _rows(pane.screen())] == [0, 1, 2, 3]
        rows = [gpu_row(g) for g in up.api("/gpus")]
        for key, label in (("p", "power"), ("t", "temperature"), ("u", "utilization"),
                           ("m", "memory"), ("h", "holder")):
            pane.keys(key)
            expected = [r.index for r in sorted_rows(rows, key, reverse=False)]
            wait_until(lambda e=expected, s=f"sorted by {label}": _order(pane) == e  # type: ignore[misc]
                       and s in pane.screen(), timeout=5, interval=0.1,
                       what=f"sorted by {label}: {expected}\n{pane.screen()}")
        pane.keys("p", "r")
        expected = [r.index for r in sorted_rows(rows, "p", reverse=True)]
        wait_until(lambda: _order(pane) == expected,
                   timeout=5, interval=0.1, what=f"reversed power order {expected}")
    by_power = sorted((r for r in rows if not math.isnan(r.power)), key=lambda r: r.power)
    assert expected == [r.index for r in by_power]  # the lowest power first when reversed
    screen = pane.screen()
    assert "alert(s) firing" in screen  # the one-line alert bar
    pane.keys("q")
    wait_until(lambda: pane.dead_status() == 0, timeout=10, interval=0.1, what="top to quit")
    assert "Traceback" not in pane.screen()


def test_top_of_one_node(tmux: Tmux, up: UpProcess) -> None:
    pane = _top(tmux, up.base, "--node", "laptop")
    try:
        screen = pane.wait_for("node laptop: 4 GPU(s)")
        assert len(_rows(screen)) == 4
        pane.keys("q")
        wait_until(lambda: pane.dead_status() == 0, timeout=10, interval=0.1, what="quit")
    finally:
        pane.close()


def test_a_collector_that_goes_away_is_one_line_not_a_traceback(
        tmux: Tmux, up: UpProcess) -> None:
    proxy = TcpProxy(up.http_port)  # the collector as top sees it; closed = gone
    pane = _top(tmux, f"127.0.0.1:{proxy.port}")
    try:
        pane.wait_for("sorted by node")
        proxy.close()
        screen = pane.wait_for("cannot reach the collector at http://127.0.0.1:")
        assert "connection refused" in screen
        assert "retrying every 1 s" in screen
        assert "Traceback" not in screen
        assert pane.dead_status() is None  # still running, still showing the last numbers
        assert len(_rows(screen)) == 4
        pane.keys("q")
        wait_until(lambda: pane.dead_status() == 0, timeout=10, interval=0.1, what="quit")
        assert "Traceback" not in pane.screen()
    finally:
        pane.close()
        proxy.close()


@pytest.mark.parametrize(("argv", "token", "message"), [
    (["--collector", "127.0.0.1:1"], READ_TOKEN,
     "gputel: top: cannot reach the collector at http://127.0.0.1:1: connection refused"),
    ([], None, "answered 401: "),
    (["--token-file", "/nonexistent/token"], None, "cannot read --token-file"),
])
def test_no_collector_or_no_token_is_one_line_and_exit_1(
        up: UpProcess, argv: list[str], token: str | None, message: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    if token:
        monkeypatch.setenv("GPUTEL_API_TOKEN", token)
    else:
        monkeypatch.delenv("GPUTEL_API_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["top", "--collector", up.base, *argv])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err, err
