// The study page. It polls /api/studies/NAME/version (a few aggregates) and, only when that
// changed, fetches the status document and the board and redraws in place: tables, charts
// (Plotly.react keeps the user's zoom) and the rung view. No page reload.
"use strict";

const NAME = decodeURIComponent(location.pathname.split("/").pop());
const BASE = `/api/studies/${encodeURIComponent(NAME)}`;
const PAGE_ROWS = 100;
const RUNG_SHOWN = 25;
const FATES = ["completed", "promoted", "paused", "stopped", "failed", "running"];
const COLOURS = {
  completed: "#2a7a2a", promoted: "#1f5fbf", paused: "#d09a00",
  stopped: "#9a9a9a", failed: "#d62728", running: "#8e44ad",
};
const PARCOORDS_MAX = 2000;  // the best trials drawn as lines; more is unreadable and slow
const view = { board: null, status: null, version: null, sort: ["number", 1], page: 0 };
// plotly.js (4.8 MB) is loaded once the tables are drawn: evaluating it takes the main thread
// for a second or more on a slow machine, and the tables do not need it.
let plotlyReady = null;
function loadPlotly() {
  plotlyReady = plotlyReady || new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/vendor/plotly.min.js";
    script.onload = resolve;
    script.onerror = () => reject(new Error("cannot load /vendor/plotly.min.js"));
    document.head.appendChild(script);
  });
  return plotlyReady;
}

// ---- summary -------------------------------------------------------------------------------
function drawSummary(s) {
  document.getElementById("name").textContent = s.name;
  document.title = `slurmhpo: ${s.name}`;
  const state = document.getElementById("state");
  state.textContent = s.state;
  state.className = `state state-${s.state}`;
  const best = s.incumbent;
  const lease = s.controller;
  const cards = [
    ["objective", `${shpo.esc(s.metric)} (${s.mode})`],
    ["best", best ? `${shpo.value(best.value)} (trial ${best.trial} at ${best.resource})` : "none yet"],
    ["trials", shpo.bar(s.budget.trials.used, s.budget.trials.limit)],
    ["GPU-hours", shpo.bar(s.budget.gpu_hours.used, s.budget.gpu_hours.limit)],
    ["wall hours", shpo.bar(s.budget.wall_hours.used, s.budget.wall_hours.limit)],
    ["jobs", `${s.jobs.running} running, ${s.jobs.pending} pending`],
    ["controller", lease ? `${shpo.esc(lease.owner)} (${lease.live ? "live" : "EXPIRED"})` : "none"],
  ];
  document.getElementById("summary").innerHTML =
    cards.map(([k, v]) => `<div data-card="${k}"><b>${k}</b>${v}</div>`).join("");
  const warnings = document.getElementById("warnings");
  warnings.textContent = s.warnings.join(" ");
  warnings.hidden = s.warnings.length === 0;
  document.querySelector("#decisions tbody").innerHTML = s.decisions.map((d) =>
    `<tr><td>${d.seq}</td><td>${shpo.time(d.created_at)}</td><td>${shpo.esc(d.kind)}</td>` +
    `<td>${d.trial ?? "-"}</td><td>${shpo.esc(d.reason || "")}</td></tr>`).join("");
}

// ---- trials table --------------------------------------------------------------------------
function columns(board) {
  const fixed = ["number", "fate", "state", "bracket", "reached", "value", "best", "jobs", "resumes"];
  return [...fixed, ...board.params.map((p) => `config.${p}`)];
}

function cell(row, column) {
  return column.startsWith("config.") ? row.config[column.slice(7)] : row[column];
}

function sortValue(row, column) {
  const v = cell(row, column);
  if (column === "value" || column === "best") return shpo.numeric(v);
  return v === null || v === undefined ? NaN : v;
}

function shownRows() {
  const text = document.getElementById("filter").value.trim().toLowerCase();
  const fate = document.getElementById("fate").value;
  const [column, direction] = view.sort;
  const rows = view.board.trials.filter((row) => {
    if (fate && row.fate !== fate) return false;
    if (!text) return true;
    const haystack = `#${row.number} ${row.fate} ${row.state} ${shpo.config(row.config)}`;
    return text.split(/\s+/).every((word) => haystack.toLowerCase().includes(word));
  });
  const bad = direction > 0 ? Infinity : -Infinity;  // missing values sort last
  return rows.sort((a, b) => {
    let x = sortValue(a, column);
    let y = sortValue(b, column);
    if (typeof x === "number" && Number.isNaN(x)) x = bad;
    if (typeof y === "number" && Number.isNaN(y)) y = bad;
    if (x < y) return -direction;
    if (x > y) return direction;
    return a.number - b.number;
  });
}

