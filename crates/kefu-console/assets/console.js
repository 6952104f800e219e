// Kefu console: small enhancements over server-rendered pages. Texts come from the
// page (data attributes rendered from the message catalogs), never from this file.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// One request to the API with the session cookie; changes carry the page's
// anti-forgery token. `body` is JSON, or raw bytes with `contentType`.
async function send(method, path, body, contentType) {
  const init = { method, credentials: "same-origin", headers: {} };
  const csrf = document.querySelector('meta[name="csrf-token"]');
  if (method !== "GET" && csrf && csrf.content) init.headers["x-csrf-token"] = csrf.content;
  if (body !== undefined) {
    init.headers["content-type"] = contentType || "application/json";
    init.body = contentType ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (_) {
    const err = new Error("network");
    err.code = "network";
    throw err;
  }
  let data = null;
  try { data = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) {
    // The API's English message is for its other readers; the console says the
    // error from its code and reason through the catalog (see sayError()).
    const err = new Error((data && data.error && data.error.code) || String(res.status));
    err.code = data && data.error && data.error.code;
    err.details = (data && data.error && data.error.details) || {};
    err.status = res.status;
    throw err;
  }
  return data;
}

function api(method, path, body) {
  return send(method, path, body);
}

function toast(text, isError) {
  const t = $("#toast");
  if (!t) return;
  t.textContent = text;
  t.classList.add("show");
  t.classList.toggle("error", !!isError);
  clearTimeout(t.hideTimer);
  // Confirmations fade; errors stay until the next action or a click.
  if (!isError) t.hideTimer = setTimeout(() => t.classList.remove("show"), 3000);
  t.onclick = () => t.classList.remove("show");
}

// Asks before something that cannot be undone, in the page (the browser's own
// dialog speaks the browser's language). With `reasonNeeded` a reason must be
// written; the answer is { reason } when confirmed, null when not.
function askConfirm(text, reasonNeeded) {
  const dialog = $("#confirm-dialog");
  if (!dialog || !dialog.showModal) return Promise.resolve(confirm(text) ? { reason: "" } : null);
  $("#confirm-text").textContent = text;
  const box = $("#confirm-reason-box");
  const reason = $("#confirm-reason");
  box.hidden = !reasonNeeded;
  reason.value = "";
  for (const el of $$(".field-error", dialog)) el.remove();
  return new Promise((resolve) => {
    const ok = $("#confirm-ok");
    const onOk = (e) => {
      if (reasonNeeded && !reason.value.trim()) {
        e.preventDefault();
        catalog().then((cat) => showFieldText(reason, cat["app.confirm_reason_needed"] || ""));
        return;
      }
    };
    ok.addEventListener("click", onOk);
    dialog.addEventListener("close", () => {
      ok.removeEventListener("click", onOk);
      resolve(dialog.returnValue === "ok" ? { reason: reason.value.trim() } : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    (reasonNeeded ? reason : ok).focus();
  });
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
}

// The message catalog of the viewer's language (every word the console says),
// fetched once per page when an error has to be said.
let catalogLoad = null;
function catalog() {
  if (!catalogLoad) {
    catalogLoad = fetch("/console/catalog.json", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : {}))
      .catch(() => ({}));
  }
  return catalogLoad;
}

// A reason in words: `reason.<code>` with its figures; `{name@prefix}` says a
// figure through the catalog (a state code as its word); a line is named first.
function sayReason(cat, reason, args) {
  args = args || {};
  const key = "reason." + reason;
  let text = cat[key];
  if (text === undefined) return cat["error.validation.invalid_field"] || reason;
  const usesLine = text.includes("{line}");
  text = text.replace(/\{(\w+)(?:@([^}]*))?\}/g, (_, name, prefix) => {
    const v = args[name] === undefined ? "" : String(args[name]);
    if (prefix !== undefined) return cat[prefix + v] !== undefined ? cat[prefix + v] : v;
    return v;
  });
  if (args.line && !usesLine) text = fill(cat["reason.at_line"] || "", { line: args.line }) + text;
  return text;
}

// An error from the API in the viewer's words: its reason when it has one, else
// the words for its code.
function sayError(cat, x) {
  const d = x.details || {};
  if (d.reason) return sayReason(cat, d.reason, d.args);
  if (x.code === "network") return cat["app.network"] || "";
  return cat["error." + x.code] || cat["app.error"] || "";
}

// A field's label for an error that has no input on the page.
function fieldLabel(cat, form, field) {
  const input = form && findField(form, field);
  if (input && input.labels && input.labels[0]) return input.labels[0].textContent.trim();
  const base = field.replace(/\[\d+\]/g, "");
  return cat["field." + base] || cat["field." + base.split(".").pop()] || "";
}

// The input a refused field names: by name (the API's JSON path, under the form's
// data-field-prefix when its body nests the fields), else the last input of a
// row named so (a phone's number), else a container marked data-field.
function findField(form, field) {
  if (!form) return null;
  const esc = (v) => (window.CSS && CSS.escape ? CSS.escape(v) : v);
  const names = [field];
  if (form.dataset.fieldPrefix && !field.startsWith(form.dataset.fieldPrefix)) names.unshift(form.dataset.fieldPrefix + field);
  for (const name of names) {
    const exact = form.querySelector('[name="' + esc(name) + '"]');
    if (exact) return exact;
    const within = $$('[name^="' + esc(name) + '."]', form);
    if (within.length) return within[within.length - 1];
    const marked = form.querySelector('[data-field="' + esc(name) + '"]');
    if (marked) return marked;
  }
  for (const name of names) {
    const list = form.querySelector('[name="' + esc(name.replace(/\[\d+\]$/, "")) + '"]');
    if (list) return list;
  }
  return null;
}

function clearErrors(form) {
  if (!form) return;
  for (const el of $$(".field-error", form)) el.remove();
  for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
  const general = $(".form-error", form);
  if (general) general.textContent = "";
}

// A message of the console's own at a field (e.g. two passwords that differ).
function showFieldText(input, text) {
  const note = document.createElement("span");
  note.className = "field-error";
  note.setAttribute("role", "alert");
  note.textContent = text;
  input.setAttribute("aria-invalid", "true");
  input.insertAdjacentElement("afterend", note);
  const clear = () => { note.remove(); input.removeAttribute("aria-invalid"); };
  input.addEventListener("input", clear, { once: true });
  input.focus();
}

// Shows an API error: each refused field's reason at its input (all of them, as
// the server reported), the rest in `target` (an element, else a lasting toast).
// A field's message stays until that field is changed.
async function showError(target, x, form) {
  const cat = await catalog();
  clearErrors(form);
  const errors = (x.details && x.details.errors) || [];
  const general = [];
  let first = null;
  for (const e of errors) {
    const text = sayReason(cat, e.reason, e.args);
    const input = findField(form, e.field);
    if (!input) {
      const label = fieldLabel(cat, form, e.field);
      general.push(label ? label + "：" + text : text);
      continue;
    }
    const note = document.createElement("span");
    note.className = "field-error";
    note.setAttribute("role", "alert");
    note.textContent = text;
    input.setAttribute("aria-invalid", "true");
    input.insertAdjacentElement("afterend", note);
    const clear = () => {
      note.remove();
      input.removeAttribute("aria-invalid");
      input.removeEventListener("input", clear);
      input.removeEventListener("change", clear);
    };
    input.addEventListener("input", clear);
    input.addEventListener("change", clear);
    if (!first) first = input;
  }
  if (!errors.length) general.push(sayError(cat, x));
  if (first && first.focus) first.focus();
  if (!general.length) return;
  const text = general.join("；");
  const box = target || (form && $(".form-error", form));
  if (box) box.textContent = text; else toast(text, true);
}


// Forms and buttons that call the API. A form names its call in data-method and
// data-path; its fields carry the API's JSON names (nested as a.b or a[2].b), and
// data-type converts a field: int, number, bool (a checkbox), list (split at
// commas), lines (one item per line); an empty field is left out, or sent as null
// with data-empty="null". Rows of a repeating part (<tbody data-rows="holidays">
// with inputs named by data-name) become holidays[0].date, holidays[1].date, …
// (blank rows are skipped). After success, data-done says what follows: "reload",
// a URL with {field} taken from the answer, or "show" (the element
// #<form id>-done is filled from the answer: [data-from=path] elements). A
// data-confirm asks first.
function setPath(obj, path, value) {
  const parts = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let at = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = /^\d+$/.test(parts[i]) ? Number(parts[i]) : parts[i];
    if (at[key] === undefined) at[key] = /^\d+$/.test(parts[i + 1]) ? [] : {};
    at = at[key];
  }
  const last = parts[parts.length - 1];
  at[/^\d+$/.test(last) ? Number(last) : last] = value;
}

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

function fieldValue(el) {
  const type = el.dataset.type || "";
  if (el.type === "checkbox" && type === "bool") return el.checked;
  if (el.type === "checkbox" || el.type === "radio") {
    // A choice of "none" (an empty value) leaves the field out.
    if (!el.checked || el.value === "") return undefined;
    if (type === "int") return /^-?\d+$/.test(el.value) ? Number(el.value) : el.value;
    return el.value;
  }
  if (el.multiple) return Array.from(el.selectedOptions).map((o) => o.value);
  const raw = el.value.trim();
  if (raw === "") return el.dataset.empty === "null" ? null : (type === "keep" ? "" : undefined);
  if (type === "int") return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  // A local date and time (datetime-local) in the center's time zone.
  if (type === "datetime") return /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(raw) ? raw + ":00" + (el.dataset.offset || "+08:00") : raw;
  if (type === "number") return Number.isNaN(Number(raw)) ? raw : Number(raw);
  if (type === "list") return raw.split(/[,，、;；\n]/).map((v) => v.trim()).filter((v) => v);
  if (type === "lines") return raw.split("\n").map((v) => v.trim()).filter((v) => v);
  return el.type === "textarea" ? el.value : raw;
}

function numberRows(form) {
  for (const box of $$("[data-rows]", form)) {
    let i = 0;
    for (const row of Array.from(box.children)) {
      const inputs = $$("[data-name]", row);
      // A row with nothing chosen or typed is left out (fields that only go with
      // another, like a deadline's clock, do not count).
      const blank = inputs.every((el) => el.dataset.onlyWith || el.type === "checkbox" || !el.value.trim());
      const filled = (name) => {
        const other = inputs.find((x) => x.dataset.name === name);
        return other && other.value.trim() !== "";
      };
      for (const el of inputs) {
        const skip = blank || (el.dataset.onlyWith && !filled(el.dataset.onlyWith));
        if (skip) { el.removeAttribute("name"); continue; }
        // An id the person never sees (a question's), numbered by the row.
        if (el.dataset.autoId !== undefined) el.value = el.dataset.autoId + (i + 1);
        el.name = box.dataset.rows + "[" + i + "]" + (el.dataset.name ? "." + el.dataset.name : "");
      }
      if (!blank) i++;
    }
  }
}

function formBody(form) {
  numberRows(form);
  const body = {};
  const lists = {};
  for (const el of Array.from(form.elements)) {
    if (!el.name || el.disabled || el.dataset.skip !== undefined) continue;
    const v = fieldValue(el);
    if (v === undefined) continue;
    // Several checkboxes of one name make a list.
    if (el.type === "checkbox" && el.dataset.type !== "bool") {
      (lists[el.name] = lists[el.name] || []).push(v);
      continue;
    }
    setPath(body, el.name, v);
  }
  for (const [name, values] of Object.entries(lists)) setPath(body, name, values);
  for (const el of $$("[data-list]", form)) {
    if (getPath(body, el.dataset.list.replace(/\[(\d+)\]/g, ".$1")) === undefined) setPath(body, el.dataset.list, []);
  }
  return body;
}

function fillPath(template, values) {
  return template.replace(/\{([\w.]+)\}/g, (_, k) => encodeURIComponent(getPath(values, k) ?? ""));
}

async function apiDone(el, answer, form) {
  const done = el.dataset.done || "reload";
  if (done === "reload") { location.reload(); return; }
  if (done === "refresh-callbacks") { await refreshCallbacks(); return; }
  if (done === "show") {
    const box = document.getElementById((form || el).id + "-done");
    if (!box) return;
    for (const out of $$("[data-from]", box)) out.textContent = getPath(answer, out.dataset.from) ?? "";
    for (const cond of $$("[data-if]", box)) cond.hidden = !getPath(answer, cond.dataset.if);
    for (const cond of $$("[data-unless]", box)) cond.hidden = !!getPath(answer, cond.dataset.unless);
    box.hidden = false;
    if (form) form.reset();
    return;
  }
  location.href = fillPath(done, answer || {});
}

// One form that calls the API (see above); forms that arrive later (a list
// refreshed in place) are bound the same way.
function bindApiForm(form) {
  if (form.dataset.bound) return;
  form.dataset.bound = "1";
  // The server checks every field and says what is wrong at each, in the
  // catalog's words; the browser's own checks would stop at the first.
  form.noValidate = true;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (form.dataset.confirm && !(await askConfirm(form.dataset.confirm))) return;
    clearErrors(form);
    const button = e.submitter;
    if (button) button.disabled = true;
    try {
      const body = formBody(form);
      const answer = await api(form.dataset.method, fillPath(form.dataset.path, form.dataset), body);
      await apiDone(form, answer, form);
    } catch (x) {
      await showError(null, x, form);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

function setupApiForms() {
  for (const form of $$("form[data-method]")) bindApiForm(form);
  for (const b of $$("button[data-method]")) {
    b.addEventListener("click", async () => {
      if (b.dataset.confirm && !(await askConfirm(b.dataset.confirm))) return;
      b.disabled = true;
      const target = b.dataset.error ? $(b.dataset.error) : null;
      try {
        const body = b.dataset.body ? JSON.parse(b.dataset.body) : undefined;
        const answer = await api(b.dataset.method, b.dataset.path, body);
        await apiDone(b, answer, null);
      } catch (x) {
        await showError(target, x, null);
      } finally {
        b.disabled = false;
      }
    });
  }
  // Repeating rows: add from the part's template, remove with the row's button.
  for (const add of $$("[data-add-row]")) {
    add.addEventListener("click", () => {
      const box = document.querySelector('[data-rows="' + add.dataset.addRow + '"]');
      const template = document.getElementById(add.dataset.addRow + "-template");
      if (!box || !template) return;
      const row = template.content.firstElementChild.cloneNode(true);
      box.appendChild(row);
      const first = $("input, select", row);
      if (first) first.focus();
    });
  }
  document.addEventListener("click", (e) => {
    const remove = e.target.closest ? e.target.closest(".remove-row") : null;
    if (remove) remove.closest("tr, li, .row").remove();
  });
}

// Sign-in
function setupLogin() {
  const form = $("#login-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("#login-error");
    err.textContent = "";
    try {
      const r = await api("POST", "/api/v1/auth/login", { staff_no: form.staff_no.value, password: form.password.value });
      // A one-time password is replaced first; otherwise back where the person was.
      location.href = r.must_change_password ? "/console/password" : (form.dataset.next || "/console");
    } catch (x) {
      if (x.code === "auth.account_locked") {
        // Until when the lock lasts (the center's local time) and whom to ask.
        const until = Date.parse((x.details && x.details.locked_until) || "");
        let time = "";
        try {
          time = new Date(until).toLocaleTimeString("zh-CN", { timeZone: form.dataset.tz, hour: "2-digit", minute: "2-digit", hour12: false });
        } catch (_) { /* an unknown zone: say it without the time */ }
        err.textContent = Number.isNaN(until) || !time ? form.dataset.locked : fill(form.dataset.lockedUntil, { time });
      } else if (x.code === "rate_limited") {
        err.textContent = form.dataset.limited;
      } else {
        err.textContent = form.dataset.failed;
      }
    }
  });
}

// One's password: the new one twice, then home (or back to work).
function setupPassword() {
  const form = $("#password-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const confirmBox = form.confirm_password;
    if (form.new_password.value !== confirmBox.value) {
      showFieldText(confirmBox, confirmBox.dataset.mismatch);
      return;
    }
    try {
      await api("PUT", "/api/v1/me/password", {
        current_password: form.current_password.value,
        new_password: form.new_password.value,
      });
      location.href = $("#password-page").dataset.home;
    } catch (x) { showError(null, x, form); }
  });
}

function setupSignOut() {
  const b = $("#sign-out");
  if (!b) return;
  b.addEventListener("click", async () => {
    try { await api("POST", "/api/v1/auth/logout"); } catch (_) { /* already out */ }
    location.href = "/console/login";
  });
}

// Agent desk: seat, screen pop, call record, work order from the call.
// The desk's promised callbacks, fetched again in place: after one is done, and
// every 30 s (due times turn red as they pass), unless the agent is typing there.
async function refreshCallbacks() {
  const box = $("#callbacks");
  if (!box) return;
  try {
    const res = await fetch(box.dataset.refresh, { credentials: "same-origin" });
    if (!res.ok) return;
    box.innerHTML = await res.text();
    for (const form of $$("form[data-method]", box)) bindApiForm(form);
    tickCountdowns();
  } catch (_) { /* the next tick tries again */ }
}

// Shows the pop for a contact (a call ringing, or a call back begun) on the desk.
async function showPop(contactId) {
  const res = await fetch("/console/desk/pop/" + contactId, { credentials: "same-origin" });
  if (!res.ok) return;
  $("#pop").innerHTML = await res.text();
  setupPop();
  setupDeskSearch();
  const first = $("#category");
  if (first) first.focus();
}

function setupCallbacks() {
  const box = $("#callbacks");
  if (!box) return;
  setInterval(() => {
    if (box.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
    refreshCallbacks();
  }, 30000);
  // 回拨: an outbound call to the customer is recorded, and its pop opens here.
  box.addEventListener("click", async (e) => {
    const b = e.target.closest ? e.target.closest(".call-back") : null;
    if (!b) return;
    const li = b.closest("li");
    const body = { direction: "outbound", number: li.dataset.number };
    if (li.dataset.customer) body.customer_id = Number(li.dataset.customer);
    b.disabled = true;
    try {
      const contact = await api("POST", "/api/v1/contacts", body);
      await showPop(contact.id);
    } catch (x) {
      await showError($(".form-error", li), x, null);
    } finally {
      b.disabled = false;
    }
  });
}

// Click-to-dial (拨打): the PBX rings the agent's extension, then the customer.
// The button says how far it got, in words, until the call is through or failed.
function armDial(scope, ref) {
  const b = scope && $(".dial", scope);
  if (!b) return;
  b.dataset.ref = ref;
  b.hidden = false;
  b.disabled = false;
  const state = b.nextElementSibling;
  if (state) state.textContent = "";
}

function setupDial() {
  document.addEventListener("click", async (e) => {
    const b = e.target.closest ? e.target.closest("button.dial") : null;
    if (!b) return;
    const state = b.nextElementSibling;
    const cat = await catalog();
    const say = (key, args) => { if (state) state.textContent = fill(cat[key] || "", args || {}); };
    b.disabled = true;
    let dial;
    try {
      dial = await api("POST", "/api/v1/telephony/dials", { purpose: b.dataset.purpose, ref_id: Number(b.dataset.ref) });
    } catch (x) {
      b.disabled = false;
      await showError(state, x, null);
      return;
    }
    say("dial.waiting", { extension: dial.extension });
    const until = Date.now() + 90000;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1000));
      try { dial = await api("GET", "/api/v1/telephony/dials/" + dial.id); } catch (_) { continue; }
      if (dial.status === "taken") say("dial.taken", { extension: dial.extension });
      else if (dial.status === "connected" || dial.status === "recorded") { say("dial.connected"); return; }
      else if (dial.status === "failed") { say("dial.failed_" + (dial.reason || "failed")); b.disabled = false; return; }
      else if (dial.status === "expired") { say("dial.expired"); b.disabled = false; return; }
    }
    say("dial.expired");
    b.disabled = false;
  });
}

