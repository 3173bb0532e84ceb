// Loading sqlite-wasm in a worker, from beside this file or from a given URL of its wasm.
import sqlite3InitModule from "../node_modules/@sqlite.org/sqlite-wasm/dist/index.mjs";

/** sqlite-wasm's `sqlite3` object. `wasmURL`: where to fetch `sqlite3.wasm` (a blob URL
 * when tabsqlite loads itself from its wheel); by default beside sqlite-wasm's `index.mjs`. */
export function loadSqlite(wasmURL) {
  const options = { print: () => {}, printErr: (...a) => console.warn(...a) };
  if (wasmURL) options.locateFile = () => wasmURL;
  return sqlite3InitModule(options);
}
