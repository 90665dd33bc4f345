// The finder page: search as you type over every role, keyboard first. The page holds no secret:
// each action is a POST that the tray carries out itself (copy, write, keep fresh, favourite, console).
"use strict";

const PAGE_ROWS = 30; // rows drawn at a time: more are added as the list is scrolled or arrowed through
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
let model = { sessions: [], roles: [], formats: [], default_format: "bash" };
let lastTag = ""; // the ETag of the model shown: the tray answers 304 while it is unchanged
let fields = []; // per role, lowercase: account name, account id, role name, profile, "account/role"; once per model
let joined = []; // per role, its fields in one string: a quick no for most roles before they are ranked
let emptyOrder = []; // what the empty box shows: favourites, then recent roles, then the rest in order
let terms = []; // the search, lowercase, word by word
let matches = []; // indexes into model.roles, best match first
let selected = 0;
let formatsFor = null; // the role the "Copy as" menu is open for
let setupAsked = false;
let lastMessage; // the tray's last outcome seen (a sign-in finishing, a copy from the menu): shown when it changes
window.finderTimings = []; // ms per search (filter + draw), for the tests and the curious

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    credentials: "same-origin", cache: "no-store",
  });
  let answer = {};
  try { answer = await response.json(); } catch (e) { answer = { error: `the tray answered ${response.status}` }; }
  return { ok: response.ok, answer };
}

function say(text, isError) {
  const box = $("message");
  box.textContent = text || "";
  box.classList.toggle("error", !!isError);
}

async function load() {
  let response;
  try {
    response = await fetch("/api/state", {
      credentials: "same-origin", cache: "no-store", headers: lastTag ? { "If-None-Match": lastTag } : {},
    });
  } catch (e) {
    say("The tray is not answering (has it quit?)", true);
    return;
  }
  if (response.status === 304) return;
  if (!response.ok) {
    say("The tray refused this page: open it again from the tray menu or with `sso-tray find`.", true);
    return;
  }
  lastTag = response.headers.get("ETag") || "";
  model = await response.json();
  rowCache = new Map();
  if (lastMessage !== undefined && model.message && model.message !== lastMessage) say(model.message, model.message_failed);
  lastMessage = model.message;
  fields = model.roles.map((r) =>
    [r.account_name, r.account_id, r.role_name, r.configured || "", `${r.account_name}/${r.role_name}`].map((f) => f.toLowerCase()));
  joined = fields.map((f) => f.join("\n"));
  const byProfile = new Map(model.roles.map((r, i) => [r.profile, i]));
  const first = (model.first || []).map((p) => byProfile.get(p)).filter((i) => i !== undefined);
  const isFirst = new Set(first);
  emptyOrder = first.concat(model.roles.map((_r, i) => i).filter((i) => !isFirst.has(i)));
  drawSessions();
  $("default-format").textContent = model.default_format;
  $("finder").hidden = !model.sessions.length; // nothing to search before a session is set up
  if (!model.sessions.length && !setupAsked) showSetup(true);
  search();
}

function drawSessions() {
  const list = $("sessions");
  list.replaceChildren();
  for (const s of model.sessions) {
    const li = document.createElement("li");
    li.className = s.state;
    const dot = document.createElement("span");
    dot.className = "dot";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = s.name;
    const text = document.createElement("span");
    text.className = "status";
    text.textContent = s.text;
    li.append(dot, name, text);
    if (s.state !== "signing_in") {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = s.state === "valid" || s.state === "expiring" ? "Sign in again" : "Sign in";
      button.addEventListener("click", () => act({ action: "sign_in", session: s.name }));
      li.append(button);
    }
    if (s.problem) {
      const problem = document.createElement("span");
      problem.className = "problem";
      problem.textContent = s.problem;
      li.append(problem);
    }
    list.append(li);
  }
  // with no session yet, what the tray says about the config (usually: there is none) is the form's note
  $("setup-note").textContent = model.sessions.length ? "" : model.problem || "";
  if (model.problem && model.sessions.length) say(model.problem, true);
}

// How well the search matches role i, as tray.core.naming.match_rank ranks it: 0 the whole search is one of
// its names, else its weakest word's best match: 1 a name starts with it, 2 a word of a name does (51 in
// prod-51, not in prod-151), 3 it is inside a name; among equals, the better sum over all words. As one
// number (weakest × 64 + sum), -1 for no match. Roles come in number-aware order, which breaks the ties.
function isWordChar(code) {
  return (code >= 48 && code <= 57) || (code >= 97 && code <= 122); // 0-9 a-z (the fields are lowercase)
}

