// The page's side of "main-thread mode": Pyodide runs on the page and every database call
// goes to a database worker (db_worker.mjs) as a message. Used by startTab's main-thread
// tabs (tabsqlite.mjs) and by tabsqlite itself when it is imported on a page
// (runtimes/pyodide/boot.py).
import { coordination } from "./coordination.mjs";
import { toPlain } from "./convert.mjs";

// The first message of `worker` that `predicate` accepts (a "failed" one rejects).
export function waitFor(worker, predicate) {
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

// The page's side of the database worker (main-thread mode). Calls go as messages; the
// worker takes the database's Web Lock itself, so its death frees the lock at once. The
// page sees the death through the worker's "alive" lock: every pending call then fails
// with a WORKER_STOPPED error within moments, handles of the dead worker keep failing that
// way, and the next open starts a new worker. Python knows that error by its name.
const WORKER_STOPPED = "TabsqliteWorkerStopped";
const workerStopped = () =>
  Object.assign(new Error("the database worker stopped"), { name: WORKER_STOPPED });
const HANDLE_OPS = new Set(["exec", "execMany", "close", "unlock", "presence"]);

// `options.workerURL`: the database worker's script (by default db_worker.mjs beside this
// file; a blob URL when tabsqlite loads itself from its wheel); `options.wasmURL`: where
// that worker fetches sqlite3.wasm (see sqlite_module.mjs).
export function databaseWorker(options) {
  let current = null; // {worker, pending, ready, dead}
  let nextId = 1;
  let nextHandle = 1;
  const handles = new Map(); // page handle -> {w, handle}

  function spawn() {
    const url = options.workerURL || new URL("./db_worker.mjs", import.meta.url);
    const worker = new Worker(url, { type: "module" });
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
                         unlockAsap: options.unlockAsap, wasmURL: options.wasmURL, aliveLock });
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

/**
 * The object Python imports as `tabsqlite_glue` in main-thread mode (glue.py's Glue): every
 * call goes to a database worker of its own, started here.
 * @param {{vfs?: string, handles?: string, unlockAsap?: boolean, defaultDirectory?: string,
 *          workerURL?: string|URL, wasmURL?: string, onEvent?: (data: unknown) => void}} options
 *   `onEvent`: what `post_to_page(data)` does (nothing by default).
 */
export async function mainGlue(options = {}) {
  const db = databaseWorker(options);
  const { vfs, handles } = await db.call("vfsInfo");
  const call = db.call;
  return {
    db, // (startTab's terminate(): the tests' way to kill the worker)
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
  };
}
