// tabsqlite's own OPFS VFS ("tabsqlite"): synchronous access handles opened in this worker.
// No SharedArrayBuffer, no proxy worker: a page read is one handle read.
//
// Three ways to hold a file's handles ("handles", chosen by feature detection or forced):
//   "log"     (Chromium, the default there): shared handles (below), and commits go to a
//             write-ahead log beside the database instead of into it (writeahead.mjs), so
//             readers never wait for a writer; see "Log mode" below and in docs/design.md.
//   "shared"  (Chromium, asked for): every tab keeps handles of mode "readwrite-unsafe"
//             open for the connection's life; several tabs hold them on one file at once;
//             commits go into the file under a rollback journal.
//   "lending" (elsewhere): a handle of the default mode excludes every other, so a tab
//             opens them when it gets the database's Web Lock (borrow, asynchronous, inside
//             the grant) and closes them before it lets the lock go (lend). The shim keeps
//             the lock, and so the handles, between statements until another tab says it
//             wants them (keptlocks.mjs), the idea behind wa-sqlite's OPFSCoopSyncVFS.
// Every tab on one database must use the log, or none (claimSide).
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

import {
  CHECKPOINT_PAGES, createLog, HEADER as LOG_HEADER, newLogStats, validPageSize,
} from "./writeahead.mjs";

// Log mode: the database file as SQLite sees it is the file, under the log's newest
// committed pages (this tab's view), under the open transaction's pages (per open file).
// SQLite's journal stays in memory; its commit point (SQLITE_FCNTL_SYNC) appends the
// transaction to the log; its shared lock (a transaction's start) catches the view up.

export const VFS_NAME = "tabsqlite";
const SECTOR = 4096;
const JOURNAL = "-journal";
const LOG = "-log";
const SQLITE_LOCK_SHARED = 1;
const SQLITE_LOCK_RESERVED = 2;
// The page size a database header's bytes 16-17 (`two`) declare (1 stands for 65536), or
// 0 when they declare none SQLite can have.
function headerPageSize(two) {
  const size = (two[0] << 8) | two[1];
  if (size === 1) return 65536;
  return validPageSize(size) ? size : 0;
}

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
// ours holds its handles (`handles`: "auto" (log where handles can be shared, else
// lending), "log", "shared" or "lending"; see the top): {vfs, tabvfs}, ours installed if it
// is that.
export async function chooseVfs(sqlite3, requested, handles = "auto") {
  const vfs = requested || "auto";
  if (vfs !== "auto" && vfs !== VFS_NAME) return { vfs, tabvfs: null };
  const want = handles || "auto";
  if (!["auto", "shared", "lending", "log"].includes(want)) {
    throw new Error('handles must be "auto", "shared", "lending" or "log", not ' +
      JSON.stringify(want));
  }
  if (want === "lending" && syncHandlesExist()) {
    return { vfs: VFS_NAME, tabvfs: installTabVfs(sqlite3, "lending") };
  }
  if (want !== "lending" && await unsafeHandlesWork()) { // (probed once per worker)
    return { vfs: VFS_NAME, tabvfs: installTabVfs(sqlite3, want === "shared" ? "shared" : "log") };
  }
  if (want === "auto" && syncHandlesExist()) {
    return { vfs: VFS_NAME, tabvfs: installTabVfs(sqlite3, "lending") };
  }
  if (vfs === "auto") return { vfs: "opfs", tabvfs: null };
  throw new Error(want === "shared" || want === "log"
    ? `${want} handles need createSyncAccessHandle({mode: 'readwrite-unsafe'}), which this ` +
      "browser lacks"
    : "the tabsqlite VFS needs OPFS synchronous access handles (a dedicated worker), which " +
      "this context lacks");
}

// How long a borrow waits for handles another tab is still closing, and between tries.
const BORROW_WAIT_MS = 5000;
const BORROW_RETRY_MS = 2;
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// The file handle of `path`, made (with its folders) unless `create` is false (then a
// missing one rejects with NotFoundError).
async function fileHandle(path, create = true) {
  const parts = path.split("/").filter(Boolean);
  let dir = await navigator.storage.getDirectory();
  for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create });
  return dir.getFileHandle(parts[parts.length - 1], { create });
}

