// The finder page: search as you type over every role, keyboard first. The page holds no secret:
// each action is a POST that the tray carries out itself (copy, write, keep fresh, favourite, console).
"use strict";

const PAGE_ROWS = 30; // rows drawn at a time: more are added as the list is scrolled or arrowed through
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
let model = { sessions: [], roles: [], formats: [], default_format: "bash" };
let lastTag = ""; // the ETag of the model shown: the tray answers 304 while it is unchanged
let haystacks = []; // lowercase "account name, id, role, profile" per role, built once per model
let matches = []; // indexes into model.roles
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
  haystacks = model.roles.map((r) =>
    [r.account_name, r.account_id, r.role_name, r.configured || ""].join(" ").toLowerCase());
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

function search() {
  const started = performance.now();
  const terms = $("search").value.toLowerCase().split(/\s+/).filter(Boolean);
  matches = [];
  for (let i = 0; i < haystacks.length; i++) {
    const hay = haystacks[i];
    if (terms.every((t) => hay.includes(t))) matches.push(i);
  }
  selected = Math.min(selected, Math.max(0, matches.length - 1));
  drawRoles();
  window.finderTimings.push(performance.now() - started);
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
  list.append(...matches.slice(from, from + PAGE_ROWS).map(rowFor));
  $("more").hidden = list.children.length >= matches.length;
}

function rowFor(index) {
  let row = rowCache.get(index);
  if (row) return row;
  const r = model.roles[index];
  row = $("role-row").content.firstElementChild.cloneNode(true);
  row.dataset.index = index;
  row.id = `role-${index}`;
  row.querySelector(".account").textContent = r.account_name;
  row.querySelector(".account-id").textContent = r.account_id === r.account_name ? "" : r.account_id;
  row.querySelector(".role-name").textContent = r.role_name;
  row.querySelector(".profile").textContent = r.configured || "";
  row.querySelector(".marks").textContent = [r.favourite ? "★" : "", r.pinned ? "kept fresh" : ""].join(" ").trim();
  rowCache.set(index, row);
  return row;
}

const actionBar = $("actions"); // kept by reference: it leaves the document with the rows it sits in

function placeActions(row) {
  const bar = actionBar;
  if (!row) return;
  const r = model.roles[Number(row.dataset.index)];
  bar.querySelector('[data-action="pin"]').setAttribute("aria-pressed", String(r.pinned));
  const fav = bar.querySelector('[data-action="favourite"]');
  fav.setAttribute("aria-pressed", String(r.favourite));
  fav.textContent = r.favourite ? "★" : "☆";
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
