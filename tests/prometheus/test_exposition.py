"""The fast text renderer, the per-scraper tick window, pod labels and the dcgm-exporter mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gputel.agent.backends.base import Buffered
from gputel.agent.exporter import TickWindow
from gputel.proto.prometheus import exposition
from tests.prometheus.helpers import gpu_exporter
from tests.prometheus.promserver import promtool_check

NAN = float("nan")


def _parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def test_values_and_label_values_are_written_as_the_format_requires() -> None:
    series = exposition.prefixes("x_watts", [
        [("pod", 'a"b'), ("gpu", "0")], [("pod", "back\\slash\nnewline")], [("empty", "")]])
    text = exposition.header("x_watts", "gauge", "Help with \\ and\nnewline.") + \
        exposition.render_samples(series, np.array([math.inf, -math.inf, 1.5]))
    assert 'x_watts{gpu="0",pod="a\\"b"} +Inf\n' in text
    assert 'x_watts{pod="back\\\\slash\\nnewline"} -Inf\n' in text
    assert "x_watts 1.5\n" in text
    assert "# HELP x_watts Help with \\\\ and\\nnewline.\n" in text
    parsed = _parse(text)["x_watts"]
    assert parsed[0] == ({"gpu": "0", "pod": 'a"b'}, math.inf)
    assert parsed[1] == ({"pod": "back\\slash\nnewline"}, -math.inf)
    assert exposition.render_samples(series, np.array([NAN, 2.0, NAN])) == "x_watts{pod=" \
        '"back\\\\slash\\nnewline"} 2.0\n'
    assert exposition.format_value(NAN) == "NaN"
    with pytest.raises(ValueError, match="invalid metric name"):
        exposition.header("bad-name", "gauge", "")


def test_the_window_keeps_each_scrapers_extremes_and_forgets_idle_scrapers() -> None:
    clock = [0.0]
    window = TickWindow(2, 1, max_scrapers=2, expiry_seconds=60, monotonic=lambda: clock[0])
    assert window.view("a") is None  # no tick yet
    window.observe(1, np.array([[1.0], [5.0]], dtype=np.float32))
    first = window.view("a")
    assert first is not None
    assert first.max.tolist() == [[1.0], [5.0]]  # a first scrape sees the value in force
    window.observe(2, np.array([[9.0], [NAN]], dtype=np.float32))  # a field failed: NaN
    window.observe(3, np.array([[2.0], [4.0]], dtype=np.float32))
    view = window.view("a")
    assert view is not None
    assert view.max.tolist() == [[9.0], [5.0]]
    assert view.min.tolist() == [[1.0], [4.0]]
    assert view.latest.tolist() == [[2.0], [4.0]]
    again = window.view("a")  # nothing new: the value in force since the last scrape
    assert again is not None
    assert again.max.tolist() == [[2.0], [4.0]]
    b = window.view("b")
    assert b is not None
    assert b.max.tolist() == [[2.0], [4.0]]
    clock[0] = 30.0
    window.view("c")  # full: "a" and "b" were seen at 0; the first found goes
    assert window.scrapers == 2
    clock[0] = 100.0
    window.view("d")  # "c" was seen 70 s ago: forgotten
    assert window.scrapers == 1


def test_buffered_samples_count_and_stale_values_disappear() -> None:
    window = TickWindow(1, 2, stale_seconds=1.0)
    window.observe(0, np.array([[1.0, 5.0]], dtype=np.float32))
    window.view("s")
    buffered = Buffered(0, 1, np.array([10, 20, 30], dtype=np.int64) * 10**6,
                        np.array([3.0, 7.0, NAN], dtype=np.float32))
    window.observe(40 * 10**6, np.array([[1.0, NAN]], dtype=np.float32), [buffered])
    view = window.view("s")
    assert view is not None
    assert view.latest.tolist() == [[1.0, 7.0]]
    assert view.max.tolist() == [[1.0, 7.0]]
    assert view.min.tolist() == [[1.0, 3.0]]
    window.observe(3 * 10**9, np.array([[NAN, NAN]], dtype=np.float32))  # the GPU fell off
    gone = window.view("s")
    assert gone is not None
    assert np.isnan(gone.latest).all()
    assert not gone.up[0]


def test_gpu_series_carry_the_largest_holder_and_every_share() -> None:
    holders: dict[int, list[tuple[str, str, str, float]]] = {
        0: [("small", "ns", "c", 0.25), ("big", "ns", "c", 0.75)]}
    exporter, values, metrics = gpu_exporter(holders)
    parsed = _parse(exporter.render("s"))
    power = {s[0]["gpu"]: s for s in parsed["gputel_gpu_power_watts"]}
    assert power["0"][0]["pod"] == "big"
    assert power["0"][0]["model"] == 'H100 "SXM"'
    assert "pod" not in power["1"][0]  # unattributed: the label is left out, not empty
    assert power["1"][1] == float(values[1, metrics.index("power")]) / 1000  # mW -> W
    shares = sorted((s[0]["pod"], s[1]) for s in parsed["gputel_gpu_workload_share"])
    assert shares == [("big", 0.75), ("small", 0.25)]
    holders.clear()  # the pods are gone: so are their labels and shares
    parsed = _parse(exporter.render("s"))
    assert all("pod" not in s[0] for s in parsed["gputel_gpu_power_watts"])
    assert "gputel_gpu_workload_share" not in parsed


def test_a_failing_holder_read_fails_the_scrape_instead_of_dropping_pod_labels() -> None:
    """Issue 12: a broad except turned a data race into scrapes silently missing pod labels."""
    calls = [0]

    def broken() -> dict[int, list[tuple[str, str, str, float]]]:
        calls[0] += 1
        raise RuntimeError("dictionary changed size during iteration")

    exporter, _, _ = gpu_exporter(broken)
    with pytest.raises(RuntimeError, match="changed size"):
        exporter.render("s")
    assert calls[0] == 1


def test_dcgm_mode_uses_dcgm_exporter_names_units_and_labels() -> None:
    exporter, values, metrics = gpu_exporter({1: [("p", "ns", "c", 1.0)]}, compat="dcgm")
    text = exporter.render("s")
    parsed = _parse(text)
    fb = {s[0]["gpu"]: s for s in parsed["DCGM_FI_DEV_FB_USED"]}
    assert fb["0"][1] == float(values[0, metrics.index("mem_used")]) / 2**20  # MiB
    assert "\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{" in text  # a counter without _total
    energy = {s[0]["gpu"]: s[1] for s in parsed["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total"]}
    assert energy["0"] == float(values[0, metrics.index("energy")])  # mJ, as the driver counts
    clock = {s[0]["gpu"]: s[1] for s in parsed["DCGM_FI_DEV_SM_CLOCK"]}
    assert clock["0"] == float(values[0, metrics.index("sm_clock")])  # MHz
    labels = fb["1"][0]
    assert set(labels) == {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname",
                           "pod", "namespace", "container"}
    assert (labels["Hostname"], labels["device"], labels["pod"]) == ("n", "nvidia1", "p")
    assert "gputel_gpu_power_watts" in parsed  # gputel's own names stay
    _, complaints = promtool_check(text)  # only dcgm-exporter's own naming habits
    for line in complaints.splitlines():
        assert line.startswith("DCGM_FI_DEV_"), line
    with pytest.raises(ValueError, match="compatibility"):
        gpu_exporter(compat="nvidia")
