"""A stdlib ``sqlite3`` connection driven from asyncio through its own thread.

Changed tables are found with SQLite's authorizer: it names every table a statement (and the
triggers it fires) may write when the statement is prepared. ``total_changes`` tells whether
rows really changed, and ``in_transaction`` where a transaction ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..commit_tracking import CommitTracker, StatementInfo
from ..conversions import convert_value
from ..errors import (
    BadCallError,
    BusyError,
    DatabaseClosedError,
    DatabaseError,
    QueryInterruptedError,
    QueryTimeoutError,
    sqlite_error,
)
from ..runtime import (
    Connection,
    ConnectOptions,
    Params,
    Result,
    ends_transaction,
    wait_out,
)
from .lock_holders import lock_holders
from .snapshot_functions import SnapshotFunctions

__all__ = ["CPythonConnection", "translate_error"]

_STATEMENT_INFO_CACHE = 1024  # must exceed sqlite3's own statement cache (128 by default)


def translate_error(error: BaseException) -> DatabaseError:
    """Map an error raised by ``sqlite3`` (or by binding values) to a tabsqlite error."""
    if isinstance(error, DatabaseError):
        return error
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(error, sqlite3.Error) and isinstance(code, int):
        return sqlite_error(str(error), code, getattr(error, "sqlite_errorname", None))
    if isinstance(error, sqlite3.Error):  # its own words; our class name says the rest
        return BadCallError(str(error))
    return BadCallError(f"{type(error).__name__}: {error}")  # e.g. OverflowError: ...


_PLAIN = frozenset({type(None), float, str, bytes})
_BINDABLE = (type(None), int, float, str, bytes, bytearray, memoryview)
_INT64 = (-(2**63), 2**63 - 1)


def _named(key: object) -> str:
    """A parameter as sqlite3's messages name it (``:name`` or its position)."""
    return f":{key}" if isinstance(key, str) else str(key)


def _bindable(params: Params) -> Params:
    """``params`` ready for sqlite3: values of the types :mod:`tabsqlite.conversions`
    converts become their TEXT (in a copy; ``params`` itself is returned when nothing
    needs converting). Raises :class:`BadCallError` for a value sqlite3 refuses (a type
    with no conversion and no sqlite3 adapter registered, an int beyond 64 bits): checked
    before the statement runs, because for a statement sqlite3 has cached it reports such
    a value with the connection's *previous* error message and code."""
    if type(params) is list or type(params) is tuple:
        items: Iterable[tuple[object, object]] = enumerate(params, 1)
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        return params  # sqlite3 names what is wrong with the container itself
    converted: dict[object, str] | None = None
    for key, value in items:
        kind = type(value)
        if kind in _PLAIN:
            continue
        if isinstance(value, int):  # (bool and IntEnum too)
            if _INT64[0] <= value <= _INT64[1]:
                continue
            raise BadCallError(
                f"parameter {_named(key)}: Python int too large for an SQLite INTEGER")
        text = convert_value(value)
        if text is not None:
            if converted is None:
                converted = {}
            converted[key] = text
        elif not (isinstance(value, _BINDABLE)
                  or (kind, sqlite3.PrepareProtocol) in sqlite3.adapters):
            raise BadCallError(f"Error binding parameter {_named(key)}: type "
                               f"{kind.__name__!r} is not supported")
    if converted is None:
        return params
    if isinstance(params, Mapping):
        return {**params, **converted}  # type: ignore[dict-item]
    values = list(params)
    for position, text in converted.items():
        values[position - 1] = text  # type: ignore[operator]
    return values


