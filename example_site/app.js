// The demo page: starts its worker (demo_worker.mjs: Pyodide, micropip, the tabsqlite wheel,
// then app.py), shows the loading steps, then renders what app.py posts. Nothing of
// tabsqlite's JS is loaded here: the wheel brings it.

const $ = (id) => document.getElementById(id);
const NAMES = ["Amber", "Blue", "Coral", "Dune", "Emerald", "Fuchsia", "Gold", "Indigo",
               "Jade", "Lime", "Mint", "Olive", "Plum", "Rose", "Sky", "Teal"];
const name = sessionStorage.tabName ||
  (sessionStorage.tabName = NAMES[Math.floor(Math.random() * NAMES.length)] + "-" +
    Math.floor(Math.random() * 90 + 10));
const colorOf = (tab) => {
  let h = 0;
  for (const ch of String(tab)) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h} 62% 46%)`;
};
const chip = (tab) => {
  const span = document.createElement("span");
  span.className = "chip";
  span.style.background = colorOf(tab);
  span.textContent = tab === name ? `${tab} (this tab)` : tab;
  return span;
};

const worker = new Worker("demo_worker.mjs", { type: "module" });
const call = (fn, ...args) => worker.postMessage({ type: "call", fn, args });

let known = new Map();
function renderRows(rows) {
  const list = $("todos");
  const previous = known;
  known = new Map(rows.map((r) => [r.id, r]));
  list.replaceChildren();
  if (!rows.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Nothing yet: add something, then watch the other tabs.";
    list.append(li);
  }
  for (const row of rows) {
    const li = document.createElement("li");
    li.dataset.id = row.id;
    if (row.done) li.classList.add("done");
    const old = previous.get(row.id);
    if (previous.size && (!old || old.updated_at !== row.updated_at)) li.classList.add("flash");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !!row.done;
    box.onchange = () => call("toggle", row.id);
    const title = document.createElement("input");
    title.className = "title";
    title.value = row.title;
    title.onchange = () => call("rename", row.id, title.value);
    const del = document.createElement("button");
    del.className = "del";
    del.title = "Delete";
    del.textContent = "×";
    del.onclick = () => call("remove", row.id);
    li.append(box, title, chip(row.tab), del);
    list.append(li);
  }
  const open = rows.filter((r) => !r.done).length;
  $("count").textContent = `${open} open · ${rows.length} in all`;
}

// The diff panel of this tab, kept for a reload (sessionStorage is per tab).
const DIFFS_KEPT = 200;
const keptDiffs = () => JSON.parse(sessionStorage.demoDiffs || "[]");

function renderDiffs(rows, keep = true) {
  if (keep) sessionStorage.demoDiffs = JSON.stringify([...keptDiffs(), ...rows].slice(-DIFFS_KEPT));
  const list = $("diffs");
  for (const row of rows) {
    const value = row.value || {};
    const li = document.createElement("li");
    const op = document.createElement("span");
    op.className = `op ${row.operation}`;
    op.textContent = row.operation;
    const what = document.createElement("span");
    what.className = "what";
    let text = value.title ?? "";
    if (row.operation === "UPDATE" && row.previous_value) {
      const prev = row.previous_value;
      if (prev.title !== value.title) text = `“${prev.title}” → “${value.title}”`;
      else if (prev.done !== value.done) text = `${value.done ? "done" : "reopened"}: ${value.title}`;
    }
    what.textContent = text;
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = new Date(row.timestamp).toLocaleTimeString();
    what.append(when);
    li.append(op, what, chip(value.tab ?? "?"));
    list.prepend(li);
  }
}

let ready = null;
const started = new Promise((resolve, reject) => { ready = { resolve, reject }; });

worker.onmessage = ({ data: msg }) => {
  if (msg.type === "progress") {
    $("progress").value = msg.step;
    $("status").textContent = msg.text;
  } else if (msg.type === "rows") renderRows(msg.rows);
  else if (msg.type === "diff") renderDiffs(msg.rows);
  else if (msg.type === "ready") {
    $("path").textContent = msg.path;
    $("status").textContent = "Live: changes from every tab arrive here.";
  } else if (msg.type === "started") {
    $("progress").hidden = true;
    $("started").textContent = `started in ${(msg.ms / 1000).toFixed(1)} s`;
    ready.resolve();
  } else if (msg.type === "failed") ready.reject(new Error(msg.error));
  else if (msg.type === "error") $("status").textContent = "Error: " + msg.error;
};

async function main() {
  const me = $("me");
  me.replaceWith(chip(name));
  renderDiffs(keptDiffs(), false);
  fetch("app.py").then((r) => r.text()).then((text) => { $("source").textContent = text; });
  worker.postMessage({ type: "start", tabName: name });
  await started;
  for (const el of [$("title"), document.querySelector("#add button"), $("clear")]) el.disabled = false;
  $("title").focus();
  $("add").onsubmit = (e) => {
    e.preventDefault();
    const value = $("title").value;
    $("title").value = "";
    call("add", value);
  };
  $("clear").onclick = () => call("clear_done");
  window.demoReady = true;
}

main().catch((e) => {
  $("status").textContent = "Failed to start: " + e.message;
  window.demoError = String(e);
});
window.demoCall = (fn, ...args) => call(fn, ...args);
