// Statement execution over sqlite-wasm's C API: connections, prepared statements (kept per
// connection), binding, stepping, and the answers (answers.mjs) with the facts the
// authorizer collected. No locking here: statement_locks.mjs decides when a statement runs.
import { compact, failureAnswer, packed, SEP, smallRows } from "./answers.mjs";
import { VFS_NAME } from "./tabvfs.mjs";
import { installSnapshotFunctions } from "./snapshots.mjs";

const AUTH = {
  CREATE_TABLE: 2, CREATE_TEMP_TABLE: 4, DELETE: 9, DROP_TABLE: 11, DROP_TEMP_TABLE: 13,
  INSERT: 18, TRANSACTION: 22, UPDATE: 23, ALTER_TABLE: 26,
};
const SQLITE_INTEGER = 1, SQLITE_FLOAT = 2, SQLITE_TEXT = 3, SQLITE_BLOB = 4;
const STMT_CACHE = 200;
// Statements not worth keeping prepared (and schema statements, which reused across schema
// changes next to EXPLAIN made sqlite-wasm 3.54 trap with "memory access out of bounds").
const NO_CACHE = /^\s*(CREATE|DROP|ALTER|EXPLAIN|PRAGMA|VACUUM|ATTACH|DETACH|REINDEX|ANALYZE)\b/i;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER), MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_IDS = 255; // statement ids per connection (a key's low byte)
const PROGRESS_OPS = 1000; // SQLite VM steps between two looks at a statement's deadline
const SQLITE_INTERRUPT = 9;

// The absolute deadline (performance.now()) of a call given `timeoutMs` from now; Infinity
// for none (undefined, null or negative).
export function deadlineIn(timeoutMs) {
  return timeoutMs === undefined || timeoutMs === null || timeoutMs < 0
    ? Infinity : performance.now() + timeoutMs;
}

class ProgrammingError extends Error {}

function newInfo() {
  return { writes: new Set(), ddl: new Set(), rollback: false, fired: false, packed: null };
}

// After a statement's own text, only blanks, semicolons and comments may follow.
function hasTrailingStatement(rest) {
  const stripped = rest.replace(/--[^\n]*(\n|$)/g, " ").replace(/\/\*[\s\S]*?(\*\/|$)/g, " ");
  return /[^\s;]/.test(stripped);
}

