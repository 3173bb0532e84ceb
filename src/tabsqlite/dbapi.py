"""tabsqlite as a PEP 249 (DB-API 2.0) module: for SQLAlchemy, pandas and other code written
for ``sqlite3``.

>>> import tabsqlite.dbapi
>>> conn = tabsqlite.dbapi.connect("app.db")          # doctest: +SKIP
>>> conn.execute("INSERT INTO todo(title) VALUES (?)", ["milk"])  # doctest: +SKIP
>>> conn.commit()                                      # doctest: +SKIP

SQLAlchemy: ``create_engine("sqlite:///app.db", module=tabsqlite.dbapi)``.

Transactions are PEP 249's (``sqlite3`` with ``autocommit=False``): the first statement
begins one, and it lasts until :meth:`Connection.commit` or :meth:`Connection.rollback`
(statements that cannot run inside a transaction, ``PRAGMA``, ``VACUUM``, ``ATTACH``,
``DETACH``, and those that begin or end one themselves, run as they are). It begins with
``BEGIN IMMEDIATE`` (``isolation_level``): it takes the write lock before its first read,
so a read-modify-write by two tabs or processes (an ORM session loading a row, then
updating it) waits its turn instead of losing an update or failing with "database is
locked". ``isolation_level="DEFERRED"`` reads without the write lock (several readers at
once) and may then fail with :class:`~tabsqlite.BusyError` where a write follows a read
another connection's commit made stale. ``isolation_level=None`` is autocommit. Every
commit is announced to the other tabs and processes like any other (their ``watch`` and
``on_change`` wake).

Calls block: on CPython the connection runs on tabsqlite's event loop in a background
thread; in Pyodide they wait with JSPI (``pyodide.ffi.run_sync``), where the browser has it.
Values are bound as everywhere in tabsqlite (:mod:`tabsqlite.conversions`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from .database import Database, open_database
from .errors import DatabaseError as _DatabaseError
from .errors import (
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from .runtime import Params, Result, Runtime
from .sql_script import TRANSACTION_CONTROL, first_keyword
from .sync_bridge import Worker, bridge

__all__ = [
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "sqlite_version",
    "sqlite_version_info",
    "threadsafety",
]

#: PEP 249.
apilevel = "2.0"
#: Threads may share the module, not connections.
threadsafety = 1
#: ``?`` placeholders; ``:name`` ones work too (with a mapping).
paramstyle = "qmark"

#: PEP 249's base class: every tabsqlite error.
Error = _DatabaseError
#: PEP 249's database errors: every tabsqlite error (the same class as :data:`Error`).
DatabaseError = _DatabaseError


class Warning(Exception):
    """PEP 249's warning class (tabsqlite raises none)."""


def _library_version() -> str:
    if sys.platform == "emscripten":
        from .runtimes.pyodide.assets import sqlite_wasm_version

        return sqlite_wasm_version()
    import sqlite3

    return sqlite3.sqlite_version


#: The SQLite library's version (CPython's ``sqlite3``, or sqlite-wasm in a browser).
sqlite_version = _library_version()
#: :data:`sqlite_version` as a tuple of ints (SQLAlchemy reads it).
sqlite_version_info = tuple(int(part) for part in sqlite_version.split("."))

