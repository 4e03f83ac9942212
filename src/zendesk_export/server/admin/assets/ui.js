// The admin page's script: everything it shows or changes goes through the admin API (/__admin/…?account=NAME).
// Data is written into the page with textContent only, never as HTML: paths and hosts come from clients.
"use strict";

const ACCOUNT = document.body.dataset.account;
const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

async function api(path, method = "GET", body = undefined) {
  const url = path + (path.includes("?") ? "&" : "?") + "account=" + encodeURIComponent(ACCOUNT);
  // X-Admin-UI: with the session cookie, the guard accepts a change only from this page's script.
  const headers = { "X-Admin-UI": "1", Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/__admin/ui/login?account=" + encodeURIComponent(ACCOUNT));
    throw new Error("logged out");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && (data.description || data.error);
    const error = new Error(detail ? String(detail) : `${method} ${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function utc(epoch) {
  return new Date(epoch * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function showStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

// -- accounts: the list when the server offers one, else the account this page shows ----------------------
function accountNames(data) {
  const list = Array.isArray(data) ? data : (data && data.accounts) || [];
  return list.map((a) => (typeof a === "string" ? a : a.name || a.subdomain)).filter(Boolean);
}

async function loadAccounts() {
  let names = [];
  try {
    names = accountNames(await api("/__admin/accounts"));
  } catch (error) {
    names = [];  // an older server without the accounts list: the default account only
  }
  const select = $("account");
  for (const name of names) {
    if (name !== ACCOUNT) select.add(new Option(name, name));
  }
  select.addEventListener("change", () => {
    window.location.assign("/__admin/ui?account=" + encodeURIComponent(select.value));
  });
}

// -- clock ------------------------------------------------------------------------------------------------
function renderClock(clock) {
  $("clock-time").textContent = utc(clock.now);
  $("clock-epoch").textContent = `(${Math.floor(clock.now)})`;
  $("clock-frozen").textContent = clock.frozen ? "frozen" : "running";
  $("clock-frozen").className = "badge " + (clock.frozen ? "warn" : "ok");
}

async function setClock(change) {
  renderClock(await api("/__admin/clock", "POST", change));
  await refreshLimits();
}

function wireClock() {
  // Freeze at the clock's time as the server has it now, not as last shown: never a step back.
  $("freeze").addEventListener("click", () => act(async () => setClock({ freeze_at: (await api("/__admin/clock")).now })));
  $("unfreeze").addEventListener("click", () => act(() => setClock({ unfreeze: true })));
  $("clock-reset").addEventListener("click", () => act(() => setClock({ reset: true })));
  $("advance").addEventListener("click", () => act(() => setClock({ advance: Number($("advance-seconds").value) || 0 })));
}

// -- rate limits ------------------------------------------------------------------------------------------
function renderLimits(limits) {
  const enabled = limits.effective ? limits.effective.enabled : true;
  $("limits-state").textContent = enabled ? "on" : "off (nothing is counted)";
  $("limits-state").className = "badge " + (enabled ? "ok" : "muted");
  const body = $("buckets").tBodies[0];
  body.replaceChildren();
  for (const bucket of limits.buckets || []) {
    const row = body.insertRow();
    row.dataset.bucket = bucket.name;
    cell(row, bucket.name);
    cell(row, `${bucket.limit} / ${bucket.window_seconds} s`, "num");
    cell(row, bucket.used, "num");
    cell(row, bucket.remaining, "num remaining" + (bucket.remaining === 0 ? " error" : ""));
    cell(row, `${bucket.resets_in} s`, "num");
  }
}

async function refreshLimits() {
  renderLimits(await api("/__admin/rate_limits"));
}

// -- faults -----------------------------------------------------------------------------------------------
let rules = [];
let rulesShown = "";

function describeAction(action) {
  const parts = [];
  if (action.status !== undefined) parts.push(`status ${action.status}`);
  if (action.drop) parts.push(`drop ${action.drop}`);
  for (const flag of ["truncate", "malformed", "empty_page"]) if (action[flag]) parts.push(flag.replace("_", " "));
  if (action.latency_ms !== undefined) parts.push(`latency ${JSON.stringify(action.latency_ms)} ms`);
  return parts.join(", ");
}

function describeTrigger(rule) {
  const parts = [];
  if (rule.every) parts.push(`every ${rule.every}`);
  if (rule.probability !== undefined) parts.push(`p=${rule.probability}`);
  if (rule.times) parts.push(`${rule.times} time${rule.times === 1 ? "" : "s"}`);
  return parts.join(", ") || "every request";
}

function renderFaults(data) {
  const seen = JSON.stringify(data.rules || []);
  if (seen === rulesShown) return;  // unchanged: keep the buttons under the pointer where they are
  rulesShown = seen;
  rules = data.rules || [];
  const body = $("faults").tBodies[0];
  body.replaceChildren();
  rules.forEach((rule, index) => {
    const match = rule.match || {};
    const row = body.insertRow();
    cell(row, index);
    cell(row, match.method || "any");
    cell(row, match.path || "*");
    cell(row, describeAction(rule.action || {}));
    cell(row, describeTrigger(rule));
    cell(row, rule.seen, "num");
    cell(row, rule.fired, "num");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.className = "remove-fault";
    remove.addEventListener("click", () => act(() => removeRule(rule)));
    row.insertCell().append(remove);
  });
}

function specOf(rule) {  // the rule as written, without the counters the server adds
  const { seen, fired, ...spec } = rule;
  return spec;
}

async function putRules(next) {
  renderFaults(await api("/__admin/faults", "PUT", next));
}

async function removeRule(shown) {
  // The rule as shown, found again in the rules as they are now: another client may have changed the list.
  const wanted = JSON.stringify(specOf(shown));
  const current = ((await api("/__admin/faults")).rules || []).map(specOf);
  const index = current.findIndex((spec) => JSON.stringify(spec) === wanted);
  if (index >= 0) await putRules(current.filter((_, i) => i !== index));
}

function ruleFromForm() {
  const match = { path: $("fault-path").value.trim() || "*", account: ACCOUNT };
  if ($("fault-method").value) match.method = $("fault-method").value;
  const [kind, detail] = $("fault-action").value.split(":");
  const value = Number($("fault-value").value);
  const action = {};
  if (kind === "status") action.status = value;
  else if (kind === "latency_ms") action.latency_ms = value;
  else if (kind === "drop") action.drop = detail;
  else action[kind] = true;
  const rule = { match, action };
  const trigger = $("fault-trigger").value;
  if (trigger !== "always") rule[trigger] = Number($("fault-count").value) || 1;
  return rule;
}

function wireFaults() {
  $("fault-action").addEventListener("change", () => {
    const kind = $("fault-action").value;
    $("fault-value").disabled = !(kind === "status" || kind === "latency_ms");
    $("fault-value").value = kind === "latency_ms" ? 1500 : 503;
  });
  $("fault-trigger").addEventListener("change", () => {
    $("fault-count").disabled = $("fault-trigger").value === "always";
  });
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("fault-error").textContent = "";
    act(async () => {
      const current = (await api("/__admin/faults")).rules || [];
      await putRules([...current.map(specOf), ruleFromForm()]);
    }, (error) => { $("fault-error").textContent = error.message; });
  });
}

// -- the request journal ----------------------------------------------------------------------------------
let journal = [];
let journalShown = false;

function describeFault(fault) {
  if (!fault) return "";
  const detail = fault.status !== undefined ? ` ${fault.status}` : fault.drop ? ` ${fault.drop}` : "";
  const latency = fault.latency_ms ? ` +${fault.latency_ms} ms` : "";
  return `${fault.kind}${detail}${latency} (rule ${fault.rule})`;
}

function statusMatches(entry, wanted) {
  if (!wanted) return true;
  if (wanted === "fault") return Boolean(entry.fault);
  if (wanted === "none") return entry.status === null;
  return entry.status !== null && String(entry.status).startsWith(wanted);
}

function textOf(entry) {
  return [entry.method, entry.path, entry.query, entry.host, entry.status, describeFault(entry.fault)]
    .join(" ").toLowerCase();
}

function renderJournal() {
  const words = $("journal-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
  const wanted = $("journal-status").value;
  const shown = journal.filter((e) => statusMatches(e, wanted) && words.every((w) => textOf(e).includes(w)));
  const body = $("journal").tBodies[0];
  body.replaceChildren();
  for (const entry of shown.slice().reverse()) {  // newest first
    const row = body.insertRow();
    row.dataset.id = entry.id;
    if (entry.fault) row.className = "faulted";
    cell(row, entry.id, "num");
    cell(row, utc(entry.time));
    cell(row, entry.host);
    cell(row, entry.method);
    cell(row, entry.path + (entry.query ? "?" + entry.query : ""), "path");
    cell(row, entry.status === null ? "—" : entry.status, "num status s" + String(entry.status).charAt(0));
    cell(row, entry.duration_ms.toFixed(1), "num");
    cell(row, describeFault(entry.fault), "fault");
  }
  $("journal-count").textContent = `${shown.length} of ${journal.length}`;
}

async function refreshJournal() {
  const entries = (await api("/__admin/requests")).requests || [];
  const last = (list) => (list.length ? list[list.length - 1].id : 0);
  const changed = !journalShown || entries.length !== journal.length || last(entries) !== last(journal);
  journal = entries;
  journalShown = true;
  if (changed) renderJournal();
}

function wireJournal() {
  $("journal-filter").addEventListener("input", renderJournal);
  $("journal-status").addEventListener("change", renderJournal);
  $("journal-clear").addEventListener("click", () => act(async () => {
    await api("/__admin/requests", "DELETE");
    journal = [];
    renderJournal();
  }));
}

// -- the loop ---------------------------------------------------------------------------------------------
async function act(work, onError) {
  try {
    await work();
    showStatus("", false);
  } catch (error) {
    if (onError) onError(error);
    else showStatus(error.message, true);
  }
}

let polling = false;

async function poll() {
  if (polling) return;  // a slow answer: skip a beat rather than pile requests up
  polling = true;
  try {
    const [clock, limits, faults] = await Promise.all([
      api("/__admin/clock"), api("/__admin/rate_limits"), api("/__admin/faults"),
    ]);
    renderClock(clock);
    renderLimits(limits);
    renderFaults(faults);
    if ($("journal-live").checked) await refreshJournal();
    document.body.dataset.updated = String(Date.now());
    showStatus("", false);
  } catch (error) {
    showStatus(error.message, true);
  } finally {
    polling = false;
  }
}

wireClock();
wireFaults();
wireJournal();
loadAccounts();
poll();
setInterval(poll, POLL_MS);
