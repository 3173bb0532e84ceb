// A benchmark peer (bench-only): wa-sqlite with one of its multi-tab OPFS VFSs, driven from
// raw JS in a dedicated worker, as a tab running it would. Messages:
//   {op: "init", vfs: "coop" | "wal"}                  -> {ok}
//   {op: "point", path, n}                             -> {ms}     (n point selects)
//   {op: "inserts", path, n, startAt}                  -> {start, end, lat} (autocommit)
//   {op: "count", path}                                -> {count, ok}
//   {op: "closeAll"}                                   -> {ok}
import SQLiteESMFactory from "/js_glue/node_modules/@journeyapps/wa-sqlite/dist/wa-sqlite.mjs";
import * as SQLite from "/js_glue/node_modules/@journeyapps/wa-sqlite/src/sqlite-api.js";
import { OPFSCoopSyncVFS } from "/js_glue/node_modules/@journeyapps/wa-sqlite/src/examples/OPFSCoopSyncVFS.js";
import { OPFSWriteAheadVFS } from "/js_glue/node_modules/@journeyapps/wa-sqlite/src/examples/OPFSWriteAheadVFS.js";

let sqlite3 = null;
let vfsName = null;
const dbs = new Map();

async function db(path) {
  if (!dbs.has(path)) {
    const handle = await sqlite3.open_v2(path, SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE, vfsName);
    if (vfsName === "wal") { // (it answers busy_timeout itself, asynchronously)
      await sqlite3.exec(handle, "PRAGMA busy_timeout=10000");
      await sqlite3.exec(handle, "PRAGMA journal_mode=wal");
    }
    // OPFSCoopSyncVFS gets no busy_timeout: it answers SQLITE_BUSY while it waits for the
    // file's handles and wa-sqlite retries once they are there; SQLite's busy handler would
    // instead retry at once, synchronously, for the whole timeout (the handles can't come
    // meanwhile: 10 s lost per hand-over, which made its 4 tabs time out here before).
    await sqlite3.exec(handle, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL)");
    dbs.set(path, handle);
  }
  return dbs.get(path);
}

async function run(stmtSql, handle, bindings) {
  for await (const stmt of sqlite3.statements(handle, stmtSql)) {
    sqlite3.bind_collection(stmt, bindings);
    let value = null;
    while (await sqlite3.step(stmt) === SQLite.SQLITE_ROW) value = sqlite3.column(stmt, 0);
    return value;
  }
  return null;
}

const ops = {
  async init({ vfs }) {
    const module = await SQLiteESMFactory();
    sqlite3 = SQLite.Factory(module);
    const made = vfs === "wal" ? await OPFSWriteAheadVFS.create("wal", module)
                               : await OPFSCoopSyncVFS.create("coop", module);
    sqlite3.vfs_register(made, false);
    vfsName = vfs;
    return { ok: true };
  },
  async point({ path, n }) {
    const handle = await db(path);
    if ((await run("SELECT count(*) FROM t", handle, [])) < 1000) {
      await sqlite3.exec(handle, "BEGIN");
      for (let i = 0; i < 1000; i++) await run("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", handle, [i, "row " + i, i * 0.5]);
      await sqlite3.exec(handle, "COMMIT");
    }
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await run("SELECT b FROM t WHERE id = ?", handle, [1 + (i % 1000)]);
    return { ms: performance.now() - t0 };
  },
  async inserts({ path, n, startAt, tag }) {
    const handle = await db(path);
    while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 5));
    const lat = [];
    const start = Date.now();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await run("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", handle, [i, tag || "w", 0.5]);
      lat.push(performance.now() - t0);
      // Let the event loop turn between writes, as a tab's app does (and as tabsqlite's
      // writers do, each waiting for its Web Lock): the VFS hands its files over then.
      await new Promise((r) => setTimeout(r, 0));
    }
    return { start, end: Date.now(), lat };
  },
  async closeAll() {
    for (const handle of dbs.values()) await sqlite3.close(handle);
    dbs.clear();
    return { ok: true };
  },
  async count({ path }) {
    const handle = await db(path);
    const count = await run("SELECT count(*) FROM t", handle, []);
    const ok = await run("PRAGMA integrity_check", handle, []);
    return { count, ok };
  },
};

self.onmessage = async (event) => {
  const { id, op, ...args } = event.data;
  try {
    self.postMessage({ id, value: await ops[op](args) });
  } catch (e) {
    self.postMessage({ id, error: String((e && e.stack) || e) });
  }
};
