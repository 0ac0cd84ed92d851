import HedgerowHTTP
import NIOCore

/// `GET /dashboard`: one self-contained page (its CSS and script inline, nothing fetched from elsewhere) that polls
/// `GET /dashboard/data` every second and draws the last five minutes per model, plus the replica table.
///
/// The charts are hand-written SVG: a page a router serves must work on a machine with no network, and a chart
/// library would be most of its bytes. The elements carry `data-` attributes (`section.model[data-model]`,
/// `data-latency-points`, `tr.replica[data-address][data-state]`, `body[data-polls]`) so that a test reading the
/// DOM of a headless browser can tell that every model and replica was drawn.
enum DashboardPage {
    static func response() -> HTTPResponse {
        HTTPResponse(
            status: .ok,
            headers: ["content-type": "text/html; charset=utf-8", "cache-control": "no-cache"],
            body: ByteBuffer(string: html)
        )
    }

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hedgerow router</title>
<style>
:root { --bg:#0f1419; --card:#171d24; --line:#26303b; --text:#d8dee6; --dim:#8593a3; --p50:#5fb3f5; --p99:#f2b03d; --p999:#ef5b5b;
        --req:#7bd88f; --err:#ef5b5b; --hedge:#c792ea; --win:#5fd4c8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
header { display:flex; align-items:baseline; gap:18px; padding:14px 22px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
header h1 { font-size:18px; margin:0; font-weight:600; }
header .meta { color:var(--dim); font-size:13px; }
#status { display:inline-block; width:9px; height:9px; border-radius:50%; background:var(--dim); margin-right:6px; vertical-align:middle; }
#status.ok { background:var(--req); } #status.bad { background:var(--err); }
main { padding:16px 22px 30px; }
#models { display:grid; grid-template-columns:repeat(auto-fill,minmax(560px,1fr)); gap:16px; }
section.model { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px 8px; }
section.model h2 { margin:0 0 2px; font-size:16px; font-weight:600; }
section.model h2 small { color:var(--dim); font-weight:400; font-size:12px; margin-left:8px; }
.stats { display:flex; gap:16px; flex-wrap:wrap; margin:6px 0 4px; }
.stat { min-width:70px; } .stat b { display:block; font-size:17px; font-weight:600; font-variant-numeric:tabular-nums; }
.stat span { color:var(--dim); font-size:11px; text-transform:uppercase; letter-spacing:.04em; }
.chart { margin-top:6px; } .chart .title { color:var(--dim); font-size:12px; display:flex; gap:12px; }
.chart .title i { font-style:normal; } .chart .title i::before { content:""; display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle; background:currentColor; }
svg { display:block; width:100%; height:120px; }
svg text { fill:var(--dim); font-size:10px; }
svg .grid { stroke:var(--line); stroke-width:1; }
svg path { fill:none; stroke-width:1.6; stroke-linejoin:round; }
h3 { font-size:15px; font-weight:600; margin:24px 0 8px; }
table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:7px 12px; border-bottom:1px solid var(--line); font-variant-numeric:tabular-nums; }
th { color:var(--dim); font-weight:500; font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.badge { padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
.badge.ok { background:#1f3b2a; color:var(--req); } .badge.ejected { background:#4a1f22; color:var(--err); }
.empty { color:var(--dim); padding:20px 0; }
</style>
</head>
<body data-polls="0">
<header>
  <h1>Hedgerow router</h1>
  <span class="meta"><span id="status"></span><span id="updated">connecting…</span></span>
  <span class="meta" id="generation"></span>
  <span class="meta">last 5 minutes, one point per second, from this router's memory</span>
</header>
<main>
  <div id="models"><div class="empty">Waiting for the first answer of /dashboard/data…</div></div>
  <h3>Replicas</h3>
  <table><thead><tr><th>replica</th><th>zone</th><th>serves</th><th>state</th><th>latency (peak EWMA)</th><th>in flight</th></tr></thead>
  <tbody id="replicas"></tbody></table>
</main>
<script>
"use strict";
const NS = "http://www.w3.org/2000/svg";
const WINDOW = 300;
let polls = 0;
const cards = new Map();

function el(tag, attrs, parent, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function fmtMs(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (v < 1) return (v * 1000).toFixed(0) + " µs";
  if (v < 100) return v.toFixed(v < 10 ? 2 : 1) + " ms";
  return v.toFixed(0) + " ms";
}
function fmtNum(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
// The smallest of 1, 2, 4, 5, 8 × 10^k at or above v: axis tops whose quarters read well.
function niceCeiling(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 4, 5, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
// Sums of a over the `n` points up to each point: per-second hedge counts are too small to read alone.
function rolling(a, n) {
  const out = []; let s = 0;
  for (let i = 0; i < a.length; i++) { s += a[i] || 0; if (i >= n) s -= a[i - n] || 0; out.push(s); }
  return out;
}
function sum(a, from) { let s = 0; for (let i = Math.max(from, 0); i < a.length; i++) s += a[i] || 0; return s; }
function lastValue(a, n) {
  for (let i = a.length - 1; i >= Math.max(a.length - n, 0); i--) if (a[i] !== null && a[i] !== undefined) return a[i];
  return null;
}

// Draws lines of `series` ([{values, color}]) over the points of `t` on a fresh SVG; `log` for a log10 axis.
function draw(svg, t, series, opts) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = svg.clientWidth || 540, H = 120, L = 46, R = 8, T = 6, B = 16;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  let lo = Infinity, hi = -Infinity;
  for (const s of series) for (const v of s.values) if (v !== null && isFinite(v) && (!opts.log || v > 0)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!isFinite(lo)) { lo = opts.log ? 0.1 : 0; hi = opts.log ? 10 : 1; }
  if (!opts.log) { lo = 0; hi = niceCeiling(Math.max(hi, opts.minMax || 1)); }
  const f = opts.log ? Math.log10 : (x => x);
  let flo = opts.log ? Math.floor(f(lo)) : lo, fhi = opts.log ? Math.ceil(f(hi)) : hi;
  if (fhi <= flo) fhi = flo + 1;
  const n = Math.max(t.length, 2), end = t.length ? t[t.length - 1] : 0;
  const x = i => L + (W - L - R) * ((WINDOW - (t.length - 1 - i) - 1) / (WINDOW - 1));
  const y = v => T + (H - T - B) * (1 - (f(v) - flo) / (fhi - flo));
  const ticks = [];
  if (opts.log) { for (let e = flo; e <= fhi; e++) ticks.push(Math.pow(10, e)); }
  else { for (let k = 0; k <= 4; k++) ticks.push(hi * k / 4); }
  for (const v of ticks) {
    el("svg:line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }, svg);
    el("svg:text", { x: L - 5, y: y(v) + 3, "text-anchor": "end" }, svg, opts.format(v));
  }
  for (let m = 0; m <= 5; m++) {
    const xi = L + (W - L - R) * (1 - m * 60 / (WINDOW - 1));
    el("svg:text", { x: Math.max(xi, L + 10), y: H - 3, "text-anchor": "middle" }, svg, m === 0 ? "now" : "-" + m + "m");
  }
  for (const s of series) {
    let d = "", pen = false;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (v === null || v === undefined || !isFinite(v) || (opts.log && v <= 0)) { pen = false; continue; }
      const yy = Math.min(Math.max(y(v), T), H - B);
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + yy.toFixed(1);
      pen = true;
    }
    if (d) el("svg:path", { d: d, stroke: s.color }, svg);
  }
}

function card(model) {
  let c = cards.get(model.name);
  if (c) return c;
  const box = document.getElementById("models");
  if (!cards.size) box.innerHTML = "";
  const root = el("section", { class: "model", "data-model": model.name }, box);
  const h = el("h2", {}, root, model.name);
  const sub = el("small", {}, h);
  const stats = el("div", { class: "stats" }, root);
  const stat = (label) => { const s = el("div", { class: "stat" }, stats); const b = el("b", {}, s, "–"); el("span", {}, s, label); return b; };
  c = { root, sub, rate: stat("req/s"), p99: stat("p99"), p999: stat("p99.9"), errors: stat("5xx/s"), hedge: stat("hedged"),
        delay: stat("hedge delay"), inflight: stat("in flight"), charts: {} };
  const chart = (key, title, legend) => {
    const w = el("div", { class: "chart" }, root);
    const tt = el("div", { class: "title" }, w, title);
    for (const [name, color] of legend) el("i", { style: "color:" + color }, tt, name);
    c.charts[key] = el("svg:svg", { "data-chart": key }, w);
  };
  chart("latency", "latency (log scale)", [["p50", "var(--p50)"], ["p99", "var(--p99)"], ["p99.9", "var(--p999)"]]);
  chart("rate", "requests per second", [["answered", "var(--req)"], ["5xx", "var(--err)"]]);
  chart("hedges", "hedging, % over 10 s", [["hedges / requests", "var(--hedge)"], ["wins / hedges", "var(--win)"]]);
  cards.set(model.name, c);
  return c;
}

function render(data) {
  const seen = new Set();
  for (const m of data.models) {
    seen.add(m.name);
    const c = card(m), s = m.series, t = s.t;
    const versions = Object.keys(m.versions).sort((a, b) => a - b);
    const replicas = versions.reduce((k, v) => k + m.versions[v].length, 0);
    c.sub.textContent = "v" + versions.join(", v") + " · " + replicas + " replica" + (replicas === 1 ? "" : "s") +
      (m.defaultVersion ? " · default v" + m.defaultVersion : "");
    const last10 = t.length - 10;
    const req10 = sum(s.requests, last10);
    c.rate.textContent = fmtNum(req10 / 10);
    c.p99.textContent = fmtMs(lastValue(s.p99Ms, 5));
    c.p999.textContent = fmtMs(lastValue(s.p999Ms, 5));
    c.errors.textContent = fmtNum(sum(s.serverErrors, last10) / 10);
    c.hedge.textContent = req10 ? (100 * sum(s.hedges, last10) / req10).toFixed(2) + "%" : "–";
    c.delay.textContent = m.hedgeDelayMs === undefined ? "off" : fmtMs(m.hedgeDelayMs);
    c.inflight.textContent = String(m.inFlight);
    draw(c.charts.latency, t, [
      { values: s.p50Ms, color: "var(--p50)" }, { values: s.p99Ms, color: "var(--p99)" }, { values: s.p999Ms, color: "var(--p999)" }
    ], { log: true, format: fmtMs });
    draw(c.charts.rate, t, [
      { values: s.requests, color: "var(--req)" }, { values: s.serverErrors, color: "var(--err)" }
    ], { log: false, minMax: 1, format: v => fmtNum(v) });
    const req = rolling(s.requests, 10), hedges = rolling(s.hedges, 10), wins = rolling(s.hedgeWins, 10);
    const hedgeRate = req.map((r, i) => r ? 100 * hedges[i] / r : null);
    const winRate = hedges.map((h, i) => h ? 100 * wins[i] / h : null);
    draw(c.charts.hedges, t, [
      { values: hedgeRate, color: "var(--hedge)" }, { values: winRate, color: "var(--win)" }
    ], { log: false, minMax: 5, format: v => (Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)) + "%" });
    c.root.setAttribute("data-latency-points", String(s.p99Ms.filter(v => v !== null).length));
    c.root.setAttribute("data-rate-points", String(s.requests.filter(v => v > 0).length));
  }
  for (const [name, c] of cards) if (!seen.has(name)) { c.root.remove(); cards.delete(name); }

  const body = document.getElementById("replicas");
  body.innerHTML = "";
  for (const r of data.replicas) {
    const tr = el("tr", { class: "replica", "data-address": r.address, "data-state": r.state }, body);
    el("td", {}, tr, r.address);
    el("td", {}, tr, r.zone || "–");
    el("td", {}, tr, r.serves.join(", "));
    el("span", { class: "badge " + r.state }, el("td", {}, tr), r.state);
    el("td", {}, tr, fmtMs(r.latencyMs));
    el("td", {}, tr, String(r.inFlight));
  }
  if (!data.replicas.length) el("td", { colspan: 6, class: "empty" }, el("tr", {}, body), "no replicas in the routing table");
  document.getElementById("generation").textContent = "routing generation " + data.generation + " · hedgerow " + data.version;
}

async function poll() {
  const status = document.getElementById("status"), updated = document.getElementById("updated");
  try {
    const answer = await fetch("/dashboard/data", { cache: "no-store" });
    if (!answer.ok) throw new Error("HTTP " + answer.status);
    const data = await answer.json();
    render(data);
    polls += 1;
    document.body.setAttribute("data-polls", String(polls));
    status.className = "ok";
    updated.textContent = "updated " + new Date(data.now * 1000).toLocaleTimeString();
  } catch (e) {
    status.className = "bad";
    updated.textContent = "cannot reach the router: " + e.message;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
"""#
}
