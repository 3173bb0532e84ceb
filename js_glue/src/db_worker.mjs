// The database worker of "main-thread mode": sqlite-wasm only. Python runs on the page and
// sends each shim call here: {id, op, args} -> {id, value} (or {id, error}).
//
// The database's Web Lock is taken here, as in worker mode (lockedExec*), not on the page:
// if this worker dies, the browser frees its locks at once. The page learns of the death
// through the worker's "alive" lock ({type: "init", aliveLock}): it holds it for its whole
// life, and the page's own request for it is granted only when the worker is gone.
import { openShim } from "./shim.mjs";
import { loadSqlite } from "./sqlite_module.mjs";

let shim = null;
let startPromise = null;
// Where the page asks for a running call to stop (see createShim): needs cross-origin
// isolation (SharedArrayBuffer), as the opfs VFS does.
const interrupts = self.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
// Calls that take the caller's id last, after this many arguments (padded).
const ARITY = { exec: 5, execMany: 5, lockedExec: 7, lockedExecMany: 7 };
// Locked requests in flight, by message id: {promise, cancel} (see runLocked).
const requests = new Map();

async function start(init) {
  const sqlite3 = await loadSqlite(init.wasmURL);
  shim = await openShim(sqlite3, { vfs: init.vfs, handles: init.handles,
                                  unlockAsap: init.unlockAsap ?? true, interrupts });
  if (init.aliveLock) {
    await new Promise((held) => {
      navigator.locks.request(init.aliveLock, () => {
        held();
        return new Promise(() => {}); // until this worker ends
      });
    });
  }
}

const OPS = new Set(["open", "exec", "execMany", "close", "deleteFiles", "unlock", "presence",
                     "vfsReady", "vfsInfo", "lockStats"]);
const LOCKED_OPS = new Set(["lockedExec", "lockedExecMany"]);

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "init") {
    startPromise = startPromise || start(msg);
    try {
      await startPromise;
      self.postMessage({ type: "ready", interrupts });
    } catch (e) {
      self.postMessage({ type: "failed", error: String(e && e.stack || e) });
    }
    return;
  }
  try {
    await startPromise;
    let value;
    let args = msg.args;
    if (ARITY[msg.op] !== undefined) {
      args = args.slice(0, ARITY[msg.op]);
      args.length = ARITY[msg.op];
      args.push(msg.id);
    }
    if (msg.op === "cancel") { // withdraw a locked request: its result if it ran, else undefined
      const request = requests.get(msg.args[0]);
      value = request ? request.cancel() : undefined;
    } else if (LOCKED_OPS.has(msg.op)) {
      const request = shim[msg.op](...args);
      if (request && request.promise) {
        requests.set(msg.id, request);
        try {
          value = await request.promise;
        } finally {
          requests.delete(msg.id);
        }
      } else {
        value = request; // a read that ran at once under a kept shared lock
      }
    } else if (OPS.has(msg.op)) {
      value = await shim[msg.op](...args);
    } else {
      throw new Error(`unknown op ${msg.op}`);
    }
    self.postMessage({ id: msg.id, value });
  } catch (e) {
    self.postMessage({ id: msg.id, error: String(e && e.message || e) });
  }
};