function drawTrials() {
  const board = view.board;
  const cols = columns(board);
  const [sortColumn, direction] = view.sort;
  document.querySelector("#trials thead").innerHTML = "<tr>" + cols.map((c) => {
    const mark = c === sortColumn ? (direction > 0 ? "asc" : "desc") : "";
    return `<th data-column="${shpo.esc(c)}" class="${mark}">${shpo.esc(c.replace("config.", ""))}</th>`;
  }).join("") + "</tr>";
  const rows = shownRows();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  view.page = Math.min(view.page, pages - 1);
  const slice = rows.slice(view.page * PAGE_ROWS, (view.page + 1) * PAGE_ROWS);
  document.querySelector("#trials tbody").innerHTML = slice.map((row) =>
    `<tr data-trial="${row.number}">` + cols.map((c) => {
      const v = cell(row, c);
      if (c === "fate") return `<td class="fate-${v}">${v}</td>`;
      if (c === "value" || c === "best") return `<td class="num">${shpo.value(v)}</td>`;
      const shown = typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : (v ?? "-");
      return `<td${typeof v === "number" ? ' class="num"' : ""}>${shpo.esc(shown)}</td>`;
    }).join("") + "</tr>").join("");
  document.getElementById("count").textContent =
    `${rows.length} of ${board.trials.length} trials`;
  document.getElementById("page").textContent = ` page ${view.page + 1} / ${pages} `;
}

async function showTrial(number) {
  const t = await shpo.get(`${BASE}/trials/${number}`);
  const jobs = t.jobs.map((j) =>
    `<tr data-job="${j.id}"><td>${j.id}</td><td>${shpo.esc(j.backend)} ${shpo.esc(j.external_id ?? "")}</td>` +
    `<td>${shpo.esc(j.state)}</td><td>${j.start_resource} &rarr; ${j.target_resource}</td>` +
    `<td>${j.attempt}</td><td>${shpo.time(j.submitted_at)}</td><td>${shpo.time(j.started_at)}</td>` +
    `<td>${shpo.time(j.ended_at)}</td><td>${shpo.esc(j.exit_reason ?? "")}</td></tr>`).join("");
  const observed = t.observations.map((o) => `${o.resource}: ${shpo.value(o.value)}`).join(", ");
  const box = document.getElementById("trial-detail");
  box.innerHTML = `<h3>Trial ${t.number}: ${shpo.esc(t.state)}, reached ${t.reached ?? "-"},
    value ${shpo.value(t.value)}</h3><p>${shpo.esc(shpo.config(t.config))}</p>
    ${t.failure_reason ? `<p class="error">${shpo.esc(t.failure_reason)}</p>` : ""}
    <table class="grid"><thead><tr><th>job</th><th>backend id</th><th>state</th><th>resource</th>
    <th>attempt</th><th>submitted</th><th>started</th><th>ended</th><th>outcome</th></tr></thead>
    <tbody>${jobs}</tbody></table><p class="muted">observations: ${shpo.esc(observed) || "none"}</p>`;
  box.hidden = false;
  box.dataset.trial = String(t.number);
}

// ---- charts ----------------------------------------------------------------------------------
function timeUnit(span) {
  if (span < 120) return [1, "s"];
  if (span < 7200) return [60, "min"];
  return [3600, "h"];
}

function drawCurves(doc) {
  const board = view.board;
  const layout = (x, y, extra) => ({
    margin: { l: 60, r: 10, t: 10, b: 45 }, uirevision: NAME, showlegend: true,
    xaxis: { title: { text: x } }, yaxis: { title: { text: y } }, ...extra,
  });
  const any = doc.anytime;
  const [div, unit] = timeUnit(any.seconds.length ? any.seconds[any.seconds.length - 1] : 0);
  Plotly.react("anytime", [{
    x: any.seconds.map((s) => s / div), y: any.values, mode: "lines+markers",
    line: { shape: "hv" }, name: "incumbent",
    text: any.trials.map((t, i) => `trial ${t}, ${any.gpu_hours[i].toPrecision(3)} GPU-h`),
  }], layout(`time since first job (${unit})`, board.metric, { showlegend: false }),
  { displaylogo: false, responsive: true });
  const curveTraces = doc.curves.map((c) => ({
    x: c.x, y: c.y, text: c.trial.map((t) => (t === null ? "" : `trial ${t}`)),
    // one SVG marker per point is slow past a few thousand points: WebGL lines then
    type: c.x.length > 5000 ? "scattergl" : "scatter",
    mode: c.x.length > 5000 ? "lines" : "lines+markers",
    name: c.category, line: { color: COLOURS[c.category], width: 1 },
    marker: { size: 3, color: COLOURS[c.category] },
    connectgaps: false, hoverinfo: "text+y",
  }));
  const levels = board.rungs.kind === "rungs" ? board.rungs.levels : [];
  const shapes = levels.map((r) => ({
    type: "line", x0: r, x1: r, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#aaa" },
  }));
  Plotly.react("curves", curveTraces, layout("resource", board.metric, { shapes }),
    { displaylogo: false, responsive: true });
}

