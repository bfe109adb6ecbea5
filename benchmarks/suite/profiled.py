"""Run a command-line entry point under cProfile in every thread; write the merged stats.

    python -m benchmarks.suite.profiled OUT.prof -- collector --data-dir ...

runs `gputel.cli.main` with the arguments after `--` (as `python -m gputel.cli` would),
with one cProfile.Profile per thread (the collector decodes and writes in worker threads,
which a plain `python -m cProfile` would not see), and dumps them merged to OUT.prof when
it returns (SIGTERM makes the collector return).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_in_thread(frame: FrameType, event: str, arg: Any) -> None:
    """The first profile event of a new thread: hand the thread to its own Profile."""
    profile = cProfile.Profile()
    with _lock:
        _profiles.append(profile)
    profile.enable()


# Where idle threads wait: their "own time" is waiting, not work, so `top` leaves them out.
WAITS = ("acquire' of '_thread.lock", "'get' of '_queue.SimpleQueue", "'poll' of 'select.",
         "built-in method time.sleep", "'select' of 'select.", "'control' of 'select.")


def top(path: Path, n: int) -> list[str]:
    """The n entries with the most own time (tottime) of a stats file, blocking waits left
    out (WAITS), as printed lines: calls, own s, cumulative s, function."""
    stats = pstats.Stats(str(path), stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(filename).name}:{line}({name})" if line else name
        if not any(w in where for w in WAITS):
            rows.append((own, cumulative, calls, where))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    return [f"{'calls':>9} {'own s':>8} {'cum s':>8}  function (own time in all: {total:.2f} s)",
            *(f"{calls:>9} {own:8.3f} {cum:8.3f}  {where}" for own, cum, calls, where in rows[:n])]


def main() -> None:
    """Profile `gputel.cli.main` with the arguments after `--`."""
    out, args = Path(sys.argv[1]), sys.argv[sys.argv.index("--") + 1:]
    from gputel.cli.main import main as gputel_main  # noqa: PLC0415

    threading.setprofile(_start_in_thread)
    main_profile = cProfile.Profile()
    _profiles.append(main_profile)
    main_profile.enable()
    try:
        gputel_main(args)
    except SystemExit:
        pass
    finally:
        threading.setprofile(None)
        for profile in _profiles:
            profile.disable()
        stats = pstats.Stats(main_profile)
        for profile in _profiles[1:]:
            with contextlib.suppress(TypeError):  # a thread that never ran Python code
                stats.add(profile)
        stats.dump_stats(str(out))


if __name__ == "__main__":
    main()
