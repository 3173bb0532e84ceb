// tabsqlite's own OPFS VFS ("tabsqlite"): synchronous access handles opened in this worker.
// No SharedArrayBuffer, no proxy worker: a page read is one handle read.
//
// Two ways to hold a file's handles ("handles", chosen by feature detection or forced):
//   "shared"  (Chromium): every tab keeps handles of mode "readwrite-unsafe" open for the
//             connection's life; several tabs hold them on one file at once.
//   "lending" (elsewhere): a handle of the default mode excludes every other, so a tab
//             opens them when it gets the database's Web Lock (borrow, asynchronous, inside
//             the grant) and closes them before it lets the lock go (lend). The shim keeps
//             the lock, and so the handles, between statements until another tab says it
//             wants them (keptlocks.mjs), the idea behind wa-sqlite's OPFSCoopSyncVFS.
//
// Who may touch the file is decided outside SQLite, by the database's Web Lock: every
// statement runs inside it (statement_locks.mjs, runLocked) and a transaction keeps it
// until it ends.
// A plain read may hold it shared only (shared handles; keptlocks.mjs): then `sharedOnly` is
// set and SQLite gets SQLITE_BUSY for anything above SHARED (the shim runs it again
// exclusively). Otherwise SQLite's own locks here only record the level it asked for;
// xCheckReservedLock says "nobody", which is true while we hold the Web Lock: a non-empty
// journal found then was left by a tab that died inside a transaction, and SQLite rolls it
// back (under our lock, before it reads). Between statements SQLite drops to no lock, so
// at the next one it compares the file's change counter and forgets its cached pages if
// another tab wrote.
//
// Handles must exist before SQLite touches a file (creating one is asynchronous, xOpen and
// xRead are not): prepare(path) finds the database's and its journal's files (and, with
// shared handles, opens them), and the shim calls it before sqlite3_open. A file SQLite
// opened refers to its entry, not to a handle: with lending, the handle under it comes and
// goes. A journal is "absent" when empty: deleting one truncates it, so the handle stays
// valid and DELETE mode costs what TRUNCATE does. Temporary files live in memory (the shim
// sets temp_store=MEMORY), so they never reach this VFS.

export const VFS_NAME = "tabsqlite";
const SECTOR = 4096;
const JOURNAL = "-journal";
const SQLITE_LOCK_SHARED = 1;

// True where this browser lets several handles share a file (feature detection, once).
export async function unsafeHandlesWork() {
  try {
    const root = await navigator.storage.getDirectory();
    // A file of its own: tabs starting together probe at once, and one removing a shared
    // probe file under another's feet made that one fall back to "opfs".
    const name = `.tabsqlite-probe-${crypto.randomUUID()}`;
    const probe = await root.getFileHandle(name, { create: true });
    const a = await probe.createSyncAccessHandle({ mode: "readwrite-unsafe" });
    let ok = false;
    try {
      const b = await probe.createSyncAccessHandle({ mode: "readwrite-unsafe" });
      b.close();
      ok = true;
    } finally {
      a.close();
    }
    await root.removeEntry(name).catch(() => {});
    return ok;
  } catch {
    return false;
  }
}

// True where this browser has synchronous access handles at all (dedicated workers).
function syncHandlesExist() {
  return typeof FileSystemFileHandle !== "undefined" &&
    typeof FileSystemFileHandle.prototype.createSyncAccessHandle === "function";
}

