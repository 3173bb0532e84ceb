// The database worker of "main-thread mode": sqlite-wasm only. Python runs on the page and
// sends each shim call here: {id, op, args} -> {id, value} (or {id, error}).
//
// The database's Web Lock is taken here, as in worker mode (lockedExec*), not on the page:
// if this worker dies, the browser frees its locks at once. The page learns of the death
// through the worker's "alive" lock ({type: "init", aliveLock}): it holds it for its whole
// life, and the page's own request for it is granted only when the worker is gone.
import sqlite3InitModule from "../node_modules/@sqlite.org/sqlite-wasm/dist/index.mjs";
import { createShim } from "./shim.mjs";

let shim = null;
let startPromise = null;
// Locked requests in flight, by message id: {promise, cancel} (see runLocked).
const requests = new Map();

async function start(init) {
  const sqlite3 = await sqlite3InitModule({ print: () => {}, printErr: (...a) => console.warn(...a) });
  const vfs = init.vfs || "opfs";
  const vfsList = sqlite3.capi.sqlite3_js_vfs_list();
  if (vfs !== "memdb" && !vfsList.includes(vfs)) {
    throw new Error(`sqlite-wasm has no '${vfs}' VFS here (have: ${vfsList.join(", ")})`);
  }
  shim = createShim(sqlite3, { vfs, unlockAsap: init.unlockAsap ?? true });
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
                     "vfsReady"]);
const LOCKED_OPS = new Set(["lockedExec", "lockedExecMany"]);

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "init") {
    startPromise = startPromise || start(msg);
    try {
      await startPromise;
      self.postMessage({ type: "ready" });
    } catch (e) {
      self.postMessage({ type: "failed", error: String(e && e.stack || e) });
    }
    return;
  }
  try {
    await startPromise;
    let value;
    if (msg.op === "cancel") { // withdraw a locked request: its result if it ran, else undefined
      const request = requests.get(msg.args[0]);
      value = request ? request.cancel() : undefined;
    } else if (LOCKED_OPS.has(msg.op)) {
      const request = shim[msg.op](...msg.args);
      requests.set(msg.id, request);
      try {
        value = await request.promise;
      } finally {
        requests.delete(msg.id);
      }
    } else if (OPS.has(msg.op)) {
      value = await shim[msg.op](...msg.args);
    } else {
      throw new Error(`unknown op ${msg.op}`);
    }
    self.postMessage({ id: msg.id, value });
  } catch (e) {
    self.postMessage({ id: msg.id, error: String(e && e.message || e) });
  }
};
