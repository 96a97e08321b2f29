"use strict";
// The loop page's production series (GET /api/model-loop/versions/series): FA/hour and observed FRR per model version per bucket, drawn
// as plain SVG (the dashboard's way: no chart library) with a table of the same numbers underneath (the fallback, and what a screen
// reader or a copy-paste gets). Observed FRR is a lower bound; the API's frrNote says why and is shown verbatim.
// cell() is loop.js's (both scripts share the page's global scope).

const LOOP_SVG = "http://www.w3.org/2000/svg";
const LOOP_COLORS = ["#1a73e8", "#d93025", "#188038", "#f29900", "#9334e6", "#12b5cb", "#e8710a", "#5f6368"];

function svgEl(name, attrs, parent) {
  const e = document.createElementNS(LOOP_SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent.appendChild(e);
  return e;
}

function svgText(parent, x, y, s, attrs) {
  svgEl("text", Object.assign({ x, y }, attrs || {}), parent).textContent = s;
}

function pct(v) { return v == null ? "-" : (100 * v).toFixed(1) + " %"; }

function num(v, digits) { return v == null ? "-" : Number(v).toFixed(digits); }

// One chart: a polyline per model version through the buckets that have a value, a circle per point with a tooltip, and optional
// whiskers (the FRR's Wilson interval). values(p) -> [y, low, high] or null.
function drawChart(svg, versions, values, yMax, yFormat, yLabel, cls) {
  svg.replaceChildren();
  const W = svg.viewBox.baseVal.width, H = svg.viewBox.baseVal.height, m = { l: 64, r: 48, t: 10, b: 30 };
  const starts = versions.length ? versions[0].points.map(p => Date.parse(p.bucketStartUtc)) : [];
  const plotted = versions.some(v => v.points.some(p => values(p)));
  if (!plotted) {
    svgText(svg, W / 2, H / 2, "no data in the window", { "text-anchor": "middle", class: "empty" });
    return;
  }
  const t0 = Math.min(...starts), t1 = Math.max(...starts);
  const x = t => m.l + (t - t0) / ((t1 - t0) || 1) * (W - m.l - m.r);
  const y = v => H - m.b - v / yMax * (H - m.t - m.b);
  const grid = svgEl("g", { class: "grid" }, svg), axis = svgEl("g", { class: "axis" }, svg);
  for (let i = 0; i <= 4; i++) {
    const v = yMax * i / 4;
    svgEl("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }, grid);
    svgText(axis, m.l - 6, y(v) + 4, yFormat(v), { "text-anchor": "end" });
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (t1 - t0) * i / 4;
    svgText(axis, x(t), H - m.b + 16, new Date(t).toISOString().slice(5, 16).replace("T", " "), { "text-anchor": "middle" });
  }
  svgText(axis, 12, (m.t + H - m.b) / 2, yLabel, { "text-anchor": "middle", class: "label", transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})` });
  versions.forEach((v, i) => {
    const color = LOOP_COLORS[i % LOOP_COLORS.length];
    const pts = v.points.map(p => [p, values(p)]).filter(([, val]) => val);
    svgEl("polyline", { class: cls, "data-model": v.modelVersion, fill: "none", stroke: color, "stroke-width": 2,
      points: pts.map(([p, val]) => `${x(Date.parse(p.bucketStartUtc))},${y(val[0])}`).join(" ") }, svg);
    for (const [p, val] of pts) {
      const px = x(Date.parse(p.bucketStartUtc));
      if (val[1] != null) svgEl("line", { class: "ci", x1: px, x2: px, y1: y(val[1]), y2: y(val[2]), stroke: color, "stroke-width": 1 }, svg);
      const c = svgEl("circle", { class: "point", cx: px, cy: y(val[0]), r: 3, fill: color, "data-model": v.modelVersion }, svg);
      svgEl("title", {}, c).textContent = `${v.modelVersion} ${p.bucketStartUtc.slice(0, 16)}: ${yFormat(val[0])}`;
    }
  });
}

function hasData(p) {
  const f = p.frr;
  return p.fa.listeningHours > 0 || p.fa.falseAccepts > 0 || p.fa.pendingReview > 0 || f.keywordsCaught + f.keywordsMissed + f.pendingTriggers + f.pendingNearMisses > 0;
}

function showVersionSeries(s) {
  document.getElementById("frr-note").textContent = s.frrNote;
  const versions = s.versions;
  const faValues = p => p.fa.faPerHour == null ? null : [p.fa.faPerHour, null, null];
  const frrValues = p => p.frr.observedFrr == null ? null : [p.frr.observedFrr, p.frr.low, p.frr.high];
  const faMax = Math.max(0.1, ...versions.flatMap(v => v.points.map(p => p.fa.faPerHour || 0))) * 1.1;
  drawChart(document.getElementById("version-fa-chart"), versions, faValues, faMax, v => v.toFixed(2), "FA/h", "fa-series");
  drawChart(document.getElementById("version-frr-chart"), versions, frrValues, 1, v => pct(v), "observed FRR", "frr-series");
  const legend = document.getElementById("version-legend");
  legend.replaceChildren();
  versions.forEach((v, i) => {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = LOOP_COLORS[i % LOOP_COLORS.length];
    item.append(swatch, v.modelVersion);
    legend.appendChild(item);
  });
  const tbody = document.querySelector("#version-series tbody");
  tbody.replaceChildren();
  for (const v of versions) {
    for (const p of v.points.filter(hasData)) {
      const row = document.createElement("tr");
      row.dataset.model = v.modelVersion;
      row.dataset.bucket = p.bucketStartUtc;
      const fa = p.fa, f = p.frr;
      cell(row, v.modelVersion);
      cell(row, p.bucketStartUtc.slice(0, 16).replace("T", " "));
      cell(row, fa.faPerHour == null ? "-" : num(fa.faPerHour, 3) + (fa.pendingReview ? ` – ${num(fa.faPerHourUpper, 3)} (${fa.pendingReview} pending)` : ""));
      cell(row, num(fa.listeningHours, 2));
      cell(row, `${f.keywordsCaught} / ${f.keywordsMissed}`);
      cell(row, f.observedFrr == null ? "-" : `${pct(f.observedFrr)} [${pct(f.low)}, ${pct(f.high)}]`);
      cell(row, `${f.pendingTriggers} / ${f.pendingNearMisses}`);
      tbody.appendChild(row);
    }
  }
  if (!tbody.children.length) {
    const row = document.createElement("tr");
    cell(row, "no activity, detection or near miss in the window").colSpan = 7;
    tbody.appendChild(row);
  }
}
