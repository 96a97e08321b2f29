"use strict";
// The review page: a person works through the queue (/api/review/items) or a spot-check sample of automatic labels
// (/api/review/audit/sample?kind=aligner) with one key per decision. The selected clip's waveform and spectrogram are drawn by
// review-clip.js from its WAV. Decisions and re-checks post with the anti-forgery header (session.js apiSend); the reviewer is
// whoever is signed in (the gateway takes the name from the session's token, never from the page).
// When a refresh completes, <body data-ready="1">; a failed fetch sets data-error. The clip panel's data-drawn is the key of
// the clip drawn (or described, for a feature-only clip).

const page = {
  mode: "queue",                     // which list the keys act on: "queue" or "spot"
  lists: { queue: [], spot: [] },    // items: { key, deviceId, sequence, audioUrl, ... }
  selected: { queue: null, spot: null },
  checks: new Map(),                 // spot-check key -> the label this person gave
  seed: 1 + Math.floor(Math.random() * 1e6),
  busy: false,
  loadedKey: null,
  blobUrl: null,
};
const $ = (id) => document.getElementById(id);
const keyOf = (deviceId, sequence) => `${deviceId}/${sequence}`;
const fmt = (x, digits) => x == null ? "-" : Number(x).toFixed(digits);
const percent = (rate, n) => rate == null ? "-" : `${(100 * rate).toFixed(0)} % of ${n}`;

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (r.status === 401) { location.href = "/login?returnUrl=" + encodeURIComponent(location.pathname); throw new Error("not signed in"); }
  if (!r.ok) throw new Error(url + " -> " + r.status);
  return r.json();
}

function cell(row, text, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (title) td.title = title;
  row.appendChild(td);
  return td;
}

function current() {
  const list = page.lists[page.mode];
  const i = list.findIndex(x => x.key === page.selected[page.mode]);
  return { list, i, item: i < 0 ? null : list[i] };
}

// --- lists -----------------------------------------------------------------------------------------------------------------

function renderQueue() {
  const tbody = document.querySelector("#items tbody");
  tbody.replaceChildren(...page.lists.queue.map(item => {
    const row = document.createElement("tr");
    row.dataset.key = item.key;
    row.dataset.audioUrl = item.audioUrl || "";
    for (const t of [item.deviceId, item.sequence, item.clipId || "-"]) cell(row, t);
    cell(row, item.reason, item.reason);
    cell(row, item.candidateLabel);
    cell(row, fmt(item.confidence, 2));
    cell(row, item.tool || item.source, item.tool || item.source);
    row.addEventListener("click", () => { setMode("queue"); select(item.key); });
    return row;
  }));
}

function renderSpot() {
  const tbody = document.querySelector("#spot tbody");
  tbody.replaceChildren(...page.lists.spot.map(item => {
    const row = document.createElement("tr");
    row.dataset.key = item.key;
    row.dataset.audioUrl = item.audioUrl || "";
    const p = item.provenance || {};
    for (const t of [item.deviceId, item.sequence, item.label]) cell(row, t);
    cell(row, fmt(p.confidence, 3));
    cell(row, p.tool || item.source, p.tool || item.source);
    const mine = page.checks.get(item.key);
    const check = cell(row, mine ? `${mine} (${mine === item.label ? "agrees" : "disagrees"})` : "-");
    if (mine) check.className = mine === item.label ? "agree" : "disagree";
    row.addEventListener("click", () => { setMode("spot"); select(item.key); });
    return row;
  }));
}

function renderAgreement(audit) {
  $("agreement").textContent = percent(audit.rate, audit.compared);
  const kinds = audit.byFirstKind || {};
  $("agreement-aligner").textContent = kinds.aligner ? percent(kinds.aligner.rate, kinds.aligner.compared) : "-";
  $("agreement-aligner").dataset.compared = kinds.aligner ? kinds.aligner.compared : 0;
  document.querySelector("#by-kind tbody").replaceChildren(...Object.entries(kinds).map(([kind, k]) => {
    const row = document.createElement("tr");
    row.dataset.kind = kind;
    for (const t of [kind === "aligner" ? "automatic (aligner, calibrated)" : kind, k.compared, k.agreed, percent(k.rate, k.compared)]) cell(row, t);
    return row;
  }));
}

