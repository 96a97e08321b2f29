"use strict";
// The review page: lists /api/review/items, plays each clip's WAV, posts decisions. Plain DOM, no framework, no CDN.
// The reviewer is whoever is signed in (the gateway takes the name from the session's token, never from the page).
// When a refresh completes, <body data-ready="1">; a failed fetch sets data-error.

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (r.status === 401) { location.href = "/login?returnUrl=" + encodeURIComponent(location.pathname); throw new Error("not signed in"); }
  if (!r.ok) throw new Error(url + " -> " + r.status);
  return r.json();
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

async function decide(item, label, button) {
  const message = document.getElementById("message");
  button.disabled = true;
  const r = await apiSend("POST", `/api/review/items/${encodeURIComponent(item.deviceId)}/${item.sequence}/decision`, { label });
  const body = await r.json().catch(() => ({}));
  message.textContent = r.ok ? `${item.deviceId} #${item.sequence}: ${label} by ${body.reviewer}` : `refused (${r.status}): ${body.error || ""}`;
  await refresh();
}

async function refresh() {
  try {
    const [queue, audit, status] = await Promise.all([getJson("/api/review/items?limit=200"), getJson("/api/review/audit"), getJson("/api/review/status")]);
    document.getElementById("waiting").textContent = queue.count;
    document.getElementById("agreement").textContent = audit.rate == null ? "-" : `${(100 * audit.rate).toFixed(0)} % of ${audit.compared}`;
    document.getElementById("worker").textContent = status.enabled ? "on" : "off";
    const tbody = document.querySelector("#items tbody");
    tbody.replaceChildren();
    for (const item of queue.items) {
      const row = document.createElement("tr");
      row.dataset.key = `${item.deviceId}/${item.sequence}`;
      cell(row, item.deviceId);
      cell(row, item.sequence);
      cell(row, item.clipId || "-");
      cell(row, item.reason);
      cell(row, item.candidateLabel);
      cell(row, item.confidence == null ? "-" : item.confidence.toFixed(2));
      cell(row, item.tool || item.source);
      const listen = cell(row, "");
      if (item.audioUrl) {
        const audio = document.createElement("audio");
        audio.controls = true;
        audio.preload = "none";
        audio.src = item.audioUrl;
        listen.appendChild(audio);
      } else {
        listen.textContent = "no raw audio";
      }
      const actions = cell(row, "");
      for (const [label, text] of [["TrueAccept", "Wake word"], ["FalseAccept", "False wake"]]) {
        const b = document.createElement("button");
        b.textContent = text + (item.candidateLabel === label ? " (confirm)" : "");
        b.dataset.label = label;
        b.addEventListener("click", () => decide(item, label, b));
        actions.appendChild(b);
      }
      tbody.appendChild(row);
    }
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.ready = "1";
    delete document.body.dataset.error;
  } catch (e) {
    document.body.dataset.error = String(e);
  }
}

refresh();
setInterval(refresh, 15000);