// `interrupts`: an Int32Array over a SharedArrayBuffer (main-thread mode, where the page
// can write while this thread runs a statement): a call whose id is stored in it stops.
export function createEngine(sqlite3, { vfs, unlockAsap, interrupts, logged = false }) {
  const capi = sqlite3.capi;
  // The raw exports for the hot integer-only calls (no argument-conversion wrapper).
  const raw = sqlite3.wasm.exports;
  const autocommit = raw.sqlite3_get_autocommit;
  const totalChanges = raw.sqlite3_total_changes64;
  const changes = raw.sqlite3_changes;
  const lastRowid = raw.sqlite3_last_insert_rowid;
  const conns = new Map();
  let nextHandle = 1;

  function authorizer(conn) {
    return (_pV, code, s0, s1 /*, s2, s3 */) => {
      if (conn.collecting) {
        const info = conn.collect || (conn.collect = newInfo());
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
    const onTabVfs = useVfs === VFS_NAME && path !== ":memory:";
    if (onTabVfs) db.exec("PRAGMA temp_store=MEMORY"); // (the VFS opens no temporary files)
    if (onTabVfs && logged) db.exec("PRAGMA journal_mode=MEMORY"); // (the log is the journal)
    const conn = { db, ptr: db.pointer, cache: new Map(), collect: null, collecting: false,
                   ids: new Map(), texts: [], deadline: Infinity, expired: false, callId: 0,
                   path: onTabVfs ? path : null, lockName: null };
    installSnapshotFunctions(sqlite3, db);
    capi.sqlite3_set_authorizer(conn.ptr, authorizer(conn), 0);
    // A statement past its call's deadline is stopped (SQLITE_INTERRUPT): nothing else can
    // run in this thread while it does, so it has to look at the clock itself.
    capi.sqlite3_progress_handler(conn.ptr, PROGRESS_OPS, () => {
      if (performance.now() > conn.deadline) {
        conn.expired = true;
        return 1;
      }
      return interrupts !== null && conn.callId !== 0 &&
        Atomics.load(interrupts, 0) === conn.callId ? 1 : 0;
    }, 0);
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
    if (entry) return entry;
    const stmt = conn.db.prepare(sql);
    const own = capi.sqlite3_sql(stmt.pointer) || "";
    if (own.length < sql.length && hasTrailingStatement(sql.slice(own.length))) {
      stmt.finalize();
      throw new ProgrammingError("You can only execute one statement at a time.");
    }
    // `reported`: a keyed run answered with these facts, so Python has them.
    entry = { stmt, info: conn.collect || newInfo(), keep: !NO_CACHE.test(sql),
              readonly: !!capi.sqlite3_stmt_readonly(stmt.pointer),
              noColumns: stmt.columnCount === 0, reported: false };
    conn.cache.set(sql, entry);
    if (conn.cache.size > STMT_CACHE) {
      const [oldSql, old] = conn.cache.entries().next().value;
      conn.cache.delete(oldSql);
      old.stmt.finalize();
    }
    return entry;
  }

  // -- binding and stepping with the raw C API (oo1's bind() costs ~15 us a row) ----------
  const wasm = sqlite3.wasm;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  let scratch = 0, scratchSize = 0;
  function scratchFor(bytes) {
    if (bytes > scratchSize) {
      if (scratch) wasm.dealloc(scratch);
      scratchSize = Math.max(bytes, 4096);
      scratch = wasm.alloc(scratchSize);
    }
    return scratch;
  }
  const TRANSIENT = -1; // SQLITE_TRANSIENT: SQLite copies the value
  const SQLITE_ROW = 100, SQLITE_DONE = 101;

  class SQLiteFailure extends Error {
    constructor(message, resultCode) {
      super(message);
      this.resultCode = resultCode;
    }
  }
  function failure(dbPtr) {
    return new SQLiteFailure(capi.sqlite3_errmsg(dbPtr), raw.sqlite3_extended_errcode(dbPtr));
  }

  // `real`: Python sent a float (2.0 arrives here as the number 2): bind it as a REAL.
  function bindValue(conn, p, i, v, real) {
    let rc;
    switch (typeof v) {
      case "number":
        if (real) rc = raw.sqlite3_bind_double(p, i, v);
        else if (Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) rc = raw.sqlite3_bind_int(p, i, v);
        else if (Number.isSafeInteger(v)) rc = raw.sqlite3_bind_int64(p, i, BigInt(v));
        else rc = raw.sqlite3_bind_double(p, i, v);
        break;
      case "bigint":
        if (v > 9223372036854775807n || v < -9223372036854775808n) {
          throw new ProgrammingError("OverflowError: Python int too large for an SQLite INTEGER");
        }
        rc = raw.sqlite3_bind_int64(p, i, v);
        break;
      case "string": {
        if (!v.isWellFormed()) throw new ProgrammingError("str parameter is not valid Unicode");
        const max = v.length * 3;
        const ptr = scratchFor(max + 1);
        const { written } = encoder.encodeInto(v, wasm.heap8u().subarray(ptr, ptr + max));
        rc = raw.sqlite3_bind_text(p, i, ptr, written, TRANSIENT);
        break;
      }
      case "boolean":
        rc = raw.sqlite3_bind_int(p, i, v ? 1 : 0);
        break;
      case "undefined":
        rc = raw.sqlite3_bind_null(p, i);
        break;
      default:
        if (v === null) {
          rc = raw.sqlite3_bind_null(p, i);
        } else if (v instanceof Uint8Array || v instanceof ArrayBuffer) {
          const bytes = v instanceof Uint8Array ? v : new Uint8Array(v);
          const ptr = scratchFor(bytes.length + 1);
          wasm.heap8u().set(bytes, ptr);
          rc = raw.sqlite3_bind_blob(p, i, ptr, bytes.length, TRANSIENT);
        } else {
          throw new ProgrammingError(`Error binding parameter ${i}: type '${typeof v}' is not supported`);
        }
    }
    if (rc) throw failure(conn.ptr);
  }

  // Is the parameter `key` (a position or a name) a REAL? `reals` is 0/null (none), a mask
  // of positions (bit i: position i; positions below 31) or an array of keys.
  function isReal(reals, key) {
    if (!reals) return false;
    if (typeof reals === "number") return typeof key === "number" && key < 31 && ((reals >> key) & 1) === 1;
    return reals.includes(key);
  }

  function bind(conn, stmt, params, reals) {
    const p = stmt.pointer;
    const count = stmt.parameterCount;
    if (params === undefined || params === null) params = [];
    if (Array.isArray(params)) {
      if (params.length !== count) {
        throw new ProgrammingError(
          `Incorrect number of bindings supplied. The current statement uses ${count}, and there are ${params.length} supplied.`);
      }
      for (let i = 0; i < count; i++) bindValue(conn, p, i + 1, params[i], isReal(reals, i));
      return;
    }
    // A mapping: ":name" / "@name" / "$name" placeholders.
    for (let i = 1; i <= count; i++) {
      const name = capi.sqlite3_bind_parameter_name(p, i);
      if (!name) throw new ProgrammingError("positional placeholder used with named parameters");
      const key = name.slice(1) in params ? name.slice(1) : name;
      if (!(key in params)) throw new ProgrammingError(`You did not supply a value for binding parameter ${name}.`);
      bindValue(conn, p, i, params[key], isReal(reals, key));
    }
  }

  // Step to the end, collecting rows (when the statement has columns).
  function stepAll(conn, stmt, noColumns, rows, fixups) {
    const p = stmt.pointer;
    const n = noColumns ? 0 : stmt.columnCount;
    for (;;) {
      const rc = raw.sqlite3_step(p);
      if (rc === SQLITE_DONE) return;
      if (rc !== SQLITE_ROW) throw failure(conn.ptr);
      if (noColumns) continue;
      const row = new Array(n);
      for (let c = 0; c < n; c++) {
        switch (raw.sqlite3_column_type(p, c)) {
          case SQLITE_INTEGER: {
            const v = raw.sqlite3_column_int64(p, c);
            if (v <= MAX_SAFE && v >= MIN_SAFE) {
              row[c] = Number(v);
            } else {
              row[c] = v;
              fixups.push([rows.length, c, "i"]);
            }
            break;
          }
          case SQLITE_FLOAT: {
            const v = raw.sqlite3_column_double(p, c);
            if (Number.isInteger(v)) fixups.push([rows.length, c, "f"]);
            row[c] = v;
            break;
          }
          case SQLITE_TEXT: {
            const ptr = raw.sqlite3_column_text(p, c);
            const len = raw.sqlite3_column_bytes(p, c);
            row[c] = decoder.decode(wasm.heap8u().subarray(ptr, ptr + len));
            break;
          }
          case SQLITE_BLOB: {
            const ptr = raw.sqlite3_column_blob(p, c);
            const len = raw.sqlite3_column_bytes(p, c);
            row[c] = len ? wasm.heap8u().slice(ptr, ptr + len) : new Uint8Array(0);
            fixups.push([rows.length, c, "b"]);
            break;
          }
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
    if (conn && conn.expired && (code & 0xff) === SQLITE_INTERRUPT) kind = "timeout";
    let message = e && e.message ? e.message : String(e);
    if (!(e instanceof ProgrammingError) && !code && e && e.stack) message += "\n" + e.stack;
    if (code) {
      // oo1 prefixes messages with the code name; keep SQLite's own text.
      message = message.replace(/^SQLITE_[A-Z_]+: (sqlite3 result code \d+: )?/, "");
    }
    return failureAnswer(message, code, kind, wasInTx, inTx);
  }

  // Finalize a statement that is not kept prepared (see NO_CACHE).
  function drop(conn, sql, entry) {
    if (!entry.keep && conn.cache.get(sql) === entry) {
      conn.cache.delete(sql);
      entry.stmt.finalize();
    }
  }

  // `realSets`: null, or for each parameter set its REAL keys (see isReal). `keyed`: the
  // call came by a statement id (see runner), so the answer may be compact. `deadline`: the
  // performance.now() past which the statement is stopped (see deadlineIn).
  // `callId`: the caller's id for this call (see `interrupts`), 0 for none.
  function run(handle, sql, paramSets, realSets, keyed = false, deadline = Infinity, callId = 0) {
    let conn = null;
    let entry = null;
    let wasInTx = false;
    try {
      conn = getConn(handle);
      conn.expired = false;
      conn.deadline = deadline;
      conn.callId = callId;
      if (deadline !== Infinity && performance.now() > deadline) { // the lock wait took it all
        conn.expired = true;
        wasInTx = !autocommit(conn.ptr);
        throw new SQLiteFailure("interrupted", SQLITE_INTERRUPT);
      }
      const ptr = conn.ptr;
      wasInTx = !autocommit(ptr);
      const before = totalChanges(ptr);
      conn.collect = null;
      conn.collecting = true;
      entry = prepare(conn, sql);
      const stmt = entry.stmt;
      const rows = [];
      const fixups = [];
      const readonly = entry.readonly;
      const noColumns = entry.noColumns;
      let rowsAffected = readonly ? -1 : 0;
      try {
        for (let i = 0; i < paramSets.length; i++) {
          if (i) raw.sqlite3_reset(stmt.pointer);
          bind(conn, stmt, paramSets[i], realSets == null ? null : realSets[i]);
          stepAll(conn, stmt, noColumns, rows, fixups);
          if (!readonly) rowsAffected += changes(ptr);
        }
      } finally {
        raw.sqlite3_reset(stmt.pointer);
      }
      conn.collecting = false;
      if (conn.collect !== null && conn.collect !== entry.info) { // re-prepared: fresh facts
        entry.info = conn.collect;
        entry.readonly = !!capi.sqlite3_stmt_readonly(stmt.pointer);
        entry.reported = false;
      }
      conn.collect = null;
      const info = entry.info;
      const changed = totalChanges(ptr) !== before;
      const rowid = lastRowid(ptr);
      const inTx = !autocommit(ptr);
      const flags = (wasInTx ? 1 : 0) | (inTx ? 2 : 0) | (changed ? 4 : 0);
      // The fields a string answer starts with, after its tag (answers.mjs).
      const head = () => SEP + rowsAffected + SEP + rowid + SEP + flags + SEP + packed(info);
      if (noColumns) {
        drop(conn, sql, entry);
        if (keyed) {
          if (entry.reported) {
            const answer = compact(rowsAffected, rowid, flags);
            if (answer !== null) return answer;
          } else {
            entry.reported = true;
          }
        }
        return "1" + head();
      }
      const columns = [];
      for (let i = 0, n = stmt.columnCount; i < n; i++) columns.push(capi.sqlite3_column_name(stmt.pointer, i));
      drop(conn, sql, entry);
      const small = smallRows(columns, rows, fixups);
      if (small !== null) return "2" + head() + SEP + small;
      return [1, columns, rows, rowsAffected, rowid, wasInTx, inTx, changed,
              [...info.writes], [...info.ddl], info.rollback, fixups];
    } catch (e) {
      if (conn) {
        conn.collect = null;
        conn.collecting = false;
        if (entry) drop(conn, sql, entry);
      }
      return errorResult(conn, e, wasInTx);
    } finally {
      if (conn) {
        conn.deadline = Infinity;
        conn.callId = 0;
      }
    }
  }

  // A statement's id on its connection (1..MAX_IDS), or 0 when the connection has named
  // as many as it keeps (the caller then sends the SQL text).
  function statementId(handle, sql) {
    const conn = getConn(handle);
    let id = conn.ids.get(sql);
    if (id === undefined) {
      if (conn.texts.length >= MAX_IDS) return 0;
      conn.texts.push(sql);
      id = conn.texts.length;
      conn.ids.set(sql, id);
    }
    return id;
  }

  function runner(handle) {
    const conn = getConn(handle);
    return (key, ...params) => {
      const id = key % 256;
      return run(handle, conn.texts[id - 1], [params], [(key - id) / 256], true);
    };
  }

  // Close `handle`'s SQLite connection (a transaction still open rolls back); its record,
  // or undefined if there is none.
  function closeConnection(handle) {
    const conn = conns.get(handle);
    if (!conn) return undefined;
    for (const { stmt } of conn.cache.values()) stmt.finalize();
    conn.cache.clear();
    try {
      conn.db.close();
    } finally {
      conns.delete(handle);
    }
    return conn;
  }

  return { capi, conns, autocommit, open, getConn, run, errorResult, statementId, runner,
           closeConnection };
}
