"""The web console in headless Chromium (Debian's chromium and chromium-driver, driven by
selenium) against a running `gputel up` with tokens on: every page shows the API's numbers,
overview -> heatmap -> node -> workload by clicks and by keys, an alert acknowledged with
the admin token (refused with the read token), screenshots for the README."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.conftest import ADMIN_TOKEN, READ_TOKEN
from tests.harness.up import UpProcess

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
WORKLOAD = "ml-research/llm-pretrain-0"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    assert CHROMIUM, "chromium is needed (scripts/install-test-deps.sh installs it)"
    assert CHROMEDRIVER, "chromium-driver is needed (scripts/install-test-deps.sh installs it)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
        problems = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
                    and " 401 " not in e["message"] and " 403 " not in e["message"]]
        assert not problems, problems  # no script error, no CSP violation
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def console(browser: WebDriver, up: UpProcess) -> WebDriver:
    """The console, logged in with the read token through its login field."""
    browser.get(up.base + "/")
    _wait(browser, lambda d: "needs an API token" in d.find_element(By.ID, "error").text)
    browser.find_element(By.ID, "token").send_keys(READ_TOKEN, Keys.ENTER)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-key=totalNodes]"))
    assert browser.execute_script("return sessionStorage.getItem('gputel.token')") == READ_TOKEN
    return browser


def _wait(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 15) -> Any:
    """Until `condition` holds; an element the page redrew meanwhile is looked up again."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _click(driver: WebDriver, css: str = "", link_text: str = "") -> None:
    """Click an element the page may be redrawing (found afresh until the click lands)."""
    def click(d: WebDriver) -> bool:
        (d.find_element(By.LINK_TEXT, link_text) if link_text
         else d.find_element(By.CSS_SELECTOR, css)).click()
        return True
    WebDriverWait(driver, 10, poll_frequency=0.1,
                  ignored_exceptions=(StaleElementReferenceException,
                                      NoSuchElementException)).until(click)


def _open(driver: WebDriver, fragment: str, ready_css: str) -> None:
    driver.execute_script("location.hash = arguments[0]", fragment)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ready_css))


def _shown(driver: WebDriver, scope_css: str = "main") -> dict[str, dict[str, str]]:
    """{row id (data-id, '' outside rows): {data-key: data-value}} of what the page shows."""
    return driver.execute_script("""
        const out = {};
        for (const el of document.querySelectorAll(arguments[0] + ' [data-key][data-value]')) {
          const row = el.closest('[data-id]');
          const id = row ? row.dataset.id : '';
          (out[id] = out[id] || {})[el.dataset.key] = el.dataset.value;
        }
        return out;""", scope_css)


def _num(value: object) -> float | None:
    return None if value is None or value == "null" else float(value)  # type: ignore[arg-type]


def _same(shown: dict[str, str], expected: dict[str, Any]) -> bool:
    return all(k in shown and _num(shown[k]) == _num(v) for k, v in expected.items())


def _settle(page: Callable[[], Any], api: Callable[[], Any], timeout: float = 10) -> Any:
    """Poll until the page shows what the API answers; fail showing both."""
    deadline = time.monotonic() + timeout
    while True:
        expected, shown = api(), page()
        if shown == expected:
            return shown
        if time.monotonic() > deadline:
            assert shown == expected
        time.sleep(0.1)


def _screenshot(driver: WebDriver, name: str, tmp: Path, docs: Path | None) -> None:
    path = tmp / f"console-{name}.png"
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(900, height + 140), 2400))  # the whole page
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(1400, 900)
    assert path.stat().st_size > 10_000  # a page was drawn, not a blank
    if docs is not None:
        docs.mkdir(exist_ok=True)
        shutil.copy(path, docs / path.name)


