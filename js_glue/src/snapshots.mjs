// Whole-database copies as two SQL functions of every connection, so they run through the
// statement path like any other statement (its locks, lending, cancellation, answers):
//   SELECT tabsqlite_serialize()    the bytes of a consistent snapshot (a read)
//   SELECT tabsqlite_restore(?)     replace the database with a checked image (a write:
//                                   statement_locks.mjs runs it under the exclusive lock)
// What Python does around them is in tabsqlite/snapshots.py.
const SQLITE_DONE = 101;
const SQLITE_NOTADB = 26;

// Register both functions on `db` (an oo1.DB).
export function installSnapshotFunctions(sqlite3, db) {
  const { capi } = sqlite3;
  db.createFunction({
    name: "tabsqlite_serialize",
    arity: 0,
    xFunc: () => capi.sqlite3_js_db_export(db.pointer),
  });
  db.createFunction({
    name: "tabsqlite_restore",
    arity: 1,
    xFunc: (pCtx, image) => {
      const failure = restore(sqlite3, db, image);
      if (failure !== null) {
        capi.sqlite3_result_error(pCtx, failure.message, -1);
        capi.sqlite3_result_error_code(pCtx, failure.code);
        return undefined;
      }
      return null;
    },
  });
}

// Copy `image` (a Uint8Array) over `db`'s main database; null, or {message, code}.
function restore(sqlite3, db, image) {
  const { capi, wasm } = sqlite3;
  if (!(image instanceof Uint8Array)) {
    return { message: "tabsqlite_restore takes a BLOB", code: 1 };
  }
  const source = new sqlite3.oo1.DB(":memory:");
  try {
    const pData = wasm.allocFromTypedArray(image);
    const flags = capi.SQLITE_DESERIALIZE_FREEONCLOSE | capi.SQLITE_DESERIALIZE_RESIZEABLE;
    const rc = capi.sqlite3_deserialize(source.pointer, "main", pData, image.byteLength,
                                        image.byteLength, flags); // (frees pData on failure)
    if (rc !== 0) return notADatabase(`SQLite cannot load it (${capi.sqlite3_js_rc_str(rc)})`);
    let check;
    try {
      check = source.selectValues("PRAGMA quick_check");
    } catch (e) {
      return notADatabase(`SQLite cannot read it (${e.message})`);
    }
    if (check.length !== 1 || check[0] !== "ok") {
      return notADatabase(`SQLite's quick_check failed: ${check.slice(0, 3).join("; ")}`);
    }
    // (the file takes the image's page size: no WAL mode, which could not change it; in
    // log mode the VFS logs the whole database in the new size, see tabvfs.mjs realign)
    const backup = capi.sqlite3_backup_init(db.pointer, "main", source.pointer, "main");
    if (!backup) {
      return { message: capi.sqlite3_errmsg(db.pointer),
               code: capi.sqlite3_extended_errcode(db.pointer) };
    }
    const step = capi.sqlite3_backup_step(backup, -1);
    const finish = capi.sqlite3_backup_finish(backup);
    if (step !== SQLITE_DONE) {
      return { message: `copying the database in failed: ${capi.sqlite3_js_rc_str(step)}`,
               code: step };
    }
    if (finish !== 0) return { message: capi.sqlite3_errmsg(db.pointer), code: finish };
    return null;
  } finally {
    source.close();
  }
}

function notADatabase(why) {
  return { message: `not an SQLite database: ${why}`, code: SQLITE_NOTADB };
}