// How long since each `.elapsed[data-since]`, ticking every second.
// Counted on the server's clock (the page says its time when it was made).
const serverSkew = (() => {
  const at = document.body && Date.parse(document.body.dataset.now || "");
  return at ? at - Date.now() : 0;
})();
function tickElapsed() {
  for (const el of $$(".elapsed[data-since]")) {
    const secs = Math.max(0, Math.floor((Date.now() + serverSkew - Date.parse(el.dataset.since)) / 1000));
    const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
    el.textContent = (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
  }
}
setInterval(tickElapsed, 1000);

// The agent's own state on the desk: 就绪, 置忙 with a reason; calls move it too.
function setupAgentState() {
  const box = $("#agent-state");
  if (!box) return;
  const shown = $("#my-state");
  const since = $("#my-state-for");
  const reasons = $("#state-reason");
  const err = $(".form-error", box);
  const show = async (s) => {
    const cat = await catalog();
    shown.textContent = (cat["agent_state." + s.state] || "") + (s.reason ? "（" + s.reason + "）" : "");
    shown.className = "agent-state " + s.state;
    since.dataset.since = s.since;
    tickElapsed();
  };
  const load = async () => {
    try {
      const s = await api("GET", "/api/v1/me/state");
      if (!reasons.options.length) {
        for (const r of s.reasons) reasons.add(new Option(r, r));
      }
      await show(s);
    } catch (_) { /* shown on the next round */ }
  };
  const move = async (body) => {
    err.textContent = "";
    try { await show(await api("PUT", "/api/v1/me/state", body)); } catch (x) { await showError(err, x, null); }
  };
  $("#state-ready").addEventListener("click", () => move({ state: "ready" }));
  $("#state-not-ready").addEventListener("click", () => move({ state: "not_ready", reason: reasons.value }));
  box.addEventListener("kefu:reload", load);
  load();
  setInterval(load, 5000);
}

// The wallboard: the board fetched again whenever the floor moves (pushed over
// the console's events), and every 15 s besides.
function setupWallboard() {
  const box = $("#wallboard");
  if (!box) return;
  let pending = null;
  const refresh = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      try {
        const res = await fetch(box.dataset.refresh, { credentials: "same-origin" });
        if (res.ok) { box.innerHTML = await res.text(); tickElapsed(); }
      } catch (_) { /* the next event or tick tries again */ }
    }, 300);
  };
  const source = new EventSource("/console/events");
  source.addEventListener("floor", refresh);
  setInterval(refresh, 15000);
  tickElapsed();
}

