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
// `handles` ("auto", "shared" or "lending": how tabsqlite's VFS holds the files, see
// tabvfs.mjs; forced only to test).
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

// The page's side of the database worker (main-thread mode). Calls go as messages; the
// worker takes the database's Web Lock itself, so its death frees the lock at once. The
// page sees the death through the worker's "alive" lock: every pending call then fails
// with a WORKER_STOPPED error within moments, handles of the dead worker keep failing that
// way, and the next open starts a new worker. Python knows that error by its name.
const WORKER_STOPPED = "TabsqliteWorkerStopped";
const workerStopped = () =>
  Object.assign(new Error("the database worker stopped"), { name: WORKER_STOPPED });
const HANDLE_OPS = new Set(["exec", "execMany", "close", "unlock", "presence"]);

function databaseWorker(options) {
  let current = null; // {worker, pending, ready, dead}
  let nextId = 1;
  let nextHandle = 1;
  const handles = new Map(); // page handle -> {w, handle}

  function spawn() {
    const worker = new Worker(new URL("./db_worker.mjs", import.meta.url), { type: "module" });
    const aliveLock = `tabsqlite-alive-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    const w = { worker, pending: new Map(), dead: false, ready: null, interrupts: null };
    worker.addEventListener("message", (event) => {
      const msg = event.data;
      if (msg.id === undefined) return;
      const p = w.pending.get(msg.id);
      w.pending.delete(msg.id);
      if (p) msg.error !== undefined ? p.reject(new Error(msg.error)) : p.resolve(msg.value);
    });
    w.ready = waitFor(worker, (m) => m.type === "ready").then((m) => {
      w.interrupts = m.interrupts || null;
      // Granted once the worker is gone (crashed, or stopped by the browser).
      navigator.locks.request(aliveLock, () => gone(w));
    });
    worker.postMessage({ type: "init", vfs: options.vfs, handles: options.handles,
                         unlockAsap: options.unlockAsap, aliveLock });
    return w;
  }

  function gone(w) {
    w.dead = true;
    for (const p of w.pending.values()) p.reject(workerStopped());
    w.pending.clear();
    if (current === w) current = null;
  }

  function send(w, op, args) {
    const id = nextId++;
    const promise = new Promise((resolve, reject) => {
      if (w.dead) {
        reject(workerStopped());
        return;
      }
      w.pending.set(id, { resolve, reject });
      w.worker.postMessage({ id, op, args });
    });
    return { id, promise };
  }

  // The worker and id of each connection's latest call (a connection has one at a time),
  // so it can be stopped (see interrupt).
  const calls = new Map(); // page handle -> {w, id}

  // Ask the database worker to stop the call `handle` has in flight (its statement's
  // progress handler sees this); a no-op without cross-origin isolation or once it ended.
  function interrupt(handle) {
    const found = calls.get(handle);
    if (found) stop(found.w, found.id);
  }

  function stop(w, id) {
    if (w.interrupts && !w.dead) Atomics.store(w.interrupts, 0, id);
  }

  function call(op, ...args) {
    if (HANDLE_OPS.has(op)) {
      const target = handles.get(args[0]);
      if (!target) return Promise.reject(new Error("the connection is closed"));
      if (op === "close") {
        handles.delete(args[0]);
        calls.delete(args[0]);
      }
      if (target.w.dead) {
        if (op === "close" || op === "unlock") return Promise.resolve(undefined);
        return Promise.reject(workerStopped());
      }
      const { id, promise } = send(target.w, op, [target.handle, ...args.slice(1)]);
      if (op !== "close") calls.set(args[0], { w: target.w, id });
      return promise;
    }
    return callWorker(op, ...args);
  }

  async function callWorker(op, ...args) {
    if (!current) current = spawn();
    const w = current;
    await w.ready;
    const out = await send(w, op, args).promise;
    if (op !== "open" || out[0] !== 1) return out;
    const handle = nextHandle++;
    handles.set(handle, { w, handle: out[1] });
    return [1, handle];
  }

  // A call run inside the database's Web Lock in the worker: {promise, cancel}, as
  // runLocked gives in worker mode, but cancel() answers with a promise.
  function locked(op, ...args) {
    const target = handles.get(args[0]);
    if (!target || target.w.dead) {
      const promise = Promise.reject(target ? workerStopped() : new Error("the connection is closed"));
      return { promise, cancel: async () => undefined };
    }
    let settled = false;
    let value;
    const { id, promise } = send(target.w, op, [target.handle, ...args.slice(1)]);
    const tracked = promise.then((v) => { settled = true; value = v; return v; });
    return {
      promise: tracked,
      async cancel() {
        // Stop it if it is running; then withdraw it. The worker answers in order: if the
        // call ran before the cancel got there, its answer has arrived first.
        stop(target.w, id);
        let answer;
        try {
          answer = await send(target.w, "cancel", [id]).promise;
        } catch {
          answer = undefined;
        }
        return settled ? value : answer;
      },
    };
  }

  return {
    call,
    locked,
    interrupt,
    alive(handle) { // false once the worker behind `handle` is gone
      const target = handles.get(handle);
      return !target || !target.w.dead;
    },
    terminate() { // (the tests' way to kill it): pending calls fail at once
      const w = current;
      if (w) {
        w.worker.terminate();
        gone(w);
      }
    },
  };
}

async function startMainThreadTab(options) {
  const started = now();
  const db = databaseWorker(options);
  const workerReady = db.call("vfsInfo");
  const wheel = fetchWheel(options.wheelURL); // in flight while Pyodide loads
  const { loadPyodide } = await import("../node_modules/pyodide/pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: new URL("../node_modules/pyodide/", import.meta.url).href });
  const pyodideReady = now();
  await installWheel(pyodide, await wheel, options.micropipURL);
  const { vfs, handles } = await workerReady;
  const call = db.call;
  pyodide.registerJsModule("tabsqlite_glue", {
    mode: "main",
    workerStopped: WORKER_STOPPED,
    defaultDirectory: options.defaultDirectory || "/tabsqlite",
    vfs,
    handles,
    open: (path, opts) => call("open", path, opts),
    exec: (handle, sql, params, reals, timeoutMs) =>
      call("exec", handle, sql, params, reals, timeoutMs),
    execArgs: (handle, sql, reals, ...params) => call("exec", handle, sql, params, reals),
    execMany: (handle, sql, paramSets, realSets, timeoutMs) =>
      call("execMany", handle, sql, paramSets, realSets, timeoutMs),
    lockedExec: (handle, lockName, waitMs, sql, params, reals, timeoutMs) =>
      db.locked("lockedExec", handle, lockName, waitMs, sql, params, reals, timeoutMs),
    lockedExecArgs: (handle, lockName, waitMs, sql, reals, ...params) =>
      db.locked("lockedExec", handle, lockName, waitMs, sql, params, reals),
    lockedExecMany: (handle, lockName, waitMs, sql, paramSets, realSets, timeoutMs) =>
      db.locked("lockedExecMany", handle, lockName, waitMs, sql, paramSets, realSets, timeoutMs),
    unlock: (handle) => { call("unlock", handle).catch(() => {}); },
    presence: (handle, name) => { call("presence", handle, name).catch(() => {}); },
    close: (handle) => call("close", handle),
    alive: (handle) => db.alive(handle),
    interrupt: (handle) => db.interrupt(handle),
    deleteFiles: (path) => call("deleteFiles", path),
    lockStats: () => call("lockStats"),
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
      db.terminate();
    },
  };
}

export async function startTab(options) {
  const opts = { mode: "worker", ...options };
  return opts.mode === "main" ? startMainThreadTab(opts) : startWorkerTab(opts);
}
