// The shim over sqlite-wasm that tabsqlite's Python side calls (worker only: OPFS sync
// access handles exist only in dedicated workers).
//
// exec()/execArgs()/execMany() never throw, so one call is one boundary crossing and Python
// gets everything it needs to track commits. A statement without result columns returns a
// string (cheapest to hand to Python), fields separated by \x1e, table names by \x1f:
//   "1␞rowsAffected␞lastRowid␞flags␞rollback␞writes␞ddl"
// where flags = wasInTx | inTx << 1 | rowsChanged << 2
// otherwise an array:
//   ok:    [1, columns, rows, rowsAffected, lastRowid, wasInTx, inTx, rowsChanged,
//           writes, ddl, rollback, fixups]
//   error: [0, message, extendedCode, kind, wasInTx, inTx]
// `fixups` lists [row, col, kind] for values JS can't carry faithfully: kind "f" is a REAL
// that happens to be integral (JS has one number type), "b" is a BLOB (a Uint8Array), "i"
// an INTEGER beyond 2^53 (a BigInt).
// lockedExec*() run the same inside the database's Web Lock (the statement starts in the
// grant callback, so no other task runs while the lock is held).
//
// The hot path, for a statement Python runs again and again (a loop in a transaction):
// statementId(handle, sql) names the statement once, and runner(handle) gives a function
// (key, ...params) with key = reals * 256 + id, so neither the SQL text nor the handle
// crosses the boundary per call. Its answer for a statement without result columns is a
// number when it fits (see compact()) and Python already has the statement's facts; else
// one of the forms above.
//
// Their types (Python names the fields: tabsqlite/runtimes/pyodide/wire.py):
/** @typedef {string} DoneAnswer "1␞rowsAffected␞lastRowid␞flags␞rollback␞writes␞ddl" */
/** @typedef {number} CompactAnswer see compact() */
/** @typedef {[row: number, col: number, kind: "f" | "b" | "i"]} Fixup */
/**
 * @typedef {[ok: 1, columns: string[], rows: Array<Array<number | bigint | string |
 *   Uint8Array | undefined>>, rowsAffected: number, lastRowid: number, wasInTx: boolean,
 *   inTx: boolean, rowsChanged: boolean, writes: string[], ddl: string[], rollback: boolean,
 *   fixups: Fixup[]]} RowsAnswer
 */
/**
 * @typedef {[ok: 0, message: string, extendedCode: number, kind: "sqlite" | "timeout" |
 *   "programming", wasInTx: boolean, inTx: boolean]} FailureAnswer
 */
/** @typedef {DoneAnswer | CompactAnswer | RowsAnswer | FailureAnswer} Answer */
/** @typedef {{promise: Promise<Answer | null>, cancel: () => Answer | undefined}} Request */
import { runLocked } from "./coordination.mjs";
import { keptLocks, TURN } from "./keptlocks.mjs";
import { VFS_NAME } from "./tabvfs.mjs";

const AUTH = {
  CREATE_TABLE: 2, CREATE_TEMP_TABLE: 4, DELETE: 9, DROP_TABLE: 11, DROP_TEMP_TABLE: 13,
  INSERT: 18, TRANSACTION: 22, UPDATE: 23, ALTER_TABLE: 26,
};
const SQLITE_INTEGER = 1, SQLITE_FLOAT = 2, SQLITE_TEXT = 3, SQLITE_BLOB = 4;
const STMT_CACHE = 200;
const SEP = "\x1e", UNIT = "\x1f";
// Statements not worth keeping prepared (and schema statements, which reused across schema
// changes next to EXPLAIN made sqlite-wasm 3.54 trap with "memory access out of bounds").
const NO_CACHE = /^\s*(CREATE|DROP|ALTER|EXPLAIN|PRAGMA|VACUUM|ATTACH|DETACH|REINDEX|ANALYZE)\b/i;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER), MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_IDS = 255; // statement ids per connection (a key's low byte)
const COMPACT_ROWID = 2n ** 40n; // row ids a compact answer holds: [0, 2^40)
const PROGRESS_OPS = 1000; // SQLite VM steps between two looks at a statement's deadline
const SQLITE_INTERRUPT = 9;
const SQLITE_BUSY = 5;
// With lending, a tab keeps the lock it was granted at least this long, even if others want
// it (keptlocks.mjs): a hand-over costs the next tab ~2-4 ms to open the file's handles,
// so a tab writing in a loop gets a few statements done per hand-over. 4 tabs x 250
// autocommit inserts, one run (bench figure 12's case): no slice 72-90/s, 8 ms 102-121/s,
// 16 ms 137-147/s; a waiting tab waits one slice more at most.
const LEND_SLICE_MS = 16;
// Statements that may read under the shared lock (a write among them is refused by the VFS
// and runs again exclusively; see readShared).
const READ = /^\s*(SELECT\b|VALUES\b|WITH\b|PRAGMA\s+data_version\s*$)/i;