function setupDesk() {
  setupCallbacks();
  setupAgentState();
  const seat = $("#seat-form");
  if (!seat) return;
  const state = $("#seat-state");
  seat.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("PUT", "/api/v1/me/seat", { extension: seat.extension.value });
      state.textContent = fill(state.dataset.in, { extension: r.extension });
      state.dataset.extension = r.extension;
      $("#agent-state").dispatchEvent(new Event("kefu:reload"));
    } catch (x) { showError(null, x); }
  });
  $("#seat-out").addEventListener("click", async () => {
    await api("DELETE", "/api/v1/me/seat");
    state.textContent = state.dataset.out;
    $("#agent-state").dispatchEvent(new Event("kefu:reload"));
  });
  const source = new EventSource("/console/events");
  source.addEventListener("ringing", async (e) => {
    const ev = JSON.parse(e.data);
    await showPop(ev.contact_id);
  });
  document.addEventListener("keydown", (e) => {
    if (!e.altKey) return;
    if (e.key === "s") { e.preventDefault(); const f = $("#record-form"); if (f) f.requestSubmit(); }
    if (e.key === "w") { e.preventDefault(); const f = $("#order-subject"); if (f) f.focus(); }
    if (e.key === "e") { e.preventDefault(); seat.extension.focus(); }
  });
}

