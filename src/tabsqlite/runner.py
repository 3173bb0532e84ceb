"""The one entry every statement goes through: :class:`Runner`.

It owns the connection and the lock that lets one statement (or one transaction) at a time
use it, knows the transaction the current task runs in, keeps the "who opened this
transaction" guard, and hands each commit's tables to a callback (the change feed). Nothing
here knows about change messages, watches or triggers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Protocol

from .errors import (
    SQLITE_INTERRUPT,
    BadCallError,
    ConnectionLostError,
    DatabaseClosedError,
    DatabaseError,
    QueryTimeoutError,
    TransactionStateError,
)
from .queries import Queries
from .runtime import Connection, Params, Result

__all__ = ["Runner", "TaskTransaction", "deadline", "remaining"]


class TaskTransaction(Protocol):
    """What the runner needs of the transaction a task runs in (``transactions.Transaction``)."""

    @property
    def active(self) -> bool: ...

    async def _query(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> Result: ...


#: The transaction the current task runs in, per runner (so ``db.execute`` inside
#: ``async with db.write_transaction()`` joins the transaction instead of deadlocking).
_current: ContextVar[dict[int, TaskTransaction] | None] = ContextVar(
    "tabsqlite_current_transaction", default=None
)

Committed = Callable[[frozenset[str]], Awaitable[None]]


async def _nobody_listens(tables: frozenset[str]) -> None:
    return None


class Runner(Queries):
    """Runs statements on one connection, one at a time.

    :param connection: the runtime's open connection.
    :param path: the database path, for error messages.
    """

    def __init__(self, connection: Connection, path: str) -> None:
        self.conn = connection
        self.path = path
        #: Held by a plain statement while it runs, and by a transaction from BEGIN to its end.
        self.lock = asyncio.Lock()
        #: Called with the tables of each commit made through this runner.
        self.on_commit: Committed = _nobody_listens
        self.closing = False
        # The task that opened a transaction with a plain ``execute("BEGIN")``.
        self._manual_owner: asyncio.Task[Any] | None = None
        #: Transactions found open with no owner and rolled back (diagnostics).
        self.orphans_rolled_back = 0
        #: Statements run through this connection (diagnostics).
        self.statements_run = 0

    # -- state ---------------------------------------------------------------------------------
    def check_open(self) -> None:
        """Raise :class:`DatabaseClosedError` once the database is closing."""
        if self.closing:
            raise DatabaseClosedError(f"database {self.path!r} is closed")

    @property
    def in_transaction(self) -> bool:
        """True while the connection is inside a transaction."""
        return self.conn.in_transaction

    def owns_manual_transaction(self) -> bool:
        """True if the current task opened the open transaction with ``execute("BEGIN")``."""
        return self._manual_owner is not None and self._manual_owner is asyncio.current_task()

    def task_transaction(self) -> TaskTransaction | None:
        """The active transaction the current task runs in, if any."""
        mapping = _current.get()
        tx = mapping.get(id(self)) if mapping else None
        return tx if tx is not None and tx.active else None

    def enter_transaction(self, tx: TaskTransaction) -> Token[dict[int, TaskTransaction] | None]:
        """Make ``tx`` the current task's transaction; undo with :meth:`leave_transaction`."""
        mapping = dict(_current.get() or {})
        mapping[id(self)] = tx
        return _current.set(mapping)

    @staticmethod
    def leave_transaction(token: Token[dict[int, TaskTransaction] | None]) -> None:
        """Undo :meth:`enter_transaction`."""
        _current.reset(token)

    # -- statements ----------------------------------------------------------------------------
    async def _query(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> Result:
        if self.closing:
            raise DatabaseClosedError(f"database {self.path!r} is closed")
        if self.conn.lost:  # fail now rather than queue behind a transaction that is gone
            raise ConnectionLostError(f"the connection to {self.path!r} was lost; open the "
                                      "database again")
        tx = self.task_transaction()
        if tx is not None:  # join the task's transaction
            return await tx._query(sql, params, many, timeout)
        limit = None
        if timeout is None:
            await self.lock.acquire()
        else:
            limit = deadline(timeout)
            await _acquire_by(self.lock, limit)
        try:
            self.check_open()
            if self.conn.in_transaction:
                await self.settle_foreign_transaction()
            left = None if limit is None else remaining(limit)
            try:  # (a statement outside write_transaction/read_transaction)
                return await self.raw(sql, params, many, left)
            finally:
                self._note_manual_owner()
        finally:
            self.lock.release()

    def _note_manual_owner(self) -> None:
        """After a statement outside ``write_transaction``/``read_transaction`` (lock held):
        one that left a transaction open (``BEGIN``) makes its task that transaction's
        owner, so only that task's plain statements run in it until it ends."""
        if self.conn.in_transaction:
            if self._manual_owner is None:
                self._manual_owner = asyncio.current_task()
        else:
            self._manual_owner = None

    async def settle_foreign_transaction(self) -> None:
        """The guard before a statement outside a ``Transaction`` (lock held, connection
        inside a transaction): unless this task opened it, raise
        :class:`TransactionStateError` instead of letting the statement join a transaction
        nobody will commit. A transaction whose owner is gone (or that no task opened) is
        rolled back first: nothing in it was reported as committed."""
        owner = self._manual_owner
        if owner is not None and owner is asyncio.current_task():
            return
        if owner is not None and not owner.done():
            raise TransactionStateError(
                "another task has a transaction open on this connection (BEGIN through "
                "execute); use write_transaction() to wait for the database instead"
            )
        await self.rollback_orphan()
        raise TransactionStateError(
            "the connection was inside a transaction that nobody owned (its task ended "
            "without COMMIT or ROLLBACK); it was rolled back and this statement did not run"
        )

    async def rollback_orphan(self) -> None:
        """Roll back a transaction whose owner is gone (lock held): before the guard raises,
        and in the back-stop, so an orphan never keeps other connections waiting until the
        next statement here."""
        owner = self._manual_owner
        if owner is None or owner.done():
            self._manual_owner = None
            self.orphans_rolled_back += 1
            with contextlib.suppress(DatabaseError):
                await asyncio.shield(self.raw("ROLLBACK", (), False))

    async def raw(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> Result:
        """Run a statement on the connection; the caller holds the lock."""
        if type(sql) is not str and not isinstance(sql, str):
            raise BadCallError(f"sql must be a str, not {type(sql).__name__}")
        conn = self.conn
        try:
            if many:
                _check_param_sets(params)  # type: ignore[arg-type]
                result = await conn.execute_many(sql, params, timeout)  # type: ignore[arg-type]
            else:
                kind = type(params)
                if kind is not list and kind is not tuple:  # (the common kinds skip the check)
                    _check_params(params)
                result = await conn.execute(sql, params, timeout)
        except asyncio.CancelledError:
            late = conn.take_late_result()  # it ran to the end: announce what it committed
            if late is not None and late.committed:
                await asyncio.shield(self.on_commit(late.committed))
            raise
        self.statements_run += 1
        if result.committed:
            await self.on_commit(result.committed)
        return result

    async def data_version(self) -> int | None:
        """``PRAGMA data_version`` under the lock (an orphan transaction is rolled back
        first); ``None`` once closing. For the change feed's back-stop."""
        async with self.lock:
            if self.closing:
                return None
            if self.conn.in_transaction:
                await self.rollback_orphan()
            result = await self.conn.execute("PRAGMA data_version")
        return int(result.rows[0][0])

    def busy(self) -> bool:
        """True while a statement or a transaction holds the lock."""
        return self.lock.locked()

    async def close(self) -> None:
        """Stop taking statements, wait for the running one, close the connection."""
        self.closing = True
        async with self.lock:
            await self.conn.close()


def deadline(timeout: float) -> float:
    """The loop time ``timeout`` seconds from now (``BadCallError`` for a bad timeout)."""
    if not (isinstance(timeout, int | float) and timeout >= 0) or isinstance(timeout, bool):
        raise BadCallError("timeout must be a number of seconds >= 0, or None")
    return asyncio.get_running_loop().time() + timeout


def remaining(limit: float) -> float:
    """Seconds left until the loop time ``limit`` (never negative)."""
    return max(0.0, limit - asyncio.get_running_loop().time())


async def _acquire_by(lock: asyncio.Lock, limit: float) -> None:
    """Take ``lock`` before ``limit`` (a loop time), else raise QueryTimeoutError."""
    try:
        async with asyncio.timeout_at(limit):
            await lock.acquire()
    except TimeoutError:
        raise QueryTimeoutError(
            "timed out waiting for this connection's other queries",
            extended_code=SQLITE_INTERRUPT,
        ) from None


_TEXT_LIKE = (str, bytes, bytearray)  # iterable, but not parameters; a tuple: faster than a union


def _check_params(params: object) -> None:
    if isinstance(params, _TEXT_LIKE):
        raise BadCallError(
            "params must be a sequence or mapping of values, not a single str/bytes"
        )


def _check_param_sets(seq_of_params: list[Any]) -> None:
    """Refuse a str or bytes parameter set on every runtime (stdlib sqlite3 would bind its
    characters one by one), before anything runs."""
    for params in seq_of_params:
        kind = type(params)
        if kind is not list and kind is not tuple and isinstance(params, _TEXT_LIKE):
            raise BadCallError(
                "each parameter set must be a sequence or mapping of values, not a str/bytes"
            )