// Shared and lending: refuse a database whose log (left by tabs in log mode that went
// without closing it) still holds frames: its newest commits are there, not in the file.
async function refuseLogged(path) {
  let file;
  try {
    file = await fileHandle(path + LOG, false);
  } catch {
    return; // (no log)
  }
  // (no tab of the log's side has it open: claimSide; so no handle, in every browser)
  if ((await file.getFile()).size > LOG_HEADER) {
    throw new Error(`tabsqlite VFS: ${path} has commits in its write-ahead log ` +
      `(${path}${LOG}): open it with handles "log", as the tabs that wrote it did`);
  }
}

// Tabs on one database must agree on where its commits go: into a log ("log" mode) or
// into the file (shared and lending). Each tab holds a shared Web Lock naming its side for
// as long as it has the database open, taken behind a gate lock after it looked for the
// other side's: a tab of the other side refuses to open the database meanwhile.
const sideLock = (path, side) => `tabsqlite-vfs ${side} ${path}`;

// Take `path`'s side `side` ("log" or "file"); resolves to the function that lets it go,
// rejects while a tab of the other side has the database open.
const SIDES = {
  log: 'into a write-ahead log (handles "log")',
  file: 'into the database file (handles "shared" or "lending")',
};
async function claimSide(path, side) {
  const other = side === "log" ? "file" : "log";
  return navigator.locks.request(`tabsqlite-vfs gate ${path}`, async () => {
    const { held } = await navigator.locks.query();
    if (held.some((lock) => lock.name === sideLock(path, other))) {
      throw new Error(`tabsqlite VFS: ${path} is open in another tab whose commits go ` +
        `${SIDES[other]}, and this one's would go ${SIDES[side]}: open it with the same ` +
        "handles in every tab");
    }
    let letGo;
    const kept = new Promise((done) => { letGo = done; });
    await new Promise((granted, failed) => {
      navigator.locks.request(sideLock(path, side), { mode: "shared" }, () => {
        granted();
        return kept;
      }).catch(failed);
    });
    return letGo;
  });
}

