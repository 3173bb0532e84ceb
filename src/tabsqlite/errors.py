"""The exception hierarchy: every error tabsqlite raises is a :class:`DatabaseError`."""

from __future__ import annotations

__all__ = [
    "BadCallError",
    "BusyError",
    "ConnectionLostError",
    "ConstraintError",
    "DataError",
    "DatabaseClosedError",
    "DatabaseError",
    "HoldTakenError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "InvalidIdentifierError",
    "InvalidPathError",
    "MigrationError",
    "NoSuchTableError",
    "NotADatabaseError",
    "NotFoundError",
    "NotSupportedError",
    "OpenTimeoutError",
    "OperationalError",
    "ProgrammingError",
    "QueryInterruptedError",
    "QueryTimeoutError",
    "SQLiteError",
    "TransactionEndedError",
    "TransactionStateError",
    "TransportError",
]

# Primary result codes (https://sqlite.org/rescode.html) used by the core.
SQLITE_ERROR = 1
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_INTERRUPT = 9
SQLITE_CONSTRAINT = 19
SQLITE_NOTADB = 26


class DatabaseError(Exception):
    """Base class of every error raised by tabsqlite (PEP 249's ``Error`` and
    ``DatabaseError`` in :mod:`tabsqlite.dbapi`)."""


# PEP 249's categories. Each tabsqlite error below is also one of them, so code written for
# the DB-API (SQLAlchemy among it) sorts tabsqlite's errors the way it sorts sqlite3's.
class InterfaceError(DatabaseError):
    """PEP 249: the interface was misused (e.g. a DB-API call from the thread that runs
    tabsqlite's event loop)."""


class DataError(DatabaseError):
    """PEP 249: a problem with the data processed (not raised by tabsqlite itself)."""


class OperationalError(DatabaseError):
    """PEP 249: the database's operation failed for a reason outside the caller's code
    (the file is locked, a statement was interrupted, a time limit passed)."""


class IntegrityError(DatabaseError):
    """PEP 249: the relational integrity of the database would break (a constraint)."""


class InternalError(DatabaseError):
    """PEP 249: the database is in an inconsistent state (not raised by tabsqlite)."""


class ProgrammingError(DatabaseError):
    """PEP 249: the call was wrong (bad arguments, a closed database, an ended
    transaction)."""


class NotSupportedError(DatabaseError):
    """PEP 249: the runtime cannot do what was asked (e.g. the synchronous DB-API in a
    browser without JSPI)."""


class SQLiteError(DatabaseError):
    """SQLite reported an error.

    ``code`` is the primary result code (``extended_code & 0xff``), ``extended_code`` the
    extended one, ``code_name`` its symbolic name (the runtime's, else SQLite's for the code).
    """

    def __init__(
        self, message: str, *, extended_code: int, code_name: str | None = None
    ) -> None:
        super().__init__(message)
        self.extended_code = extended_code
        self.code = extended_code & 0xFF
        self.code_name = code_name or name_of_code(extended_code)

    def __str__(self) -> str:
        base = super().__str__()
        name = self.code_name or f"code {self.extended_code}"
        return f"{base} [{name}]"


class BusyError(SQLiteError, OperationalError):
    """The database file was locked by another connection (SQLITE_BUSY / SQLITE_LOCKED).

    ``holder`` names who held the lock where the runtime can tell (another process and its
    pid, another tab's connection), ``waited`` the seconds waited for it; else ``None``.
    """

    holder: str | None = None
    waited: float | None = None


class QueryInterruptedError(SQLiteError, OperationalError):
    """The statement was interrupted (SQLITE_INTERRUPT): its task was cancelled or its
    ``timeout`` passed. An open transaction it ran in has been rolled back; the connection
    stays usable."""


class QueryTimeoutError(QueryInterruptedError, TimeoutError):
    """A query's ``timeout=`` passed (waiting for the database lock or running): the
    statement was stopped in SQLite and nothing of it remains."""


class ConstraintError(SQLiteError, IntegrityError):
    """A constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY ...) failed."""


class BadCallError(ProgrammingError, ValueError):
    """The call itself was wrong, whatever the database holds: an argument of the wrong
    kind or out of range, parameters SQLite can't bind, a transaction opened inside
    another. Nothing ran; the database stays usable."""


class DatabaseClosedError(ProgrammingError):
    """The database was used after :meth:`~tabsqlite.Database.close` (or its connection
    was lost, see :class:`ConnectionLostError`)."""


class TransactionEndedError(ProgrammingError):
    """A :class:`~tabsqlite.transactions.Transaction` was used after it ended (committed,
    rolled back, or rolled back by SQLite after an error or an interrupt)."""


class TransactionStateError(OperationalError):
    """A statement outside any transaction found the connection inside a transaction that
    neither it nor its task opened. Nothing is reported as done: the statement did not run."""


class TransportError(DatabaseError):
    """The change-signal channel between connections can't be set up safely (for example
    its folder belongs to another user)."""


class ConnectionLostError(DatabaseClosedError):
    """The connection's engine went away (a tab's database worker was terminated or
    crashed): its pending and later calls fail with this, its lock is gone, and what it had
    not committed is rolled back by the next connection. Open the database again."""


