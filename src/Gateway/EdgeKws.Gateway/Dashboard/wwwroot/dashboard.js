// EdgeKws gateway dashboard: plain JS, no build step, no external resources. Charts are SVG drawn here.
// When a refresh completes, <body data-ready="1" data-refreshes="n">; a failed fetch sets data-error.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1a73e8", "#d93025", "#188038", "#f29900", "#9334e6", "#12b5cb", "#e8710a", "#5f6368"];

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, x, y, s, attrs) {
  const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
  t.textContent = s;
  return t;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (r.status === 401) { location.href = "/login?returnUrl=" + encodeURIComponent(location.pathname); throw new Error("not signed in"); }
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(url + " -> HTTP " + r.status);
  return r.json();
}

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "-";
  return Number(v).toFixed(digits === undefined ? 3 : digits);
}

// FA/hour as a range: the decided value (labelled false accepts) and, while detections wait for review, the upper end with
// every one of them a false accept: "0.800 – 2.400 FA/h (3 pending review)". Written as the gateway's FaRangeText does.
function faRange(g) {
  if (!g || g.faPerHour === null || g.faPerHour === undefined) return "-";
  if (!g.pendingReview) return fmt(g.faPerHour);
  return `${fmt(g.faPerHour)} – ${fmt(g.faPerHourUpper)} FA/h (${g.pendingReview} pending review)`;
}

// A table cell or tile showing the range, with the numbers as data attributes (the browser test reads them).
function showFa(node, g) {
  node.textContent = faRange(g);
  node.dataset.fa = g && g.faPerHour !== null && g.faPerHour !== undefined ? String(g.faPerHour) : "";
  node.dataset.faUpper = g && g.faPerHourUpper !== null && g.faPerHourUpper !== undefined ? String(g.faPerHourUpper) : "";
  node.dataset.pending = g ? String(g.pendingReview || 0) : "";
}

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function td(tr, value, cls) {
  const c = document.createElement("td");
  c.textContent = value;
  if (cls) c.className = cls;
  tr.appendChild(c);
  return c;
}