const CATEGORY_KIND = { repair: "repair", complaint: "complaint", service_request: "service_request", consultation: "answer", query: "answer", suggestion: "suggestion" };

function setupPop() {
  const pop = $(".pop");
  const form = $("#record-form");
  if (!pop || !form) return;
  const outcome = form.outcome;
  outcome.addEventListener("change", () => {
    form.classList.toggle("callback", outcome.value === "callback");
    form.classList.toggle("transferred", outcome.value === "transferred");
  });
  // The complaint's cause and the person complained about, for complaints only.
  const order = $("#order-form");
  const complaintFields = () => {
    const option = order.kind.selectedOptions[0];
    order.classList.toggle("complaint", !!(option && option.dataset.complaint));
  };
  order.kind.addEventListener("change", complaintFields);
  form.category.addEventListener("change", () => {
    const kind = CATEGORY_KIND[form.category.value];
    if (kind) $("#order-kind").value = kind;
    complaintFields();
  });
  complaintFields();
  // The subject follows the summary until the agent writes one; focusing the
  // suggested subject selects it, so typing replaces it instead of appending.
  const subject = $("#order-subject");
  form.summary.addEventListener("input", () => {
    if (!subject.dataset.touched) subject.value = form.summary.value.slice(0, 60);
  });
  subject.addEventListener("focus", () => { if (!subject.dataset.touched) subject.select(); });
  subject.addEventListener("input", () => { subject.dataset.touched = "1"; });
  // An unknown caller: find the customer by name, code or another number and link
  // this number to their record; the pop then shows their card.
  const link = $("#link-customer");
  if (link) link.addEventListener("submit", async (e) => {
    e.preventDefault();
    const list = $("#link-hits");
    list.replaceChildren();
    const q = $("#link-q").value.trim();
    if (!q) return;
    try {
      const hits = await api("GET", "/api/v1/search?kind=customer&limit=8&q=" + encodeURIComponent(q));
      const items = Array.isArray(hits) ? hits : (hits.hits || hits.items || []);
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = link.dataset.none;
        list.appendChild(li);
      }
      for (const h of items) {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "link-to";
        b.dataset.customer = h.id;
        b.textContent = link.dataset.link;
        li.append(document.createTextNode(h.title + " "), b);
        list.appendChild(li);
      }
    } catch (x) { showError($(".form-error", link), x, null); }
  });
  if (link) link.addEventListener("click", async (e) => {
    const b = e.target.closest ? e.target.closest(".link-to") : null;
    if (!b) return;
    try {
      await api("POST", "/api/v1/customers/" + b.dataset.customer + "/phones", { number: $("#unknown-caller").dataset.number });
      await showPop(pop.dataset.contact);
    } catch (x) { showError($(".form-error", link), x, null); }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { version: Number(pop.dataset.version), category: form.category.value, summary: form.summary.value, five_w2h: {} };
    const known = $(".card");
    if (known) body.customer_id = Number(known.dataset.customer);
    for (const k of ["why", "what", "where", "when", "who", "how", "how_much"]) {
      if (form[k].value.trim()) body.five_w2h[k] = form[k].value;
    }
    if (outcome.value) {
      body.outcome = { type: outcome.value };
      if (outcome.value === "callback" && form.due.value) body.outcome.due = new Date(form.due.value).toISOString();
      if (outcome.value === "transferred") { body.outcome.target = form.target.value; body.outcome.reason = form.reason.value; }
    }
    clearErrors(form);
    try {
      const saved = await api("PUT", "/api/v1/contacts/" + pop.dataset.contact + "/record", body);
      pop.dataset.version = saved.version;
      toast($("#save-record").dataset.saved);
    } catch (x) { showError(null, x, form); }
  });
  order.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(order);
    const card = $(".card");
    const body = { kind: order.kind.value, urgency: order.urgency.value, subject: order.subject.value, contact_id: Number(pop.dataset.contact), category: form.category.value };
    if (form.summary.value.trim()) body.description = form.summary.value;
    if (card) body.customer_id = Number(card.dataset.customer);
    if (order.classList.contains("complaint")) {
      if (order.complaint_cause.value) body.complaint_cause = order.complaint_cause.value;
      if (order.complained_staff_id.value) body.complained_staff_id = Number(order.complained_staff_id.value);
    }
    try {
      const created = await api("POST", "/api/v1/work-orders", body);
      const out = $("#order-result");
      out.innerHTML = "";
      const a = document.createElement("a");
      a.href = "/console/work-orders/" + created.id;
      a.textContent = fill(order.dataset.created, { number: created.number });
      a.id = "created-order";
      out.appendChild(a);
      pop.dataset.version = Number(pop.dataset.version) + 1;
    } catch (x) { showError(null, x, order); }
  });
}

// The desk's search while on a call: knowledge articles, and the caller's past
// orders matching the same words. Hits are built as DOM nodes (marks included), never
// as HTML from the server's text.
function renderHits(list, hits, href, none) {
  list.innerHTML = "";
  if (!hits.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = none;
    list.appendChild(li);
    return;
  }
  for (const h of hits) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = href(h);
    a.target = "_blank";
    appendMarked(a, h.title_parts);
    li.appendChild(a);
    const snippet = document.createElement("p");
    snippet.className = "snippet";
    appendMarked(snippet, h.snippet);
    li.appendChild(snippet);
    list.appendChild(li);
  }
}

// A text's pieces as DOM nodes, the search words in <mark>.
function appendMarked(parent, parts) {
  for (const p of parts) {
    const el = document.createElement(p.mark ? "mark" : "span");
    el.textContent = p.text;
    parent.appendChild(el);
  }
}

