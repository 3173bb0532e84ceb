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
import { coordination } from "./coordination.mjs";
import { toPlain } from "./convert.mjs";
import { fetchWheel, installWheel } from "./install.mjs";

const now = () => performance.timeOrigin + performance.now();

function waitFor(worker, predicate) {
  return new Promise((resolve, reject) => {
    const listener = (event) => {
      const msg = event.data;
      if (msg && msg.type === "failed") {
        worker.removeEventListener("message", listener);
        reject(new Error(msg.error));
      } else if (predicate(msg)) {
        worker.removeEventListener("message", listener);
        resolve(msg);
      }
    };
    worker.addEventListener("message", listener);
    worker.addEventListener("error", (e) => reject(new Error(`worker error: ${e.message}`)), { once: true });
  });
}

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
                       vfs: options.vfs, unlockAsap: options.unlockAsap,
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
  const worker = new Worker(new URL("./db_worker.mjs", import.meta.url), { type: "module" });
  worker.postMessage({ type: "init", vfs: options.vfs, unlockAsap: options.unlockAsap });
  const workerReady = waitFor(worker, (m) => m.type === "ready");
  const pending = new Map();
  let nextId = 1;
  worker.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (p) msg.error !== undefined ? p.reject(new Error(msg.error)) : p.resolve(msg.value);
  });
  const call = (op, ...args) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
  const wheel = fetchWheel(options.wheelURL); // in flight while Pyodide loads
  const { loadPyodide } = await import("../node_modules/pyodide/pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: new URL("../node_modules/pyodide/", import.meta.url).href });
  const pyodideReady = now();
  await installWheel(pyodide, await wheel, options.micropipURL);
  await workerReady;
  pyodide.registerJsModule("tabsqlite_glue", {
    mode: "main",
    defaultDirectory: options.defaultDirectory || "/tabsqlite",
    open: (path, opts) => call("open", path, opts),
    exec: (handle, sql, params, reals, timeoutMs) =>
      call("exec", handle, sql, params, reals, timeoutMs),
    execArgs: (handle, sql, reals, ...params) => call("exec", handle, sql, params, reals),
    execMany: (handle, sql, paramSets, realSets, timeoutMs) =>
      call("execMany", handle, sql, paramSets, realSets, timeoutMs),
    close: (handle) => call("close", handle),
    deleteFiles: (path) => call("deleteFiles", path),
    ...coordination,
    post_to_page(data) {
      if (options.onEvent) options.onEvent(toPlain(data, false));
    },
  });
  await pyodide.runPythonAsync("import tabsqlite");
  return {
    mode: "main",
    pyodide,
    timings: { pageStart: started, pyodideReady, ready: now() },
    async run(code) {
      return toPlain(await pyodide.runPythonAsync(code));
    },
    terminate() {
      worker.terminate();
    },
  };
}

export async function startTab(options) {
  const opts = { mode: "worker", ...options };
  return opts.mode === "main" ? startMainThreadTab(opts) : startWorkerTab(opts);
}
