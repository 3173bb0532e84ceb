// The shim over sqlite-wasm that tabsqlite's Python side calls (worker only: OPFS sync
// access handles exist only in dedicated workers).
//
// exec()/execMany() never throw: they return a plain array, so one call is one boundary
// crossing and Python gets everything it needs to track commits:
//   ok:    [1, columns, rows, rowsAffected, lastRowid, wasInTx, inTx, rowsChanged,
//           writes, ddl, rollback, fixups]
//   error: [0, message, extendedCode, kind, wasInTx, inTx]
// `fixups` lists [row, col, kind] for values JS can't carry faithfully: kind "f" is a REAL
// that happens to be integral (JS has one number type), "b" is a BLOB (a Uint8Array).

const AUTH = {
  CREATE_TABLE: 2, CREATE_TEMP_TABLE: 4, DELETE: 9, DROP_TABLE: 11, DROP_TEMP_TABLE: 13,
  INSERT: 18, TRANSACTION: 22, UPDATE: 23, ALTER_TABLE: 26,
};
const SQLITE_INTEGER = 1, SQLITE_FLOAT = 2, SQLITE_TEXT = 3, SQLITE_BLOB = 4;
const STMT_CACHE = 200;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER), MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

class ProgrammingError extends Error {}

function newInfo() {
  return { writes: new Set(), ddl: new Set(), rollback: false, fired: false };
}

// After a statement's own text, only blanks, semicolons and comments may follow.
function hasTrailingStatement(rest) {
  const stripped = rest.replace(/--[^\n]*(\n|$)/g, " ").replace(/\/\*[\s\S]*?(\*\/|$)/g, " ");
  return /[^\s;]/.test(stripped);
}