// The absolute deadline (performance.now()) of a call given `timeoutMs` from now; Infinity
// for none (undefined, null or negative).
function deadlineIn(timeoutMs) {
  return timeoutMs === undefined || timeoutMs === null || timeoutMs < 0
    ? Infinity : performance.now() + timeoutMs;
}

// The compact answer: (lastRowid * 32 + rowsAffected + 1) * 8 + flags, below 2^48 so a JS
// number carries it exactly; null if it doesn't fit (rowsAffected outside -1..30, a row id
// outside [0, 2^40)). Python decodes it in PyodideConnection._result.
function compact(rowsAffected, rowid, flags) {
  if (rowsAffected < -1 || rowsAffected > 30 || rowid < 0n || rowid >= COMPACT_ROWID) return null;
  return (Number(rowid) * 32 + rowsAffected + 1) * 8 + flags;
}

class ProgrammingError extends Error {}

function newInfo() {
  return { writes: new Set(), ddl: new Set(), rollback: false, fired: false, packed: null };
}


// The authorizer's facts in the compact result form, computed once per prepared statement.
function packed(info) {
  if (info.packed === null) {
    info.packed = (info.rollback ? 1 : 0) + SEP + [...info.writes].join(UNIT) + SEP +
      [...info.ddl].join(UNIT);
  }
  return info.packed;
}

// After a statement's own text, only blanks, semicolons and comments may follow.
function hasTrailingStatement(rest) {
  const stripped = rest.replace(/--[^\n]*(\n|$)/g, " ").replace(/\/\*[\s\S]*?(\*\/|$)/g, " ");
  return /[^\s;]/.test(stripped);
}

