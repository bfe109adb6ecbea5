/* gputel console: one page, hash routes, only the public /api/v1 routes (what any client
 * can call). No build step, no framework; charts are uPlot (vendor/). Every number shown
 * carries its API value in data-value, so tests (and users) can check it. */
"use strict";

const TOKEN_KEY = "gputel.token";
const METRICS = {
  gpu_util: { label: "utilization", unit: "%", digits: 1, max: 100 },
  mem_util: { label: "memory", unit: "%", digits: 1, max: 100 },
  power: { label: "power", unit: "W", digits: 1, max: 700 },
  temperature: { label: "temperature", unit: "°C", digits: 1, max: 95 },
  mem_used: { label: "memory used", unit: "GiB", digits: 1, scale: 2 ** -30 },
};
const HEAT_METRICS = ["gpu_util", "power", "temperature", "mem_util"];
const WINDOWS = { "2m": 120, "5m": 300, "30m": 1800, "1h": 3600 };
const CHART_POINTS = 3000; // most points per series drawn; coarser windows get min/max bands

/* ---------- DOM and formatting ---------- */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c !== null && c !== undefined && c !== false) {
      el.append(c instanceof Node ? c : String(c));
    }
  }
  return el;
}

function fixed(v, digits) {
  return v === null || v === undefined || Number.isNaN(v) ? "—" : Number(v).toFixed(digits);
}

/* A number as text plus its API value in data-value (and a key tests can find). */
function num(key, v, digits, unit, scale) {
  const shown = v === null || v === undefined ? v : v * (scale || 1);
  const text = fixed(shown, digits) + (unit && v !== null && v !== undefined ? " " + unit : "");
  return h("span", { "data-key": key, "data-value": v === null ? "null" : v }, text);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "—";
}

function statusText(status) {
  const mark = { healthy: "●", degraded: "▲", unreachable: "✖", lost: "✖", allocated: "●",
                 available: "○", firing: "▲", resolved: "✔" }[status] || "";
  return h("span", { class: "status-" + status }, `${mark} ${status}`);
}

function link(href, text, attrs) {
  return h("a", { href, ...attrs }, text);
}

function workloadHref(uid) {
  return "#/workload/" + encodeURIComponent(uid);
}

function nodeHref(node, gpu) {
  return "#/node/" + encodeURIComponent(node) + (gpu === undefined ? "" : "?gpu=" + gpu);
}

/* ---------- the API ---------- */

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

async function api(path, params, init) {
  const query = params ? "?" + new URLSearchParams(params).toString() : "";
  const res = await fetch("/api/v1" + path + query,
                          { ...init, headers: { ...authHeaders(), ...(init || {}).headers } });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const err = (body && body.error) || { code: "HTTP_" + res.status, message: res.statusText };
    throw new ApiError(res.status, err.code, err.message);
  }
  return body;
}

async function allPages(path, params) {
  const out = [];
  for (let page = 1; ; page++) {
    const body = await api(path, { ...params, page, pageSize: 1000 });
    out.push(...body.data);
    if (out.length >= body.meta.total || body.data.length === 0) return out;
  }
}

/* Server-Sent Events from /api/v1/watch, read with fetch so the token travels in a header
 * (EventSource cannot send one). Reconnects after 2 s until `signal` aborts. */