function setupDeskSearch() {
  const form = $("#kb-search");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = $("#kb-q").value.trim();
    if (!q) return;
    const none = form.dataset.none;
    try {
      const articles = await api("GET", "/api/v1/search?kind=article&limit=5&q=" + encodeURIComponent(q));
      renderHits($("#kb-hits"), articles, (h) => "/console/knowledge/" + h.id, none);
      const card = $(".card");
      if (card) {
        const orders = await api("GET", "/api/v1/search?kind=work_order&limit=5&customer_id=" +
          encodeURIComponent(card.dataset.customer) + "&q=" + encodeURIComponent(q));
        $("#kb-orders-title").hidden = false;
        renderHits($("#kb-orders"), orders, (h) => "/console/work-orders/" + h.id, none);
      }
    } catch (x) { showError(null, x); }
  });
}

// Work-order detail: transitions, notes, progress notice.
// A new work order: the complaint's cause and the staff member complained about
// only for kinds that run the complaint chain (hidden fields are not sent).
function setupNewOrder() {
  const kind = $("#order-kind");
  if (!kind) return;
  const show = () => {
    const option = kind.selectedOptions[0];
    const complaint = !!(option && option.dataset.complaint);
    for (const box of $$(".complaint-only")) {
      box.hidden = !complaint;
      for (const input of $$("select, input", box)) input.disabled = !complaint;
    }
  };
  kind.addEventListener("change", show);
  show();
}

// A new campaign: the live count of the selection (before anything is frozen),
// and the fields each selection method uses.
function setupNewCampaign() {
  const form = $("#new-campaign");
  if (!form) return;
  const out = $("#selection-count");
  const showMode = () => {
    const mode = (form.querySelector('input[name="selection.mode"]:checked') || {}).value;
    for (const box of $$("[data-modes]", form)) {
      const on = box.dataset.modes.split(" ").includes(mode);
      box.hidden = !on;
      for (const el of $$("input, select", box)) el.disabled = !on;
    }
  };
  let timer = null;
  const count = async () => {
    const body = formBody(form);
    try {
      const n = await api("POST", "/api/v1/campaigns/selection-preview", { selection: body.selection || {} });
      for (const el of $$(".field-error", $("#selection-part"))) el.remove();
      out.textContent = fill(out.dataset.text, { matched: n.matched, selected: n.selected });
      out.classList.toggle("bad", n.selected === 0);
    } catch (x) {
      out.textContent = "";
      await showError(out, x, form);
    }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(count, 400); };
  $("#selection-part").addEventListener("change", () => { showMode(); later(); });
  $("#selection-part").addEventListener("input", later);
  showMode();
  count();
}

// A new incident: previewed (who is affected, each message as a customer reads
// it, every template checked) before it may be recorded; any change asks for a
// new preview.
function setupNewIncident() {
  const form = $("#new-incident");
  if (!form) return;
  const record = $("#record-incident");
  const box = $("#incident-preview");
  const stale = () => { record.disabled = true; };
  form.addEventListener("input", stale);
  form.addEventListener("change", stale);
  $("#preview-incident").addEventListener("click", async () => {
    clearErrors(form);
    try {
      const p = await api("POST", "/api/v1/incidents/preview", formBody(form));
      $("#preview-counts").textContent = fill(box.dataset.counts, p);
      $("#preview-sms").textContent = p.sms;
      $("#preview-email-subject").textContent = p.email_subject;
      $("#preview-email").textContent = p.email;
      $("#preview-script").textContent = p.call_script;
      box.hidden = false;
      form.dataset.confirm = fill(form.dataset.confirmTemplate, p);
      record.disabled = false;
    } catch (x) {
      box.hidden = true;
      await showError(null, x, form);
    }
  });
}

// A new violation: the inspection or complaint it comes from, as its source says.
function setupNewViolation() {
  const form = $("#new-violation");
  if (!form) return;
  const show = () => {
    const source = (form.querySelector('input[name="source"]:checked') || {}).value;
    for (const box of $$("[data-sources]", form)) {
      const on = box.dataset.sources === source;
      box.hidden = !on;
      for (const el of $$("select, input", box)) el.disabled = !on;
    }
  };
  form.addEventListener("change", show);
  show();
}

function setupOrder() {
  const box = $(".order-detail");
  if (!box) return;
  const id = box.dataset.id;
  const err = $("#action-error");
  const source = new EventSource("/console/events");
  $$(".transition").forEach((b) => b.addEventListener("click", async () => {
    err.textContent = "";
    const body = { command: b.dataset.command, version: Number(box.dataset.version) };
    const note = $("#action-note");
    if (note && note.value.trim()) body.note = note.value;
    if (b.dataset.confirm) {
      // Irreversible: asked first, with the reason the record needs when none is written.
      const answer = await askConfirm(b.dataset.confirm, !!b.dataset.reason && !body.note);
      if (!answer) return;
      if (answer.reason) body.note = answer.reason;
    }
    const cause = $("#action-cause");
    if (cause && cause.value && b.dataset.command === "record_result") body.complaint_cause = cause.value;
    const dept = $("#action-department");
    if (dept && b.dataset.command === "transfer") body.department_id = Number(dept.value);
    try {
      await api("POST", "/api/v1/work-orders/" + id + "/transitions", body);
      if (b.dataset.command === "transfer" && box.dataset.transferred) {
        // The order has left this department: say where it went, and stay
        // (a reload would find it out of reach).
        source.close();
        const to = dept.selectedOptions[0] ? dept.selectedOptions[0].textContent : "";
        const panel = b.closest(".actions");
        panel.replaceChildren();
        const p = document.createElement("p");
        p.id = "transferred";
        p.className = "done";
        p.textContent = fill(box.dataset.transferred, { name: to });
        const back = document.createElement("a");
        back.href = box.dataset.back || "/console";
        back.className = "button";
        back.textContent = box.dataset.backLabel || "";
        panel.append(p, back);
        return;
      }
      location.reload();
    } catch (x) { showError(err, x); }
  }));
  // The satisfaction callback: the score decides by the rule (3 or more closes
  // the complaint, less sends it back), and the answer goes into the record.
  const callback = $("#callback-form");
  if (callback) callback.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(callback);
    const picked = callback.querySelector('input[name="satisfaction"]:checked');
    const body = { version: Number(box.dataset.version), command: "confirm_satisfied" };
    if (picked) {
      body.satisfaction = Number(picked.value);
      if (body.satisfaction < 3) body.command = "report_unsatisfied";
    }
    const note = callback.note.value.trim();
    if (note) body.note = note;
    try {
      if (!picked) {
        const cat = await catalog();
        showFieldText($('input[name="satisfaction"]', callback), cat["orders.callback_score_needed"] || "");
        return;
      }
      await api("POST", "/api/v1/work-orders/" + id + "/transitions", body);
      location.reload();
    } catch (x) { showError(null, x, callback); }
  });
  const notice = $("#progress-notice");
  if (notice) notice.addEventListener("click", async () => {
    const note = $("#action-note");
    try {
      await api("POST", "/api/v1/work-orders/" + id + "/progress-notice", { summary: note.value });
      location.reload();
    } catch (x) { showError(err, x); }
  });
  const nf = $("#note-form");
  if (nf) nf.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/api/v1/work-orders/" + id + "/notes", { body: $("#note-body").value, visibility: nf.visibility.value });
      location.reload();
    } catch (x) { showError(null, x); }
  });
  source.addEventListener("work_order", (e) => {
    const ev = JSON.parse(e.data);
    if (String(ev.id) === id && !$("#transferred")) location.reload();
  });
}

