"""RFC 3339 times as the HTTP API writes them: the vectorised form equals the one by one."""

from __future__ import annotations

import numpy as np

from gputel.collector.timefmt import format_time, format_times


def test_times_of_an_array_are_written_as_one_by_one() -> None:
    rng = np.random.default_rng(13)
    edges = [0, 1, -1, 10**9, -(10**9), 10, 100_000_000, 1_795_952_650_550_483_393,
             1_795_952_650_000_000_000, 1_795_952_650_500_000_000, 2**63 - 1,
             -(2**63) + 10**9]
    ts = np.concatenate([np.array(edges, np.int64),
                         rng.integers(-(2**62), 2**62, 5_000),  # 1823 .. 2116
                         rng.integers(-(2**32), 2**32, 1_000) * 10**9,  # whole seconds
                         rng.integers(0, 2**50, 1_000) * 1_000,  # whole microseconds
                         rng.integers(0, 2**40, 1_000) * 10**8])  # tenths, as a 10 Hz grid
    assert format_times(ts) == [format_time(t) for t in ts.tolist()]


def test_the_fraction_keeps_its_digits_and_drops_trailing_zeros() -> None:
    s = 1_700_000_000 * 10**9
    got = format_times(np.array([s, s + 500_000_000, s + 1, s + 120_000], np.int64))
    assert got == ["2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5Z",
                   "2023-11-14T22:13:20.000000001Z", "2023-11-14T22:13:20.00012Z"]
    assert format_times(np.empty(0, np.int64)) == []
