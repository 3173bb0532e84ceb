// A tab's worker in "worker mode": sqlite-wasm and Pyodide side by side, Python calls the
// shim directly (one synchronous call per statement). The page talks to it with messages:
//   {type: "init", wheelURL, micropipURL?, vfs, handles} -> {type: "ready", timings}
//   {type: "run", id, code}                      -> {type: "result", id, ok, value | error}
// Python can post {type: "event", data} to the page with tabsqlite_glue.post_to_page(data).
import { loadPyodide } from "../node_modules/pyodide/pyodide.mjs";
import { toPlain } from "./convert.mjs";
import { fetchWheel, installWheel } from "./install.mjs";
import { loadSqlite } from "./sqlite_module.mjs";
import { workerGlue } from "./worker_glue.mjs";

let pyodide = null;
let startPromise = null;
const now = () => performance.timeOrigin + performance.now();

async function start(init) {
  const timings = { workerStart: now() };
  const wheel = fetchWheel(init.wheelURL); // in flight while sqlite-wasm and Pyodide load
  const sqlite3 = await loadSqlite();
  timings.sqliteReady = now();
  const glue = await workerGlue({ sqlite3, vfs: init.vfs, handles: init.handles,
                                  unlockAsap: init.unlockAsap,
                                  defaultDirectory: init.defaultDirectory });
  pyodide = await loadPyodide({ indexURL: new URL("../node_modules/pyodide/", import.meta.url).href });
  timings.pyodideReady = now();
  await installWheel(pyodide, await wheel, init.micropipURL);
  pyodide.registerJsModule("tabsqlite_glue", glue);
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
