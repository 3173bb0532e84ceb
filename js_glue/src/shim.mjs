// The shim over sqlite-wasm that tabsqlite's Python side calls (worker only: OPFS sync
// access handles exist only in dedicated workers): engine.mjs runs statements,
// statement_locks.mjs decides when they may run, answers.mjs is what Python gets back.
//
// exec()/execArgs()/execMany() never throw, so one call is one boundary crossing and Python
// gets everything it needs to track commits. lockedExec*() run the same inside the
// database's Web Lock (the statement starts in the grant callback, so no other task runs
// while the lock is held).
//
// The hot path, for a statement Python runs again and again (a loop in a transaction):
// statementId(handle, sql) names the statement once, and runner(handle) gives a function
// (key, ...params) with key = reals * 256 + id, so neither the SQL text nor the handle
// crosses the boundary per call. Its answer for a statement without result columns is a
// number when it fits (answers.mjs's compact()) and Python already has the statement's
// facts; else one of the other forms.
/** @typedef {import("./answers.mjs").Answer} Answer */
/** @typedef {import("./answers.mjs").Request} Request */
import { createEngine, deadlineIn } from "./engine.mjs";
import { keptLocks } from "./keptlocks.mjs";
import { createStatementLocks, readLockName } from "./statement_locks.mjs";
import { chooseVfs, VFS_NAME } from "./tabvfs.mjs";

// The shim of a worker over the VFS `options.vfs` / `options.handles` ask for (chooseVfs),
// or an error that says what this context lacks. `options.interrupts`, `unlockAsap`: as
// createShim's. Used by both workers that run SQLite (worker_glue.mjs, db_worker.mjs).
export async function openShim(sqlite3, { vfs: requested, handles, unlockAsap = true,
                                          interrupts = null } = {}) {
  const { vfs, tabvfs } = await chooseVfs(sqlite3, requested, handles);
  const vfsList = sqlite3.capi.sqlite3_js_vfs_list();
  if (vfs !== "memdb" && !vfsList.includes(vfs)) {
    throw new Error(`sqlite-wasm has no '${vfs}' VFS here (have: ${vfsList.join(", ")}); ` +
      "tabsqlite needs OPFS synchronous access handles (a dedicated worker), or for 'opfs' " +
      "a page served with COOP/COEP headers");
  }
  return createShim(sqlite3, { vfs, tabvfs, unlockAsap, interrupts });
}

// `interrupts`: see engine.mjs. `tabvfs`: tabsqlite's own VFS (tabvfs.mjs), when
// installed; used for vfs "tabsqlite".
export function createShim(sqlite3, { vfs = "opfs", unlockAsap = true, interrupts = null,
                                      tabvfs = null } = {}) {
  const engine = createEngine(sqlite3, { vfs, unlockAsap, interrupts,
                                         logged: tabvfs !== null && tabvfs.logged });
  const { capi, conns, getConn, run, errorResult, statementId, runner } = engine;
  const open = engine.open;
  const { locked, unlock, checkpointIfDue } = createStatementLocks(engine, tabvfs);

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
    // `reals`: the REAL keys of the parameters (engine.mjs, isReal); `execArgs` takes them
    // first, then the parameters as plain arguments.
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
    // Make `fn` (a function of this thread: worker mode's Python) the SQL function `name`
    // of `handle`'s connection; it is called with SQLite's values as JS values.
    createFunction(handle, name, nargs, fn, deterministic) {
      const conn = getConn(handle);
      conn.db.createFunction({ name, arity: nargs, deterministic: !!deterministic,
                               xFunc: (_pCtx, ...args) => fn(...args) });
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
      try {
        engine.closeConnection(handle);
      } finally {
        unlock(handle);
        if (conn.lockName && ![...conns.values()].some((c) => c.lockName === conn.lockName)) {
          keptLocks.giveUp(conn.lockName); // this realm's last connection to it
          keptLocks.giveUp(readLockName(conn.lockName));
          // (log mode: fold the log into the file, so it holds every commit again)
          if (conn.path !== null) checkpointIfDue(conn, conn.lockName, true);
        }
        if (conn.path !== null) tabvfs.release(conn.path);
      }
    },
    async deleteFiles(path) {
      if (tabvfs !== null) tabvfs.forget(path); // (its handles would keep the files)
      const removed = [];
      for (const suffix of ["", "-journal", "-log", "-wal", "-shm"]) {
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
      return JSON.stringify({ ...keptLocks.stats,
                              ...(tabvfs === null ? {} : { ...tabvfs.stats, ...tabvfs.logStats() }) });
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
