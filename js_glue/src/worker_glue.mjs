// The glue of "worker mode": sqlite-wasm and Pyodide share a dedicated worker and Python
// calls the shim directly (one synchronous call per statement). Used by startTab's worker
// (py_worker.mjs) and by tabsqlite itself when it is imported in a worker the app made
// (runtimes/pyodide/boot.py).
import { coordination } from "./coordination.mjs";
import { toPlain } from "./convert.mjs";
import { openShim } from "./shim.mjs";
import { loadSqlite } from "./sqlite_module.mjs";

/**
 * The object Python imports as `tabsqlite_glue` (runtimes/pyodide/glue.py's Glue).
 * @param {{vfs?: string, handles?: string, unlockAsap?: boolean, defaultDirectory?: string,
 *          wasmURL?: string, sqlite3?: object, postToPage?: (data: unknown) => void}} options
 *   `sqlite3`: an sqlite-wasm already loaded (else loaded from `wasmURL`); `postToPage`:
 *   what `post_to_page(data)` does (by default, post `{type: "event", data}` to the page).
 */
export async function workerGlue(options = {}) {
  const sqlite3 = options.sqlite3 || await loadSqlite(options.wasmURL);
  const shim = await openShim(sqlite3, { vfs: options.vfs, handles: options.handles,
                                        unlockAsap: options.unlockAsap ?? true });
  const post = options.postToPage || ((data) => self.postMessage({ type: "event", data }));
  return {
    mode: "worker",
    defaultDirectory: options.defaultDirectory || "/tabsqlite",
    sqlite3, // escape hatch (and the benchmarks' raw baseline): the sqlite-wasm module
    ...shim,
    ...coordination,
    post_to_page(data) {
      post(toPlain(data, false));
    },
  };
}