def _watch_once(up: UpProcess, **params: Any) -> dict[str, Any]:
    """The first update of GET /api/v1/watch (Server-Sent Events)."""
    headers = {"Authorization": f"Bearer {READ_TOKEN}"}
    with httpx.stream("GET", f"{up.base}/api/v1/watch", params=params, headers=headers,
                      timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                return json.loads(line[6:])  # type: ignore[no-any-return]
    raise AssertionError("the stream ended without an update")


OVERVIEW_KEYS = ("totalNodes", "healthyNodes", "faultyNodes", "fullyIdleNodes",
                 "partiallyIdleNodes", "totalGpus", "allocatedGpus", "lostGpus",
                 "gpuUtilization", "powerWatts", "activeAlerts")


def test_overview_shows_the_apis_tiles_and_nodes(console: WebDriver, up: UpProcess,
                                                 tmp_path: Path, docs_dir: Path | None) -> None:
    _open(console, "#/", "[data-key=totalNodes]")

    def api() -> dict[str, Any]:
        o, nodes = up.api("/overview"), up.api("/nodes")
        tiles = {k: o[k] for k in OVERVIEW_KEYS} | {"busyGpus": sum(n["gpusBusy"] for n in nodes)}
        rows = {n["name"]: {k: n[k] for k in ("gpuCount", "gpusAllocated", "gpusBusy",
                                               "gpusLost", "gpuUtilization", "powerWatts")}
                for n in nodes}
        return {"": tiles, **rows}

    with up.frozen():
        shown = _settle(lambda: _typed(_shown(console)), lambda: _typed(api()))
        power = console.find_element(By.CSS_SELECTOR, ".tiles [data-key=powerWatts]").text
        assert power == f"{float(shown['']['powerWatts']):.1f} W"
    assert shown[""]["totalGpus"] == 4.0
    _wait(console, lambda d: "over" in d.find_element(By.ID, "util-caption").text)
    _screenshot(console, "overview", tmp_path, docs_dir)


def _typed(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    return {r: {k: _num(v) for k, v in values.items()} for r, values in rows.items()}


def test_heatmap_shows_each_gpus_live_window_and_holder(
        console: WebDriver, up: UpProcess, tmp_path: Path, docs_dir: Path | None) -> None:
    _open(console, "#/heatmap?metric=power", "a.cell [data-key=power]")

    def page() -> dict[str, tuple[float | None, str]]:
        cells = console.execute_script("""return [...document.querySelectorAll('a.cell')].map(
            (a) => [a.dataset.gpu, a.querySelector('[data-value]').dataset.value,
                    a.querySelector('small').textContent]);""")
        return {gpu: (_num(value), holder) for gpu, value, holder in cells}

    def api() -> dict[str, tuple[float | None, str]]:
        update = _watch_once(up, metric="power", interval="1s")
        holders = {g["uuid"]: ", ".join(h["workload"] for h in g["heldBy"]) or "nobody"
                   for g in up.api("/gpus")}
        return {d["gpu"]: (d["metrics"]["power"]["avg"], holders[d["gpu"]])
                for d in update["devices"]}

    with up.frozen():
        shown = _settle(page, api)
    assert len(shown) == 4
    cell = console.find_element(By.CSS_SELECTOR, "a.cell")
    assert "held by" in cell.get_attribute("aria-label")  # colour has a text alternative
    assert cell.get_attribute("title") == cell.get_attribute("aria-label")  # hover too
    _screenshot(console, "heatmap", tmp_path, docs_dir)


def test_node_page_shows_inventory_and_full_rate_charts(
        console: WebDriver, up: UpProcess, tmp_path: Path, docs_dir: Path | None) -> None:
    _open(console, "#/node/laptop", "tr[data-id] [data-key=memoryTotalBytes]")

    def api() -> dict[str, dict[str, Any]]:
        gpus = up.api("/nodes/laptop")["gpus"]
        return _typed({g["uuid"]: {"index": g["index"], "memoryTotalBytes": g["memoryTotalBytes"],
                                   "gpu_util": g["latest"]["gpu_util"],
                                   "power": g["latest"]["power"],
                                   "temperature": g["latest"]["temperature"]} for g in gpus})

    with up.frozen():
        shown = _settle(lambda: _typed(_shown(console, "table[aria-label='GPU inventory']")), api)
    assert len(shown) == 4
    # One chart per GPU at the agent's own rate (10 Hz): 2 minutes hold ~1,200 points.
    _wait(console, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".charts figure canvas")) == 4)
    caption = console.find_element(By.CSS_SELECTOR, ".charts figcaption").text
    assert "points" in caption, caption
    assert "full resolution" in console.find_element(By.ID, "resolution").text
    _screenshot(console, "node", tmp_path, docs_dir)
    # Zoomed out: coarser points, drawn as a mean line with a min/max band.
    _open(console, "#/node/laptop?window=1h", ".charts figure canvas")
    assert "band = min to max" in console.find_element(By.ID, "resolution").text


def test_workload_page_shows_usage_cost_and_gpus(
        console: WebDriver, up: UpProcess, tmp_path: Path, docs_dir: Path | None) -> None:
    _open(console, "#/workload/" + WORKLOAD.replace("/", "%2F"), "[data-key=gpuHours]")

    def api() -> dict[str, dict[str, Any]]:
        w = up.api("/workloads/" + WORKLOAD)
        cost = next(c for c in up.api("/cost", days=7)["byWorkload"] if c["key"] == WORKLOAD)
        keys = ("gpus", "utilizationPercent", "powerWatts", "energyKilowattHours", "gpuHours",
                "gpuSecondsBusy")
        return _typed({"": {**{k: w[k] for k in keys}, "totalCost": cost["totalCost"]}})

    with up.frozen():
        _settle(lambda: _typed(_shown(console, "dl.facts")), api)
    _wait(console, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-id] [data-key=power]"))
          == 2)  # its two GPUs, live through /api/v1/watch
    _screenshot(console, "workload", tmp_path, docs_dir)