export function installTabVfs(sqlite3, handles = "shared") {
  const { capi, wasm } = sqlite3;
  const lending = handles === "lending";
  const logged = handles === "log"; // commits go to a write-ahead log (writeahead.mjs)
  const kinds = logged ? ["db", "journal", "log"] : ["db", "journal"];
  // path -> {files: {db, journal, log} (FileSystemFileHandles), db, journal, log (their
  // access handles, null while lent), dirty: {db, journal} (written since the last
  // flush), refs, wal (the log, writeahead.mjs; log mode only)}
  const files = new Map();
  // sqlite3_file pointer -> {entry, kind ("db" or "journal"), lock, tx (log mode: the
  // transaction's pages, see dbWrite)}
  const open = new Map();
  let lastError = null;

  const fail = (e, rc) => {
    lastError = e;
    return rc;
  };
  // The entry and kind of the file SQLite names `name`, or null.
  const find = (name) => {
    if (logged && name.endsWith(LOG)) return null; // (the log is ours, not SQLite's)
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
        const file = open.get(pFile);
        const dest = wasm.heap8u().subarray(Number(pDest), Number(pDest) + n);
        if (logged && file.kind === "db") return dbRead(file, dest, Number(offset64));
        const sah = sahOf(file);
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
        const src = wasm.heap8u().subarray(Number(pSrc), Number(pSrc) + n);
        if (logged && file.kind === "db") {
          dbWrite(file, src, Number(offset64));
          return 0;
        }
        const sah = sahOf(file);
        file.entry.dirty[file.kind] = true;
        return sah.write(src, { at: Number(offset64) }) === n ? 0 : capi.SQLITE_IOERR_WRITE;
      } catch (e) {
        return fail(e, e && e.name === "QuotaExceededError" ? capi.SQLITE_FULL : capi.SQLITE_IOERR_WRITE);
      }
    },
    xTruncate(pFile, size64) {
      try {
        const file = open.get(pFile);
        if (logged && file.kind === "db") {
          const size = Number(size64);
          let tx = txOf(file);
          if (size % tx.pageSize !== 0) tx = realign(file, declaredPageSize(file, size));
          tx.dbPages = Math.ceil(size / tx.pageSize);
          for (const index of tx.pages.keys()) if (index >= tx.dbPages) tx.pages.delete(index);
          return 0;
        }
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
        if (logged && file.kind === "db") return 0; // (the log was flushed at SQLITE_FCNTL_SYNC)
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
        const file = open.get(pFile);
        wasm.poke64(pSize64, BigInt(logged && file.kind === "db" ? dbSize(file)
          : sahOf(file).getSize()));
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_FSTAT);
      }
    },
    xLock(pFile, level) {
      if (level > SQLITE_LOCK_SHARED && vfs.sharedOnly) return capi.SQLITE_BUSY;
      const file = open.get(pFile);
      if (logged && file.kind === "db" && file.lock === 0) {
        try { // a transaction starts: see every commit so far
          file.entry.wal.catchUp();
        } catch (e) {
          return fail(e, capi.SQLITE_IOERR_LOCK);
        }
      }
      file.lock = level;
      return 0;
    },
    xUnlock(pFile, level) {
      const file = open.get(pFile);
      if (level < SQLITE_LOCK_RESERVED) file.tx = null; // (not committed: rolled back)
      file.lock = level;
      return 0;
    },
    xCheckReservedLock(pFile, pOut) {
      wasm.poke32(pOut, 0);
      return 0;
    },
    xFileControl(pFile, op, pArg) {
      const file = open.get(pFile);
      if (!logged || file === undefined || file.kind !== "db") return capi.SQLITE_NOTFOUND;
      if (op === capi.SQLITE_FCNTL_SYNC) { // the commit point (before xSync, or instead)
        try {
          if (file.tx !== null) {
            const tx = realign(file, declaredPageSize(file));
            file.entry.wal.commit(tx.pages, tx.dbPages, tx.pageSize, tx.whole);
          }
          file.tx = null;
          return 0;
        } catch (e) {
          return fail(e, e && e.name === "QuotaExceededError" ? capi.SQLITE_FULL
            : capi.SQLITE_IOERR_FSYNC);
        }
      }
      if (op === capi.SQLITE_FCNTL_PRAGMA) return journalPragma(pArg);
      return capi.SQLITE_NOTFOUND;
    },
    xSectorSize() {
      return SECTOR;
    },
    xDeviceCharacteristics() {
      return capi.SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN;
    },
  };
  // Log mode: the database file as SQLite sees it is the file, under the log's newest
  // committed pages (this tab's view, writeahead.mjs), under the open transaction's pages.

  // The page size of `file`'s database: the log's, else the file header's, else `n` (a
  // first write's size), else 0 (unknown: an empty database nothing was written to).
  function pageSizeOf(file, n = 0) {
    const wal = file.entry.wal;
    if (wal.pageSize) return wal.pageSize;
    const two = new Uint8Array(2);
    const declared = sahOf(file).read(two, { at: 16 }) === 2 ? headerPageSize(two) : 0;
    if (declared) return declared;
    return validPageSize(n) ? n : 0;
  }
  // The database's size in bytes as `file` sees it.
  function dbSize(file) {
    if (file.tx !== null) return file.tx.dbPages * file.tx.pageSize;
    const wal = file.entry.wal;
    return wal.dbPages !== null ? wal.dbPages * wal.pageSize : sahOf(file).getSize();
  }
  // `file`'s open transaction (begun now if none): {pages: page index -> bytes, dbPages,
  // pageSize}; `n`: the size of the write that begins it.
  function txOf(file, n = 0) {
    if (file.tx !== null) return file.tx;
    const pageSize = pageSizeOf(file, n);
    if (!pageSize) throw new Error("tabsqlite VFS: a write before the page size is known");
    const size = dbSize(file);
    file.tx = { pages: new Map(), dbPages: Math.ceil(size / pageSize), pageSize, whole: false };
    return file.tx;
  }
  // The page size the database's header declares as `file`'s transaction sees it, if it
  // divides `bytes` (a size to truncate to; any size when omitted), else the transaction's.
  function declaredPageSize(file, bytes = 0) {
    const two = new Uint8Array(2);
    dbRead(file, two, 16);
    const declared = headerPageSize(two);
    return declared && bytes % declared === 0 ? declared : file.tx.pageSize;
  }
  // `file`'s transaction in pages of `size` bytes: the same bytes, every page of the
  // database in it (`whole`), so it no longer reads through to the log or the file, whose
  // pages are of another size. SQLite changes the page size that way: VACUUM after PRAGMA
  // page_size writes pages of the new size; copying in an image of another page size
  // writes the image over the old pages and truncates the file to its size.
  function realign(file, size) {
    const tx = file.tx;
    if (size === tx.pageSize) return tx;
    const bytes = tx.dbPages * tx.pageSize;
    const pages = new Map();
    for (let index = 0; index * size < bytes; index++) {
      const page = new Uint8Array(size);
      dbRead(file, page, index * size); // (zeros past the end)
      pages.set(index, page);
    }
    file.tx = { pages, dbPages: Math.ceil(bytes / size), pageSize: size, whole: true };
    return file.tx;
  }
  // Read `dest` from `offset` of the database as `file` sees it: 0, or a short read.
  function dbRead(file, dest, offset) {
    const wal = file.entry.wal;
    const pageSize = file.tx !== null ? file.tx.pageSize : wal.pageSize;
    if (!pageSize) { // nothing logged: the file itself
      const got = sahOf(file).read(dest, { at: offset });
      if (got === dest.length) return 0;
      dest.fill(0, got);
      return capi.SQLITE_IOERR_SHORT_READ;
    }
    const size = dbSize(file);
    let done = 0;
    while (done < dest.length) {
      const at = offset + done;
      if (at >= size) {
        dest.fill(0, done);
        return capi.SQLITE_IOERR_SHORT_READ;
      }
      const index = Math.floor(at / pageSize);
      const within = at - index * pageSize;
      const n = Math.min(dest.length - done, pageSize - within, size - at);
      const part = dest.subarray(done, done + n);
      const pending = file.tx === null ? undefined : file.tx.pages.get(index);
      if (pending !== undefined) {
        part.set(pending.subarray(within, within + n));
      } else if (file.tx !== null && file.tx.whole) {
        part.fill(0); // (a page past the end the transaction wrote: zeros)
      } else if (wal.has(index)) {
        wal.read(index, part, within);
      } else {
        const got = sahOf(file).read(part, { at });
        if (got < n) part.fill(0, got);
      }
      done += n;
    }
    return 0;
  }
  // Write `src` at `offset` into `file`'s transaction (whole pages: SQLite writes those).
  function dbWrite(file, src, offset) {
    let tx = txOf(file, src.length);
    if (src.length !== tx.pageSize && validPageSize(src.length) && offset % src.length === 0) {
      tx = realign(file, src.length); // (a page of another size: the page size changes)
    }
    const { pageSize } = tx;
    let done = 0;
    while (done < src.length) {
      const at = offset + done;
      const index = Math.floor(at / pageSize);
      const within = at - index * pageSize;
      const n = Math.min(src.length - done, pageSize - within);
      let page = tx.pages.get(index);
      if (page === undefined) {
        page = new Uint8Array(pageSize);
        if (n < pageSize) dbRead(file, page, index * pageSize); // (zeros past the end)
      }
      page.set(src.subarray(done, done + n), within);
      tx.pages.set(index, page);
      if (index + 1 > tx.dbPages) tx.dbPages = index + 1;
      done += n;
    }
  }
  // SQLITE_FCNTL_PRAGMA: SQLite keeps its rollback journal in memory in log mode (the
  // log is the journal; the engine sets journal_mode=MEMORY at open), so a journal_mode
  // set to anything else is answered "memory" and not done. Any other pragma is SQLite's.
  function journalPragma(pArg) {
    const at = (i) => wasm.peekPtr(wasm.ptr.add(pArg, i * wasm.ptr.size));
    const name = at(1) ? wasm.cstrToJs(at(1)).toLowerCase() : "";
    const value = at(2) ? wasm.cstrToJs(at(2)).toLowerCase() : null;
    if (name !== "journal_mode" || value === null || value === "memory") {
      return capi.SQLITE_NOTFOUND;
    }
    wasm.pokePtr(pArg, wasm.allocCString("memory"));
    return 0;
  }

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
      open.set(pFile, { entry: found.entry, kind: found.kind, lock: 0, tx: null });
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
    for (const kind of kinds) {
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

  // The access handles of an entry's files, opened side by side: {db, journal(, log)}.
  async function openHandles(entry, waitMs = BORROW_WAIT_MS) {
    const deadline = performance.now() + waitMs;
    const all = await Promise.allSettled(kinds.map((kind) => accessHandle(entry.files[kind],
                                                                          deadline)));
    const failed = all.find((one) => one.status === "rejected");
    if (failed === undefined) {
      return Object.fromEntries(kinds.map((kind, i) => [kind, all[i].value]));
    }
    for (const one of all) if (one.status === "fulfilled") one.value.close();
    throw failed.reason;
  }

  // Close every handle of `path` now (before its files are removed).
  function forget(path) {
    const entry = files.get(path);
    if (!entry) return;
    files.delete(path);
    try {
      closeHandles(entry);
    } finally {
      entry.letGo();
    }
  }

  // Counters for tests and benchmarks: handles borrowed (and the milliseconds that took in
  // all) and lent, and tries again.
  const stats = { borrowed: 0, borrowMs: 0, lent: 0, borrowRetries: 0, checkpointErrors: 0 };

  // Log mode: {commits, framesWritten, catchUps, framesRead, checkpoints, resets} of the
  // logs of this worker's open databases, added up.
  function logStats() {
    const sum = newLogStats();
    for (const entry of files.values()) {
      if (entry.wal !== null) for (const key of Object.keys(sum)) sum[key] += entry.wal.stats[key];
    }
    return sum;
  }

  const vfs = {
    name: VFS_NAME,
    handles, // "shared", "lending" or "log"
    lending,
    logged,
    stats,
    logStats,
    // Log mode: whether `path`'s log holds enough pages for a checkpoint to be due (`any`:
    // any page at all).
    checkpointDue(path, any = false) {
      const entry = files.get(path);
      return logged && entry !== undefined &&
        entry.wal.frames >= (any ? 1 : CHECKPOINT_PAGES);
    },
    // Keep `path`'s handles open until the matching release() (a checkpoint under way).
    retain(path) {
      const entry = files.get(path);
      if (entry) entry.refs += 1;
    },
    // Log mode: copy `path`'s log into its database file and empty the log; the caller
    // holds the database's write lock and its read lock, both exclusively.
    checkpoint(path) {
      const entry = files.get(path);
      if (entry !== undefined && entry.wal !== null) entry.wal.checkpoint();
    },
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
      const letGo = await claimSide(path, logged ? "log" : "file");
      let made = null;
      try {
        if (!logged) await refuseLogged(path);
        const [db, journal, log] = await Promise.all([
          fileHandle(path), fileHandle(path + JOURNAL), logged ? fileHandle(path + LOG) : null]);
        made = { path, files: { db, journal, log }, db: null, journal: null, log: null,
                 dirty: { db: false, journal: false }, refs: 1, wal: null, letGo };
        if (!lending) Object.assign(made, await openHandles(made));
        if (logged) made.wal = createLog(made.log, made.db);
      } catch (e) {
        letGo();
        throw e;
      }
      if (files.has(path)) { // prepared meanwhile by another open in this worker
        closeHandles(made);
        letGo();
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
          for (const kind of kinds) opened[kind].close();
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
