"use strict";
// The signed-in session of the dashboard pages: who is logged in (GET /api/session), a logout button, and apiSend(), which
// adds the anti-forgery header every state-changing call from a page needs. The session cookie itself is HttpOnly: scripts
// never see the token. A 401 (session expired or token revoked) sends the browser to the login form.

const edgekwsSession = (async () => {
  const r = await fetch("/api/session", { headers: { Accept: "application/json" } });
  if (r.status === 401) { location.href = "/login?returnUrl=" + encodeURIComponent(location.pathname + location.search); throw new Error("not signed in"); }
  if (!r.ok) throw new Error("/api/session -> HTTP " + r.status);
  const s = await r.json();
  const box = document.getElementById("session");
  if (box) {
    box.textContent = `${s.name} (${s.role}) `;
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/logout";
    form.style.display = "inline";
    const b = document.createElement("button");
    b.type = "submit";
    b.textContent = "Log out";
    form.appendChild(b);
    box.appendChild(form);
    box.dataset.name = s.name;
    box.dataset.role = s.role;
  }
  return s;
})();

// A state-changing call (POST, PUT, DELETE) with a JSON body and the session's anti-forgery header.
async function apiSend(method, url, body) {
  const s = await edgekwsSession;
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (s.antiForgery) headers[s.antiForgeryHeader] = s.antiForgery;
  return fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}