// Deadline countdowns: amber in the last fifth (or last hour), red when past due.
// Counted on the server's clock (the page says what time it was when rendered).
const serverNow = Date.parse(document.body ? document.body.dataset.now : "");
const clockSkew = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();

function tickCountdowns() {
  const now = Date.now() + clockSkew;
  for (const el of $$(".countdown")) {
    const due = Date.parse(el.dataset.due);
    const start = Date.parse(el.dataset.start);
    if (Number.isNaN(due)) continue;
    const left = due - now;
    const abs = Math.abs(left);
    const d = Math.floor(abs / 86400000);
    const h = Math.floor((abs % 86400000) / 3600000);
    const m = Math.floor((abs % 3600000) / 60000);
    const s = Math.floor((abs % 60000) / 1000);
    const days = d > 0 ? fill(document.body.dataset.days || "{n}d", { n: d }) + " " : "";
    const text = days + (d > 0 || h > 0 ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    el.textContent = left >= 0 ? el.dataset.left + " " + text : el.dataset.over + " " + text;
    const span = Number.isNaN(start) ? 0 : due - start;
    el.classList.toggle("red", left < 0);
    el.classList.toggle("amber", left >= 0 && (left < 3600000 || (span > 0 && left < span / 5)));
  }
}

function setupLists() {
  if (!$("table.orders")) return;
  const source = new EventSource("/console/events");
  source.addEventListener("work_order", () => { document.body.dataset.stale = "1"; });
}

// Follow-up call screen: take the next target, time the call against the planned
// length, record the result with the questionnaire's answers.
function setupCall() {
  const box = $("#call");
  if (!box) return;
  const planned = Number(box.dataset.planned) || 180;
  const status = $("#call-status");
  const err = $("#attempt-error");
  let target = null;
  let started = 0;
  let timer = null;
  const tick = () => {
    const secs = Math.floor((Date.now() - started) / 1000);
    const el = $("#call-timer");
    el.textContent = Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0") + " / " +
      Math.floor(planned / 60) + ":" + String(planned % 60).padStart(2, "0");
    el.classList.toggle("amber", secs >= planned * 0.8 && secs < planned);
    el.classList.toggle("red", secs >= planned);
    el.title = secs >= planned ? box.dataset.over : "";
  };
  const show = async (t) => {
    target = t;
    $("#target").hidden = false;
    $("#target-position").textContent = t.position;
    $("#target-number").textContent = t.number || "";
    $("#target-attempts").textContent = t.attempts;
    armDial($("#target"), t.id);
    const link = $("#target-customer");
    link.textContent = "";
    link.href = t.customer_id ? "/console/customers/" + t.customer_id : "#";
    // The script names the customer ({name}) once the record is read.
    const script = $("#call-script");
    if (script) script.textContent = script.dataset.template.split("{name}").join("");
    if (t.customer_id) {
      try {
        const c = await api("GET", "/api/v1/customers/" + t.customer_id);
        link.textContent = c.name;
        if (script) script.textContent = script.dataset.template.split("{name}").join(c.name);
      } catch (_) { /* the number is enough to call */ }
    }
    $("#attempt-form").reset();
    err.textContent = "";
    started = Date.now();
    clearInterval(timer);
    tick();
    timer = setInterval(tick, 1000);
  };
  $("#next-call").addEventListener("click", async () => {
    status.textContent = "";
    try {
      const t = await api("POST", "/api/v1/campaigns/" + box.dataset.campaign + "/next");
      if (t) await show(t); else { $("#target").hidden = true; status.textContent = box.dataset.nobody; }
    } catch (x) { showError(status, x); }
  });
  $("#attempt-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!target) return;
    const result = e.submitter ? e.submitter.value : "reached";
    const body = { result, duration_seconds: Math.round((Date.now() - started) / 1000) };
    const notes = $("#attempt-notes").value.trim();
    if (notes) body.notes = notes;
    if (result === "reached") {
      const s = $("#attempt-satisfaction").value;
      if (s) body.satisfaction = Number(s);
      body.answers = [];
      for (const q of $$(".question")) {
        const name = "q-" + q.dataset.id;
        const kind = q.dataset.kind;
        if (kind === "scale") {
          const v = $("input[name='" + name + "']:checked", q);
          if (v) body.answers.push({ question: q.dataset.id, value: Number(v.value) });
        } else if (kind === "choice" || kind === "multiple") {
          const vs = $$("input[name='" + name + "']:checked", q).map((i) => i.value);
          if (vs.length) body.answers.push({ question: q.dataset.id, value: vs });
        } else {
          const v = $("textarea", q).value.trim();
          if (v) body.answers.push({ question: q.dataset.id, value: v });
        }
      }
    }
    if (result === "call_back_later") {
      const at = $("#attempt-callback").value;
      if (at) body.callback_at = new Date(at).toISOString();
    }
    try {
      await api("POST", "/api/v1/campaign-targets/" + target.id + "/attempts", body);
      clearInterval(timer);
      target = null;
      $("#target").hidden = true;
      status.textContent = box.dataset.saved;
    } catch (x) { showError(err, x); }
  });
}

// Incident board: the manager's commands; the figures refresh while notices go out.
function setupIncident() {
  const box = $("#board");
  if (!box) return;
  const id = box.dataset.id;
  $$(".incident-command").forEach((b) => b.addEventListener("click", async () => {
    const body = { command: b.value };
    if (b.dataset.confirm) {
      const answer = await askConfirm(b.dataset.confirm, false);
      if (!answer) return;
    }
    try {
      await api("POST", "/api/v1/incidents/" + id + "/commands", body);
      location.reload();
    } catch (x) { showError($("#command-error"), x); }
  }));
  $$(".send-review").forEach((b) => b.addEventListener("click", async () => {
    try {
      await api("POST", "/api/v1/incidents/" + id + "/sends/review",
        { channel: b.dataset.channel, state: b.dataset.state, decision: b.value });
      location.reload();
    } catch (x) { showError($("#review-error"), x); }
  }));
  let queued = false;
  const refresh = async () => {
    queued = false;
    try {
      const b = await api("GET", "/api/v1/incidents/" + id);
      for (const [k, v] of Object.entries(b.customers)) {
        const el = $("#figure-" + k);
        if (el) el.textContent = v;
      }
    } catch (_) { /* the next event or tick tries again */ }
  };
  // Live: each change announced over SSE refreshes the figures (at most once a
  // second); a slow tick covers a dispatcher running in another process.
  const source = new EventSource("/console/events");
  source.addEventListener("incident", (e) => {
    const ev = JSON.parse(e.data);
    if (String(ev.id) !== id || queued) return;
    queued = true;
    setTimeout(refresh, 1000);
  });
  setInterval(refresh, 15000);
}

