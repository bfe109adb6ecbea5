"""The benchmark suite at tiny size, so it cannot rot: every row gives its figures against
Prometheus and the results file and README table are written. No timing is asserted.

Needs Debian's prometheus, promtool and victoria-metrics (scripts/install-test-deps.sh);
without them the test fails saying so, never skips.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from benchmarks.suite.__main__ import main
from benchmarks.suite.report import BEGIN, END
from benchmarks.suite.rows import ROWS
from tests.prometheus.promserver import INSTALL_HINT

pytestmark = pytest.mark.slow
NUMBER = re.compile(r"\d")


@pytest.mark.timeout(180)
def test_every_row_gives_a_number_and_the_report_is_written(tmp_path: Path) -> None:
    for tool in ("prometheus", "promtool", "victoria-metrics"):
        if shutil.which(tool) is None and not Path(f"/usr/bin/{tool}").exists():
            pytest.fail(f"{tool} is not installed: {INSTALL_HINT}", pytrace=False)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\n{BEGIN}\nold table\n{END}\n\nafter\n")

    code = main(["--size", "tiny", "--runs", "1", "--out", str(tmp_path / "results"),
                 "--readme", str(readme), "--profile", "5"])

    (results,) = (tmp_path / "results").glob("*.md")
    text = results.read_text()
    assert code == 0, text
    table = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    rows = table[1:]
    keys = {"ingest": "ingest:", "at_rest": "at rest:", "query": "query:", "scale": "scale:",
            "restart": "restart:", "freshness": "freshness:", "wire": "wire:",
            "scaleout": "scale-out:"}
    assert set(keys) == set(ROWS)
    for key, title in keys.items():
        mine = [r for r in rows if r.startswith(f"| {title}")]
        assert mine, f"no row for {key} in:\n{text}"
        for row in mine:
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert NUMBER.search(cells[2]), f"{key}: no gputel figure in {row}"
            if key not in ("scale", "freshness"):
                assert NUMBER.search(cells[3]), f"{key}: no Prometheus figure in {row}"
            assert cells[6].startswith("`.venv/bin/python -m benchmarks.suite"), row
    assert len([r for r in rows if r.startswith("| query:")]) == 3
    assert [r.split("|")[1].strip() for r in rows if r.startswith("| ingest:")] == [
        "ingest: samples acknowledged per CPU-second", "ingest: the same at 100 Hz"]
    assert "(6,400 a frame)" in text  # the 100 Hz row's samples are 100 Hz frames
    assert "## Profile of the ingest row" in text
    assert "## Profile of the scale row at 5 nodes" in text
    after = readme.read_text()
    assert "old table" not in after
    assert after.count(BEGIN) == 1
    assert after.endswith("after\n")
    assert table[0] in after
