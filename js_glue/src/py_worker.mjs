// A tab's worker in "worker mode": sqlite-wasm and Pyodide side by side, Python calls the
// shim directly (one synchronous call per statement). The page talks to it with messages:
//   {type: "init", wheelURL, micropipURL?, vfs, handles} -> {type: "ready", timings}
//   {type: "run", id, code}                      -> {type: "result", id, ok, value | error}
// Python can post {type: "event", data} to the page with tabsqlite_glue.post_to_page(data).
import sqlite3InitModule from "../node_modules/@sqlite.org/sqlite-wasm/dist/index.mjs";
import { loadPyodide } from "../node_modules/pyodide/pyodide.mjs";
import { createShim } from "./shim.mjs";
import { chooseVfs } from "./tabvfs.mjs";
import { coordination } from "./coordination.mjs";
import { toPlain } from "./convert.mjs";
import { fetchWheel, installWheel } from "./install.mjs";

let pyodide = null;
let startPromise = null;
const now = () => performance.timeOrigin + performance.now();

async function start(init) {
  const timings = { workerStart: now() };
  const wheel = fetchWheel(init.wheelURL); // in flight while sqlite-wasm and Pyodide load
  const sqlite3 = await sqlite3InitModule({ print: () => {}, printErr: (...a) => console.warn(...a) });
  timings.sqliteReady = now();
  const { vfs, tabvfs } = await chooseVfs(sqlite3, init.vfs, init.handles);
  const vfsList = sqlite3.capi.sqlite3_js_vfs_list();
  if (vfs !== "memdb" && !vfsList.includes(vfs)) {
    throw new Error(`sqlite-wasm has no '${vfs}' VFS here (have: ${vfsList.join(", ")}); ` +
      "the page must be served with COOP/COEP headers for 'opfs'");
  }
  const shim = createShim(sqlite3, { vfs, tabvfs, unlockAsap: init.unlockAsap ?? true });
  pyodide = await loadPyodide({ indexURL: new URL("../node_modules/pyodide/", import.meta.url).href });
  timings.pyodideReady = now();
  await installWheel(pyodide, await wheel, init.micropipURL);
  pyodide.registerJsModule("tabsqlite_glue", {
    mode: "worker",
    defaultDirectory: init.defaultDirectory || "/tabsqlite",
    sqlite3, // escape hatch (and the benchmarks' raw baseline): the sqlite-wasm module
    ...shim,
    ...coordination,
    post_to_page(data) {
      self.postMessage({ type: "event", data: toPlain(data, false) });
    },
  });
  await pyodide.runPythonAsync("import tabsqlite");
  timings.tabsqliteReady = now();
  return timings;
}

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "init") {
    startPromise = startPromise || start(msg);
    try {
      self.postMessage({ type: "ready", timings: await startPromise });
    } catch (e) {
      self.postMessage({ type: "failed", error: String(e && e.stack || e) });
    }
  } else if (msg.type === "run") {
    try {
      await startPromise;
      const value = toPlain(await pyodide.runPythonAsync(msg.code));
      try {
        self.postMessage({ type: "result", id: msg.id, ok: true, value });
      } catch {
        self.postMessage({ type: "result", id: msg.id, ok: true, value: String(value) });
      }
    } catch (e) {
      self.postMessage({ type: "result", id: msg.id, ok: false, error: String(e && e.message || e) });
    }
  }
};