// The VFS a worker uses for `requested` ("auto": ours, else sqlite-wasm's "opfs") and how
// ours holds its handles (`handles`: "auto", "shared" or "lending"; see the top): {vfs,
// tabvfs}, ours installed if it is that.
export async function chooseVfs(sqlite3, requested, handles = "auto") {
  const vfs = requested || "auto";
  if (vfs !== "auto" && vfs !== VFS_NAME) return { vfs, tabvfs: null };
  const want = handles || "auto";
  if (!["auto", "shared", "lending"].includes(want)) {
    throw new Error(`handles must be "auto", "shared" or "lending", not ${JSON.stringify(want)}`);
  }
  if (want === "lending" && syncHandlesExist()) {
    return { vfs: VFS_NAME, tabvfs: installTabVfs(sqlite3, "lending") };
  }
  if (want !== "lending" && await unsafeHandlesWork()) { // (probed once per worker)
    return { vfs: VFS_NAME, tabvfs: installTabVfs(sqlite3, "shared") };
  }
  if (want === "auto" && syncHandlesExist()) {
    return { vfs: VFS_NAME, tabvfs: installTabVfs(sqlite3, "lending") };
  }
  if (vfs === "auto") return { vfs: "opfs", tabvfs: null };
  throw new Error(want === "shared"
    ? "shared handles need createSyncAccessHandle({mode: 'readwrite-unsafe'}), which this " +
      "browser lacks"
    : "the tabsqlite VFS needs OPFS synchronous access handles (a dedicated worker), which " +
      "this context lacks");
}

// How long a borrow waits for handles another tab is still closing, and between tries.
const BORROW_WAIT_MS = 5000;
const BORROW_RETRY_MS = 2;
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function fileHandle(path) {
  const parts = path.split("/").filter(Boolean);
  let dir = await navigator.storage.getDirectory();
  for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create: true });
  return dir.getFileHandle(parts[parts.length - 1], { create: true });
}