function renderRecent(labels) {
  document.querySelector("#recent tbody").replaceChildren(...labels.filter(l => l.label.label !== "Unknown").map(l => {
    const row = document.createElement("tr");
    const p = l.provenance || {};
    for (const t of [l.label.deviceId, l.label.sequence, l.label.label, p.kind || "other", p.reviewer || p.tool || l.label.source]) cell(row, t, p.tool);
    cell(row, fmt(p.confidence, 3));
    return row;
  }));
}

function markSelection() {
  for (const [mode, table] of [["queue", "items"], ["spot", "spot"]]) {
    for (const row of document.querySelectorAll(`#${table} tbody tr`)) {
      row.classList.toggle("selected", mode === page.mode && row.dataset.key === page.selected[mode]);
    }
  }
}

// --- the selected clip -----------------------------------------------------------------------------------------------------

function setMode(mode) {
  page.mode = mode;
  $("queue-view").hidden = mode !== "queue";
  $("spot-view").hidden = mode !== "spot";
  for (const b of document.querySelectorAll(".tabs button")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  if (mode === "spot" && page.lists.spot.length === 0) loadSample();
  select(page.selected[mode] || (page.lists[mode][0] || {}).key || null);
}

function select(key) {
  page.selected[page.mode] = key;
  markSelection();
  const { item } = current();
  showEvidence(item);
  const row = document.querySelector(`#${page.mode === "queue" ? "items" : "spot"} tbody tr.selected`);
  if (row) row.scrollIntoView({ block: "nearest" });
  if ((item ? item.key + "|" + item.audioUrl : null) !== page.loadedKey) loadClip(item);
}

function move(step) {
  const { list, i } = current();
  if (list.length) select(list[Math.max(0, Math.min(list.length - 1, i + step))].key);
}

function term(dl, name, value) {
  const dt = document.createElement("dt"), dd = document.createElement("dd");
  dt.textContent = name;
  if (value instanceof Node) dd.appendChild(value); else dd.textContent = value;
  dl.append(dt, dd);
  return dd;
}

// The calibrated labeler's reason: "P(wake phrase) 0.534 from aligner 0.91, near miss ..., device 0.500: neither >= 0.98 ...".
function showEvidence(item) {
  const dl = $("evidence");
  dl.replaceChildren();
  $("clip-title").textContent = item ? `${item.deviceId} #${item.sequence}` + (item.clipId ? ` (clip ${item.clipId})` : "") : "No clip selected";
  for (const b of document.querySelectorAll("#decide button")) {
    b.disabled = !item;
    b.classList.toggle("proposed", !!item && (item.candidateLabel || item.label) === b.dataset.label);
  }
  if (!item) return;
  const reason = item.reason || "";
  const m = /^P\(wake phrase\) ([0-9.]+) from (.*?): (.*)$/.exec(reason);
  if (m) {
    const p = document.createElement("span");
    p.className = "p-wake";
    p.textContent = m[1];
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.appendChild(document.createElement("i")).style.width = `${100 * Number(m[1])}%`;
    const pd = document.createElement("span");
    pd.append(p, bar);
    term(dl, "P(wake phrase)", pd).id = "p-wake";
    const ul = document.createElement("ul");
    ul.id = "signals";
    for (const s of m[2].split(", ")) ul.appendChild(document.createElement("li")).textContent = s;
    term(dl, "Signals", ul);
    term(dl, "Rule", m[3]);
  }
  if (page.mode === "queue") {
    term(dl, "Reason", reason).id = "reason";
    term(dl, "Proposed", item.candidateLabel === "Unknown" ? "no opinion" : item.candidateLabel).id = "proposed";
    term(dl, "Confidence", fmt(item.confidence, 3));
    term(dl, "Source", item.source);
    if (item.tool) term(dl, "Tool", item.tool);
    term(dl, "Queued", (item.queuedUtc || "").slice(0, 19).replace("T", " ") + " UTC");
  } else {
    const p = item.provenance || {};
    term(dl, "Label", item.label).id = "proposed";
    term(dl, "Kind", p.kind || "other");
    term(dl, "Confidence", fmt(p.confidence, 3));
    term(dl, "Tool", p.tool || item.source);
    term(dl, "Labelled", (item.labeledUtc || "").slice(0, 19).replace("T", " ") + " UTC");
  }
}

async function loadClip(item) {
  const player = $("player"), panel = $("clip");
  const key = item ? item.key + "|" + item.audioUrl : null;
  page.loadedKey = key;
  player.pause();
  player.removeAttribute("src");
  if (page.blobUrl) URL.revokeObjectURL(page.blobUrl);
  page.blobUrl = null;
  $("play").disabled = true;
  $("playhead").hidden = true;
  $("clock").textContent = "";
  delete panel.dataset.drawn;
  if (!item || !item.audioUrl) {
    const text = item ? "Feature-only clip: no raw audio (only features were uploaded, or the audio was erased). Decide from the evidence." : "";
    $("no-audio").textContent = text;
    ReviewClip.clear($("wave"), item ? "no audio" : "");
    ReviewClip.clear($("spec"), item ? "no audio" : "");
    if (item) { panel.dataset.drawn = item.key; panel.dataset.audio = "none"; }
    return;
  }
  $("no-audio").textContent = "loading...";
  try {
    const r = await fetch(item.audioUrl);
    if (!r.ok) throw new Error(`${r.status} ${(await r.json().catch(() => ({}))).error || ""}`);
    const bytes = await r.arrayBuffer();
    if (page.loadedKey !== key) return; // another clip was selected meanwhile
    const wav = ReviewClip.parseWav(bytes);
    ReviewClip.drawWaveform($("wave"), wav.samples);
    ReviewClip.drawSpectrogram($("spec"), wav.samples, wav.rate);
    page.blobUrl = URL.createObjectURL(new Blob([bytes], { type: "audio/wav" }));
    player.src = page.blobUrl;
    $("play").disabled = false;
    $("no-audio").textContent = `${(wav.samples.length / wav.rate).toFixed(2)} s at ${wav.rate} Hz`;
    panel.dataset.audio = "wav";
    panel.dataset.drawn = item.key;
  } catch (e) {
    if (page.loadedKey !== key) return;
    $("no-audio").textContent = "audio could not be shown: " + (e.message || e);
    ReviewClip.clear($("wave"), "audio unavailable");
    ReviewClip.clear($("spec"), "");
    panel.dataset.audio = "error";
    panel.dataset.drawn = item.key;
  }
}

function togglePlay() {
  const player = $("player");
  if (!player.src) return;
  if (player.paused) player.play().catch(e => { $("message").textContent = "cannot play: " + e.message; });
  else player.pause();
}

function showPlayhead() {
  const player = $("player"), head = $("playhead");
  if (!player.duration) return;
  head.hidden = false;
  head.style.left = `${(100 * player.currentTime / player.duration).toFixed(2)}%`;
  head.dataset.seconds = player.currentTime.toFixed(3);
  $("clock").textContent = `${player.currentTime.toFixed(2)} / ${player.duration.toFixed(2)} s`;
  if (!player.paused) requestAnimationFrame(showPlayhead);
}

// --- decisions -------------------------------------------------------------------------------------------------------------

async function decide(label) {
  const { list, i, item } = current();
  if (!item || page.busy) return;
  page.busy = true;
  const message = $("message");
  try {
    if (page.mode === "queue") {
      const next = list[i + 1] || list[i - 1] || null;
      const r = await apiSend("POST", `/api/review/items/${encodeURIComponent(item.deviceId)}/${item.sequence}/decision`, { label });
      const body = await r.json().catch(() => ({}));
      message.textContent = r.ok ? `${item.deviceId} #${item.sequence}: ${label} by ${body.reviewer}` : `refused (${r.status}): ${body.error || ""}`;
      if (r.ok) page.selected.queue = next ? next.key : null;
      await refresh();
    } else {
      const r = await apiSend("POST", "/api/review/audit", { deviceId: item.deviceId, sequence: item.sequence, label });
      const body = await r.json().catch(() => ({}));
      message.textContent = r.ok ? `re-check of ${item.deviceId} #${item.sequence}: ${label} (${label === item.label ? "agrees" : "disagrees"})`
        : `refused (${r.status}): ${body.error || ""}`;
      if (r.ok) {
        page.checks.set(item.key, label);
        renderSpot();
        const next = list.slice(i + 1).concat(list.slice(0, i)).find(x => !page.checks.has(x.key));
        if (next) select(next.key); else markSelection();
      }
      await refresh();
    }
  } finally {
    page.busy = false;
  }
}

async function loadSample() {
  try {
    const sample = await getJson(`/api/review/audit/sample?count=20&kind=aligner&seed=${page.seed}`);
    page.lists.spot = sample.map(s => ({ key: keyOf(s.label.deviceId, s.label.sequence), deviceId: s.label.deviceId, sequence: s.label.sequence,
      label: s.label.label, source: s.label.source, labeledUtc: s.label.labeledUtc, provenance: s.provenance, clipId: s.clipId, audioUrl: s.audioUrl }));
    page.selected.spot = (page.lists.spot[0] || {}).key || null;
    renderSpot();
    $("spot").dataset.loaded = "1";
    if (page.mode === "spot") select(page.selected.spot);
  } catch (e) {
    document.body.dataset.error = String(e);
  }
}

async function refresh() {
  try {
    const [queue, audit, status, labels] = await Promise.all([getJson("/api/review/items?limit=200"), getJson("/api/review/audit"),
      getJson("/api/review/status"), getJson("/api/review/labels?limit=20")]);
    $("waiting").textContent = queue.count;
    $("worker").textContent = status.enabled ? "on" : "off";
    renderAgreement(audit);
    renderRecent(labels);
    page.lists.queue = queue.items.map(x => ({ ...x, key: keyOf(x.deviceId, x.sequence) }));
    renderQueue();
    const keep = page.lists.queue.some(x => x.key === page.selected.queue);
    if (!keep) page.selected.queue = (page.lists.queue[0] || {}).key || null;
    if (page.mode === "queue") select(page.selected.queue); else markSelection();
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.ready = "1";
    delete document.body.dataset.error;
  } catch (e) {
    document.body.dataset.error = String(e);
  }
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
  const act = {
    t: () => !e.repeat && decide("TrueAccept"), f: () => !e.repeat && decide("FalseAccept"), " ": togglePlay,
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    q: () => setMode("queue"), s: () => setMode("spot"), n: () => { page.seed++; page.checks.clear(); loadSample(); },
  }[e.key];
  if (!act) return;
  e.preventDefault();
  act();
});
for (const b of document.querySelectorAll("#decide button")) b.addEventListener("click", () => decide(b.dataset.label));
for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => setMode(b.dataset.mode));
$("play").addEventListener("click", togglePlay);
$("player").addEventListener("play", () => { $("play").textContent = "Pause (space)"; showPlayhead(); });
$("player").addEventListener("pause", () => { $("play").textContent = "Play (space)"; showPlayhead(); });
$("player").addEventListener("ended", showPlayhead);
$("player").addEventListener("seeked", showPlayhead);

setMode("queue");
refresh();
setInterval(refresh, 15000);