function rank(i, whole) {
  const own = fields[i];
  if (own.includes(whole)) return 0;
  let worst = 0;
  let sum = 0;
  for (const term of terms) {
    let best = 4;
    for (const field of own) {
      let at = field.indexOf(term);
      if (at === 0) { best = 1; break; }
      while (at > 0 && best > 2) {
        best = Math.min(best, isWordChar(field.charCodeAt(at - 1)) ? 3 : 2);
        at = field.indexOf(term, at + 1);
      }
    }
    if (best === 4) return -1;
    if (best > worst) worst = best;
    sum += best;
  }
  return worst * 64 + Math.min(sum, 63);
}

function search() {
  const started = performance.now();
  terms = $("search").value.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length) {
    matches = emptyOrder;
  } else {
    const whole = terms.join(" ");
    const scored = new Float64Array(fields.length);
    let found = 0;
    for (let i = 0; i < fields.length; i++) {
      if (!terms.every((t) => joined[i].includes(t))) continue;
      const r = rank(i, whole);
      if (r >= 0) scored[found++] = r * 1048576 + i; // the rank, then the model's order, in one sortable number
    }
    const best = scored.subarray(0, found).sort();
    matches = Array.from(best, (n) => n % 1048576);
  }
  selected = Math.min(selected, Math.max(0, matches.length - 1));
  drawRoles();
  window.finderTimings.push(performance.now() - started);
}

// `text` into `element`, each stretch that a search word matches inside <mark>.
function highlight(element, text) {
  const lower = text.toLowerCase();
  const marked = new Array(text.length).fill(false);
  for (const term of terms) {
    for (let at = lower.indexOf(term); at >= 0; at = lower.indexOf(term, at + 1)) marked.fill(true, at, at + term.length);
  }
  const parts = [];
  for (let start = 0; start < text.length;) {
    let end = start;
    while (end < text.length && marked[end] === marked[start]) end++;
    const piece = text.slice(start, end);
    if (marked[start]) {
      const mark = document.createElement("mark");
      mark.textContent = piece;
      parts.push(mark);
    } else {
      parts.push(piece);
    }
    start = end;
  }
  element.replaceChildren(...parts);
}

let rowCache = new Map(); // role index → its row, made when first shown, kept until the model changes

function drawRoles() {
  $("roles").replaceChildren();
  drawMore();
  const total = model.roles.length;
  let count = `${matches.length} of ${total} roles`;
  if (!total) count = model.sessions.length ? "No roles yet: sign in, and the accounts are listed." : "";
  $("count").textContent = count;
  select(selected, false);
}

function drawMore() {
  const list = $("roles");
  const from = list.children.length;
  list.append(...matches.slice(from, from + PAGE_ROWS).map(paint));
  $("more").hidden = list.children.length >= matches.length;
}

function rowFor(index) {
  let row = rowCache.get(index);
  if (row) return row;
  const r = model.roles[index];
  row = $("role-row").content.firstElementChild.cloneNode(true);
  row.dataset.index = index;
  row.id = `role-${index}`;
  const star = row.querySelector(".star");
  star.setAttribute("aria-pressed", String(r.favourite));
  star.textContent = r.favourite ? "★" : "☆";
  star.title = r.favourite ? "Remove from favourites" : "Add to favourites";
  row.querySelector(".marks").textContent = r.pinned ? "kept fresh" : "";
  rowCache.set(index, row);
  return row;
}

// The row of role `index` with its names, and what the search matched in them marked.
function paint(index) {
  const row = rowFor(index);
  const r = model.roles[index];
  highlight(row.querySelector(".account"), r.account_name);
  highlight(row.querySelector(".account-id"), r.account_id === r.account_name ? "" : r.account_id);
  highlight(row.querySelector(".role-name"), r.role_name);
  highlight(row.querySelector(".profile"), r.configured || "");
  return row;
}

const actionBar = $("actions"); // kept by reference: it leaves the document with the rows it sits in

function placeActions(row) {
  const bar = actionBar;
  if (!row) return;
  const r = model.roles[Number(row.dataset.index)];
  bar.querySelector('[data-action="pin"]').setAttribute("aria-pressed", String(r.pinned));
  if (bar.parentElement !== row) row.append(bar);
}

