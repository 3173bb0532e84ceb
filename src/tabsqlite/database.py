"""The :class:`Database` object and :func:`open_database`.

``Database`` assembles the pieces and holds none of their logic: a :class:`~.runner.Runner`
(every statement), a :class:`~.feed.ChangeFeed` (commits in and out), a
:class:`~.triggers.TriggerManager` and the background tasks they share.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from types import TracebackType
from typing import Any

from .background import Background
from .changes import ChangeEvent, normalize_tables
from .errors import BadCallError
from .feed import ChangeFeed
from .identifiers import validate_identifier
from .migrations import MigrationStep, migrate
from .names import channel_name
from .paths import is_memory, resolve_path
from .queries import Queries
from .retry import retry_while_busy
from .runner import Runner
from .runtime import Connection, ConnectOptions, Deliver, Params, Result, Runtime, Transport
from .scripts import (
    manages_own_transaction,
    run_own_script,
    run_script_in,
    run_statements,
    script_statements,
)
from .snapshots import checked_image, rollback_mode_image
from .table_inference import infer_tables
from .transactions import TransactionContext
from .triggers import TriggerManager
from .watch import ChangeStream, Watch

__all__ = ["Database", "OpenContext", "import_database", "open_database"]

DEFAULT_OPEN_TIMEOUT = 15.0
DEFAULT_BUSY_TIMEOUT = 10.0


class Database(Queries):
    """One connection to a database file, shared with other tabs or processes.

    Obtain one with :func:`open_database`. Queries outside a transaction run one at a time;
    ``async with db.write_transaction() as tx`` (or ``read_transaction``) groups several.
    Every committed write is announced to the other connections on the same file, and
    their writes arrive in this object's change stream (:meth:`on_change`, :meth:`watch`).

    :param runtime: the runtime the connection belongs to.
    :param path: the canonical path of the database file (or ``":memory:"``).
    :param connection: the open connection.
    :param signal_check_interval: seconds between checks for commits whose message was lost.
    :param lock_timeout: seconds ``close(delete_database=True)`` waits for the file's lock.
    """

    def __init__(
        self,
        runtime: Runtime,
        path: str,
        connection: Connection,
        *,
        signal_check_interval: float,
        lock_timeout: float = 10.0,
    ) -> None:
        self.runtime = runtime
        #: The canonical path of the database file (``":memory:"`` for a memory database).
        self.path = path
        #: This connection's id in change messages.
        self.origin = secrets.token_hex(8)
        self._lock_timeout = lock_timeout
        self._runner = Runner(connection, path)
        # Every query method goes straight to the runner (one coroutine less per statement).
        self._query = self._runner._query  # type: ignore[method-assign]
        self._background = Background()
        #: The change feed (its ``receiver`` and ``transport``: diagnostics).
        self.feed = ChangeFeed(self.origin, self._runner, self._background,
                               signal_check_interval)
        self._runner.on_commit = self.feed.committed
        #: Managed diff triggers: :meth:`TriggerManager.create_diff_trigger` and friends.
        self.triggers = TriggerManager(
            self._runner, self.feed, self._background, runtime.hold_manager(path), path,
            shared=not is_memory(path))
        self._closing = False
        self._closed_event = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def is_memory(self) -> bool:
        """True for a private in-memory database."""
        return is_memory(self.path)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has begun."""
        return self._closing

    @property
    def broken(self) -> bool:
        """True once the connection was lost (a tab's database worker died): every call
        raises :class:`ConnectionLostError`; close it and open the database again."""
        return self._runner.conn.lost

    @property
    def in_transaction(self) -> bool:
        """True while the connection is inside a transaction (anyone's)."""
        return self._runner.in_transaction

    @property
    def orphans_rolled_back(self) -> int:
        """Transactions found open with no owner and rolled back (diagnostics)."""
        return self._runner.orphans_rolled_back

    @property
    def statements_run(self) -> int:
        """Statements run through this connection (diagnostics)."""
        return self._runner.statements_run

    async def _start(self) -> None:
        if not self.is_memory:
            channel = channel_name(self.path)
            runtime = self.runtime

            async def open_transport(deliver: Deliver) -> Transport:
                return await runtime.open_transport(channel, deliver)

            await self.feed.start(open_transport)

    async def close(self, delete_database: bool = False) -> None:
        """Close the connection.

        Managed diff triggers of this connection are dropped and their holds released.
        Queries started before ``close`` finish first; later calls raise
        :class:`DatabaseClosedError`. Closing twice is harmless.

        :param delete_database: also remove the file and its journals (after waiting for
            the file's lock, so no other connection is in the middle of a write).
        """
        if self._runner.task_transaction() is not None:
            raise BadCallError("close() inside a transaction of the same database")
        if self._closing:
            await self._closed_event.wait()
            if delete_database:
                await self.runtime.delete_database_files(self.path, self._lock_timeout)
            return
        try:
            await self.triggers.close()
        finally:
            self._closing = True
            self._runner.closing = True
            await self._background.close()
            try:
                await self.feed.close()
                await self._runner.close()
            finally:
                await self.triggers.release_holds()
                self._closed_event.set()
        if delete_database:
            await self.runtime.delete_database_files(self.path, self._lock_timeout)

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- queries ------------------------------------------------------------------------------
    async def _query(  # (replaced per instance by the runner's, see __init__)
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> Result:
        return await self._runner._query(sql, params, many, timeout)

    def write_transaction(self) -> TransactionContext:
        """``async with db.write_transaction() as tx``: BEGIN IMMEDIATE ... COMMIT.

        The transaction commits when the block ends and rolls back if it raises.
        """
        return TransactionContext(self._runner, write=True)

    def read_transaction(self) -> TransactionContext:
        """``async with db.read_transaction() as tx``: a consistent, read-only snapshot."""
        return TransactionContext(self._runner, write=False)

    async def create_function(
        self, name: str, nargs: int, fn: Callable[..., Any], deterministic: bool = False
    ) -> None:
        """Make the Python function ``fn`` an SQL function of this connection (as
        ``sqlite3.Connection.create_function``). In a browser tab it works where SQLite
        runs in Python's own thread (worker mode); elsewhere
        :class:`~tabsqlite.errors.NotSupportedError`.

        :param name: its SQL name.
        :param nargs: how many arguments it takes (-1: any number).
        :param fn: the function; it gets and returns SQLite values.
        :param deterministic: the same arguments always give the same result.
        """
        self._runner.check_open()
        identifier = validate_identifier(name, "function name")
        await self._runner.conn.create_function(identifier, int(nargs), fn, deterministic)

    # -- scripts, migrations, whole-file copies ------------------------------------------------
    async def execute_script(self, sql: str) -> None:
        """Run several statements (separated by ``;``), without parameters.

        They run in one write transaction: all of them commit, or none. A script that
        manages its own transactions (``BEGIN`` ... ``COMMIT``, savepoints) runs as it is,
        and whatever it leaves open when it fails, is cancelled or ends is rolled back.
        Inside ``async with db.write_transaction()`` it joins that transaction. A failing
        statement's error carries a note naming it.

        :param sql: the script.
        """
        statements = script_statements(sql)
        if self._runner.task_transaction() is not None:
            await run_script_in(self, statements)
        elif manages_own_transaction(statements):
            await run_own_script(self._runner, statements)
        else:
            async with self.write_transaction() as tx:
                await run_statements(tx.execute, statements)

    async def migrate(self, steps: Sequence[MigrationStep]) -> list[int]:
        """Bring the schema up to date: apply the steps the file has not had yet.

        Step ``n`` (counting from 1) is applied when ``PRAGMA user_version`` is below
        ``n``, in its own write transaction that sets ``user_version`` to ``n``. Tabs or
        processes that migrate the same file at the same moment wait for each other and
        apply each step once; when this returns, every step is in the file. A step that
        fails is rolled back (:class:`~tabsqlite.MigrationError`), as is a cancelled one.
        Append new steps to the list; never change one that shipped.

        :param steps: SQL strings (one or more statements each) or functions taking the
            open :class:`~tabsqlite.Transaction` (``async def step(tx): ...``).
        :returns: the numbers of the steps this call applied (``[]``: up to date).
        """
        return await migrate(self._runner, steps)

    async def export(self) -> bytes:
        """The bytes of a consistent snapshot of the database (what a commit made by any
        connection left, never half of one), as an SQLite file that opens anywhere:
        write it to disk, offer it as a download, or give it to :func:`import_database`."""
        if self._runner.task_transaction() is not None:
            raise BadCallError("export() inside a transaction: call it outside")
        result = await self.execute("SELECT tabsqlite_serialize()")
        return rollback_mode_image(bytes(result.rows[0][0]))

    async def _replace_content(self, image: bytes) -> None:
        """Replace the file's content with the checked ``image`` (see
        :func:`import_database`) and announce every table of the old and new schema."""
        if self._runner.task_transaction() is not None:
            raise BadCallError("importing inside a transaction: call it outside")
        tables = "SELECT lower(name) AS name FROM sqlite_schema WHERE type = 'table'"
        before = {row["name"] for row in await self.get_all(tables)}
        await self.execute("SELECT tabsqlite_restore(?)", [image])
        after = {row["name"] for row in await self.get_all(tables)}
        await self.feed.committed(frozenset(before | after))

    # -- change stream ------------------------------------------------------------------------
    def on_change(
        self, tables: Iterable[str] | None = None, *, throttle_ms: float = 0
    ) -> AsyncIterator[ChangeEvent]:
        """Async iterator of committed changes (this connection's and others').

        Changes that come while the consumer is busy, or within ``throttle_ms`` of the last
        one, are merged into one event.

        :param tables: report only changes that may concern these tables (``None``: all).
        :param throttle_ms: the least time between two events, in milliseconds.
        """
        self._runner.check_open()
        return ChangeStream(self.feed, None if tables is None else normalize_tables(tables),
                            throttle_ms)

    def watch(
        self,
        sql: str,
        params: Params = (),
        *,
        tables: Iterable[str] | None = None,
        throttle_ms: float = 30,
    ) -> Watch:
        """Async iterator of a query's rows: now, and again after each relevant commit.

        A change right after a quiet period re-runs the query at once; bursts within
        ``throttle_ms`` are merged. ``db.watch(...).differential(key="id")`` yields
        added/removed/updated rows instead.

        :param sql: the query.
        :param params: its values.
        :param tables: the tables whose changes re-run it (``None``: found from the plan).
        :param throttle_ms: the least time between two runs, in milliseconds.
        """
        self._runner.check_open()
        return Watch(self.feed, self._runner, sql, params,
                     None if tables is None else normalize_tables(tables), throttle_ms)

    async def tables_read_by(self, sql: str, params: Params = ()) -> frozenset[str] | None:
        """The tables a query reads (``None`` if they can't be known, e.g. virtual tables).

        :param sql: the query.
        :param params: its values (``EXPLAIN`` needs them bound).
        """
        return await infer_tables(self, sql, params)

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        return f"<tabsqlite.Database {self.path!r} {state} on {self.runtime.name}>"


async def _open(
    path: str,
    *,
    open_timeout: float,
    busy_timeout: float,
    runtime: Runtime | None,
    signal_check_interval: float,
) -> Database:
    if not (isinstance(open_timeout, int | float) and open_timeout >= 0):
        raise BadCallError("open_timeout must be a number of seconds >= 0")
    if not (isinstance(busy_timeout, int | float) and busy_timeout >= 0):
        raise BadCallError("busy_timeout must be a number of seconds >= 0")
    if runtime is None:
        from .runtimes import default_runtime

        runtime = default_runtime()
    resolved = resolve_path(path, runtime.default_directory())
    canonical = await runtime.prepare_path(resolved)
    memory = is_memory(canonical)
    started = time.monotonic()
    options = dataclasses.replace(runtime.options, lock_timeout=float(busy_timeout))

    async def attempt() -> Connection:
        conn = await runtime.connect(canonical, options)
        try:
            await conn.execute("PRAGMA busy_timeout=0")
            if not memory:
                if options.page_size is not None:  # only takes effect on a new, empty file
                    await conn.execute(f"PRAGMA page_size={int(options.page_size)}")
                await conn.execute(f"PRAGMA journal_mode={_journal_mode(options)}")
                if options.journal_size_limit is not None:
                    await conn.execute(
                        f"PRAGMA journal_size_limit={int(options.journal_size_limit)}")
            await conn.execute("SELECT count(*) FROM sqlite_schema")
            await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        except BaseException:
            await asyncio.shield(conn.close())
            raise
        return conn

    conn = await retry_while_busy(attempt, path=canonical, timeout=open_timeout)
    db = Database(runtime, canonical, conn, signal_check_interval=signal_check_interval,
                  lock_timeout=options.lock_timeout)
    try:
        await db._start()
        remaining = max(0.0, open_timeout - (time.monotonic() - started))
        await retry_while_busy(db.triggers.start, path=canonical, timeout=remaining)
    except BaseException:
        await asyncio.shield(db.close())
        raise
    return db


class OpenContext:
    """What :func:`open_database` returns: ``await`` it, or use it with ``async with``
    (which closes the database at the end of the block).

    :param path: the database (see :func:`open_database`).
    :param options: the keyword arguments of :func:`open_database`.
    """

    def __init__(self, path: str, **options: Any) -> None:
        self._path = path
        self._options = options
        self._db: Database | None = None

    def __await__(self) -> Generator[Any, None, Database]:
        return _open(self._path, **self._options).__await__()

    async def __aenter__(self) -> Database:
        self._db = await _open(self._path, **self._options)
        return self._db

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._db is not None:
            await self._db.close()


def _journal_mode(options: ConnectOptions) -> str:
    mode = options.journal_mode
    if mode.lower() not in ("delete", "truncate", "persist", "memory", "wal", "off"):
        raise BadCallError(f"unknown journal_mode {mode!r}")
    return mode


def open_database(
    path: str,
    *,
    open_timeout: float = DEFAULT_OPEN_TIMEOUT,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    runtime: Runtime | None = None,
    signal_check_interval: float = 1.0,
) -> OpenContext:
    """Open (creating if needed) the database ``path``.

    ``db = await open_database("app.db")`` or ``async with open_database("app.db") as db:``.
    Opening retries while other connections hold locks, with exponential backoff;
    cancelling the task stops it at once.

    :param path: a plain name (placed in the runtime's default directory), an absolute
        path (parent directories are created) or ``":memory:"``.
    :param open_timeout: seconds opening may take, then
        :class:`~tabsqlite.OpenTimeoutError`.
    :param busy_timeout: seconds a statement waits for another connection's lock once
        open, then :class:`~tabsqlite.BusyError`.
    :param runtime: the runtime (``None``: Pyodide in a browser, stdlib ``sqlite3``
        elsewhere).
    :param signal_check_interval: seconds between checks for commits whose message was
        lost (0 disables the check).
    """
    return OpenContext(
        path,
        open_timeout=open_timeout,
        busy_timeout=busy_timeout,
        runtime=runtime,
        signal_check_interval=signal_check_interval,
    )


async def import_database(
    path: str,
    data: bytes,
    *,
    open_timeout: float = DEFAULT_OPEN_TIMEOUT,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    runtime: Runtime | None = None,
) -> None:
    """Create the database ``path`` from ``data``, or replace what it holds, while other
    tabs or processes may have it open.

    The bytes are checked before anything is written (the SQLite header, then SQLite's
    ``quick_check`` on a private copy); bytes that fail raise
    :class:`~tabsqlite.NotADatabaseError` and leave the file as it was. Then the content
    is copied in under the file's write lock, as one commit: the other connections read
    the new content from their next statement on, and their watches wake for every table
    of the old and the new schema. Everything in the file is replaced, persisted diff
    triggers included (a tracker on the old content stops recording).

    :param path: the database (as for :func:`open_database`).
    :param data: the bytes of an SQLite database (e.g. from :meth:`Database.export`).
    :param open_timeout: seconds opening may take (see :func:`open_database`).
    :param busy_timeout: seconds to wait for another connection's write lock.
    :param runtime: the runtime (``None``: the default one).
    """
    image = checked_image(data)
    async with open_database(path, open_timeout=open_timeout, busy_timeout=busy_timeout,
                             runtime=runtime) as db:
        await db._replace_content(image)