// Incident call screen: the next customer to tell (nobody else gets them while the
// call lasts), the script for them, and what came of the call.
function setupNoticeCall() {
  const box = $("#notice-call");
  if (!box) return;
  const status = $("#notice-status");
  const err = $("#notice-error");
  let notice = null;
  let started = 0;
  let timer = null;
  const tick = () => {
    const secs = Math.floor((Date.now() - started) / 1000);
    $("#notice-timer").textContent = Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0");
  };
  $("#next-notice").addEventListener("click", async () => {
    status.textContent = "";
    try {
      const next = await api("POST", "/api/v1/incidents/" + box.dataset.incident + "/next-call");
      if (!next) { $("#notice").hidden = true; status.textContent = box.dataset.nobody; return; }
      notice = next.notice;
      $("#notice").hidden = false;
      armDial($("#notice"), notice.id);
      const link = $("#notice-customer");
      link.textContent = notice.name;
      link.href = notice.customer_id ? "/console/customers/" + notice.customer_id : "#";
      $("#notice-address").textContent = notice.address || "";
      $("#notice-number").textContent = [...new Set([notice.mobile, notice.phone].filter(Boolean))].join(" / ");
      $("#notice-script").textContent = next.script;
      $("#notice-form").reset();
      err.textContent = "";
      started = Date.now();
      clearInterval(timer);
      tick();
      timer = setInterval(tick, 1000);
    } catch (x) { showError(status, x); }
  });
  $("#notice-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!notice) return;
    const body = { result: e.submitter ? e.submitter.value : "reached" };
    const notes = $("#notice-notes").value.trim();
    if (notes) body.notes = notes;
    try {
      await api("POST", "/api/v1/incident-notices/" + notice.id + "/calls", body);
      clearInterval(timer);
      notice = null;
      $("#notice").hidden = true;
      status.textContent = box.dataset.saved;
    } catch (x) { showError(err, x); }
  });
}

// Inspection: the reviewer confirms or overrides items; both verdicts are kept.
function setupInspection() {
  const box = $("#inspection");
  const form = $("#review-form");
  if (!box || !form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const items = [];
    for (const row of $$("tr.item", form)) {
      const verdict = $(".review-verdict", row);
      if (!verdict || !verdict.value) continue;
      const item = { rule: row.dataset.rule, verdict: verdict.value };
      const points = $(".review-points", row).value;
      if (points !== "") item.points = Number(points);
      const comment = $(".review-comment", row).value.trim();
      if (comment) item.comment = comment;
      items.push(item);
    }
    try {
      await api("POST", "/api/v1/inspections/" + box.dataset.id + "/reviews", { items });
      toast(box.dataset.saved);
      location.reload();
    } catch (x) { showError($("#review-error"), x); }
  });
  const again = $("#reinspect");
  if (again) again.addEventListener("click", async () => {
    try {
      const made = await api("POST", "/api/v1/contacts/" + again.dataset.contact + "/inspections");
      location.href = "/console/inspections/" + made.id;
    } catch (x) { showError($("#review-error"), x); }
  });
}

// Assessment: sign in and out of the shift; appeal or decide violations.
function setupAssessment() {
  const box = $("#assessment");
  if (!box) return;
  const signIn = $("#sign-in");
  if (signIn) signIn.addEventListener("click", async () => {
    try { await api("POST", "/api/v1/me/shift/sign-in"); location.reload(); }
    catch (x) { showError($("#shift-error"), x); }
  });
  const out = $("#sign-out-form");
  if (out) out.addEventListener("submit", async (e) => {
    e.preventDefault();
    const note = $("#handover-note").value.trim();
    try {
      await api("POST", "/api/v1/me/shift/sign-out", note ? { handover_note: note } : {});
      location.reload();
    } catch (x) { showError($("#shift-error"), x); }
  });
  $$(".violation-command").forEach((b) => b.addEventListener("click", async () => {
    const row = b.closest("tr");
    let reason = $(".violation-reason", row).value.trim();
    if (b.dataset.confirm) {
      const answer = await askConfirm(b.dataset.confirm, !!b.dataset.reason && !reason);
      if (!answer) return;
      if (answer.reason) reason = answer.reason;
    }
    const body = { command: b.value };
    if (reason) body.reason = reason;
    try {
      await api("POST", "/api/v1/violations/" + row.dataset.id + "/commands", body);
      location.reload();
    } catch (x) { showError($("#violation-error"), x); }
  }));
}

// Phrasebook and inspection rules: the forms become the API's JSON editions.
function setupPhrasebook() {
  const box = $("#phrasebook");
  const form = $("#phrasebook-form");
  if (!box || !form) return;
  const list = (v) => v.split(/[、,，\n]/).map((w) => w.trim()).filter((w) => w);
  const rows = $("#forbidden-rows");
  const template = $("#forbidden-template");
  const bindRemove = (root) => $$(".f-remove", root).forEach((b) =>
    b.addEventListener("click", () => b.closest("tr").remove()));
  bindRemove(rows);
  const add = $("#forbidden-add");
  if (add && template) add.addEventListener("click", () => {
    const row = template.content.firstElementChild.cloneNode(true);
    rows.appendChild(row);
    bindRemove(row);
    $(".f-id", row).focus();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const edition = { version: Number(box.dataset.version), greetings: {}, phrases: {}, markers: {}, forbidden: [] };
    for (const input of $$("[data-part]", form)) {
      const part = input.dataset.part;
      edition[part][input.dataset.key] = part === "markers" ? list(input.value) : input.value.trim();
    }
    for (const row of $$(".forbidden-row", rows)) {
      const f = {
        id: $(".f-id", row).value.trim(),
        category: $(".f-category", row).value,
        alternative: $(".f-alternative", row).value.trim(),
        allow: list($(".f-allow", row).value),
      };
      f[$(".f-kind", row).value] = $(".f-expression", row).value.trim();
      edition.forbidden.push(f);
    }
    try {
      await api("PUT", "/api/v1/phrasebook", edition);
      toast(box.dataset.saved);
      location.reload();
    } catch (x) { showError($("#phrasebook-error"), x); }
  });
  const rulesBox = $("#inspection-rules");
  const rulesForm = $("#rules-form");
  if (rulesBox && rulesForm) rulesForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { rules: {} };
    for (const input of $$(".threshold", rulesForm)) body[input.dataset.key] = Number(input.value);
    for (const row of $$(".rule-row", rulesForm)) {
      body.rules[row.dataset.rule] = {
        enabled: $(".rule-enabled", row).checked,
        points: Number($(".rule-points", row).value),
      };
    }
    try {
      await api("PUT", "/api/v1/inspection-rules", body);
      toast(rulesBox.dataset.saved);
      location.reload();
    } catch (x) { showError($("#rules-error"), x); }
  });
}

// Knowledge base: an article's form becomes a new article or the next version;
// the dictionary's lines become its words and synonym groups.
function setupKnowledgeEditors() {
  const list = (v) => v.split(/[、,，;；\n]/).map((w) => w.trim()).filter((w) => w);
  const box = $("#article-editor");
  const form = $("#article-form");
  if (box && form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const field = (name) => form.elements.namedItem(name).value;
    const body = {
      title: field("title").trim(),
      category: field("category").trim(),
      tags: list(field("tags")),
      status: field("status"),
      body: field("body"),
    };
    if (field("note").trim()) body.note = field("note").trim();
    try {
      let saved;
      if (box.dataset.id) {
        body.expected_version = Number(box.dataset.version);
        saved = await api("PUT", `/api/v1/knowledge/articles/${box.dataset.id}`, body);
      } else {
        saved = await api("POST", "/api/v1/knowledge/articles", body);
      }
      toast(box.dataset.saved);
      location.href = `/console/knowledge/${saved.id}`;
    } catch (x) { showError($("#article-error"), x); }
  });
  const dict = $("#dictionary-editor");
  const dictForm = $("#dictionary-form");
  if (dict && dictForm) dictForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const lines = (v) => v.split("\n").map((l) => l.trim()).filter((l) => l);
    const body = {
      words: lines(dictForm.elements.namedItem("words").value),
      synonyms: lines(dictForm.elements.namedItem("synonyms").value).map((l) => l.split(/[\s、,，]+/).filter((w) => w)),
    };
    try {
      await api("PUT", "/api/v1/search/dictionary", body);
      toast(dict.dataset.saved);
      location.reload();
    } catch (x) { showError($("#dictionary-error"), x); }
  });
}

