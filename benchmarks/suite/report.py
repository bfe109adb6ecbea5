"""The suite's output: `results/<date>.md` with every figure and how it was made, and the
table between the markers in `benchmarks/README.md`."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.suite.procs import binary
from benchmarks.suite.rows import Row

BEGIN, END = "<!-- suite-table:begin -->", "<!-- suite-table:end -->"
# Rows whose goal is absolute: their ratio column is the figure over the goal.
AGAINST_GOAL = {"scale", "freshness"}


@dataclass(frozen=True, slots=True)
class Run:
    """How the suite was run: for the header and each row's reproduction command."""

    date: str
    size: str
    runs: int
    note: str
    results_name: str

    def command(self, row: Row) -> str:
        """The command that reproduces one row."""
        key = "query" if row.key.startswith("query_") else row.key
        return (f"`.venv/bin/python -m benchmarks.suite --size {self.size} --rows {key} "
                f"--runs {self.runs}`")


def ratio_text(row: Row) -> str:
    """The ratio column: against Prometheus, or against the goal for absolute rows."""
    if row.ratio is None:
        return "-"
    return f"{row.ratio:.2f} of goal" if row.key in AGAINST_GOAL else f"{row.ratio:.2f}x"


def table(rows: Sequence[Row], run: Run) -> list[str]:
    """The markdown table: goal, gputel, peer, ratio, verdict, command."""
    out = ["| row | goal | gputel | Prometheus 2.42 | ratio | verdict | command |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {r.title} | {r.goal} | {r.gputel} | {r.peer} | {ratio_text(r)} | "
            f"{r.verdict} | {run.command(r)} |" for r in rows]
    return out


def machine() -> str:
    """One line about where it ran: cores, load, Python, Prometheus, commit."""
    version = subprocess.run([binary("prometheus"), "--version"], capture_output=True,
                             text=True, check=False).stdout.split("\n")[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), load "
            f"average at the end {load}; Python {platform.python_version()}; {version}; "
            f"commit {commit}")


def results_file(rows: Sequence[Row], run: Run, profiles: Mapping[str, Sequence[str]],
                 errors: Sequence[str]) -> str:
    """The whole results/<date>.md."""
    lines = [f"# The benchmark suite, side by side with Prometheus: {run.date}", "",
             f"Size `{run.size}`, medians of {run.runs} runs where a row repeats. "
             f"{machine()}.", ""]
    if run.note:
        lines += [run.note, ""]
    lines += ["Command: `.venv/bin/python -m benchmarks.suite "
              f"--size {run.size} --runs {run.runs}`", "", *table(rows, run), ""]
    for row in rows:
        lines += [f"## {row.title}", "", *(f"- {d}" for d in row.details), ""]
    if errors:
        lines += ["## Rows that failed", "", *(f"- {e}" for e in errors), ""]
    for title, profile in profiles.items():
        lines += [f"## Profile of {title} (cProfile, every collector thread, "
                  "top entries by own time)", "", "```", *profile, "```", ""]
    return "\n".join(lines)


def update_readme(readme: Path, rows: Sequence[Row], run: Run) -> None:
    """Replace the table between BEGIN and END (appending a section when absent)."""
    block = "\n".join([BEGIN, f"Latest: [results/{run.results_name}](results/"
                       f"{run.results_name}), size `{run.size}`, {run.date}. {run.note}".rstrip(),
                       "", *table(rows, run), END])
    text = readme.read_text() if readme.exists() else ""
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text,
                      flags=re.DOTALL)
    else:
        text = (text.rstrip() + "\n\n## Side by side with Prometheus\n\n" + block + "\n")
    readme.write_text(text)