// Axes for a plot area; returns scale functions.
function frame(svg, xDomain, yDomain, opts) {
  const W = svg.viewBox.baseVal.width, H = svg.viewBox.baseVal.height;
  const m = { l: 52, r: 14, t: 10, b: 34 };
  const x = v => m.l + (v - xDomain[0]) / ((xDomain[1] - xDomain[0]) || 1) * (W - m.l - m.r);
  const y = v => H - m.b - (v - yDomain[0]) / ((yDomain[1] - yDomain[0]) || 1) * (H - m.t - m.b);
  const grid = el("g", { class: "grid" }, svg);
  const axis = el("g", { class: "axis" }, svg);
  for (let i = 0; i <= 4; i++) {
    const yv = yDomain[0] + (yDomain[1] - yDomain[0]) * i / 4;
    el("line", { x1: m.l, x2: W - m.r, y1: y(yv), y2: y(yv) }, grid);
    text(axis, m.l - 6, y(yv) + 4, opts.yFormat(yv), { "text-anchor": "end" });
  }
  for (let i = 0; i <= 4; i++) {
    const xv = xDomain[0] + (xDomain[1] - xDomain[0]) * i / 4;
    text(axis, x(xv), H - m.b + 16, opts.xFormat(xv), { "text-anchor": "middle" });
  }
  el("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, axis);
  el("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }, axis);
  if (opts.xLabel) text(axis, (m.l + W - m.r) / 2, H - 4, opts.xLabel, { "text-anchor": "middle", class: "label" });
  if (opts.yLabel) text(axis, 12, (m.t + H - m.b) / 2, opts.yLabel, { "text-anchor": "middle", class: "label", transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})` });
  return { x, y };
}

function empty(svg, message) {
  const W = svg.viewBox.baseVal.width, H = svg.viewBox.baseVal.height;
  text(svg, W / 2, H / 2, message, { "text-anchor": "middle", class: "empty" });
}

function drawFleet(devices, fa) {
  const byDevice = new Map((fa ? fa.groups : []).map(g => [g.key, g]));
  const body = document.querySelector("#fleet tbody");
  clear(body);
  for (const d of devices) {
    const tr = document.createElement("tr");
    const g = byDevice.get(d.deviceId);
    td(tr, d.deviceId);
    td(tr, d.cohort || "-");
    td(tr, d.modelVersion || "-");
    td(tr, d.status || "-", "status-" + (d.status || "none"));
    td(tr, ago(d.lastSeenUtc));
    showFa(td(tr, "", "fa"), g);
    td(tr, g ? fmt(g.listeningHours, 2) : "-");
    body.appendChild(tr);
  }
  document.getElementById("tile-devices").textContent = devices.length;
}

function drawFaSeries(series) {
  const svg = document.getElementById("fa-chart");
  const legend = document.getElementById("fa-legend");
  clear(svg); clear(legend);
  const all = series.flatMap(s => s.points);
  const values = all.flatMap(p => [p.faPerHour, p.faPerHourUpper]).filter(v => v !== null && v !== undefined);
  if (values.length === 0) { empty(svg, "no listening time in the window"); return; }
  const t0 = Date.parse(all[0].bucketStartUtc), t1 = Math.max(...all.map(p => Date.parse(p.bucketStartUtc)));
  const yMax = Math.max(0.1, ...values) * 1.1;
  const { x, y } = frame(svg, [t0, t1], [0, yMax], {
    xFormat: v => new Date(v).toISOString().slice(5, 16).replace("T", " "),
    yFormat: v => v.toFixed(2), yLabel: "FA/h", xLabel: "bucket start (UTC)",
  });
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter(p => p.faPerHour !== null).map(p => [x(Date.parse(p.bucketStartUtc)), y(p.faPerHour)]);
    if (s.points.some(p => p.pendingReview > 0)) {
      // The upper end of the range (pending reviews counted as false accepts), dashed, under the decided line.
      const up = s.points.filter(p => p.faPerHourUpper !== null).map(p => [x(Date.parse(p.bucketStartUtc)), y(p.faPerHourUpper)]);
      el("polyline", { class: "series-upper", points: up.map(p => p.join(",")).join(" "), fill: "none", stroke: color, "stroke-width": 1.5,
        "stroke-dasharray": "5 4", "data-model": s.modelVersion }, svg);
    }
    el("polyline", { class: "series", points: pts.map(p => p.join(",")).join(" "), fill: "none", stroke: color, "stroke-width": 2, "data-model": s.modelVersion }, svg);
    for (const [px, py] of pts) el("circle", { class: "point", cx: px, cy: py, r: 3, fill: color }, svg);
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${color}"></i>`;
    const pending = s.points.reduce((n, p) => n + (p.pendingReview || 0), 0);
    item.appendChild(document.createTextNode(s.modelVersion + (pending ? ` (dashed: upper end, ${pending} pending review)` : "")));
    legend.appendChild(item);
  });
}

function drawDet(det) {
  const svg = document.getElementById("det-chart");
  clear(svg);
  const caption = document.getElementById("det-caption");
  if (!det) { caption.textContent = ""; empty(svg, "no evaluation stored (POST /api/evaluations)"); return; }
  caption.textContent = `${det.modelVersion} on ${det.evaluation.name} (${det.evaluation.trials} trials)`;
  const useFaH = det.points.some(p => p.faPerHour !== null);
  const pts = det.points.filter(p => p.falseRejectRate !== null && (useFaH ? p.faPerHour !== null : p.falseAcceptRate !== null));
  const xs = pts.map(p => useFaH ? p.faPerHour : p.falseAcceptRate);
  const { x, y } = frame(svg, [0, Math.max(1e-9, ...xs)], [0, 1], {
    xFormat: v => useFaH ? v.toFixed(2) : (v * 100).toFixed(0) + "%", yFormat: v => (v * 100).toFixed(0) + "%",
    xLabel: useFaH ? "false accepts per hour" : "false accept rate", yLabel: "false reject rate",
  });
  const coords = pts.map((p, i) => [x(xs[i]), y(p.falseRejectRate)]);
  el("polyline", { class: "det", points: coords.map(c => c.join(",")).join(" "), fill: "none", stroke: COLORS[0], "stroke-width": 2 }, svg);
  for (const [cx, cy] of coords) el("circle", { class: "point", cx, cy, r: 2.5, fill: COLORS[0] }, svg);
}

// PSI colour: white at 0, amber at the warning level 0.1, red at 0.25 and above.
function psiColor(v) {
  if (v === null) return "#eef1f4";
  const t = Math.min(1, v / 0.25);
  const r = 255, g = Math.round(255 - t * 200), b = Math.round(255 - t * 230);
  return `rgb(${r},${g},${b})`;
}