export function createShim(sqlite3, { vfs = "opfs", unlockAsap = true } = {}) {
  const capi = sqlite3.capi;
  const conns = new Map();
  let nextHandle = 1;

  function authorizer(conn) {
    return (_pV, code, s0, s1 /*, s2, s3 */) => {
      const info = conn.collect;
      if (info) {
        info.fired = true;
        if ((code === AUTH.INSERT || code === AUTH.UPDATE || code === AUTH.DELETE) && s0 &&
            !s0.toLowerCase().startsWith("sqlite_")) {
          info.writes.add(s0.toLowerCase());
        } else if ((code === AUTH.CREATE_TABLE || code === AUTH.CREATE_TEMP_TABLE ||
                    code === AUTH.DROP_TABLE || code === AUTH.DROP_TEMP_TABLE) && s0) {
          info.ddl.add(s0.toLowerCase());
        } else if (code === AUTH.ALTER_TABLE && s1) {
          info.ddl.add(s1.toLowerCase());
        } else if (code === AUTH.TRANSACTION && (s0 || "").toUpperCase() === "ROLLBACK") {
          info.rollback = true;
        }
      }
      return 0;
    };
  }

  function open(path, options = {}) {
    const useVfs = options.vfs || vfs;
    let filename = path;
    if (path !== ":memory:") {
      const flags = [];
      if (useVfs !== "memdb") flags.push(`vfs=${encodeURIComponent(useVfs)}`);
      if (useVfs === "opfs" && (options.unlockAsap ?? unlockAsap)) flags.push("opfs-unlock-asap=1");
      filename = "file:" + encodeURI(path) + (flags.length ? "?" + flags.join("&") : "");
    }
    const db = new sqlite3.oo1.DB({ filename, flags: "c" });
    const conn = { db, ptr: db.pointer, cache: new Map(), collect: null };
    capi.sqlite3_set_authorizer(conn.ptr, authorizer(conn), 0);
    capi.sqlite3_busy_timeout(conn.ptr, options.busyTimeoutMs ?? 0);
    const handle = nextHandle++;
    conns.set(handle, conn);
    return handle;
  }

  function getConn(handle) {
    const conn = conns.get(handle);
    if (!conn) throw new ProgrammingError("the connection is closed");
    return conn;
  }

  function prepare(conn, sql) {
    let entry = conn.cache.get(sql);
    if (entry) {
      conn.cache.delete(sql); // move to the end (most recently used)
      conn.cache.set(sql, entry);
      return entry;
    }
    const stmt = conn.db.prepare(sql);
    const own = capi.sqlite3_sql(stmt.pointer) || "";
    if (own.length < sql.length && hasTrailingStatement(sql.slice(own.length))) {
      stmt.finalize();
      throw new ProgrammingError("You can only execute one statement at a time.");
    }
    entry = { stmt, info: conn.collect };
    conn.cache.set(sql, entry);
    if (conn.cache.size > STMT_CACHE) {
      const [oldSql, old] = conn.cache.entries().next().value;
      conn.cache.delete(oldSql);
      old.stmt.finalize();
    }
    return entry;
  }

  function bind(stmt, params) {
    const count = stmt.parameterCount;
    if (params === undefined || params === null) params = [];
    if (Array.isArray(params)) {
      if (params.length !== count) {
        throw new ProgrammingError(
          `Incorrect number of bindings supplied. The current statement uses ${count}, and there are ${params.length} supplied.`);
      }
      for (let i = 0; i < count; i++) {
        const v = params[i];
        stmt.bind(i + 1, v === undefined ? null : v);
      }
      return;
    }
    // A mapping: ":name" / "@name" / "$name" placeholders.
    for (let i = 1; i <= count; i++) {
      const name = capi.sqlite3_bind_parameter_name(stmt.pointer, i);
      if (!name) throw new ProgrammingError("positional placeholder used with named parameters");
      const key = name.slice(1);
      if (!(key in params)) throw new ProgrammingError(`You did not supply a value for binding parameter ${name}.`);
      const v = params[key];
      stmt.bind(i, v === undefined ? null : v);
    }
  }

  function readRows(stmt, rows, fixups) {
    const p = stmt.pointer;
    const n = stmt.columnCount;
    while (stmt.step()) {
      const row = new Array(n);
      for (let c = 0; c < n; c++) {
        switch (capi.sqlite3_column_type(p, c)) {
          case SQLITE_INTEGER: {
            const v = capi.sqlite3_column_int64(p, c);
            row[c] = (v <= MAX_SAFE && v >= MIN_SAFE) ? Number(v) : v;
            break;
          }
          case SQLITE_FLOAT: {
            const v = capi.sqlite3_column_double(p, c);
            if (Number.isInteger(v)) fixups.push([rows.length, c, "f"]);
            row[c] = v;
            break;
          }
          case SQLITE_TEXT:
            row[c] = capi.sqlite3_column_text(p, c);
            break;
          case SQLITE_BLOB:
            row[c] = stmt.get(c, sqlite3.capi.SQLITE_BLOB);
            fixups.push([rows.length, c, "b"]);
            break;
          default:
            row[c] = undefined; // SQL NULL: undefined reaches Python as None (null would be JsNull)
        }
      }
      rows.push(row);
    }
  }

  function errorResult(conn, e, wasInTx) {
    const inTx = conn ? !capi.sqlite3_get_autocommit(conn.ptr) : false;
    const code = e && typeof e.resultCode === "number" ? e.resultCode : 0;
    let kind = code ? "sqlite" : "programming";
    if (e instanceof ProgrammingError) kind = "programming";
    let message = e && e.message ? e.message : String(e);
    if (code) {
      // oo1 prefixes messages with the code name; keep SQLite's own text.
      message = message.replace(/^SQLITE_[A-Z_]+: (sqlite3 result code \d+: )?/, "");
    }
    return [0, message, code, kind, wasInTx, inTx];
  }

  function run(handle, sql, paramSets) {
    let conn = null;
    let wasInTx = false;
    try {
      conn = getConn(handle);
      wasInTx = !capi.sqlite3_get_autocommit(conn.ptr);
      const before = capi.sqlite3_total_changes64(conn.ptr);
      conn.collect = newInfo();
      const entry = prepare(conn, sql);
      const stmt = entry.stmt;
      const rows = [];
      const fixups = [];
      const readonly = !!capi.sqlite3_stmt_readonly(stmt.pointer);
      let rowsAffected = readonly ? -1 : 0;
      try {
        for (const params of paramSets) {
          bind(stmt, params);
          readRows(stmt, rows, fixups);
          if (!readonly) rowsAffected += capi.sqlite3_changes(conn.ptr);
          stmt.reset(true);
        }
      } finally {
        stmt.reset(true);
      }
      if (conn.collect.fired) entry.info = conn.collect; // (re)prepared: fresh facts
      conn.collect = null;
      const info = entry.info;
      const columns = [];
      for (let i = 0, n = stmt.columnCount; i < n; i++) columns.push(capi.sqlite3_column_name(stmt.pointer, i));
      const changed = capi.sqlite3_total_changes64(conn.ptr) !== before;
      const lastRowid = capi.sqlite3_last_insert_rowid(conn.ptr);
      const inTx = !capi.sqlite3_get_autocommit(conn.ptr);
      return [1, columns, rows, rowsAffected, lastRowid, wasInTx, inTx, changed,
              [...info.writes], [...info.ddl], info.rollback, fixups];
    } catch (e) {
      if (conn) conn.collect = null;
      return errorResult(conn, e, wasInTx);
    }
  }

  return {
    open(path, options) {
      try {
        return [1, open(path, options || {})];
      } catch (e) {
        return errorResult(null, e, false);
      }
    },
    exec(handle, sql, params) {
      return run(handle, sql, [params]);
    },
    execMany(handle, sql, paramSets) {
      return run(handle, sql, paramSets);
    },
    close(handle) {
      const conn = conns.get(handle);
      if (!conn) return;
      conns.delete(handle);
      for (const { stmt } of conn.cache.values()) stmt.finalize();
      conn.cache.clear();
      conn.db.close();
    },
    async deleteFiles(path) {
      const removed = [];
      for (const suffix of ["", "-journal", "-wal", "-shm"]) {
        if (await removeOpfsFile(path + suffix)) removed.push(path + suffix);
      }
      return removed;
    },
    vfsList() {
      return capi.sqlite3_js_vfs_list();
    },
    sqliteVersion: capi.sqlite3_libversion(),
  };
}

async function removeOpfsFile(path) {
  const parts = path.split("/").filter(Boolean);
  let dir = await navigator.storage.getDirectory();
  for (const part of parts.slice(0, -1)) {
    try {
      dir = await dir.getDirectoryHandle(part);
    } catch {
      return false;
    }
  }
  try {
    await dir.removeEntry(parts[parts.length - 1]);
    return true;
  } catch (e) {
    if (e && e.name === "NotFoundError") return false;
    throw e;
  }
}