def test_namespaces_page_shows_gpu_hours_busy_share_and_cost(
        console: WebDriver, up: UpProcess, tmp_path: Path, docs_dir: Path | None) -> None:
    _open(console, "#/namespaces", "table[aria-label=Namespaces] tr[data-id]")

    def api() -> dict[str, dict[str, Any]]:
        costs = {c["key"]: c["totalCost"] for c in up.api("/cost", days=7)["byNamespace"]}
        return _typed({n["namespace"]: {
            "workloads": n["workloads"], "running": n["running"], "gpus": n["gpus"],
            "gpuHours": n["gpuHours"], "busyGpuHours": n["busyGpuHours"],
            "busyShare": 100 * n["busyGpuHours"] / n["gpuHours"] if n["gpuHours"] else None,
            "energyKilowattHours": n["energyKilowattHours"], "totalCost": costs[n["namespace"]]}
            for n in up.api("/namespaces")})

    with up.frozen():
        shown = _settle(lambda: _typed(_shown(console, "table[aria-label=Namespaces]")), api)
    assert set(shown) == {"ml-research", "inference"}
    _screenshot(console, "namespaces", tmp_path, docs_dir)


def test_click_through_overview_heatmap_node_workload(console: WebDriver, up: UpProcess) -> None:
    _open(console, "#/", "[data-key=totalNodes]")
    console.find_element(By.LINK_TEXT, "Heatmap").click()
    _wait(console, lambda d: d.find_elements(By.CSS_SELECTOR, "a.cell"))
    gpu0 = console.find_element(By.CSS_SELECTOR, "a.cell[data-cell='0:0']")
    _wait(console, lambda d: WORKLOAD in gpu0.get_attribute("aria-label"))  # holders loaded
    gpu0.click()
    _wait(console, lambda d: d.execute_script("return location.hash") == "#/node/laptop?gpu=0")
    _click(console, f"tr[aria-current=true] a[href='#/workload/{WORKLOAD.replace('/', '%2F')}']")
    _wait(console, lambda d: d.find_element(By.TAG_NAME, "h1").text == f"Workload {WORKLOAD}")


def test_keys_move_between_pages_and_across_the_heatmap(console: WebDriver) -> None:
    _open(console, "#/", "[data-key=totalNodes]")
    console.find_element(By.TAG_NAME, "body").send_keys("2")
    first = _wait(console, lambda d: d.find_element(By.CSS_SELECTOR, "a.cell[data-cell='0:0']"))
    first.send_keys(Keys.ARROW_RIGHT)
    assert console.switch_to.active_element.get_attribute("data-cell") == "0:1"
    console.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(console, lambda d: d.execute_script("return location.hash") == "#/node/laptop?gpu=1")


def test_acknowledge_an_alert_needs_the_admin_token(
        console: WebDriver, up: UpProcess, tmp_path: Path, docs_dir: Path | None) -> None:
    # An over-temperature alert: a training GPU stays past 34 C, while an idle-allocation
    # alert may resolve between the page's poll and the API's answer.
    stable = "button[data-ack^='over_temperature:']"
    _open(console, "#/alerts", stable)
    alert_id = console.find_element(By.CSS_SELECTOR, stable).get_attribute("data-ack")
    firing = {a["id"] for a in up.api("/alerts", state="firing")}
    assert alert_id in firing
    _screenshot(console, "alerts", tmp_path, docs_dir)
    # The read token may look, not acknowledge: the page says why.
    _click(console, f"button[data-ack='{alert_id}']")
    _wait(console, lambda d: "admin token" in d.find_element(By.ID, "error").text)
    assert _acknowledged_by(up, alert_id) is None
    token = console.find_element(By.ID, "token")
    token.clear()
    token.send_keys(ADMIN_TOKEN, Keys.ENTER)
    _open(console, "#/alerts", f"button[data-ack='{alert_id}']")
    by = console.find_element(By.ID, "ack-by")
    by.clear()
    by.send_keys("ops-on-call")
    _click(console, f"button[data-ack='{alert_id}']")
    cell = f"tr[data-id='{alert_id}'] [data-key=acknowledgedBy]"
    _wait(console, lambda d: d.find_element(By.CSS_SELECTOR, cell).text.startswith("ops-on-call"))
    assert _acknowledged_by(up, alert_id) == "ops-on-call"
    assert not console.find_elements(By.CSS_SELECTOR, f"button[data-ack='{alert_id}']")


def _acknowledged_by(up: UpProcess, alert_id: str) -> str | None:
    alert = next(a for a in up.api("/alerts", state="all") if a["id"] == alert_id)
    return alert["acknowledgedBy"]  # type: ignore[no-any-return]


def test_the_console_page_is_served_without_a_token_and_locked_down(up: UpProcess) -> None:
    page = httpx.get(up.base + "/", timeout=10)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/console/app.js"' in page.text
    for asset in ("app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.LICENSE"):
        assert httpx.get(f"{up.base}/console/{asset}", timeout=10).status_code == 200, asset
    assert httpx.get(f"{up.base}/console/nope.js", timeout=10).status_code == 404
    # The data behind it still needs the token.
    assert httpx.get(f"{up.base}/api/v1/overview", timeout=10).status_code == 401
