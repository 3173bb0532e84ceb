"""The SQL functions ``tabsqlite_serialize()`` and ``tabsqlite_restore(image)`` on a stdlib
``sqlite3`` connection (the browser's are ``js_glue/src/snapshots.mjs``): what
:meth:`Database.export` and :func:`tabsqlite.import_database` run, as statements, so they
go through the same path as every other statement.

sqlite3 turns an exception raised in a function into a bare "user-defined function raised
exception"; :class:`SnapshotFunctions` keeps the exception so the connection can raise it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile

from ..errors import SQLITE_BUSY, SQLITE_NOTADB, DatabaseError, sqlite_error

__all__ = ["SnapshotFunctions"]

_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SnapshotFunctions:
    """Registers both functions on ``conn``; :meth:`take_error` gives what one raised.

    :param conn: the connection (its functions run in its thread, inside its statement).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._error: DatabaseError | None = None
        conn.create_function("tabsqlite_serialize", 0, self._serialize)
        conn.create_function("tabsqlite_restore", 1, self._restore)

    def take_error(self) -> DatabaseError | None:
        """The error the last failed function call raised (once), else ``None``."""
        error, self._error = self._error, None
        return error

    def _fail(self, error: DatabaseError) -> DatabaseError:
        self._error = error
        return error

    def _serialize(self) -> bytes:
        return self._conn.serialize()

    def _restore(self, image: object) -> None:
        if not isinstance(image, bytes):
            raise self._fail(sqlite_error("tabsqlite_restore takes a BLOB", 1))
        source = sqlite3.connect(":memory:")
        try:
            try:
                source.deserialize(image)
                check = [row[0] for row in source.execute("PRAGMA quick_check")]
            except sqlite3.DatabaseError as error:
                raise self._fail(sqlite_error(
                    f"not an SQLite database: SQLite cannot read it ({error})",
                    SQLITE_NOTADB)) from None
            if check != ["ok"]:
                raise self._fail(sqlite_error(
                    f"not an SQLite database: SQLite's quick_check failed: "
                    f"{'; '.join(map(str, check[:3]))}", SQLITE_NOTADB))
            page_size = self._conn.execute("PRAGMA main.page_size").fetchone()[0]
            wal = self._conn.execute("PRAGMA main.journal_mode").fetchone()[0] == "wal"
            if wal and source.execute("PRAGMA page_size").fetchone()[0] != page_size:
                # A WAL file keeps its page size, and an in-memory copy can't change its
                # own: VACUUM a copy on disk to the file's page size first.
                with tempfile.TemporaryDirectory(prefix="tabsqlite-import-") as folder:
                    path = os.path.join(folder, "image.db")
                    with open(path, "wb") as out:
                        out.write(image)
                    resized = sqlite3.connect(path, isolation_level=None)
                    try:
                        resized.execute(f"PRAGMA page_size={int(page_size)}")
                        resized.execute("VACUUM")
                        self._copy_in(resized)
                    finally:
                        resized.close()
            else:
                self._copy_in(source)
        finally:
            source.close()

    def _copy_in(self, source: sqlite3.Connection) -> None:
        def give_up_when_busy(status: int, remaining: int, total: int) -> None:
            if status in _BUSY_CODES:  # (the busy timeout has passed: don't wait more)
                raise self._fail(sqlite_error(
                    "database is locked: another connection kept the write lock past "
                    "the busy timeout", SQLITE_BUSY))

        try:
            source.backup(self._conn, progress=give_up_when_busy)
        except sqlite3.Error as error:
            code = getattr(error, "sqlite_errorcode", None) or 1
            raise self._fail(sqlite_error(f"copying the database in failed: {error}",
                                          code)) from None