function drawHeatmap(map) {
  const svg = document.getElementById("drift-heatmap");
  clear(svg);
  const caption = document.getElementById("drift-caption");
  if (!map) { caption.textContent = ""; empty(svg, "no model with a training baseline (PUT /api/models/{version}/baseline)"); return; }
  caption.textContent = map.modelVersion + (map.reason ? " - " + map.reason : "") + "; warning 0.1, critical 0.25";
  const W = svg.viewBox.baseVal.width, H = svg.viewBox.baseVal.height;
  const m = { l: 60, r: 70, t: 6, b: 30 };
  const rows = map.psi.length, cols = map.bucketStartsUtc.length;
  const cw = (W - m.l - m.r) / cols, ch = (H - m.t - m.b) / rows;
  map.psi.forEach((row, c) => {
    text(svg, m.l - 6, m.t + c * ch + ch / 2 + 4, map.coefficients[c], { "text-anchor": "end", class: "label" });
    row.forEach((v, b) => {
      const r = el("rect", { class: "cell", x: m.l + b * cw, y: m.t + c * ch, width: Math.max(1, cw - 1), height: Math.max(1, ch - 1), fill: psiColor(v), "data-psi": v === null ? "" : v }, svg);
      const title = el("title", {}, r);
      title.textContent = `${map.coefficients[c]} ${map.bucketStartsUtc[b]}: PSI ${v === null ? "no data" : v.toFixed(3)}`;
    });
  });
  for (let b = 0; b < cols; b += Math.max(1, Math.ceil(cols / 6))) {
    text(svg, m.l + b * cw, H - m.b + 16, map.bucketStartsUtc[b].slice(5, 16).replace("T", " "), { class: "label" });
  }
  [0, 0.1, 0.25].forEach((v, i) => {
    el("rect", { x: W - m.r + 10, y: m.t + i * 22, width: 14, height: 14, fill: psiColor(v), stroke: "#ccc" }, svg);
    text(svg, W - m.r + 28, m.t + i * 22 + 11, v.toFixed(2), { class: "label" });
  });
}

function drawAlerts(alerts) {
  const body = document.querySelector("#alerts tbody");
  clear(body);
  for (const a of alerts) {
    const tr = document.createElement("tr");
    td(tr, a.severity, "sev-" + a.severity);
    td(tr, a.message);
    td(tr, a.subject);
    td(tr, new Date(a.sinceUtc).toISOString().slice(0, 19).replace("T", " ") + " UTC");
    const c = td(tr, "");
    const link = document.createElement("a");
    link.href = a.evidenceUrl;
    link.textContent = "evidence";
    c.appendChild(link);
    body.appendChild(tr);
  }
  if (alerts.length === 0) {
    const tr = document.createElement("tr");
    td(tr, "none", "muted").colSpan = 5;
    body.appendChild(tr);
  }
  document.getElementById("tile-alerts").textContent = alerts.length;
}

let refreshes = 0;

async function refresh() {
  const w = document.getElementById("window").value;
  const bucket = w === "1h" ? "5m" : w === "24h" ? "1h" : "6h";
  document.body.dataset.ready = "0";
  try {
    const [devices, fa, fleetFa, series, det, models, alerts, queue] = await Promise.all([
      getJson("/api/devices"), getJson(`/api/metrics/fa?window=${w}&by=device`), getJson(`/api/metrics/fa?window=${w}&by=fleet`),
      getJson(`/api/metrics/fa/series?window=${w}&bucket=${bucket}`), getJson("/api/metrics/det"), getJson("/api/models"),
      getJson("/api/alerts?active=true"), getJson("/api/review-queue"),
    ]);
    drawFleet(devices, fa);
    const fleet = fleetFa && fleetFa.groups[0];
    showFa(document.getElementById("tile-fa"), fleet);
    drawFaSeries(series ? series.series : []);
    drawDet(det);
    const withBaseline = (models || []).filter(m => m.hasBaseline);
    const map = withBaseline.length ? await getJson(`/api/metrics/drift/heatmap?model=${encodeURIComponent(withBaseline[0].modelVersion)}&window=${w}&bucket=${bucket}`) : null;
    drawHeatmap(map);
    drawAlerts(alerts || []);
    document.getElementById("review-queue").textContent = queue ? queue.count : "-";
    document.getElementById("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
    delete document.body.dataset.error;
  } catch (e) {
    document.body.dataset.error = String(e && e.message || e);
    document.getElementById("updated").textContent = "error: " + document.body.dataset.error;
  }
  refreshes++;
  document.body.dataset.refreshes = String(refreshes);
  document.body.dataset.ready = "1";
}

document.getElementById("window").addEventListener("change", refresh);
refresh();
setInterval(refresh, 30000);