function drawParcoords(board) {
  const sign = board.mode === "min" ? 1 : -1;
  const rows = board.trials.filter((r) => typeof r.value === "number")
    .sort((a, b) => sign * (a.value - b.value)).slice(0, PARCOORDS_MAX);
  const target = document.getElementById("parcoords");
  if (!rows.length || !board.params.length) {
    target.textContent = "no trial has a value yet";
    return;
  }
  const dims = board.params.map((p) => {
    const values = rows.map((r) => r.config[p]);
    if (values.every((v) => typeof v === "number")) return { label: p, values };
    const labels = [...new Set(values.map((v) => JSON.stringify(v ?? null)))];
    return {
      label: p, values: values.map((v) => labels.indexOf(JSON.stringify(v ?? null))),
      tickvals: labels.map((_, i) => i), ticktext: labels,
    };
  });
  const values = rows.map((r) => r.value);
  dims.push({ label: board.metric, values });
  try {
    Plotly.react(target, [{
      type: "parcoords", dimensions: dims,
      line: { color: values, colorscale: "Viridis", reversescale: board.mode === "max", showscale: true },
    }], { margin: { l: 60, r: 60, t: 40, b: 20 }, uirevision: NAME }, { displaylogo: false, responsive: true });
  } catch (error) {  // parcoords needs WebGL
    target.textContent = `parallel coordinates unavailable in this browser: ${error.message}`;
  }
}

// ---- rung view -------------------------------------------------------------------------------
function drawRungs() {
  const rungs = view.board.rungs;
  const html = rungs.brackets.map((b) => {
    const title = b.bracket === null ? "" : `<h3>bracket ${b.bracket}</h3>`;
    const boxes = b.levels.map((level) => {
      const entries = level.entries.slice(0, RUNG_SHOWN).map(([trial, value, wentOn]) =>
        `<li data-trial="${trial}" class="${wentOn ? "went-on" : ""}">#${trial} ${shpo.value(value)}${wentOn ? " &#9650;" : ""}</li>`
      ).join("");
      const more = level.entries.length > RUNG_SHOWN
        ? `<div class="more muted">and ${level.entries.length - RUNG_SHOWN} more</div>` : "";
      const went = level.entries.filter((e) => e[2]).length;
      return `<div class="rung" data-bracket="${b.bracket ?? ""}" data-rung="${level.resource}">
        <h3>${rungs.kind === "rungs" ? "rung" : "level"} ${level.resource}: ${level.entries.length} trials, ${went} went on</h3>
        <ol>${entries}</ol>${more}</div>`;
    }).join("");
    return `${title}<div class="rung-bracket">${boxes}</div>`;
  }).join("");
  document.getElementById("rungs").innerHTML = html;
}

// ---- refresh loop ----------------------------------------------------------------------------
// Status and board draw the summary, tables and rung view as soon as they arrive; the
// curves (every observation) follow. `window.shpoTableAt` / `shpoDrawnAt`: when the first
// load had drawn its tables / everything (ms since navigation start; the benchmark reads them).
async function refresh() {
  const marker = await shpo.get(`${BASE}/version`);
  const version = JSON.stringify(marker.version);
  if (version === view.version) {
    shpo.stamp();
    return;
  }
  const curves = shpo.get(`${BASE}/curves`);
  const [status, board] = await Promise.all([
    shpo.get(`/api/status/${encodeURIComponent(NAME)}`), shpo.get(`${BASE}/board`),
  ]);
  view.status = status.study;
  view.board = board;
  drawSummary(view.status);
  drawTrials();
  drawRungs();
  if (window.shpoTableAt === undefined) window.shpoTableAt = performance.now();
  const [doc] = await Promise.all([curves, loadPlotly()]);
  drawCurves(doc);
  drawParcoords(board);
  view.version = version;
  document.body.dataset.version = version;
  if (window.shpoDrawnAt === undefined) window.shpoDrawnAt = performance.now();
  shpo.stamp();
}

function wire() {
  const fate = document.getElementById("fate");
  fate.innerHTML += FATES.map((f) => `<option value="${f}">${f}</option>`).join("");
  const refilter = () => { view.page = 0; drawTrials(); };
  document.getElementById("filter").addEventListener("input", refilter);
  document.getElementById("fate").addEventListener("change", refilter);
  document.getElementById("prev").addEventListener("click", () => { view.page = Math.max(0, view.page - 1); drawTrials(); });
  document.getElementById("next").addEventListener("click", () => { view.page += 1; drawTrials(); });
  document.querySelector("#trials thead").addEventListener("click", (event) => {
    const column = event.target.dataset.column;
    if (!column) return;
    view.sort = [column, view.sort[0] === column ? -view.sort[1] : 1];
    drawTrials();
  });
  document.querySelector("#trials tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row) showTrial(row.dataset.trial).catch(shpo.showError);
  });
}

(async () => {
  wire();
  const info = await shpo.info();
  shpo.every(info.poll_seconds, refresh);
})();