async function watch(params, onUpdate, signal) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const item of [].concat(v)) qs.append(k, item);
  }
  while (!signal.aborted) {
    try {
      const res = await fetch("/api/v1/watch?" + qs, { headers: authHeaders(), signal });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        const err = (body && body.error) || { code: "HTTP_" + res.status, message: "" };
        throw new ApiError(res.status, err.code, err.message);
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = parseEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (event.type === "update") onUpdate(JSON.parse(event.data));
          if (event.type === "error") {
            const e = JSON.parse(event.data).error;
            throw new ApiError(404, e.code, e.message);
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      report(e);
      if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function parseEvent(block) {
  const event = { type: "message", data: "" };
  for (const line of block.split("\n")) {
    const at = line.indexOf(":");
    if (at <= 0) continue;
    const field = line.slice(0, at);
    const value = line.slice(at + 1).replace(/^ /, "");
    if (field === "event") event.type = value;
    if (field === "data") event.data += value;
  }
  return event;
}

/* ---------- page life: errors, live badge, polling ---------- */

function report(e) {
  const box = document.getElementById("error");
  if (!e) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  let text = e.message || String(e);
  if (e.status === 401) {
    text = "This collector needs an API token: enter it above. (" + text + ")";
    document.getElementById("token").focus();
  } else if (e.status === 403) {
    text = "Your token may not do this (an admin token is needed): " + text;
  } else if (e instanceof TypeError) {
    text = "The collector does not answer (" + text + "); retrying.";
  }
  box.textContent = text;
  box.hidden = false;
}

function markLive() {
  document.getElementById("live").textContent = "live · " + new Date().toLocaleTimeString();
}

/* Run `fn` now and every `ms` until the page changes; errors are shown, not thrown. */
function poll(page, ms, fn) {
  let timer = null;
  const tick = async () => {
    try {
      await fn();
      if (page.signal.aborted) return; // a page left meanwhile says nothing
      report(null);
      markLive();
    } catch (e) {
      if (page.signal.aborted) return;
      report(e);
    }
    timer = setTimeout(tick, ms);
  };
  page.signal.addEventListener("abort", () => clearTimeout(timer));
  return tick();
}

function replace(el, ...children) {
  el.replaceChildren(...children.flat(Infinity));
}

/* ---------- charts (uPlot) ---------- */

function chart(container, title, unit, series, bands) {
  const width = Math.max(360, container.clientWidth - 16 || 460);
  const opts = {
    title, width, height: 200,
    scales: { x: { time: true } },
    axes: [{ stroke: "#9fb0c0", grid: { stroke: "#2c3a47" } },
           { stroke: "#9fb0c0", grid: { stroke: "#2c3a47" }, label: unit }],
    series: [{}, ...series.map((s) => ({ points: { show: false }, ...s }))],
    bands: bands || [],
  };
  const data = [[], ...series.map(() => [])];
  const plot = new uPlot(opts, data, container);
  return plot;
}

/* Text alternative of a chart: what a sighted reader takes from it. */
function summary(values, digits, unit) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  if (!finite.length) return "no samples in the window";
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const last = finite[finite.length - 1];
  return `last ${fixed(last, digits)} ${unit}, min ${fixed(min, digits)}, ` +
         `max ${fixed(max, digits)} over ${finite.length} points`;
}

function rangeStep(windowSeconds, rateHz) {
  const period = 1 / (rateHz || 10);
  return Math.max(period, windowSeconds / CHART_POINTS);
}

/* RFC 3339 (up to ns) -> Unix seconds, at the millisecond the browser parses. */
function epoch(iso) {
  return Date.parse(iso) / 1000;
}

/* ---------- pages ---------- */

async function overviewPage(page, main) {
  const tiles = h("dl", { class: "tiles", "aria-label": "Cluster now" });
  const caption = h("figcaption", { id: "util-caption" }, "Mean utilization");
  const history = h("figure", {}, caption);
  const nodes = h("div");
  replace(main, h("h1", {}, "Cluster overview"), tiles,
          h("h2", {}, "Utilization, last hour"), history, h("h2", {}, "Nodes"), nodes);
  let plot = null;
  const tile = (key, label, v, digits, unit, cls) =>
    h("div", { class: "tile " + (cls || "") }, h("dt", {}, label),
      h("dd", {}, num(key, v, digits, unit)));
  let lastHistory = 0;
  await poll(page, 2000, async () => {
    const [ov, nodeList] = await Promise.all([api("/overview"), allPages("/nodes")]);
    const o = ov.data;
    const busy = nodeList.reduce((sum, n) => sum + n.gpusBusy, 0);
    replace(tiles,
      tile("totalNodes", "Nodes", o.totalNodes, 0),
      tile("healthyNodes", "Nodes healthy", o.healthyNodes, 0),
      tile("faultyNodes", "Nodes faulty", o.faultyNodes, 0, "", o.faultyNodes ? "bad" : ""),
      tile("fullyIdleNodes", "Nodes idle", o.fullyIdleNodes, 0),
      tile("partiallyIdleNodes", "Nodes partly idle", o.partiallyIdleNodes, 0),
      tile("totalGpus", "GPUs", o.totalGpus, 0),
      tile("allocatedGpus", "GPUs allocated", o.allocatedGpus, 0),
      tile("busyGpus", `GPUs busy (≥ ${o.busyThresholdPercent} %)`, busy, 0),
      tile("lostGpus", "GPUs lost", o.lostGpus, 0, "", o.lostGpus ? "bad" : ""),
      tile("gpuUtilization", "Mean utilization", o.gpuUtilization, 1, "%"),
      tile("powerWatts", "Power", o.powerWatts, 1, "W"),
      h("div", { class: "tile " + (o.activeAlerts ? "warn" : "") }, h("dt", {}, "Active alerts"),
        h("dd", {}, link("#/alerts", num("activeAlerts", o.activeAlerts, 0)))));
    replace(nodes, nodeTable(nodeList));
    if (Date.now() - lastHistory > 10000) {
      lastHistory = Date.now();
      const hist = (await api("/utilization/history")).data;
      const xs = hist.points.map((p) => epoch(p.time));
      const ys = hist.points.map((p) => p.gpuUtilization);
      if (!plot) {
        plot = chart(history, "", "%", [{ label: "mean utilization %", stroke: "#5cb3ff" }]);
      }
      plot.setData([xs, ys]);
      history.setAttribute("aria-label", "Mean utilization: " + summary(ys, 1, "%"));
      caption.textContent =
        "Mean utilization of the GPUs reporting: " + summary(ys, 1, "%");
    }
  });
}

function nodeTable(nodeList) {
  return h("table", { "aria-label": "Nodes" },
    h("thead", {}, h("tr", {}, ["Node", "Status", "GPUs", "Allocated", "Busy", "Lost",
                                 "Utilization", "Power", "Model"].map((c) => h("th", {}, c)))),
    h("tbody", {}, nodeList.map((n) => h("tr", { "data-id": n.name },
      h("td", {}, link(nodeHref(n.name), n.name)), h("td", {}, statusText(n.status)),
      h("td", { class: "num" }, num("gpuCount", n.gpuCount, 0)),
      h("td", { class: "num" }, num("gpusAllocated", n.gpusAllocated, 0)),
      h("td", { class: "num" }, num("gpusBusy", n.gpusBusy, 0)),
      h("td", { class: "num" }, num("gpusLost", n.gpusLost, 0)),
      h("td", { class: "num" }, num("gpuUtilization", n.gpuUtilization, 1, "%")),
      h("td", { class: "num" }, num("powerWatts", n.powerWatts, 1, "W")),
      h("td", {}, n.gpuModels.join(", "))))));
}

/* Viridis-like, readable on dark; the number is always printed in the cell too. */
function colour(fraction) {
  const stops = [[43, 58, 103], [42, 120, 142], [34, 168, 132], [122, 209, 81], [253, 231, 37]];
  const f = Math.min(1, Math.max(0, fraction)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(f));
  const t = f - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

async function heatmapPage(page, main, params) {
  const metric = HEAT_METRICS.includes(params.get("metric")) ? params.get("metric") : "gpu_util";
  const m = METRICS[metric];
  const picker = h("select", { id: "heat-metric", onchange: (e) => {
    location.hash = "#/heatmap?metric=" + e.target.value;
  } }, HEAT_METRICS.map((k) => h("option", { value: k, selected: k === metric },
                                METRICS[k].label)));
  const grid = h("div", { class: "heatmap" }, h("p", { class: "muted" }, "Waiting for data…"));
  replace(main, h("h1", {}, "Heatmap: nodes × GPUs"),
    h("div", { class: "controls" }, h("label", { for: "heat-metric" }, "Colour by "), picker,
      h("span", { class: "legend", "aria-hidden": "true" },
        `0 ${m.unit}`, h("span", { class: "bar" }), `${m.max} ${m.unit}`),
      h("span", { class: "muted" }, "Each cell prints its value; hover or focus shows the holder.")),
    grid);
  let gpus = new Map();
  let latest = null;
  const draw = () => {
    if (!latest) return;
    const byNode = new Map();
    for (const d of latest.devices) {
      if (!byNode.has(d.node)) byNode.set(d.node, []);
      byNode.get(d.node).push(d);
    }
    const width = Math.max(0, ...[...byNode.values()].map((l) => Math.max(...l.map((d) => d.index)) + 1));
    const table = h("table", { "aria-label": `GPU ${m.label} per node and GPU index` },
      h("thead", {}, h("tr", {}, h("th", {}, "Node"),
                       Array.from({ length: width }, (_, i) => h("th", {}, "GPU " + i)))),
      h("tbody", {}, [...byNode.keys()].sort().map((node, row) => h("tr", {},
        h("th", { scope: "row" }, link(nodeHref(node), node)),
        Array.from({ length: width }, (_, index) => {
          const d = byNode.get(node).find((x) => x.index === index);
          if (!d) return h("td", {});
          const stats = d.metrics[metric];
          const v = stats ? stats.avg : null;
          const shown = v === null ? null : v * (m.scale || 1);
          const info = gpus.get(d.gpu);
          const holder = info && info.heldBy.length
            ? info.heldBy.map((x) => x.workload).join(", ") : "nobody";
          const label = `${node} GPU ${index}: ${fixed(shown, m.digits)} ${m.unit} ` +
                        `${m.label}, held by ${holder}`;
          return h("td", {}, h("a", {
            class: "cell", href: nodeHref(node, index), title: label, "aria-label": label,
            "data-cell": `${row}:${index}`, "data-gpu": d.gpu,
          }, num(metric, v, m.digits), h("small", {}, holder)));
        })))));
    for (const a of table.querySelectorAll("a.cell")) {
      const v = Number(a.querySelector("[data-value]").dataset.value);
      a.style.background = colour(v / m.max);
      if (v / m.max < 0.45) a.style.color = "#f0f4f8";
    }
    const before = grid.querySelectorAll("a.cell");
    const after = table.querySelectorAll("a.cell");
    const same = before.length === after.length && [...before].every(
      (a, i) => a.dataset.gpu === after[i].dataset.gpu && a.dataset.cell === after[i].dataset.cell);
    if (!same) {
      replace(grid, table);
      return;
    }
    before.forEach((a, i) => { // in place: focus, hover and the reader's position stay
      const b = after[i];
      for (const name of ["aria-label", "title", "style"]) a.setAttribute(name, b.getAttribute(name) || "");
      a.replaceChildren(...b.childNodes);
    });
  };
  grid.addEventListener("keydown", (e) => moveInGrid(grid, e));
  poll(page, 5000, async () => {
    gpus = new Map((await allPages("/gpus")).map((g) => [g.uuid, g]));
    draw();
  });
  watch({ metric: HEAT_METRICS, interval: "1s" }, (update) => {
    latest = update;
    draw();
    markLive();
    report(null);
  }, page.signal);
}

function moveInGrid(grid, e) {
  const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
  const cell = e.target.dataset && e.target.dataset.cell;
  if (!moves[e.key] || !cell) return;
  const [row, col] = cell.split(":").map(Number);
  const next = grid.querySelector(`[data-cell="${row + moves[e.key][0]}:${col + moves[e.key][1]}"]`);
  if (next) {
    next.focus();
    e.preventDefault();
  }
}

async function nodePage(page, main, params, name) {
  const metric = METRICS[params.get("metric")] ? params.get("metric") : "gpu_util";
  const win = WINDOWS[params.get("window")] ? params.get("window") : "2m";
  const m = METRICS[metric];
  const go = (key, value) => {
    params.set(key, value);
    location.hash = nodeHref(name) + "?" + params.toString();
  };
  const head = h("dl", { class: "facts" });
  const inventory = h("div");
  const holders = h("div");
  const charts = h("div", { class: "charts" });
  const resolution = h("span", { class: "muted", id: "resolution" });
  replace(main, h("h1", {}, "Node ", h("span", { "data-key": "node" }, name)), head,
    h("h2", {}, "GPUs"), inventory, h("h2", {}, "Who holds what"), holders,
    h("h2", {}, "Per-GPU series"),
    h("div", { class: "controls" },
      h("label", { for: "node-metric" }, "Metric"),
      h("select", { id: "node-metric", onchange: (e) => go("metric", e.target.value) },
        Object.keys(METRICS).map((k) => h("option", { value: k, selected: k === metric },
                                          METRICS[k].label))),
      h("label", { for: "node-window" }, "Window"),
      h("select", { id: "node-window", onchange: (e) => go("window", e.target.value) },
        Object.keys(WINDOWS).map((k) => h("option", { value: k, selected: k === win }, k))),
      resolution),
    charts);
  const info = (await api("/nodes/" + encodeURIComponent(name)).catch((e) => {
    report(e);
    return null;
  }));
  if (!info || page.signal.aborted) return;
  const rate = info.data.sampleRateHz;
  const plots = new Map();
  poll(page, 2000, async () => {
    const n = (await api("/nodes/" + encodeURIComponent(name))).data;
    replace(head,
      h("dt", {}, "Status"), h("dd", {}, statusText(n.status)),
      h("dt", {}, "Backend"), h("dd", {}, `${n.backend}, ${n.sampleRateHz} Hz`),
      h("dt", {}, "GPUs"), h("dd", {}, num("gpuCount", n.gpuCount, 0)),
      h("dt", {}, "Utilization"), h("dd", {}, num("gpuUtilization", n.gpuUtilization, 1, "%")),
      h("dt", {}, "Power"), h("dd", {}, num("powerWatts", n.powerWatts, 1, "W")),
      h("dt", {}, "Last sample"), h("dd", {}, when(n.lastSeen)));
    replace(inventory, gpuTable(n.gpus, params.get("gpu")));
    const held = (await api("/nodes/" + encodeURIComponent(name) + "/workloads")).data;
    replace(holders, held.length ? h("ul", {}, held.map((w) => h("li", {},
      link(workloadHref(w.uid), w.uid), ` (${w.kind}) on GPU `,
      w.held.filter((x) => x.node === name).map((x) => {
        const g = n.gpus.find((d) => d.uuid === x.gpu);
        return `${g ? g.index : x.gpu} (${fixed(x.fraction * 100, 0)} %)`;
      }).join(", ")))) : h("p", { class: "muted" }, "Nobody holds a GPU of this node now."));
  });
  const span = WINDOWS[win];
  const step = rangeStep(span, rate);
  const banded = step > 1 / rate + 1e-9;
  resolution.textContent = banded
    ? `${fixed(step, 2)} s per point: line = mean, band = min to max`
    : `full resolution: every sample (${rate} Hz)`;
  poll(page, banded ? 10000 : 1000, async () => {
    const end = Date.now() / 1000;
    const base = { metric, start: (end - span).toFixed(3), end: end.toFixed(3),
                   step: step.toFixed(3) + "s" };
    const path = "/nodes/" + encodeURIComponent(name) + "/metrics";
    const answers = await Promise.all((banded ? ["avg", "min", "max"] : ["avg"]).map(
      (agg) => api(path, { ...base, agg })));
    for (const series of answers[0].data.gpus) {
      const pick = (answer) => {
        const s = answer.data.gpus.find((g) => g.gpu === series.gpu);
        return new Map(s.points.map(([t, v]) => [t, v === null ? null : v * (m.scale || 1)]));
      };
      const xsIso = series.points.map((p) => p[0]);
      const columns = answers.map((a) => pick(a)).map((map) => xsIso.map((t) => map.get(t) ?? null));
      const xs = xsIso.map(epoch);
      let entry = plots.get(series.gpu);
      if (!entry) {
        const fig = h("figure", { "data-gpu": series.gpu, role: "group" },
          h("figcaption", {}, `GPU ${series.index}`));
        charts.append(fig);
        const lines = [{ label: `GPU ${series.index} ${m.label} (${m.unit})`, stroke: "#5cb3ff",
                         width: 1 }];
        if (banded) {
          lines.push({ label: "min", stroke: "#2c6ca0", width: 0 },
                     { label: "max", stroke: "#2c6ca0", width: 0 });
        }
        const bands = banded ? [{ series: [3, 2], fill: "rgba(92,179,255,0.2)" }] : [];
        entry = { fig, plot: chart(fig, "", m.unit, lines, bands) };
        plots.set(series.gpu, entry);
      }
      entry.plot.setData([xs, ...columns]);
      entry.fig.querySelector("figcaption").textContent =
        `GPU ${series.index} ${m.label}, last ${win}: ${summary(columns[0], m.digits, m.unit)}`;
    }
  });
}

function gpuTable(gpus, selected) {
  return h("table", { "aria-label": "GPU inventory" },
    h("thead", {}, h("tr", {}, ["GPU", "UUID", "Model", "Memory", "Status", "Held by",
                                 "Utilization", "Power", "Temperature"].map((c) => h("th", {}, c)))),
    h("tbody", {}, gpus.map((g) => h("tr", { "data-id": g.uuid,
                                             "aria-current": String(g.index) === selected ? "true" : null },
      h("td", {}, num("index", g.index, 0)), h("td", {}, h("code", {}, g.uuid)),
      h("td", {}, g.model),
      h("td", { class: "num" }, num("memoryTotalBytes", g.memoryTotalBytes, 1, "GiB", 2 ** -30)),
      h("td", {}, statusText(g.status)),
      h("td", {}, g.heldBy.length ? g.heldBy.map((x, i) => [i ? ", " : "",
        link(workloadHref(x.workload), x.workload),
        x.fraction < 1 ? ` (${fixed(x.fraction * 100, 0)} %)` : ""]) : "nobody"),
      h("td", { class: "num" }, num("gpu_util", g.latest.gpu_util ?? null, 1, "%")),
      h("td", { class: "num" }, num("power", g.latest.power ?? null, 1, "W")),
      h("td", { class: "num" }, num("temperature", g.latest.temperature ?? null, 1, "°C"))))));
}

async function workloadPage(page, main, params, uid) {
  const facts = h("dl", { class: "facts" });
  const owners = h("div");
  const live = h("div");
  const fig = h("figure", {}, h("figcaption", {}, "Power, last 15 minutes"));
  replace(main, h("h1", {}, "Workload ", h("span", { "data-key": "uid" }, uid)), facts,
          h("h2", {}, "Owner chain"), owners, h("h2", {}, "GPUs now"), live,
          h("h2", {}, "Series"), fig);
  const path = "/workloads/" + encodeURIComponent(uid);
  let plot = null;
  let lastSeries = 0;
  poll(page, 2000, async () => {
    const [w, hier, cost] = await Promise.all([api(path), api(path + "/hierarchy"),
                                               api("/cost", { days: 7 })]);
    const d = w.data;
    const line = cost.data.byWorkload.find((c) => c.key === uid);
    const currency = cost.data.prices.currency;
    replace(facts,
      h("dt", {}, "Kind"), h("dd", {}, d.kind),
      h("dt", {}, "Namespace / pod / container"),
      h("dd", {}, `${d.namespace || "—"} / ${d.pod || "—"} / ${d.container || "—"}`),
      h("dt", {}, "Status"), h("dd", {}, d.status),
      h("dt", {}, "GPUs held"), h("dd", {}, num("gpus", d.gpus, 2)),
      h("dt", {}, "Utilization"), h("dd", {}, num("utilizationPercent", d.utilizationPercent, 1, "%")),
      h("dt", {}, "Power"), h("dd", {}, num("powerWatts", d.powerWatts, 1, "W")),
      h("dt", {}, "Energy"), h("dd", {}, num("energyKilowattHours", d.energyKilowattHours, 4, "kWh")),
      h("dt", {}, "GPU-hours"), h("dd", {}, num("gpuHours", d.gpuHours, 4)),
      h("dt", {}, "GPU-seconds busy"), h("dd", {}, num("gpuSecondsBusy", d.gpuSecondsBusy, 1, "s")),
      h("dt", {}, `Cost, last 7 days (${currency})`),
      h("dd", {}, line ? num("totalCost", line.totalCost, 2, currency) : "—"),
      h("dt", {}, "Labels"), h("dd", {}, Object.entries(d.labels).map(([k, v]) => `${k}=${v}`)
                                           .join(", ") || "none"),
      h("dt", {}, "Seen"), h("dd", {}, `${when(d.firstSeen)} – ${when(d.lastSeen)}`));
    const chain = hier.data.owners || [];
    replace(owners, chain.length
      ? h("ol", {}, chain.map((o) => h("li", {}, `${o.kind} ${o.name}`)))
      : h("p", { class: "muted" }, "No owners known (a bare pod, or no Kubernetes API)."));
    if (Date.now() - lastSeries > 10000) {
      lastSeries = Date.now();
      const end = Date.now() / 1000;
      const r = (await api(path + "/metrics", { metric: "power", start: (end - 900).toFixed(0),
                                               end: end.toFixed(0) })).data;
      const xs = r.total.points.map((p) => epoch(p[0]));
      const ys = r.total.points.map((p) => p[1]);
      if (!plot) plot = chart(fig, "", "W", [{ label: "power W (its share)", stroke: "#5cb3ff" }]);
      plot.setData([xs, ys]);
      fig.querySelector("figcaption").textContent =
        "Power of its share, last 15 minutes: " + summary(ys, 1, "W");
    }
  });
  watch({ workload: uid, interval: "1s" }, (update) => {
    replace(live, h("table", { "aria-label": "GPUs held now" },
      h("thead", {}, h("tr", {}, ["Node", "GPU", "Share", "Utilization", "Power", "Temperature"]
        .map((c) => h("th", {}, c)))),
      h("tbody", {}, update.devices.map((dev) => h("tr", { "data-id": dev.gpu },
        h("td", {}, link(nodeHref(dev.node), dev.node)),
        h("td", {}, link(nodeHref(dev.node, dev.index), "GPU " + dev.index)),
        h("td", { class: "num" }, num("fraction", dev.fraction, 2)),
        ["gpu_util", "power", "temperature"].map((k) => h("td", { class: "num" },
          num(k, dev.metrics[k] ? dev.metrics[k].avg : null, 1, METRICS[k].unit))))))));
    markLive();
  }, page.signal);
}

async function namespacesPage(page, main) {
  const table = h("div");
  const workloads = h("div");
  replace(main, h("h1", {}, "Namespaces"), table, h("h2", {}, "Workloads"), workloads);
  await poll(page, 5000, async () => {
    const [spaces, cost, wl] = await Promise.all([allPages("/namespaces"),
      api("/cost", { days: 7 }), allPages("/workloads")]);
    const costs = new Map(cost.data.byNamespace.map((c) => [c.key, c]));
    const currency = cost.data.prices.currency;
    replace(table, h("table", { "aria-label": "Namespaces" },
      h("thead", {}, h("tr", {}, ["Namespace", "Workloads", "Running", "GPUs", "GPU-hours",
        "Busy GPU-hours", "Busy share", "Energy", `Cost 7 d (${currency})`]
        .map((c) => h("th", {}, c)))),
      h("tbody", {}, spaces.map((n) => h("tr", { "data-id": n.namespace },
        h("td", {}, n.namespace),
        h("td", { class: "num" }, num("workloads", n.workloads, 0)),
        h("td", { class: "num" }, num("running", n.running, 0)),
        h("td", { class: "num" }, num("gpus", n.gpus, 2)),
        h("td", { class: "num" }, num("gpuHours", n.gpuHours, 4)),
        h("td", { class: "num" }, num("busyGpuHours", n.busyGpuHours, 4)),
        h("td", { class: "num" }, num("busyShare", n.gpuHours ? 100 * n.busyGpuHours / n.gpuHours
                                                              : null, 1, "%")),
        h("td", { class: "num" }, num("energyKilowattHours", n.energyKilowattHours, 4, "kWh")),
        h("td", { class: "num" }, num("totalCost", costs.has(n.namespace)
          ? costs.get(n.namespace).totalCost : null, 2)))))));
    replace(workloads, h("table", { "aria-label": "Workloads" },
      h("thead", {}, h("tr", {}, ["Workload", "Status", "GPUs", "Utilization", "Power",
                                   "GPU-hours"].map((c) => h("th", {}, c)))),
      h("tbody", {}, wl.map((w) => h("tr", { "data-id": w.uid },
        h("td", {}, link(workloadHref(w.uid), w.uid)), h("td", {}, w.status),
        h("td", { class: "num" }, num("gpus", w.gpus, 2)),
        h("td", { class: "num" }, num("utilizationPercent", w.utilizationPercent, 1, "%")),
        h("td", { class: "num" }, num("powerWatts", w.powerWatts, 1, "W")),
        h("td", { class: "num" }, num("gpuHours", w.gpuHours, 4)))))));
  });
}

async function alertsPage(page, main, params) {
  const state = ["firing", "resolved", "all"].includes(params.get("state"))
    ? params.get("state") : "firing";
  const list = h("div");
  const by = h("input", { id: "ack-by", value: sessionStorage.getItem("gputel.ackBy") || "",
                          placeholder: "your name", size: 14 });
  replace(main, h("h1", {}, "Alerts"),
    h("div", { class: "controls" },
      h("label", { for: "alert-state" }, "Show"),
      h("select", { id: "alert-state", onchange: (e) => {
        location.hash = "#/alerts?state=" + e.target.value;
      } }, ["firing", "resolved", "all"].map((s) => h("option", { value: s, selected: s === state },
                                                       s))),
      h("label", { for: "ack-by" }, "Acknowledge as"), by,
      h("span", { class: "muted" }, "Acknowledging needs an admin token.")),
    list);
  const refresh = async () => {
    const alerts = await allPages("/alerts", { state });
    replace(list, alerts.length ? h("table", { "aria-label": "Alerts" },
      h("thead", {}, h("tr", {}, ["Severity", "Rule", "Where", "Message", "Since", "State",
                                   "Acknowledged", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, alerts.map((a) => h("tr", { "data-id": a.id },
        h("td", { class: "nowrap" }, h("span", { class: "sev-" + a.severity },
          (a.severity === "critical" ? "✖ " : "▲ ") + a.severity)),
        h("td", {}, a.rule),
        h("td", {}, a.node ? link(nodeHref(a.node, a.gpuIndex ?? undefined),
                                  a.node + (a.gpuIndex !== null ? ` GPU ${a.gpuIndex}` : "")) : "—"),
        h("td", {}, a.message), h("td", { class: "nowrap" }, when(a.since)),
        h("td", { class: "nowrap" }, statusText(a.state)),
        h("td", { "data-key": "acknowledgedBy" },
          a.acknowledgedBy ? `${a.acknowledgedBy} at ${when(a.acknowledged)}` : "no"),
        h("td", {}, a.state === "firing" && !a.acknowledgedBy ? h("button", {
          type: "button", "data-ack": a.id, "aria-label": `Acknowledge ${a.message}`,
          onclick: () => acknowledge(a.id, by.value, refresh),
        }, "Acknowledge") : "")))))
      : h("p", { class: "muted" }, `No ${state === "all" ? "" : state + " "}alerts.`));
  };
  await poll(page, 3000, refresh);
}

async function acknowledge(id, who, refresh) {
  const name = who.trim() || "console";
  sessionStorage.setItem("gputel.ackBy", name);
  try {
    await api("/alerts/" + encodeURIComponent(id) + "/acknowledge", { by: name },
              { method: "POST" });
    report(null);
    await refresh();
  } catch (e) {
    report(e);
  }
}

/* ---------- routing ---------- */

const ROUTES = [
  [/^\/?$/, overviewPage, "overview"],
  [/^\/heatmap$/, heatmapPage, "heatmap"],
  [/^\/node\/(.+)$/, nodePage, "overview"],
  [/^\/workload\/(.+)$/, workloadPage, "namespaces"],
  [/^\/namespaces$/, namespacesPage, "namespaces"],
  [/^\/alerts$/, alertsPage, "alerts"],
];
let current = null;

function route() {
  if (current) current.abort();
  current = new AbortController();
  const page = { signal: current.signal };
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const main = document.getElementById("main");
  report(null);
  for (const [pattern, render, nav] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const a of document.querySelectorAll("nav a")) {
      a.toggleAttribute("aria-current", a.dataset.page === nav);
      if (a.dataset.page === nav) a.setAttribute("aria-current", "page");
    }
    const arg = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
    render(page, main, params, arg);
    document.title = `gputel · ${path.split("/")[1] || "overview"}`;
    return;
  }
  replace(main, h("h1", {}, "Not found"), h("p", {}, link("#/", "Back to the overview")));
}

function keys(e) {
  if (e.target.closest("input, select, textarea") || e.altKey || e.ctrlKey || e.metaKey) return;
  const page = { 1: "#/", 2: "#/heatmap", 3: "#/namespaces", 4: "#/alerts" }[e.key];
  if (page) {
    location.hash = page;
    document.getElementById("main").focus();
  }
}

function start() {
  const token = document.getElementById("token");
  token.value = sessionStorage.getItem(TOKEN_KEY) || "";
  document.getElementById("login").addEventListener("submit", (e) => {
    e.preventDefault();
    if (token.value.trim()) sessionStorage.setItem(TOKEN_KEY, token.value.trim());
    else sessionStorage.removeItem(TOKEN_KEY);
    route();
  });
  document.getElementById("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token.value = "";
    route();
  });
  document.addEventListener("keydown", keys);
  window.addEventListener("hashchange", route);
  route();
}

start();
