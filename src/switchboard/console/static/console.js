// The console's own behaviour, beside htmx: forms that call the agents' JSON API, countdowns,
// keyboard shortcuts, the presence heartbeat, and leaving when the session ends.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  const status = (text) => {
    const region = document.getElementById("live-status");
    if (region) region.textContent = text;
  };

  // --- forms that call the API ------------------------------------------------------------
  // <form data-api="METHOD /api/v1/..." data-then="refresh|reload|go|claimed|sign-in|...">:
  // its fields are sent as JSON (data-type="int|bool|uuid-or-null" says how), with the
  // session's CSRF token; an error answer's detail is shown in the form's role=alert.

  function fieldsOf(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") continue;
      const type = el.dataset.type;
      if (type === "bool") body[el.name] = el.checked;
      else if (type === "int") body[el.name] = el.value === "" ? null : Number.parseInt(el.value, 10);
      else if (type === "uuid-or-null") body[el.name] = el.value === "" ? null : el.value;
      else if (el.value !== "" || el.required) body[el.name] = el.value;
    }
    return body;
  }

  function showError(form, text) {
    const alert = form.querySelector('[role="alert"]');
    if (alert) alert.textContent = text;
    else status(text);
  }

  async function submitApi(form) {
    const [method, url] = form.dataset.api.split(" ");
    showError(form, "");
    const button = form.querySelector('[type="submit"]');
    if (button) button.disabled = true;
    let response;
    try {
      response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: method === "DELETE" ? undefined : JSON.stringify(fieldsOf(form)),
      });
    } catch (err) {
      showError(form, "The service did not answer. Check your connection and try again.");
      if (button) button.disabled = false;
      return;
    }
    if (button) button.disabled = false;
    const answer = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401 && answer && answer.error === "not_signed_in") {
      window.location.assign("/console/sign-in?then=" + encodeURIComponent(location.pathname));
      return;
    }
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      const detail = answer && answer.detail ? answer.detail : "refused (" + response.status + ")";
      showError(form, detail + (retry ? " Try again in " + retry + " s." : ""));
      return;
    }
    if (form.hasAttribute("data-reset")) form.reset();
    then(form, answer, response.status);
  }

  function then(form, answer, code) {
    const next = form.dataset.then;
    if (next === "refresh") {
      document.body.dispatchEvent(new CustomEvent("sb:changed"));
      status("Done.");
    } else if (next === "reload") {
      window.location.reload();
    } else if (next === "go") {
      window.location.assign(form.dataset.go);
    } else if (next === "claimed") {
      if (code === 204) status("Nothing waiting in your queues that you may take.");
      else if (answer.conversation_id) window.location.assign("/console/conversations/" + answer.conversation_id);
      else document.body.dispatchEvent(new CustomEvent("sb:changed"));
    } else if (next === "sign-in") {
      // The session's CSRF token, which the code's step must send back.
      document.querySelector('meta[name="csrf-token"]').content = answer.csrf_token;
      if (answer.stage === "signed_in") window.location.assign(form.dataset.next);
      else {
        form.hidden = true;
        const code = document.getElementById("code-step");
        code.hidden = false;
        code.querySelector("input").focus();
      }
    } else if (next === "signed-out") {
      window.location.assign("/console/sign-in");
    } else if (next === "reveal") {
      showRevealed(answer);
    } else if (next === "checked") {
      showError(form, answer.verified ? "Verified." : "Not verified: " + (answer.reason || "wrong code") + ", " + answer.attempts_left + " attempts left.");
      document.body.dispatchEvent(new CustomEvent("sb:changed"));
    } else if (next === "message") {
      showError(form, form.dataset.message);
    }
  }

  // Revealed contact details replace the masked ones until visible_until, then go.
  function showRevealed(answer) {
    const list = document.getElementById("contacts");
    if (!list) return;
    const masked = Array.from(list.children).map((li) => li.cloneNode(true));
    list.replaceChildren(...answer.contacts.map((c) => {
      const li = document.createElement("li");
      li.className = "revealed";
      li.textContent = c.channel + " " + c.address;
      return li;
    }));
    const left = new Date(answer.visible_until) - Date.now();
    status("Contact details shown for 5 minutes.");
    window.setTimeout(() => list.replaceChildren(...masked), Math.max(0, left));
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    event.preventDefault();
    submitApi(form);
  });

  document.addEventListener("click", (event) => {
    const opener = event.target.closest && event.target.closest("[data-shortcuts]");
    const dialog = document.getElementById("shortcuts");
    if (opener && dialog) dialog.showModal();
  });

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-submit-on-change") && el.form) {
      el.form.requestSubmit();
      el.blur();  // the keys work again at once
    }
  });

  // The enrolment link's secret is in the fragment: into the form, and out of the address bar.
  function takeSecretFromFragment() {
    const field = document.querySelector("input[data-from-fragment]");
    if (!field || !location.hash) return;
    field.value = decodeURIComponent(location.hash.slice(1));
    history.replaceState(null, "", location.pathname);
  }

  // --- countdowns -------------------------------------------------------------------------

  function clock(seconds) {
    const s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
    if (h >= 24) return Math.floor(h / 24) + "d " + String(h % 24).padStart(2, "0") + ":" + mm;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll("[data-since]")) {
      el.textContent = clock((now - new Date(el.dataset.since)) / 1000);
    }
    for (const el of document.querySelectorAll("[data-due]")) {
      if (!el.dataset.due) continue;
      const left = (new Date(el.dataset.due) - now) / 1000;
      const label = el.dataset.label || "due";
      el.textContent = left >= 0 ? label + " in " + clock(left) : label + ": overdue by " + clock(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 120);
    }
  }

  // --- keyboard ---------------------------------------------------------------------------

  let pendingG = false;
  const click = (selector) => {
    const el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  };

  function moveInWork(step) {
    const links = Array.from(document.querySelectorAll("a.open-conversation"));
    if (!links.length) return;
    const here = links.findIndex((a) => a.getAttribute("href") === location.pathname);
    const next = links[(here + step + links.length) % links.length];
    next.focus();
    if (location.pathname.startsWith("/console/conversations/")) next.click();
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
    if (typing) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form) {
        event.preventDefault();
        target.form.requestSubmit();
      } else if (event.key === "Escape") {
        target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (pendingG) {
      pendingG = false;
      if (event.key === "w") location.assign("/console/work");
      else if (event.key === "q") location.assign("/console/queues");
      return;
    }
    const keys = {
      g: () => { pendingG = true; window.setTimeout(() => { pendingG = false; }, 1200); return true; },
      n: () => click("#claim-next"),
      a: () => click("li.offer button.accept"),
      d: () => click("li.offer button.decline"),
      r: () => { const t = document.getElementById("reply-text"); if (t) t.focus(); return !!t; },
      w: () => click("#wrap-up"),
      j: () => { moveInWork(1); return true; },
      k: () => { moveInWork(-1); return true; },
      "/": () => { location.assign("/console/search"); return true; },
      "?": () => { const d = document.getElementById("shortcuts"); if (d) d.showModal(); return !!d; },
    };
    const action = keys[event.key];
    if (action && action()) event.preventDefault();
  });

  // --- presence heartbeat and the session's end ---------------------------------------------

  async function heartbeat() {
    const response = await fetch("/api/v1/presence/heartbeat", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
    }).catch(() => null);
    if (response && response.status === 401) window.location.assign("/console/sign-in");
  }

  function signedOut() {
    window.location.assign("/console/sign-in");
  }

  document.addEventListener("htmx:sseClose", (event) => {
    if (event.detail && event.detail.type === "message") signedOut();
  });
  document.addEventListener("htmx:sseError", async () => {
    // The stream dropped: still signed in? (A refused stream cannot say why.)
    const response = await fetch("/api/v1/session", { credentials: "same-origin" }).catch(() => null);
    if (response && response.status === 401) signedOut();
  });

  document.addEventListener("DOMContentLoaded", () => {
    takeSecretFromFragment();
    tick();
    window.setInterval(tick, 1000);
    if (document.body.dataset.agent) {
      heartbeat();
      window.setInterval(heartbeat, 30000);
    }
  });
  document.addEventListener("htmx:afterSettle", tick);
  // A panel folded away is not read again until it is opened.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const folded = event.target.closest && event.target.closest("details");
    if (folded && !folded.open) event.preventDefault();
  });
})();
