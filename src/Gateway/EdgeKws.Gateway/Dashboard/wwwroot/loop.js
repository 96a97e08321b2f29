"use strict";
// The model loop page: GET /api/model-loop/policy, /api/model-loop/versions/series (drawn by loop-series.js), /api/model-jobs,
// /api/rollouts?limit=10, every 10 s. Plain DOM, no framework.
// When everything is shown, <body data-ready="1">; a failed fetch sets data-error.

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "-" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

async function get(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${url} -> ${r.status} ${body.error || ""}`);
  return body;
}

function hours(h) { return h == null ? "-" : h.toFixed(1) + " h"; }

function showPolicy(p) {
  const rows = [
    ["Enabled", p.enabled ? "yes" : "no (Gateway:Models:AutoFineTune:Enabled)"],
    ["Thresholds", `${p.minNewLabelledClips} decided labels, the oldest at least ${hours(p.minOldestAgeHours)} old`],
    ["Clips since the last model", p.since ? `${p.clipsSinceLastModel} (since ${p.since})` : "-"],
    ["Oldest of them", hours(p.oldestAgeHours)],
    ["Last decision", p.lastDecision ? `${p.lastDecision.atUtc.slice(0, 19).replace("T", " ")}: ${p.lastDecision.reason}` : "-"],
    ["Last job", p.lastJobId ? `${p.lastJobId} on ${p.lastDataset}` : "-"],
    ["Last error", p.lastError],
  ];
  const tbody = document.querySelector("#policy tbody");
  tbody.replaceChildren();
  for (const [k, v] of rows) {
    const row = document.createElement("tr");
    cell(row, k);
    cell(row, v);
    tbody.appendChild(row);
  }
}

function showJobs(jobs) {
  const tbody = document.querySelector("#jobs tbody");
  tbody.replaceChildren();
  for (const j of jobs.slice(0, 20)) {
    const row = document.createElement("tr");
    cell(row, j.id);
    cell(row, j.request.kind);
    cell(row, j.request.modelVersion);
    cell(row, j.state + (j.error ? ": " + j.error : ""));
    cell(row, (j.steps || []).join("\n"), "muted").style.whiteSpace = "pre-line";
    const m = j.model;
    cell(row, m ? `${m.stage}: ${m.gateSummary || "-"}` : "-");
    tbody.appendChild(row);
  }
}

function showRollouts(rollouts) {
  const tbody = document.querySelector("#rollouts tbody");
  tbody.replaceChildren();
  for (const r of rollouts) {
    const row = document.createElement("tr");
    cell(row, r.id);
    cell(row, r.modelVersion);
    cell(row, r.previousVersion);
    cell(row, r.state);
    cell(row, `${r.step}/${r.stepCount}`);
    const w = r.watch;
    cell(row, w ? `new ${w.newFaPerHour ?? "-"} FA/h vs old ${w.oldFaPerHour ?? "-"} (${w.verdict || ""})` : "-");
    cell(row, r.reason, "muted");
    tbody.appendChild(row);
  }
}

async function load() {
  try {
    const [policy, series, jobs, rollouts] = await Promise.all([get("/api/model-loop/policy"), get("/api/model-loop/versions/series?window=24h&bucket=1h"),
      get("/api/model-jobs"), get("/api/rollouts?limit=10")]);
    showPolicy(policy);
    showVersionSeries(series);
    showJobs(jobs);
    showRollouts(rollouts);
    document.getElementById("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
    document.body.dataset.ready = "1";
    delete document.body.dataset.error;
    document.getElementById("message").textContent = "";
  } catch (e) {
    document.body.dataset.error = String(e && e.message || e);
    document.getElementById("message").textContent = document.body.dataset.error;
  }
}

load();
setInterval(load, 10000);
