// When a statement may run: inside the database's Web Lock (coordination.mjs's runLocked),
// or at once under the lock this realm keeps (keptlocks.mjs), shared for reads and
// exclusive for writes on tabsqlite's VFS; with lending (tabvfs.mjs) the file's handles
// are borrowed with the exclusive lock and lent back before it goes.
import { requestLock, runLocked } from "./coordination.mjs";
import { keptLocks, TURN } from "./keptlocks.mjs";

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
// A read by its first word that writes the file all the same (snapshots.mjs).
const RESTORE = "tabsqlite_restore(";
const isRead = (sql) => READ.test(sql) && !sql.includes(RESTORE);
// Log mode (tabvfs.mjs "log"): the lock readers share and keep, apart from the database's
// lock, which writers take exclusively. A checkpoint takes both exclusively (write lock
// first), so readers never wait for a writer, and nothing reads the database file while a
// checkpoint writes it.
export const readLockName = (lockName) => `${lockName}-read`;
// How long a checkpoint waits for each of its locks before it gives up (to try again
// after a later commit).
const CHECKPOINT_WAIT_MS = 2000;

// `engine`: engine.mjs's (its connections and their autocommit state); `tabvfs`:
// tabvfs.mjs's, or null when the VFS is not installed.
export function createStatementLocks(engine, tabvfs) {
  const { conns, autocommit } = engine;

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
    if (tabvfs.logged && isRead(sql) && autocommit(conn.ptr)) {
      const readName = readLockName(lockName);
      return whenKept(readName, () => {
        const out = readShared(work);
        return out !== null ? out : exclusive();
      }, () => readLocked(handle, readName, timeoutMs, work, lockName));
    }
    if (tabvfs.lending || !isRead(sql) || !autocommit(conn.ptr)) {
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
    checkpointIfDue(conn, lockName);
    return out;
  }

  // Log mode: paths whose checkpoint is under way in this realm.
  const checkpointing = new Set();
  // Log mode: after a write, when the log holds enough pages (`closing`: any page, the
  // realm's last connection to the database closed), copy them into the database file
  // (tabvfs.checkpoint), asynchronously, under the write lock and then the read lock, both
  // exclusive; given up (until the next write) if either is not had in CHECKPOINT_WAIT_MS.
  // The file's handles stay open meanwhile.
  function checkpointIfDue(conn, lockName, closing = false) {
    const path = conn.path;
    if (!tabvfs.logged || checkpointing.has(path) || !tabvfs.checkpointDue(path, closing)) {
      return;
    }
    checkpointing.add(path);
    tabvfs.retain(path);
    (async () => {
      const releaseWrite = await requestLock(lockName, CHECKPOINT_WAIT_MS).promise;
      if (!releaseWrite) return;
      try {
        const releaseRead = await requestLock(readLockName(lockName), CHECKPOINT_WAIT_MS).promise;
        if (!releaseRead) return;
        try {
          if (tabvfs.checkpointDue(path, closing)) tabvfs.checkpoint(path);
        } finally {
          releaseRead();
        }
      } finally {
        releaseWrite();
      }
    })().catch((e) => {
      tabvfs.stats.checkpointErrors += 1;
      console.warn("tabsqlite: a checkpoint failed (the log keeps its pages)", e);
    }).finally(() => {
      checkpointing.delete(path);
      tabvfs.release(path);
    });
  }

  // A statement under the exclusive lock, requested. Afterwards the lock stays: with the
  // connection while it has a transaction open, else kept by this realm for the next
  // statements until someone wants it (lending: at least for a slice, LEND_SLICE_MS).
  function exclusiveKept(conn, handle, lockName, timeoutMs, work) {
    const path = conn.path;
    const slice = tabvfs.lending ? LEND_SLICE_MS : 0;
    const written = tabvfs.logged ? () => {
      const out = work();
      checkpointIfDue(conn, lockName);
      return out;
    } : work;
    return runLocked(lockName, timeoutMs, written, (release, grantedAt) => {
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
  // needs to (see readShared; under `writeName`, log mode's write lock, or else the same
  // lock). {promise, cancel} as runLocked's.
  function readLocked(handle, lockName, timeoutMs, work, writeName = lockName) {
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
      current = conn ? exclusiveKept(conn, handle, writeName, left, work)
        : runLocked(writeName, left, work, keepForTransaction(handle));
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

  // The transaction of `handle` ended: its lock goes (on tabsqlite's VFS this realm keeps
  // it for the next statements unless someone wants it).
  function unlock(handle) {
    const lock = kept.get(handle);
    if (!lock) return;
    kept.delete(handle);
    const conn = conns.get(handle);
    if (conn && conn.path !== null &&
        keptLocks.keep(conn.lockName, lock.release, "exclusive", lock.holdUntil)) {
      checkpointIfDue(conn, conn.lockName); // (a transaction's commit)
      return;
    }
    lock.release();
    if (conn && conn.path !== null) checkpointIfDue(conn, conn.lockName);
  }

  return { locked, unlock, checkpointIfDue };
}
