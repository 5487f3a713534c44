// Helpers shared by both pages. Pages fetch the JSON endpoints and redraw in place; nothing
// here reloads the page. Written for the dashboard (no framework, no build step).
"use strict";

const shpo = {
  esc(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    }[c]));
  },
  async get(path) {
    const answer = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    const body = await answer.json().catch(() => ({ error: answer.statusText }));
    if (!answer.ok) throw new Error(body.error || `${answer.status} ${answer.statusText}`);
    return body;
  },
  value(v) {  // objective values: numbers, "nan"/"inf"/"-inf" strings, or null
    if (v === null || v === undefined) return "-";
    if (typeof v === "string") return v;
    return Number(v).toPrecision(6).replace(/\.?0+(e|$)/, "$1");
  },
  numeric(v) {  // for sorting: non-finite values after every number
    if (typeof v === "number") return v;
    return v === "-inf" ? -Infinity : (v === "inf" ? Infinity : NaN);
  },
  time(iso) {
    return iso ? iso.replace("T", " ").slice(0, 19) : "-";
  },
  bar(used, limit) {
    const shown = `${shpo.round(used)} / ${limit === null ? "no limit" : shpo.round(limit)}`;
    if (!limit) return shown;
    const pct = Math.max(0, Math.min(100, (100 * used) / limit));
    return `<span class="bar"><span style="width:${pct}%"></span></span>${shown}`;
  },
  round(x) {
    return Number.isInteger(x) ? String(x) : Number(x).toPrecision(3);
  },
  config(config) {
    return Object.entries(config || {}).map(([k, v]) =>
      `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : JSON.stringify(v)}`
    ).join(" ");
  },
  showError(error) {
    const box = document.getElementById("error");
    box.textContent = error ? `Cannot refresh: ${error.message || error}` : "";
    box.hidden = !error;
  },
  stamp() {
    document.getElementById("updated").textContent =
      `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  },
  async info() {
    const info = await shpo.get("/api/info");
    document.getElementById("database").textContent = `database ${info.database} (read-only)`;
    return info;
  },
  // Call step() now and then every `seconds`, never two at once.
  every(seconds, step) {
    const run = async () => {
      try {
        await step();
        shpo.showError(null);
      } catch (error) {
        shpo.showError(error);
      }
      setTimeout(run, seconds * 1000);
    };
    run();
  },
};
