"use strict";
// The review page: lists /api/review/items, plays each clip's WAV, posts decisions. Plain DOM, no framework, no CDN.
// When a refresh completes, <body data-ready="1">; a failed fetch sets data-error.

const reviewerInput = document.getElementById("reviewer");
reviewerInput.value = localStorage.getItem("edgekws-reviewer") || "";
reviewerInput.addEventListener("change", () => localStorage.setItem("edgekws-reviewer", reviewerInput.value.trim()));

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
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
  const reviewer = reviewerInput.value.trim();
  const message = document.getElementById("message");
  if (!reviewer) { message.textContent = "Enter your name as reviewer first."; reviewerInput.focus(); return; }
  button.disabled = true;
  const r = await fetch(`/api/review/items/${encodeURIComponent(item.deviceId)}/${item.sequence}/decision`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ label, reviewer }),
  });
  const body = await r.json().catch(() => ({}));
  message.textContent = r.ok ? `${item.deviceId} #${item.sequence}: ${label} by ${reviewer}` : `refused: ${body.error || r.status}`;
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
