// The page-side entry of tabsqlite: boot a tab in one of two modes and get an object to run
// Python in it.
//
//   import { startTab } from "/js_glue/src/tabsqlite.mjs";
//   const tab = await startTab({ mode: "worker", wheelURL, onEvent });  // micropipURL: optional
//   await tab.run("db = await tabsqlite.open_database('app.db')");
//
// "worker" (fastest): Pyodide and sqlite-wasm share a dedicated worker; Python calls the
// database directly. "main": Pyodide runs on the page (Python can touch the DOM) and every
// database call is proxied to a database worker. The Python API is the same in both.
// Options for the database: `vfs` ("auto", the default: tabsqlite's own VFS where the
// browser has OPFS sync access handles, else sqlite-wasm's "opfs"; or a VFS's name) and
// `handles` ("auto", "log", "shared" or "lending": how tabsqlite's VFS holds the files, see
// tabvfs.mjs; "auto" is "log" where tabs can share handles (Chromium), else "lending"; every
// tab on one database must agree on "log" or not).
import { toPlain } from "./convert.mjs";
import { mainGlue, waitFor } from "./db_proxy.mjs";
import { fetchWheel, installWheel } from "./install.mjs";

const now = () => performance.timeOrigin + performance.now();

async function startWorkerTab(options) {
  const started = now();
  const worker = new Worker(new URL("./py_worker.mjs", import.meta.url), { type: "module" });
  const pending = new Map();
  let nextId = 1;
  worker.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg.type === "result") {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (p) msg.ok ? p.resolve(msg.value) : p.reject(new Error(msg.error));
    } else if (msg.type === "event" && options.onEvent) {
      options.onEvent(msg.data);
    }
  });
  worker.postMessage({ type: "init", micropipURL: options.micropipURL, wheelURL: options.wheelURL,
                       vfs: options.vfs, handles: options.handles, unlockAsap: options.unlockAsap,
                       defaultDirectory: options.defaultDirectory });
  const ready = await waitFor(worker, (m) => m.type === "ready");
  return {
    mode: "worker",
    timings: { pageStart: started, ...ready.timings, ready: now() },
    run(code) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: "run", id, code });
      });
    },
    terminate() {
      worker.terminate();
    },
  };
}

async function startMainThreadTab(options) {
  const started = now();
  const glue = mainGlue(options); // its database worker starts while Pyodide loads
  glue.catch(() => {}); // (a failure is raised where it is awaited)
  const wheel = fetchWheel(options.wheelURL);
  const { loadPyodide } = await import("../node_modules/pyodide/pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: new URL("../node_modules/pyodide/", import.meta.url).href });
  const pyodideReady = now();
  await installWheel(pyodide, await wheel, options.micropipURL);
  const { db } = await glue;
  pyodide.registerJsModule("tabsqlite_glue", await glue);
  await pyodide.runPythonAsync("import tabsqlite");
  return {
    mode: "main",
    pyodide,
    timings: { pageStart: started, pyodideReady, ready: now() },
    async run(code) {
      return toPlain(await pyodide.runPythonAsync(code));
    },
    terminate() {
      db.terminate();
    },
  };
}

export async function startTab(options) {
  const opts = { mode: "worker", ...options };
  return opts.mode === "main" ? startMainThreadTab(opts) : startWorkerTab(opts);
}
