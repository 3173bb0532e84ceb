// tabsqlite's own OPFS VFS ("tabsqlite"): synchronous access handles opened in this worker
// with mode "readwrite-unsafe", which several tabs may hold on one file at once (Chromium).
// No SharedArrayBuffer, no proxy worker: a page read is one handle read.
//
// Who may touch the file is decided outside SQLite, by the database's Web Lock: every
// statement runs inside it (shim.mjs, runLocked) and a transaction keeps it until it ends.
// A plain read may hold it shared only (readlocks.mjs): then `sharedOnly` is set and SQLite
// gets SQLITE_BUSY for anything above SHARED (the shim runs it again exclusively).
// Otherwise SQLite's own locks here only record the level it asked for; xCheckReservedLock says
// "nobody", which is true while we hold the Web Lock: a non-empty journal found then was
// left by a tab that died inside a transaction, and SQLite rolls it back (under our lock,
// before it reads). Between statements SQLite drops to no lock, so at the next one it
// compares the file's change counter and forgets its cached pages if another tab wrote.
//
// Handles must exist before SQLite opens a file (creating one is asynchronous, xOpen is
// not): prepare(path) opens the database's and its journal's, and the shim calls it before
// sqlite3_open. A journal is "absent" when empty: deleting one truncates it, so the handle
// stays valid and DELETE mode costs what TRUNCATE does. Temporary files live in memory
// (the shim sets temp_store=MEMORY), so they never reach this VFS.

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

// The VFS a worker uses for `requested` ("auto": ours where several handles may share a
// file, else sqlite-wasm's "opfs"), and ours installed if it is that: {vfs, tabvfs}.
export async function chooseVfs(sqlite3, requested) {
  const vfs = requested || "auto";
  if (vfs !== "auto" && vfs !== VFS_NAME) return { vfs, tabvfs: null };
  if (!(await unsafeHandlesWork())) { // (probed once, whichever way we got here)
    if (vfs === "auto") return { vfs: "opfs", tabvfs: null };
    throw new Error("the tabsqlite VFS needs createSyncAccessHandle({mode: 'readwrite-unsafe'}), " +
      "which this browser lacks");
  }
  return { vfs: VFS_NAME, tabvfs: installTabVfs(sqlite3) };
}

async function fileHandle(path) {
  const parts = path.split("/").filter(Boolean);
  let dir = await navigator.storage.getDirectory();
  for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create: true });
  return dir.getFileHandle(parts[parts.length - 1], { create: true });
}

export function installTabVfs(sqlite3) {
  const { capi, wasm } = sqlite3;
  // path -> {db, journal (access handles), refs}; a journal's path maps to its database's.
  const files = new Map();
  // sqlite3_file pointer -> {sah, path, lock, dirty (written since its last flush)}
  const open = new Map();
  let lastError = null;

  const fail = (e, rc) => {
    lastError = e;
    return rc;
  };
  const handleFor = (name) => {
    if (name.endsWith(JOURNAL)) {
      const entry = files.get(name.slice(0, -JOURNAL.length));
      return entry ? entry.journal : null;
    }
    const entry = files.get(name);
    return entry ? entry.db : null;
  };

  const io = {
    xClose(pFile) {
      const file = open.get(pFile);
      open.delete(pFile);
      try {
        if (file && file.dirty) file.sah.flush(); // (a hot-journal check opens and closes
        return 0;                                 // the journal before every statement)
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_CLOSE);
      }
    },
    xRead(pFile, pDest, n, offset64) {
      const file = open.get(pFile);
      try {
        const dest = wasm.heap8u().subarray(Number(pDest), Number(pDest) + n);
        const got = file.sah.read(dest, { at: Number(offset64) });
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
      const file = open.get(pFile);
      try {
        const src = wasm.heap8u().subarray(Number(pSrc), Number(pSrc) + n);
        file.dirty = true;
        return file.sah.write(src, { at: Number(offset64) }) === n ? 0 : capi.SQLITE_IOERR_WRITE;
      } catch (e) {
        return fail(e, e && e.name === "QuotaExceededError" ? capi.SQLITE_FULL : capi.SQLITE_IOERR_WRITE);
      }
    },
    xTruncate(pFile, size64) {
      try {
        const file = open.get(pFile);
        file.dirty = true;
        file.sah.truncate(Number(size64));
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_TRUNCATE);
      }
    },
    xSync(pFile) {
      try {
        const file = open.get(pFile);
        file.sah.flush();
        file.dirty = false;
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_FSYNC);
      }
    },
    xFileSize(pFile, pSize64) {
      try {
        wasm.poke64(pSize64, BigInt(open.get(pFile).sah.getSize()));
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
      const sah = name ? handleFor(name) : null;
      if (!sah) {
        return fail(new Error(`tabsqlite VFS: no prepared handle for '${name}' ` +
          "(temporary files must stay in memory)"), capi.SQLITE_CANTOPEN);
      }
      open.set(pFile, { sah, path: name, lock: 0, dirty: false });
      const file = new capi.sqlite3_file(pFile);
      file.$pMethods = ioMethods.pointer;
      file.dispose();
      wasm.poke32(pOutFlags, flags);
      return 0;
    },
    xDelete(pVfs, zName) {
      const sah = handleFor(wasm.cstrToJs(zName));
      try {
        if (sah) {
          sah.truncate(0);
          sah.flush();
        }
        return 0;
      } catch (e) {
        return fail(e, capi.SQLITE_IOERR_DELETE);
      }
    },
    xAccess(pVfs, zName, flags, pOut) {
      const sah = handleFor(wasm.cstrToJs(zName));
      let exists = 0;
      try {
        exists = sah && sah.getSize() > 0 ? 1 : 0;
      } catch {
        exists = 0;
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

  // Close every handle of `path` now (before its files are removed).
  function forget(path) {
    const entry = files.get(path);
    if (!entry) return;
    files.delete(path);
    entry.db.close();
    entry.journal.close();
  }

  const vfs = {
    name: VFS_NAME,
    // True while the Web Lock is held shared only (a read, see shim.mjs): SQLite may not go
    // past a shared lock then; asking for more gets SQLITE_BUSY.
    sharedOnly: false,
    // Open (creating) the handles of `path` and its journal; counted, see release().
    async prepare(path) {
      const entry = files.get(path);
      if (entry) {
        entry.refs += 1;
        return;
      }
      const [dbFile, journalFile] = await Promise.all([fileHandle(path), fileHandle(path + JOURNAL)]);
      const db = await dbFile.createSyncAccessHandle({ mode: "readwrite-unsafe" });
      let journal;
      try {
        journal = await journalFile.createSyncAccessHandle({ mode: "readwrite-unsafe" });
      } catch (e) {
        db.close();
        throw e;
      }
      if (files.has(path)) { // prepared meanwhile by another open in this worker
        db.close();
        journal.close();
        files.get(path).refs += 1;
        return;
      }
      files.set(path, { db, journal, refs: 1 });
    },
    // One connection of `path` closed: its handles close with the last one.
    release(path) {
      const entry = files.get(path);
      if (entry && --entry.refs === 0) forget(path);
    },
    forget,
  };
  return vfs;
}