// `interrupts`: an Int32Array over a SharedArrayBuffer (main-thread mode, where the page
// can write while this thread runs a statement): a call whose id is stored in it stops.
// `tabvfs`: tabsqlite's own VFS (tabvfs.mjs), when installed; used for vfs "tabsqlite".
export function createShim(sqlite3, { vfs = "opfs", unlockAsap = true, interrupts = null,
                                      tabvfs = null } = {}) {
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
    const conn = { db, ptr: db.pointer, cache: new Map(), collect: null, collecting: false,
                   ids: new Map(), texts: [], deadline: Infinity, expired: false, callId: 0,
                   path: onTabVfs ? path : null, lockName: null };
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
    return [0, message, code, kind, wasInTx, inTx];
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
      if (noColumns) {
        drop(conn, sql, entry);
        const flags = (wasInTx ? 1 : 0) | (inTx ? 2 : 0) | (changed ? 4 : 0);
        if (keyed) {
          if (entry.reported) {
            const answer = compact(rowsAffected, rowid, flags);
            if (answer !== null) return answer;
          } else {
            entry.reported = true;
          }
        }
        return "1" + SEP + rowsAffected + SEP + rowid + SEP + flags + SEP + packed(info);
      }
      const columns = [];
      for (let i = 0, n = stmt.columnCount; i < n; i++) columns.push(capi.sqlite3_column_name(stmt.pointer, i));
      drop(conn, sql, entry);
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

  // Locks kept by a statement that left a transaction open: handle -> release function.
  const kept = new Map();

  // The keep() of runLocked for an exclusive statement of `handle`: the lock stays only
  // while a transaction is open.
  const keepForTransaction = (handle) => (release) => {
    const conn = conns.get(handle);
    if (conn && !autocommit(conn.ptr)) {
      kept.set(handle, { release, holdUntil: 0 });
      return true;
    }
    return false;
  };

  // Run `work` for `handle` inside the Web Lock `lockName` (see runLocked): the statement
  // starts in the grant callback. On tabsqlite's VFS the lock stays with this realm after
  // a statement outside a transaction (keptlocks.mjs): a read's shared (shared handles), a
  // write's exclusive, and with lending every statement's exclusive (the handles are
  // borrowed in the grant and lent back before the lock goes). While it is kept, a
  // statement it covers runs at once and its answer is returned as is, not as a request.
  function locked(handle, lockName, timeoutMs, work, sql) {
    const conn = conns.get(handle);
    if (conn) conn.lockName = lockName;
    if (!conn || conn.path === null) { // (sqlite-wasm's opfs)
      return runLocked(lockName, timeoutMs, work, keepForTransaction(handle));
    }
    const exclusive = () => exclusiveKept(conn, handle, lockName, timeoutMs, work);
    if (tabvfs.lending || !READ.test(sql) || !autocommit(conn.ptr)) {
      return whenKept(lockName, () => (keptLocks.mode(lockName) === "exclusive"
        ? atOnce(conn, handle, lockName, work) : exclusive()), exclusive);
    }
    return whenKept(lockName, () => {
      if (keptLocks.mode(lockName) === "exclusive") return atOnce(conn, handle, lockName, work);
      const out = readShared(work);
      return out !== null ? out : exclusive(); // (asking for the exclusive lock gives up
    }, () => readLocked(handle, lockName, timeoutMs, work)); // the kept one: runLocked)
  }

  // `atOnce()` if this realm keeps `lockName` (keptlocks.mjs), else `request()`; when the
  // kept lock's lease asks for a turn of the event loop, one of them after it (a want
  // heard meanwhile makes the lock go). Each may answer with the statement's answer or a
  // request ({promise, cancel}); after a turn the answer is a request.
  function whenKept(lockName, atOnce, request) {
    const kept = keptLocks.holds(lockName);
    if (kept === true) return atOnce();
    if (kept !== TURN) return request();
    let inner = null;
    let cancelled = false;
    let ran = false;
    let result;
    const promise = new Promise((turned) => setTimeout(turned, 0)).then(() => {
      if (cancelled) return undefined;
      const out = keptLocks.holds(lockName) === true ? atOnce() : request();
      if (out !== null && typeof out === "object" && typeof out.cancel === "function") {
        inner = out;
        return out.promise;
      }
      ran = true;
      result = out;
      return out;
    });
    return {
      promise,
      cancel() {
        cancelled = true;
        if (inner !== null) return inner.cancel();
        return ran ? result : undefined;
      },
    };
  }

  // A statement run at once under the exclusive lock this realm keeps; one that opens a
  // transaction takes the lock over for its connection.
  function atOnce(conn, handle, lockName, work) {
    const out = work();
    if (!autocommit(conn.ptr)) kept.set(handle, keptLocks.take(lockName));
    return out;
  }

  // A statement under the exclusive lock, requested. Afterwards the lock stays: with the
  // connection while it has a transaction open, else kept by this realm for the next
  // statements until someone wants it (lending: at least for a slice, LEND_SLICE_MS).
  function exclusiveKept(conn, handle, lockName, timeoutMs, work) {
    const path = conn.path;
    const slice = tabvfs.lending ? LEND_SLICE_MS : 0;
    return runLocked(lockName, timeoutMs, work, (release, grantedAt) => {
      if (!conns.has(handle)) return false;
      const holdUntil = grantedAt + slice;
      if (!autocommit(conn.ptr)) {
        kept.set(handle, { release, holdUntil });
        return true;
      }
      return keptLocks.keep(lockName, release, "exclusive", holdUntil);
    }, tabvfs.lending ? { before: () => tabvfs.borrow(path), letGo: () => tabvfs.lend(path) }
      : {});
  }

  // Run a read while holding the lock shared only: SQLite may not take more than a shared
  // lock then (tabvfs refuses with SQLITE_BUSY). null: it wanted more (a journal left by a
  // tab that died mid-transaction, to roll back; or a statement that writes after all),
  // and has to run again under the exclusive lock; nothing was changed.
  function readShared(work) {
    tabvfs.sharedOnly = true;
    let out;
    try {
      out = work();
    } finally {
      tabvfs.sharedOnly = false;
    }
    if (Array.isArray(out) && out[0] === 0 && (out[2] & 0xff) === SQLITE_BUSY) {
      keptLocks.stats.exclusiveAgain += 1;
      return null;
    }
    return out;
  }

  // A read that requests the lock shared (kept afterwards), and again exclusively if it
  // needs to (see readShared). {promise, cancel} as runLocked's.
  function readLocked(handle, lockName, timeoutMs, work) {
    const start = performance.now();
    let again = false;
    let cancelled = false;
    let current = runLocked(lockName, timeoutMs, () => {
      const out = readShared(work);
      again = out === null;
      return out;
    }, (release) => !again && conns.has(handle) && keptLocks.keep(lockName, release, "shared"),
    { mode: "shared" });
    const promise = current.promise.then((out) => {
      if (!again || cancelled) return out === null ? undefined : out;
      const left = timeoutMs < 0 ? timeoutMs : Math.max(0, timeoutMs - (performance.now() - start));
      const conn = conns.get(handle);
      current = conn ? exclusiveKept(conn, handle, lockName, left, work)
        : runLocked(lockName, left, work, keepForTransaction(handle));
      return current.promise;
    });
    return {
      promise,
      cancel() {
        cancelled = true;
        const out = current.cancel();
        return out === null ? undefined : out;
      },
    };
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

  // Presence locks: a connection names itself to tabs that wait for the database lock by
  // holding a lock of its own (see lockHolder); it goes with the connection, or the worker.
  const presences = new Map(); // handle -> release function

  function presence(handle, name) {
    getConn(handle);
    navigator.locks.request(name, { ifAvailable: true }, (lock) => {
      if (!lock) return undefined;
      if (!conns.has(handle)) return undefined; // closed meanwhile
      return new Promise((release) => presences.set(handle, release));
    });
  }

  // The transaction of `handle` ended: its lock goes (on tabsqlite's VFS this realm keeps
  // it for the next statements unless someone wants it).
  function unlock(handle) {
    const lock = kept.get(handle);
    if (!lock) return;
    kept.delete(handle);
    const conn = conns.get(handle);
    if (conn && conn.path !== null &&
        keptLocks.keep(conn.lockName, lock.release, "exclusive", lock.holdUntil)) {
      return;
    }
    lock.release();
  }

  return {
    // On tabsqlite's VFS the file's handles are opened first (asynchronously): then the
    // answer is a promise of the same.
    open(path, options) {
      const opts = options || {};
      const attempt = () => {
        try {
          return [1, open(path, opts)];
        } catch (e) {
          return errorResult(null, e, false);
        }
      };
      if (tabvfs === null || (opts.vfs || vfs) !== VFS_NAME || path === ":memory:") return attempt();
      // (the caller holds the database's lock: with lending, the handles are borrowed for
      // the open and lent back after it)
      return tabvfs.prepare(path).then(async () => {
        let out;
        try {
          await tabvfs.borrow(path);
          out = attempt();
        } catch (e) {
          out = errorResult(null, e, false);
        } finally {
          tabvfs.lend(path);
        }
        if (out[0] !== 1) tabvfs.release(path);
        return out;
      }, (e) => errorResult(null, e, false));
    },
    // `reals`: the REAL keys of the parameters (see isReal); `execArgs` takes them first,
    // then the parameters as plain arguments.
    /** @returns {Answer} */
    exec(handle, sql, params, reals, timeoutMs, callId) {
      return run(handle, sql, [params], [reals], false, deadlineIn(timeoutMs), callId);
    },
    /** @returns {Answer} */
    execArgs(handle, sql, reals, ...params) {
      return run(handle, sql, [params], [reals]);
    },
    /** @returns {Answer} */
    execMany(handle, sql, paramSets, realSets, timeoutMs, callId) {
      return run(handle, sql, paramSets, realSets, false, deadlineIn(timeoutMs), callId);
    },
    // The same three, each run inside the database's Web Lock; they return {promise, cancel},
    // or the answer itself for a read that ran at once under a kept shared lock.
    // `timeoutMs` (the last argument of lockedExec/lockedExecMany) counts from the request.
    /** @returns {Answer | Request} the answer when run at once under a kept lock */
    lockedExec(handle, lockName, lockWaitMs, sql, params, reals, timeoutMs, callId) {
      const deadline = deadlineIn(timeoutMs);
      return locked(handle, lockName, lockWaitMs,
                    () => run(handle, sql, [params], [reals], false, deadline, callId), sql);
    },
    /** @returns {Answer | Request} */
    lockedExecArgs(handle, lockName, lockWaitMs, sql, reals, ...params) {
      return locked(handle, lockName, lockWaitMs, () => run(handle, sql, [params], [reals]), sql);
    },
    /** @returns {Answer | Request} */
    lockedExecMany(handle, lockName, lockWaitMs, sql, paramSets, realSets, timeoutMs, callId) {
      const deadline = deadlineIn(timeoutMs);
      return locked(handle, lockName, lockWaitMs,
                    () => run(handle, sql, paramSets, realSets, false, deadline, callId), sql);
    },
    // Give back the lock a statement kept for its open transaction.
    unlock,
    statementId,
    runner,
    presence,
    // Close `handle`: SQLite closes first (a transaction still open rolls back while its
    // lock is held), then the lock goes.
    close(handle) {
      const gone = presences.get(handle);
      if (gone) {
        presences.delete(handle);
        gone();
      }
      const conn = conns.get(handle);
      if (!conn) {
        unlock(handle);
        return;
      }
      for (const { stmt } of conn.cache.values()) stmt.finalize();
      conn.cache.clear();
      try {
        conn.db.close();
      } finally {
        conns.delete(handle);
        unlock(handle);
        if (conn.lockName && ![...conns.values()].some((c) => c.lockName === conn.lockName)) {
          keptLocks.giveUp(conn.lockName); // this realm's last connection to it
        }
        if (conn.path !== null) tabvfs.release(conn.path);
      }
    },
    async deleteFiles(path) {
      if (tabvfs !== null) tabvfs.forget(path); // (its handles would keep the files)
      const removed = [];
      for (const suffix of ["", "-journal", "-wal", "-shm"]) {
        if (await removeOpfsFile(path + suffix)) removed.push(path + suffix);
      }
      return removed;
    },
    vfsList() {
      return capi.sqlite3_js_vfs_list();
    },
    vfs, // the VFS connections open on unless told otherwise
    // Open tabsqlite's VFS handles of `path` for a connection made outside the shim (the
    // benchmarks' raw-JS baselines); a promise.
    prepareFile(path) {
      return tabvfs === null ? Promise.resolve() : tabvfs.prepare(path);
    },
    vfsReady() {
      return true;
    },
    // The VFS and how it holds handles, for the page of main-thread mode: {vfs, handles}.
    vfsInfo() {
      return { vfs, handles: tabvfs === null ? null : tabvfs.handles };
    },
    // The counters of this thread's kept read locks (keptlocks.mjs), a JSON string.
    lockStats() {
      return JSON.stringify({ ...keptLocks.stats, ...(tabvfs === null ? {} : tabvfs.stats) });
    },
    // How tabsqlite's VFS holds the files' handles here: "shared" or "lending" (null: not
    // installed).
    handles: tabvfs === null ? null : tabvfs.handles,
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