export function installTabVfs(sqlite3, handles = "shared") {
  const { capi, wasm } = sqlite3;
  const lending = handles === "lending";
  // path -> {files: {db, journal} (FileSystemFileHandles), db, journal (their access
  // handles, null while lent), dirty: {db, journal} (written since the last flush), refs}
  const files = new Map();
  // sqlite3_file pointer -> {entry, kind ("db" or "journal"), lock}
  const open = new Map();
  let lastError = null;

  const fail = (e, rc) => {
    lastError = e;
    return rc;
  };
  // The entry and kind of the file SQLite names `name`, or null.
  const find = (name) => {
    if (name.endsWith(JOURNAL)) {
      const entry = files.get(name.slice(0, -JOURNAL.length));
      return entry ? { entry, kind: "journal" } : null;
    }
    const entry = files.get(name);
    return entry ? { entry, kind: "db" } : null;
  };
  // The access handle under an open file; throws while it is lent (a statement ran without
  // the database's lock: a bug, said plainly rather than read from a stale handle).
  const sahOf = (file) => {
    const sah = file.entry[file.kind];
    if (sah === null) {
      throw new Error("tabsqlite VFS: the file's handles are lent to another tab " +
        "(I/O outside the database's lock)");
    }
    return sah;
  };

  const io = {
    xClose(pFile) {
      const file = open.get(pFile);
      open.delete(pFile);
      try { // (a hot-journal check opens and closes the journal before every statement)
        if (file && file.entry.dirty[file.kind] && file.entry[file.kind] !== null) {
          file.entry[file.kind].flush();
          file.entry.dirty[file.kind] = false;
        }
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_CLOSE);
      }
    },
    xRead(pFile, pDest, n, offset64) {
      try {
        const sah = sahOf(open.get(pFile));
        const dest = wasm.heap8u().subarray(Number(pDest), Number(pDest) + n);
        const got = sah.read(dest, { at: Number(offset64) });
        if (got < n) {
          dest.fill(0, got);
          return capi.SQLITE_IOERR_SHORT_READ;
        }
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_READ);
      }
    },
    xWrite(pFile, pSrc, n, offset64) {
      try {
        const file = open.get(pFile);
        const sah = sahOf(file);
        const src = wasm.heap8u().subarray(Number(pSrc), Number(pSrc) + n);
        file.entry.dirty[file.kind] = true;
        return sah.write(src, { at: Number(offset64) }) === n ? 0 : capi.SQLITE_IOERR_WRITE;
      } catch (e) {
        return fail(e, e && e.name === "QuotaExceededError" ? capi.SQLITE_FULL : capi.SQLITE_IOERR_WRITE);
      }
    },
    xTruncate(pFile, size64) {
      try {
        const file = open.get(pFile);
        const sah = sahOf(file);
        file.entry.dirty[file.kind] = true;
        sah.truncate(Number(size64));
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_TRUNCATE);
      }
    },
    xSync(pFile) {
      try {
        const file = open.get(pFile);
        if (file.entry[file.kind] === null && !file.entry.dirty[file.kind]) return 0; // lent:
        sahOf(file).flush();                     // flushed then (SQLite syncs it at close)
        file.entry.dirty[file.kind] = false;
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_FSYNC);
      }
    },
    xFileSize(pFile, pSize64) {
      try {
        wasm.poke64(pSize64, BigInt(sahOf(open.get(pFile)).getSize()));
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_FSTAT);
      }
    },
    xLock(pFile, level) {
      if (level > SQLITE_LOCK_SHARED && vfs.sharedOnly) return capi.SQLITE_BUSY;
      open.get(pFile).lock = level;
      return 0;
    },
    xUnlock(pFile, level) {
      open.get(pFile).lock = level;
      return 0;
    },
    xCheckReservedLock(pFile, pOut) {
      wasm.poke32(pOut, 0);
      return 0;
    },
    xFileControl() {
      return capi.SQLITE_NOTFOUND;
    },
    xSectorSize() {
      return SECTOR;
    },
    xDeviceCharacteristics() {
      return capi.SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN;
    },
  };
  const ioMethods = new capi.sqlite3_io_methods();
  ioMethods.$iVersion = 1;

  const vfsStruct = new capi.sqlite3_vfs();
  const methods = {
    xOpen(pVfs, zName, pFile, flags, pOutFlags) {
      const name = zName ? wasm.cstrToJs(zName) : "";
      const found = name ? find(name) : null;
      if (!found) {
        return fail(new Error(`tabsqlite VFS: no prepared handle for '${name}' ` +
          "(temporary files must stay in memory)"), capi.SQLITE_CANTOPEN);
      }
      open.set(pFile, { entry: found.entry, kind: found.kind, lock: 0 });
      const file = new capi.sqlite3_file(pFile);
      file.$pMethods = ioMethods.pointer;
      file.dispose();
      wasm.poke32(pOutFlags, flags);
      return 0;
    },
    xDelete(pVfs, zName) {
      const found = find(wasm.cstrToJs(zName));
      try {
        if (found) {
          const sah = sahOf(found);
          sah.truncate(0);
          sah.flush();
        }
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_DELETE);
      }
    },
    xAccess(pVfs, zName, flags, pOut) {
      const found = find(wasm.cstrToJs(zName));
      let exists = 0;
      try {
        exists = found && sahOf(found).getSize() > 0 ? 1 : 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_ACCESS);
      }
      wasm.poke32(pOut, exists);
      return 0;
    },
    xFullPathname(pVfs, zName, nOut, pOut) {
      return wasm.cstrncpy(pOut, zName, nOut) < nOut ? 0 : capi.SQLITE_CANTOPEN;
    },
    xRandomness(pVfs, nOut, pOut) {
      crypto.getRandomValues(wasm.heap8u().subarray(Number(pOut), Number(pOut) + nOut));
      return nOut;
    },
    xSleep() {
      return 0;
    },
    xCurrentTime(pVfs, pOut) {
      wasm.poke(pOut, 2440587.5 + Date.now() / 864e5, "double");
      return 0;
    },
    xCurrentTimeInt64(pVfs, pOut) {
      wasm.poke(pOut, 210866760000000 + Date.now(), "i64");
      return 0;
    },
    xGetLastError(pVfs, nOut, pOut) {
      const e = lastError;
      lastError = null;
      if (e && nOut > 0) {
        const bytes = new TextEncoder().encode(String((e && e.message) || e));
        const n = Math.min(bytes.length, nOut - 1);
        const heap = wasm.heap8u();
        heap.set(bytes.subarray(0, n), Number(pOut));
        heap[Number(pOut) + n] = 0;
      }
      return 0;
    },
  };
  vfsStruct.$iVersion = 2;
  vfsStruct.$szOsFile = capi.sqlite3_file.structInfo.sizeof;
  vfsStruct.$mxPathname = 1024;
  sqlite3.vfs.installVfs({
    io: { struct: ioMethods, methods: io },
    vfs: { struct: vfsStruct, methods, name: VFS_NAME },
  });

  // Close the access handles of an entry (flushing what was written since the last flush).
  function closeHandles(entry) {
    for (const kind of ["db", "journal"]) {
      const sah = entry[kind];
      if (sah === null) continue;
      entry[kind] = null;
      try {
        if (entry.dirty[kind]) sah.flush();
      } finally {
        entry.dirty[kind] = false;
        sah.close();
      }
    }
  }

  // Open an access handle of `file`; with lending, a handle the tab before us is still
  // closing (its close reaches the browser after its lock is free) is tried again.
  async function accessHandle(file, deadline) {
    if (!lending) return file.createSyncAccessHandle({ mode: "readwrite-unsafe" });
    for (;;) {
      try {
        return await file.createSyncAccessHandle();
      } catch (e) {
        if (!e || e.name !== "NoModificationAllowedError" || performance.now() > deadline) {
          throw e;
        }
        stats.borrowRetries += 1;
        await sleep(BORROW_RETRY_MS);
      }
    }
  }

  // The access handles of an entry's two files, opened side by side: {db, journal}.
  async function openHandles(entry, waitMs = BORROW_WAIT_MS) {
    const deadline = performance.now() + waitMs;
    const [db, journal] = await Promise.allSettled([accessHandle(entry.files.db, deadline),
                                                    accessHandle(entry.files.journal, deadline)]);
    if (db.status === "fulfilled" && journal.status === "fulfilled") {
      return { db: db.value, journal: journal.value };
    }
    for (const one of [db, journal]) if (one.status === "fulfilled") one.value.close();
    throw db.status === "rejected" ? db.reason : journal.reason;
  }

  // Close every handle of `path` now (before its files are removed).
  function forget(path) {
    const entry = files.get(path);
    if (!entry) return;
    files.delete(path);
    closeHandles(entry);
  }

  // Counters for tests and benchmarks: handles borrowed (and the milliseconds that took in
  // all) and lent, and tries again.
  const stats = { borrowed: 0, borrowMs: 0, lent: 0, borrowRetries: 0 };

  const vfs = {
    name: VFS_NAME,
    handles, // "shared" or "lending"
    lending,
    stats,
    // True while the Web Lock is held shared only (a read, see statement_locks.mjs): SQLite
    // may not go past a shared lock then; asking for more gets SQLITE_BUSY.
    sharedOnly: false,
    // Find (creating) `path` and its journal, and with shared handles open them; counted,
    // see release().
    async prepare(path) {
      const entry = files.get(path);
      if (entry) {
        entry.refs += 1;
        return;
      }
      const [db, journal] = await Promise.all([fileHandle(path), fileHandle(path + JOURNAL)]);
      const made = { path, files: { db, journal }, db: null, journal: null,
                     dirty: { db: false, journal: false }, refs: 1 };
      if (!lending) Object.assign(made, await openHandles(made));
      if (files.has(path)) { // prepared meanwhile by another open in this worker
        closeHandles(made);
        files.get(path).refs += 1;
        return;
      }
      files.set(path, made);
    },
    // One connection of `path` closed: its handles close with the last one.
    release(path) {
      const entry = files.get(path);
      if (entry && --entry.refs === 0) forget(path);
    },
    forget,
    // Lending: open `path`'s handles (the caller holds the database's exclusive Web Lock);
    // a promise, or null when they are open already. Shared handles: always null.
    borrow(path, waitMs = BORROW_WAIT_MS) {
      const entry = files.get(path);
      if (!lending || !entry || entry.db !== null) return null;
      stats.borrowed += 1;
      const started = performance.now();
      return openHandles(entry, waitMs).then((opened) => {
        stats.borrowMs += performance.now() - started;
        if (entry.db !== null || files.get(path) !== entry) { // opened meanwhile, or forgotten
          opened.db.close();
          opened.journal.close();
          return;
        }
        Object.assign(entry, opened);
      });
    },
    // Lending: close `path`'s handles (before the database's Web Lock goes).
    lend(path) {
      const entry = files.get(path);
      if (!lending || !entry || entry.db === null) return;
      stats.lent += 1;
      closeHandles(entry);
    },
  };
  return vfs;
}
