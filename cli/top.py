"""`gputel top`: the cluster (or one node) in a terminal, refreshed every second.

A client of the collector's public HTTP API like any other (/api/v1/overview, /gpus,
/alerts), drawn with Textual: one row per GPU with bars for utilization, memory, power and
temperature, its holder, a one-line alert bar; sortable by key, `q` quits. A collector
that cannot be reached at start is one line and exit 1; one that goes away while running
is one line in the status bar, and top keeps trying.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from gputel.cli import options as o

TOKEN_ENV = "GPUTEL_API_TOKEN"  # noqa: S105 - the name of a variable, not a secret
BAR_WIDTH = 10


class TopError(Exception):
    """What stops `gputel top` before it shows anything (one line for the user)."""


@dataclass(frozen=True, slots=True)
class GpuRow:
    """One GPU as top shows it (values in the API's units; NaN where not reported)."""

    node: str
    index: int
    model: str
    status: str
    util: float
    mem_used: float
    mem_total: float
    power: float
    temperature: float
    holders: str

    @property
    def mem_percent(self) -> float:
        """Memory used as a percentage of the GPU's memory."""
        return 100 * self.mem_used / self.mem_total if self.mem_total else math.nan


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One refresh: the cluster line's numbers, every GPU, the firing alerts."""

    overview: dict[str, Any]
    gpus: list[GpuRow]
    alerts: list[dict[str, Any]]


# Sort keys: the key pressed -> (what it sorts by, the row's value, largest first).
SORTS: dict[str, tuple[str, Callable[[GpuRow], Any], bool]] = {
    "n": ("node", lambda r: (r.node, r.index), False),
    "u": ("utilization", lambda r: r.util, True),
    "m": ("memory", lambda r: r.mem_percent, True),
    "p": ("power", lambda r: r.power, True),
    "t": ("temperature", lambda r: r.temperature, True),
    "h": ("holder", lambda r: (r.holders, r.node, r.index), False),
}


def sorted_rows(rows: list[GpuRow], key: str, reverse: bool) -> list[GpuRow]:
    """Rows by the sort key (largest first for numbers), NaN last; `reverse` flips it."""
    _, pick, descending = SORTS[key]
    known = [r for r in rows if not _is_nan(pick(r))]
    unknown = [r for r in rows if _is_nan(pick(r))]
    return sorted(known, key=pick, reverse=descending != reverse) + unknown


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def gpu_row(gpu: Mapping[str, Any]) -> GpuRow:
    """A /api/v1/gpus item as a row."""
    latest = gpu.get("latest") or {}
    holders = ", ".join(h["workload"] + (f" {h['fraction']:.0%}" if h["fraction"] < 1 else "")
                        for h in gpu.get("heldBy") or []) or "-"
    return GpuRow(gpu["node"], gpu["index"], gpu["model"], gpu["status"],
                  _number(latest.get("gpu_util")), _number(latest.get("mem_used")),
                  _number(latest.get("mem_total") or gpu.get("memoryTotalBytes")),
                  _number(latest.get("power")), _number(latest.get("temperature")), holders)


def bar(value: float, full: float, text: str) -> Text:
    """`██████░░░░ 61.2 %`: a bar of BAR_WIDTH cells and the number (the number is what
    counts; the bar only helps the eye)."""
    if math.isnan(value):
        return Text("░" * BAR_WIDTH + "    n/a", style="dim")
    filled = round(BAR_WIDTH * min(1.0, max(0.0, value / full))) if full else 0
    colour = "green" if value < 0.5 * full else "yellow" if value < 0.85 * full else "red"
    return Text.assemble(("█" * filled, colour), ("░" * (BAR_WIDTH - filled), "dim"),
                         " " + text)


def fmt(value: float, digits: int, unit: str) -> str:
    """A value as top prints it (the same digits as the web console)."""
    return "n/a" if math.isnan(value) else f"{value:.{digits}f} {unit}"


def alert_line(alerts: list[dict[str, Any]]) -> str:
    """The one-line alert bar."""
    if not alerts:
        return "no alerts firing"
    first = alerts[0]
    where = first.get("node") or ""
    if first.get("gpuIndex") is not None:
        where += f" GPU {first['gpuIndex']}"
    more = f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
    return f"{len(alerts)} alert(s) firing: {first['severity']} {first['rule']} {where}{more}"


def cluster_line(overview: Mapping[str, Any], node: str | None, rows: list[GpuRow]) -> str:
    """The summary above the table: the cluster's tiles, or the node's GPUs."""
    if node:
        power = sum(r.power for r in rows if not math.isnan(r.power))
        return f"node {node}: {len(rows)} GPU(s), {power:.1f} W"
    o_ = overview
    return (f"nodes {o_['totalNodes']} (healthy {o_['healthyNodes']}, faulty "
            f"{o_['faultyNodes']})  GPUs {o_['totalGpus']} (allocated {o_['allocatedGpus']}, "
            f"lost {o_['lostGpus']})  power {fmt(_number(o_['powerWatts']), 1, 'W')}")


class Client:
    """The collector's HTTP API, with the token when one is given."""

    def __init__(self, base: str, token: str | None, node: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base = base.rstrip("/")
        self.node = node
        self._http = httpx.Client(base_url=self.base + "/api/v1", headers=headers, timeout=5)

    def _get(self, path: str, **params: Any) -> Any:
        response = self._http.get(path, params=params)
        if response.is_success:
            return response.json()
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.reason_phrase
        hint = (f" (give a token in ${TOKEN_ENV} or --token-file)"
                if response.status_code == 401 else "")
        raise TopError(f"the collector at {self.base} answered {response.status_code}: "
                       f"{message}{hint}")

    def _pages(self, path: str, **params: Any) -> list[Any]:
        items: list[Any] = []
        page = 1
        while True:
            body = self._get(path, page=page, pageSize=1000, **params)
            items.extend(body["data"])
            if len(items) >= body["meta"]["total"] or not body["data"]:
                return items
            page += 1

    def snapshot(self) -> Snapshot:
        """Everything one refresh shows. Raises TopError (with the reason in one line)."""
        try:
            node = {"node": self.node} if self.node else {}
            overview = self._get("/overview")["data"]
            gpus = [gpu_row(g) for g in self._pages("/gpus", **node)]
            alerts = self._pages("/alerts", state="firing", **node)
        except httpx.HTTPError as exc:
            raise TopError(f"cannot reach the collector at {self.base}: "
                           f"{_reason(exc)}") from None
        except (ValueError, KeyError, TypeError):
            raise TopError(f"{self.base} does not answer like a gputel collector") from None
        return Snapshot(overview, gpus, alerts)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _reason(exc: httpx.HTTPError) -> str:
    """The root cause of a transport error, short (connection refused, timed out)."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = getattr(cause, "strerror", None) or str(cause) or type(exc).__name__
    return str(text).split("] ", 1)[-1].lower()


COLUMNS = ("node", "GPU", "utilization", "memory", "power", "temp", "holder")


class TopApp(App[None]):
    """The terminal view; `refresh_seconds` between polls."""

    CSS = """
    #summary { height: 1; padding: 0 1; }
    #alerts { height: 1; padding: 0 1; background: $warning 20%; }
    #status { height: 1; padding: 0 1; color: $text-muted; }
    DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("u", "sort('u')", "util"), Binding("m", "sort('m')", "memory"),
        Binding("p", "sort('p')", "power"), Binding("t", "sort('t')", "temp"),
        Binding("n", "sort('n')", "node"), Binding("h", "sort('h')", "holder"),
        Binding("r", "reverse", "reverse"),
    ]

    def __init__(self, client: Client, first: Snapshot, refresh_seconds: float,
                 sort: str = "n") -> None:
        super().__init__()
        self.client = client
        self.snapshot = first
        self.refresh_seconds = refresh_seconds
        self.sort_key = sort
        self.reverse = False
        self.failing_since: float | None = None

    def compose(self) -> ComposeResult:
        """Summary, alert bar, the GPU table, status line, key help."""
        yield Static(id="summary")
        yield Static(id="alerts")
        yield DataTable(zebra_stripes=True, cursor_type="row")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Draw the first snapshot, then poll."""
        self.title = "gputel top"
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.draw()
        self.set_interval(self.refresh_seconds, self.poll)

    async def poll(self) -> None:
        """One refresh, off the event loop; a failure is one status line."""
        try:
            self.snapshot = await self._fetch()
            self.failing_since = None
        except TopError as exc:
            if self.failing_since is None:
                self.failing_since = time.time()
            since = time.strftime("%H:%M:%S", time.localtime(self.failing_since))
            self.query_one("#status", Static).update(Text(
                f"{exc} (since {since}); retrying every {self.refresh_seconds:g} s, q quits",
                style="bold red"))
            return
        self.draw()

    async def _fetch(self) -> Snapshot:
        return await asyncio.to_thread(self.client.snapshot)

    def draw(self) -> None:
        """Put the snapshot on screen."""
        snap = self.snapshot
        label, _, _ = SORTS[self.sort_key]
        self.query_one("#summary", Static).update(
            cluster_line(snap.overview, self.client.node, snap.gpus))
        self.query_one("#alerts", Static).update(alert_line(snap.alerts))
        self.query_one("#status", Static).update(
            f"{self.client.base}  sorted by {label}{' (reversed)' if self.reverse else ''}  "
            f"updated {time.strftime('%H:%M:%S')}")
        table = self.query_one(DataTable)
        table.clear()
        for r in sorted_rows(snap.gpus, self.sort_key, self.reverse):
            table.add_row(r.node, str(r.index), bar(r.util, 100, fmt(r.util, 1, "%")),
                          bar(r.mem_percent, 100, fmt(r.mem_used / 2**30, 1, "GiB")),
                          bar(r.power, 700, fmt(r.power, 1, "W")),
                          fmt(r.temperature, 1, "°C"), r.holders)

    def action_sort(self, key: str) -> None:
        """Sort by `key` (one of SORTS)."""
        self.sort_key = key
        self.draw()

    def action_reverse(self) -> None:
        """Flip the order."""
        self.reverse = not self.reverse
        self.draw()


def add_parser(sub: Any, env: Mapping[str, str]) -> None:
    """The `top` subcommand's flags."""
    top = sub.add_parser("top", help="the cluster's GPUs in a terminal, every second")
    o.add(top, env, "--collector", "http://localhost:8080",
          "collector HTTP address (the API's, not gRPC's)")
    o.add(top, env, "--node", "", "show only this node's GPUs ('' for every node)")
    o.add(top, env, "--token-file", "", f"file whose first line is an API token (else "
          f"${TOKEN_ENV})")
    o.add(top, env, "--interval", "1s", "time between refreshes", o.duration(0.1, 3600))
    o.add(top, env, "--sort", "n", "first sort key: n node, u util, m memory, p power, "
          "t temp, h holder", choices=tuple(SORTS))
    o.add(top, env, "--log-level", "warning", "log level (logs go to stderr, under the view)",
          choices=("debug", "info", "warning", "error"))


def read_token(token_file: str, env: Mapping[str, str]) -> str | None:
    """The API token: --token-file's first line, else $GPUTEL_API_TOKEN, else none."""
    if token_file:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise TopError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
        return lines[0].strip() if lines and lines[0].strip() else None
    return env.get(TOKEN_ENV) or None


def base_url(text: str) -> str:
    """host:port -> http://host:port (a scheme given is kept)."""
    return text if "://" in text else f"http://{text}"


def run_top(args: argparse.Namespace) -> int:
    """Check the collector answers, then run the terminal view until `q`."""
    try:
        token = read_token(args.token_file, os.environ)
    except TopError as exc:
        o.die(f"top: {exc}")
    client = Client(base_url(args.collector), token, args.node or None)
    try:
        first = client.snapshot()
        if args.node and not first.gpus:
            raise TopError(f"node {args.node!r} has no GPUs at {client.base}")
        TopApp(client, first, args.interval, args.sort).run()
    except TopError as exc:
        o.die(f"top: {exc}")
    finally:
        client.close()
    return 0
