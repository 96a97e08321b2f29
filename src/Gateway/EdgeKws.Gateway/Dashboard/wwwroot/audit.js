"use strict";
// The audit log page: GET /api/audit-log, 50 rows a page, "Older" follows the page's `next`. Plain DOM, no framework.
// When a page is shown, <body data-ready="1">; a failed fetch sets data-error.

let next = null;

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

async function load(before) {
  const url = "/api/audit-log?limit=50" + (before ? "&before=" + before : "");
  try {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    const page = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(`${url} -> ${r.status} ${page.error || ""}`);
    const tbody = document.querySelector("#audit tbody");
    if (!before) tbody.replaceChildren();
    for (const e of page.items) {
      const row = document.createElement("tr");
      cell(row, e.id);
      cell(row, e.timeUtc.slice(0, 19).replace("T", " "));
      cell(row, e.actor || "anonymous");
      cell(row, e.role || "-");
      cell(row, `${e.method} ${e.route}`);
      cell(row, e.arguments ? JSON.stringify(e.arguments) : "-").className = "muted";
      cell(row, e.status);
      cell(row, e.remote || "-");
      tbody.appendChild(row);
    }
    next = page.next;
    document.getElementById("older").disabled = !next;
    document.getElementById("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
    document.body.dataset.ready = "1";
    delete document.body.dataset.error;
  } catch (e) {
    document.body.dataset.error = String(e && e.message || e);
    document.getElementById("message").textContent = document.body.dataset.error;
  }
}

document.getElementById("older").addEventListener("click", () => load(next));
load(null);