class HoldTakenError(OperationalError):
    """A hold (:meth:`~tabsqlite.HoldManager.acquire`) is taken by someone else."""


class InvalidPathError(BadCallError):
    """A database path or name is empty, escapes its directory or is otherwise unusable."""


class InvalidIdentifierError(BadCallError):
    """A table, column or trigger name can't be used in DDL."""


class NoSuchTableError(SQLiteError, OperationalError):
    """A table a tabsqlite call depends on does not exist (SQLITE_ERROR, as SQLite itself
    reports a missing table; ``table`` names it)."""

    def __init__(self, table: str) -> None:
        super().__init__(f"no such table: {table}", extended_code=SQLITE_ERROR)
        self.table = table


class NotADatabaseError(SQLiteError):
    """Bytes given as a database (:func:`~tabsqlite.import_database`) are not an SQLite
    database, or one that fails SQLite's ``quick_check`` (SQLITE_NOTADB). Nothing was
    written: the database that was there is intact."""


class MigrationError(DatabaseError):
    """:meth:`Database.migrate` could not bring the schema to its last version: a step
    failed (it was rolled back; the steps before it stay applied, ``user_version`` says
    how far it got), or the file's ``user_version`` is beyond the steps given (the file
    was migrated by a newer version of the app).

    ``version`` is the step that failed, or the file's version when it is too new.
    """

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version


class NotFoundError(DatabaseError, LookupError):
    """:meth:`Database.get` found no row."""


class BrowserSetupError(DatabaseError):
    """tabsqlite could not start its JS side in this Pyodide: its files are missing or could
    not be loaded (a wrong ``assets_url``, a Content-Security-Policy that refuses ``blob:``
    scripts or workers), or the browser lacks what it needs."""


class OpenTimeoutError(OperationalError, TimeoutError):
    """Opening and configuring the database did not succeed before the deadline."""

    def __init__(self, path: str, waited: float, attempts: int, last_error: BaseException | None):
        detail = f": last error: {last_error}" if last_error is not None else ""
        super().__init__(
            f"could not open {path!r} within {waited:.2f}s ({attempts} attempts){detail}"
        )
        self.path = path
        self.waited = waited
        self.attempts = attempts
        self.last_error = last_error


_PRIMARY_NAMES = (
    "SQLITE_OK", "SQLITE_ERROR", "SQLITE_INTERNAL", "SQLITE_PERM", "SQLITE_ABORT", "SQLITE_BUSY",
    "SQLITE_LOCKED", "SQLITE_NOMEM", "SQLITE_READONLY", "SQLITE_INTERRUPT", "SQLITE_IOERR",
    "SQLITE_CORRUPT", "SQLITE_NOTFOUND", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL",
    "SQLITE_EMPTY", "SQLITE_SCHEMA", "SQLITE_TOOBIG", "SQLITE_CONSTRAINT", "SQLITE_MISMATCH",
    "SQLITE_MISUSE", "SQLITE_NOLFS", "SQLITE_AUTH", "SQLITE_FORMAT", "SQLITE_RANGE",
    "SQLITE_NOTADB", "SQLITE_NOTICE", "SQLITE_WARNING",
)
# Extended codes a runtime may report without a name (https://sqlite.org/rescode.html).
_EXTENDED_NAMES = {
    275: "SQLITE_CONSTRAINT_CHECK", 787: "SQLITE_CONSTRAINT_FOREIGNKEY",
    1299: "SQLITE_CONSTRAINT_NOTNULL", 1555: "SQLITE_CONSTRAINT_PRIMARYKEY",
    1811: "SQLITE_CONSTRAINT_TRIGGER", 2067: "SQLITE_CONSTRAINT_UNIQUE",
    517: "SQLITE_BUSY_SNAPSHOT", 261: "SQLITE_BUSY_RECOVERY", 262: "SQLITE_LOCKED_SHAREDCACHE",
    1034: "SQLITE_IOERR_FSYNC", 266: "SQLITE_IOERR_READ", 778: "SQLITE_IOERR_WRITE",
}


def name_of_code(extended_code: int) -> str | None:
    """SQLite's symbolic name of a result code (the primary code's name for an extended
    code not listed here), so every runtime names an error the same way."""
    name = _EXTENDED_NAMES.get(extended_code)
    if name is None:
        primary = extended_code & 0xFF
        name = _PRIMARY_NAMES[primary] if primary < len(_PRIMARY_NAMES) else None
    return name


def sqlite_error(message: str, extended_code: int, code_name: str | None = None) -> SQLiteError:
    """Build the most specific :class:`SQLiteError` subclass for a result code."""
    primary = extended_code & 0xFF
    cls: type[SQLiteError]
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        cls = BusyError
    elif primary == SQLITE_INTERRUPT:
        cls = QueryInterruptedError
    elif primary == SQLITE_CONSTRAINT:
        cls = ConstraintError
    elif primary == SQLITE_NOTADB:
        cls = NotADatabaseError
    else:
        cls = SQLiteError
    return cls(message, extended_code=extended_code, code_name=code_name)