function select(position, scroll = true) {
  const list = $("roles");
  const rows = list.children;
  if (position >= rows.length && rows.length < matches.length) drawMore();
  list.querySelector('[aria-selected="true"]')?.setAttribute("aria-selected", "false");
  if (!rows.length) return;
  selected = Math.max(0, Math.min(position, rows.length - 1));
  const row = rows[selected];
  row.setAttribute("aria-selected", "true");
  placeActions(row);
  $("search").setAttribute("aria-activedescendant", row.id);
  if (scroll) row.scrollIntoView({ block: "nearest" });
}

function roleAt(position) {
  const row = $("roles").children[position];
  return row ? model.roles[Number(row.dataset.index)] : null;
}

async function act(body) {
  say("…");
  const { ok, answer } = await post("/api/action", body);
  say(ok ? answer.message : answer.error, !ok || answer.failed);
  load();
}

function showFormats(button, role) {
  const menu = $("formats");
  formatsFor = role;
  menu.replaceChildren(...model.formats.map((f) => {
    const item = document.createElement("button");
    item.type = "button";
    item.setAttribute("role", "menuitem");
    item.dataset.format = f;
    item.textContent = f;
    return item;
  }));
  const box = button.getBoundingClientRect();
  menu.style.left = `${box.left + window.scrollX}px`;
  menu.style.top = `${box.bottom + window.scrollY}px`;
  menu.hidden = false;
  menu.firstElementChild?.focus();
}

function hideFormats() {
  $("formats").hidden = true;
  formatsFor = null;
}

function showSetup(on) {
  setupAsked = setupAsked || on;
  $("setup").hidden = !on;
  if (on) $("start-url").focus();
  else $("search").focus();
}

async function submitSetup(event) {
  event.preventDefault();
  const form = new FormData($("setup-form"));
  $("setup-error").textContent = "";
  $("setup-submit").disabled = true;
  try {
    const { ok, answer } = await post("/api/setup", Object.fromEntries(form.entries()));
    if (!ok) {
      $("setup-error").textContent = answer.error;
      return;
    }
    say(answer.message);
    showSetup(false);
    load();
  } finally {
    $("setup-submit").disabled = false;
  }
}

function onKey(event) {
  if (event.key === "ArrowDown") select(selected + 1);
  else if (event.key === "ArrowUp") select(selected - 1);
  else if (event.key === "PageDown") select(selected + 10);
  else if (event.key === "PageUp") select(selected - 10);
  else if (event.key === "Enter") {
    const role = roleAt(selected);
    if (role) act({ action: "copy", profile: role.profile });
  } else if (event.key === "Escape") {
    $("search").value = "";
    search();
  } else return;
  event.preventDefault();
}

function onRolesClick(event) {
  const row = event.target.closest("li[data-index]");
  if (!row) return;
  select([...$("roles").children].indexOf(row));
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const role = model.roles[Number(row.dataset.index)];
  const action = button.dataset.action;
  if (action === "copy-as") {
    showFormats(button, role);
    event.stopPropagation();
  } else {
    act({ action, profile: role.profile });
  }
}

function start() {
  const query = new URLSearchParams(location.search);
  $("search").value = query.get("q") || "";
  if (query.has("setup")) showSetup(true);
  history.replaceState(null, "", "/");
  $("search").addEventListener("input", () => { selected = 0; search(); });
  $("search").addEventListener("keydown", onKey);
  $("roles").addEventListener("click", onRolesClick);
  $("roles").addEventListener("mouseover", (event) => placeActions(event.target.closest("li[data-index]")));
  $("roles").addEventListener("mouseleave", () => placeActions($("roles").children[selected]));
  $("formats").addEventListener("click", (event) => {
    const item = event.target.closest("button[data-format]");
    if (item && formatsFor) act({ action: "copy", profile: formatsFor.profile, format: item.dataset.format });
    hideFormats();
  });
  document.addEventListener("click", hideFormats);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") hideFormats(); });
  $("show-setup").addEventListener("click", () => showSetup(true));
  $("setup-cancel").addEventListener("click", () => showSetup(false));
  $("setup-form").addEventListener("submit", submitSetup);
  // the next rows are drawn when the end of the list scrolls into view
  new IntersectionObserver((seen) => { if (seen.some((e) => e.isIntersecting)) drawMore(); }).observe($("more"));
  if (!query.has("setup")) $("search").focus();
  load();
  setInterval(() => { if (!document.hidden) load(); }, POLL_MS);
}

start();