class CPythonConnection(Connection):
    """One ``sqlite3`` connection; every call runs in the connection's own thread."""

    def __init__(
        self,
        executor: concurrent.futures.Executor,
        conn: sqlite3.Connection,
        path: str = ":memory:",
        options: ConnectOptions | None = None,
    ) -> None:
        super().__init__()
        self._executor = executor
        self._conn = conn
        self._path = path
        self._options = options or ConnectOptions()
        self._collect: StatementInfo | None = None
        self._info: OrderedDict[str, StatementInfo] = OrderedDict()
        self._tracker = CommitTracker()
        self._closed = False
        conn.set_authorizer(self._authorize)
        self._functions = SnapshotFunctions(conn)

    @classmethod
    async def open(cls, path: str, options: ConnectOptions | None = None) -> CPythonConnection:
        """Open ``path`` (no busy waiting: the core retries and sets SQLite's busy timeout
        to ``options.lock_timeout``)."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabsqlite")

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(
                path, timeout=0, isolation_level=None, check_same_thread=False
            )

        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except BaseException as error:
            executor.shutdown(wait=False)
            if isinstance(error, Exception):
                raise translate_error(error) from error
            raise
        return cls(executor, conn, path, options or ConnectOptions())

    # -- authorizer (runs in the connection thread, while a statement is prepared) --------
    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None
    ) -> int:
        if self._collect is not None:
            self._collect.authorize(action, arg1, arg2)
        return sqlite3.SQLITE_OK

    # -- running calls ----------------------------------------------------------------------
    async def _call(
        self, fn: Callable[[], Result], timeout: float | None, interruptible: bool
    ) -> Result:
        """Run ``fn`` in the connection's thread. A cancelled or timed-out call interrupts
        the statement and waits for the thread: nothing runs on after the call returns."""
        if self._closed:
            raise DatabaseClosedError("connection is closed")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, fn)
        timer: asyncio.TimerHandle | None = None
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            self._conn.interrupt()

        if timeout is not None:
            timer = loop.call_later(max(timeout, 0.0), expire)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            poke = self._conn.interrupt if interruptible else None
            if poke is not None:
                poke()
            await wait_out(future, poke)
            if not future.cancelled() and future.exception() is None:
                self._late = future.result()
            raise
        except QueryInterruptedError as error:
            if expired:
                raise QueryTimeoutError(
                    f"the statement ran past its timeout of {timeout} s and was stopped",
                    extended_code=error.extended_code, code_name=error.code_name,
                ) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _run(self, sql: str, run: Callable[[], sqlite3.Cursor]) -> Result:
        conn = self._conn
        collected = self._collect = StatementInfo()
        was_in_tx = conn.in_transaction
        before = conn.total_changes
        try:
            cursor = run()
            rows = cursor.fetchall()
        except Exception as error:
            self._in_tx = conn.in_transaction
            self._tracker.statement_failed(
                was_in_transaction=was_in_tx, in_transaction=self._in_tx
            )
            translated = self._functions.take_error() or translate_error(error)
            if isinstance(translated, BusyError):
                translated = self._busy_error(translated)
            raise translated from error
        finally:
            self._collect = None
        in_tx = self._in_tx = conn.in_transaction
        if collected.fired:
            info = collected
            self._info[sql] = collected
            self._info.move_to_end(sql)
            if len(self._info) > _STATEMENT_INFO_CACHE:
                self._info.popitem(last=False)
        else:
            info = self._info.get(sql, collected)
            if sql in self._info:
                self._info.move_to_end(sql)
        committed = self._tracker.statement_done(
            info,
            rows_changed=conn.total_changes != before,
            was_in_transaction=was_in_tx,
            in_transaction=in_tx,
        )
        columns = tuple(d[0] for d in cursor.description) if cursor.description else ()
        lastrowid = cursor.lastrowid
        return Result(columns, rows, cursor.rowcount, lastrowid, committed)

    async def execute(
        self, sql: str, params: Params = (), timeout: float | None = None
    ) -> Result:
        params = _bindable(params)
        return await self._call(
            lambda: self._run(sql, lambda: self._conn.execute(sql, params)),
            timeout, not ends_transaction(sql),
        )

    async def execute_many(
        self, sql: str, seq_of_params: Sequence[Params], timeout: float | None = None
    ) -> Result:
        param_sets = [_bindable(params) for params in seq_of_params]
        return await self._call(
            lambda: self._run(sql, lambda: self._conn.executemany(sql, param_sets)),
            timeout, True,
        )

    async def create_function(
        self, name: str, nargs: int, fn: Callable[..., Any], deterministic: bool = False
    ) -> None:
        if self._closed:
            raise DatabaseClosedError("connection is closed")

        def define() -> None:
            try:
                self._conn.create_function(name, nargs, fn, deterministic=deterministic)
            except sqlite3.Error as error:
                raise translate_error(error) from error

        await asyncio.get_running_loop().run_in_executor(self._executor, define)

    def _busy_error(self, error: BusyError) -> BusyError:
        """``error`` with the processes that hold the file's write lock named (Linux)."""
        holders = lock_holders(self._path)
        if not holders:
            return error
        who = ", ".join(f"process {pid} ({name})" for pid, name in holders)
        busy = BusyError(
            f"{error.args[0]}: the write lock is held by {who}; waited "
            f"{self._options.lock_timeout:g} s (busy_timeout)",
            extended_code=error.extended_code, code_name=error.code_name,
        )
        busy.holder = who
        busy.waited = self._options.lock_timeout
        return busy

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._conn.close)
        finally:
            self._executor.shutdown(wait=False)

    def interrupt(self) -> None:
        """Abort the statement running now (thread-safe)."""
        if not self._closed:
            self._conn.interrupt()