// Administration: the tier recomputation followed live, the audit chain verified,
// a token's account chosen.
function setupAdmin() {
  const job = $("#tier-job");
  if (job && job.dataset.running === "true") {
    const poll = async () => {
      try {
        const j = await api("GET", "/api/v1/jobs/" + job.dataset.job);
        const cat = await catalog();
        const pct = j.total > 0 ? Math.floor((j.done * 100) / j.total) : 100;
        $("#job-progress").value = pct;
        $("#job-status").textContent = cat["job." + j.status] || "";
        const figures = $("#job-figures");
        figures.textContent = fill(figures.dataset.template, { done: j.done, total: j.total, changed: j.changed });
        if (j.status === "running") setTimeout(poll, 1000);
      } catch (_) { setTimeout(poll, 5000); }
    };
    setTimeout(poll, 500);
  }
  const verify = $("#verify-chain");
  if (verify) verify.addEventListener("click", async () => {
    const out = $("#verify-result");
    verify.disabled = true;
    out.className = "";
    out.textContent = "";
    try {
      const r = await api("GET", "/api/v1/audit/verify");
      const cat = await catalog();
      if (r.intact) {
        out.className = "ok";
        out.textContent = fill(cat["audit.intact"] || "", { rows: r.rows });
      } else {
        out.className = "bad";
        out.textContent = fill(cat["audit.broken"] || "", {
          seq: r.first_bad_seq,
          why: cat["audit.break_" + r.break_kind] || "",
        });
      }
    } catch (x) { await showError(out, x, null); }
    verify.disabled = false;
  });
  const staff = $("#token-staff");
  if (staff) staff.addEventListener("change", () => { staff.form.dataset.staff = staff.value; });
}

// A file sent as the request body (imports).
function apiFile(path, file) {
  return send("POST", path, file, "application/octet-stream");
}

// A table as CSV for office software: UTF-8 with a BOM, CRLF, cells that a
// spreadsheet would read as a formula kept as text.
function csvOf(rows) {
  const cell = (v) => {
    let s = String(v == null ? "" : v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  return "\ufeff" + rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

// Customer import: the file is read first (encoding, columns, first rows) and only
// imported when the person confirms the mapping; the report names each rejected
// row's reason, and the rejected rows download as a CSV to correct.
function setupImport() {
  const box = $("#import");
  if (!box) return;
  const fileForm = $("#import-file");
  let file = null;
  let preview = null;
  const query = (extra) => {
    const parts = [];
    const enc = fileForm.encoding.value;
    if (enc) parts.push("encoding=" + encodeURIComponent(enc));
    if (extra) parts.push(extra);
    return parts.length ? "?" + parts.join("&") : "";
  };
  fileForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(fileForm);
    file = fileForm.file.files[0];
    if (!file) return;
    $("#import-report").hidden = true;
    try {
      preview = await apiFile("/api/v1/customers/import/preview" + query(), file);
    } catch (x) { await showError(null, x, fileForm); return; }
    const detected = $("#import-detected");
    detected.textContent = preview.format === "xlsx"
      ? fill(detected.dataset.xlsx, { rows: preview.rows })
      : fill(detected.dataset.template, { encoding: preview.encoding || "", rows: preview.rows });
    $("#import-missing").hidden = !preview.missing.length;
    const body = $("#import-columns tbody");
    body.innerHTML = "";
    const options = $("#import-field-options");
    preview.columns.forEach((c, i) => {
      const tr = document.createElement("tr");
      const th = document.createElement("td");
      th.textContent = c.header;
      const pick = document.createElement("td");
      const select = document.createElement("select");
      select.className = "import-field";
      select.dataset.header = c.header;
      select.dataset.auto = c.field || "";
      select.setAttribute("aria-label", c.header);
      select.appendChild(options.content.cloneNode(true));
      select.value = c.field || "";
      pick.appendChild(select);
      const sample = document.createElement("td");
      sample.className = "sample";
      sample.textContent = preview.sample.map((r) => r[i] || "").filter((v) => v).slice(0, 3).join(" ｜ ");
      tr.append(th, pick, sample);
      body.appendChild(tr);
    });
    $("#import-mapping").hidden = false;
    $("#import-error").textContent = "";
  });
  $("#import-run").addEventListener("click", async () => {
    const run = $("#import-run");
    if (!file || (run.dataset.confirm && !(await askConfirm(run.dataset.confirm)))) return;
    // Columns mapped otherwise than recognised travel as the header map.
    const map = $$(".import-field").filter((s) => s.value && s.value !== s.dataset.auto)
      .map((s) => s.dataset.header + "=" + s.value);
    run.disabled = true;
    $("#import-error").textContent = "";
    let report;
    try {
      report = await apiFile("/api/v1/customers/import" + query(map.length ? "header_map=" + encodeURIComponent(map.join(",")) : ""), file);
    } catch (x) { run.disabled = false; await showError($("#import-error"), x, null); return; }
    run.disabled = false;
    const cat = await catalog();
    for (const k of ["rows", "inserted", "updated", "unchanged", "rejected"]) $("#report-" + k).textContent = report[k];
    const tbody = $("#import-errors tbody");
    tbody.innerHTML = "";
    const reasons = {};
    for (const e of report.errors) {
      const text = sayReason(cat, e.reason, e.args);
      reasons[e.row] = reasons[e.row] ? reasons[e.row] + "；" + text : text;
      const tr = document.createElement("tr");
      for (const v of [e.row, e.column || (e.field ? fieldLabel(cat, null, e.field) : ""), text]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    $("#report-errors").hidden = !report.errors.length;
    const download = $("#download-rejected");
    download.onclick = () => {
      const rows = [[download.dataset.row, ...report.headers, download.dataset.reason]];
      for (const r of report.rejected_rows) rows.push([r.row, ...r.cells, reasons[r.row] || ""]);
      const url = URL.createObjectURL(new Blob([csvOf(rows)], { type: "text/csv;charset=utf-8" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = download.dataset.name + ".csv";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    };
    $("#import-report").hidden = false;
    $("#import-report").scrollIntoView({ block: "start" });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupNewOrder();
  setupNewCampaign();
  setupNewIncident();
  setupNewViolation();
  setupLogin();
  setupApiForms();
  setupAdmin();
  setupImport();
  setupPassword();
  setupSignOut();
  setupDesk();
  setupDial();
  setupWallboard();
  setupOrder();
  setupLists();
  setupCall();
  setupIncident();
  setupNoticeCall();
  setupInspection();
  setupAssessment();
  setupPhrasebook();
  setupDeskSearch();
  setupKnowledgeEditors();
  tickCountdowns();
  setInterval(tickCountdowns, 1000);
});
