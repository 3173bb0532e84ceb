// The database worker of "main-thread mode": sqlite-wasm only. Python runs on the page and
// sends each shim call here: {id, op, args} -> {id, value} (or {id, error}).
import sqlite3InitModule from "../node_modules/@sqlite.org/sqlite-wasm/dist/index.mjs";
import { createShim } from "./shim.mjs";

let shim = null;
let startPromise = null;

async function start(init) {
  const sqlite3 = await sqlite3InitModule({ print: () => {}, printErr: (...a) => console.warn(...a) });
  const vfs = init.vfs || "opfs";
  const vfsList = sqlite3.capi.sqlite3_js_vfs_list();
  if (vfs !== "memdb" && !vfsList.includes(vfs)) {
    throw new Error(`sqlite-wasm has no '${vfs}' VFS here (have: ${vfsList.join(", ")})`);
  }
  shim = createShim(sqlite3, { vfs, unlockAsap: init.unlockAsap ?? true });
}

const OPS = new Set(["open", "exec", "execMany", "close", "deleteFiles"]);

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
    if (!OPS.has(msg.op)) throw new Error(`unknown op ${msg.op}`);
    const value = await shim[msg.op](...msg.args);
    self.postMessage({ id: msg.id, value });
  } catch (e) {
    self.postMessage({ id: msg.id, error: String(e && e.message || e) });
  }
};