_CLOSED = "Cannot operate on a closed database."  # (sqlite3's words: SQLAlchemy reads them)
_ISOLATION = (None, "", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")
# Statements that run outside the implicit transaction (they can't run inside one, or
# begin and end transactions themselves).
_ON_THEIR_OWN = TRANSACTION_CONTROL | {"VACUUM", "PRAGMA", "ATTACH", "DETACH"}


def _checked_isolation(value: object) -> str | None:
    """``value`` if it is an isolation level :func:`connect` knows, else ProgrammingError."""
    if value is not None and not isinstance(value, str):
        raise ProgrammingError("isolation_level must be a str or None")
    if (value.upper() if value is not None else None) not in _ISOLATION:
        raise ProgrammingError(f"unknown isolation_level {value!r}")
    return value


class Connection:
    """A PEP 249 connection (make it with :func:`connect`).

    :param db: the open database (its calls run in ``worker``).
    :param worker: the task the connection's calls run in.
    :param isolation_level: see :func:`connect`.
    """

    def __init__(self, db: Database, worker: Worker, isolation_level: str | None) -> None:
        self._db = db
        self._worker = worker
        self._closed = False
        self._isolation = _checked_isolation(isolation_level)
        #: ``row_factory(cursor, row)`` makes each row (``None``: tuples), as in sqlite3.
        self.row_factory: Callable[[Cursor, tuple[Any, ...]], Any] | None = None

    # The one way in: every call of the connection and its cursors.
    def _run(self, call: Callable[[], Any]) -> Any:
        if self._closed:
            raise ProgrammingError(_CLOSED)
        return bridge().call(self._worker, call)

    @property
    def isolation_level(self) -> str | None:
        """How a transaction begins (``"DEFERRED"``, ``"IMMEDIATE"``, ``"EXCLUSIVE"``;
        ``""`` is DEFERRED), or ``None``: autocommit, no implicit transactions."""
        return self._isolation

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        value = _checked_isolation(value)
        if value is None and self._isolation is not None and not self._closed:
            self.commit()  # (sqlite3 commits what is open when autocommit is switched on)
        self._isolation = value

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open."""
        return not self._closed and self._db.in_transaction

    @property
    def database(self) -> Database:
        """The async :class:`~tabsqlite.Database` underneath (for ``watch`` and the rest;
        use it from tabsqlite's event loop, not from this thread)."""
        return self._db

    async def _execute(self, sql: str, params: Any, many: bool) -> Result:
        db = self._db
        if (self._isolation is not None and not db.in_transaction
                and first_keyword(sql) not in _ON_THEIR_OWN):
            await db.execute(f"BEGIN {self._isolation or 'DEFERRED'}")
        if many:
            return await db.execute_many(sql, params)
        return await db.execute(sql, params)

    def cursor(self) -> Cursor:
        """A new cursor."""
        if self._closed:
            raise ProgrammingError(_CLOSED)
        return Cursor(self)

    def execute(self, sql: str, parameters: Params = ()) -> Cursor:
        """``cursor().execute(...)`` (sqlite3's shortcut).

        :param sql: one statement.
        :param parameters: its values.
        """
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Sequence[Params]) -> Cursor:
        """``cursor().executemany(...)``.

        :param sql: one statement.
        :param seq_of_parameters: one set of values per run.
        """
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, sql_script: str) -> Cursor:
        """Commit what is open, then run the script (see
        :meth:`tabsqlite.Database.execute_script`).

        :param sql_script: the statements.
        """
        self.commit()
        self._run(lambda: self._db.execute_script(sql_script))
        return self.cursor()

    def commit(self) -> None:
        """Commit the open transaction (nothing to do if none is open)."""

        async def commit() -> None:
            if self._db.in_transaction:
                await self._db.execute("COMMIT")

        self._run(commit)

    def rollback(self) -> None:
        """Roll back the open transaction (nothing to do if none is open)."""

        async def rollback() -> None:
            if self._db.in_transaction:
                await self._db.execute("ROLLBACK")

        self._run(rollback)

    def create_function(self, name: str, narg: int, func: Callable[..., Any], *,
                        deterministic: bool = False) -> None:
        """Define an SQL function (see ``sqlite3.Connection.create_function``).

        :param name: its SQL name.
        :param narg: the number of arguments (-1: any).
        :param func: the Python function.
        :param deterministic: the same arguments always give the same result.
        """
        self._run(lambda: self._db.create_function(name, narg, func, deterministic))

    def close(self) -> None:
        """Roll back what is open and close (closing twice is harmless)."""
        if self._closed:
            return
        try:
            self._run(self._db.close)
        finally:
            self._closed = True
            bridge().stop(self._worker)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Commit if the block succeeded, else roll back (the connection stays open, as in
        sqlite3)."""
        if self._closed:
            return
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


class Cursor:
    """A PEP 249 cursor: the rows of its last statement.

    :param connection: its connection.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        #: Rows :meth:`fetchmany` gives by default.
        self.arraysize = 1
        self._rows: list[tuple[Any, ...]] = []
        self._at = 0
        self._description: tuple[tuple[str, None, None, None, None, None, None], ...] | None
        self._description = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._closed = False

    @property
    def description(self) -> tuple[tuple[str, None, None, None, None, None, None], ...] | None:
        """One 7-item tuple per result column (its name, then ``None``s), or ``None``."""
        return self._description

    @property
    def rowcount(self) -> int:
        """Rows the last INSERT, UPDATE or DELETE changed (-1 otherwise)."""
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        """The rowid of the last row inserted (as sqlite3 reports it)."""
        return self._lastrowid

    def _check(self) -> None:
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.")

    def _take(self, result: Result) -> None:
        self._rows = result.rows
        self._at = 0
        self._description = (tuple((name, None, None, None, None, None, None)
                                   for name in result.columns) if result.columns else None)
        self._rowcount = result.rows_affected if not result.columns else -1
        if result.last_insert_rowid is not None and self._rowcount > 0:
            self._lastrowid = result.last_insert_rowid

    def execute(self, operation: str, parameters: Params = ()) -> Cursor:
        """Run one statement.

        :param operation: the SQL.
        :param parameters: its values (a sequence for ``?``, a mapping for ``:name``).
        """
        self._check()
        conn = self.connection
        self._take(conn._run(lambda: conn._execute(operation, parameters, False)))
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Params]) -> Cursor:
        """Run one statement once per set of values.

        :param operation: the SQL.
        :param seq_of_parameters: the sets of values.
        """
        self._check()
        conn = self.connection
        param_sets = list(seq_of_parameters)
        self._take(conn._run(lambda: conn._execute(operation, param_sets, True)))
        self._rows, self._description = [], None
        return self

    def executescript(self, sql_script: str) -> Cursor:
        """See :meth:`Connection.executescript`.

        :param sql_script: the statements.
        """
        self._check()
        self.connection.executescript(sql_script)
        return self

    def _row(self, row: tuple[Any, ...]) -> Any:
        factory = self.connection.row_factory
        return row if factory is None else factory(self, row)

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        self._check()
        if self._at >= len(self._rows):
            return None
        row = self._rows[self._at]
        self._at += 1
        return self._row(row)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to ``size`` more rows (default :attr:`arraysize`).

        :param size: how many.
        """
        self._check()
        count = self.arraysize if size is None else size
        rows = self._rows[self._at:self._at + count]
        self._at += len(rows)
        return [self._row(row) for row in rows]

    def fetchall(self) -> list[Any]:
        """All remaining rows."""
        self._check()
        rows = self._rows[self._at:]
        self._at = len(self._rows)
        return [self._row(row) for row in rows]

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self) -> None:
        """Forget the rows; the cursor can't be used afterwards."""
        self._closed = True
        self._rows = []

    def setinputsizes(self, sizes: Any) -> None:
        """PEP 249: nothing to do for SQLite.

        :param sizes: ignored.
        """

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """PEP 249: nothing to do for SQLite.

        :param size: ignored.
        :param column: ignored.
        """


def connect(
    database: str,
    *,
    isolation_level: str | None = "IMMEDIATE",
    timeout: float = 10.0,
    open_timeout: float = 15.0,
    runtime: Runtime | None = None,
    **ignored: Any,
) -> Connection:
    """Open ``database`` as a PEP 249 connection.

    :param database: as for :func:`tabsqlite.open_database` (a plain name, an absolute
        path, ``":memory:"``).
    :param isolation_level: how the implicit transaction begins (``"IMMEDIATE"``,
        ``"DEFERRED"`` or ``""``, ``"EXCLUSIVE"``), or ``None`` for autocommit.
    :param timeout: seconds a statement waits for another connection's lock (sqlite3's
        name for ``busy_timeout``).
    :param open_timeout: seconds opening may take.
    :param runtime: the runtime (``None``: the default one).
    :param ignored: sqlite3's other arguments (``check_same_thread``, ``uri``,
        ``detect_types``...), accepted so code written for sqlite3 runs, and not used.
    """
    _checked_isolation(isolation_level)
    worker = bridge().new_worker()

    async def open_it() -> Database:
        return await open_database(database, busy_timeout=timeout, open_timeout=open_timeout,
                                   runtime=runtime)

    try:
        db = bridge().call(worker, open_it)
    except BaseException:
        bridge().stop(worker)
        raise
    return Connection(db, worker, isolation_level)
