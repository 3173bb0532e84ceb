"""Write and read transactions: ``async with db.write_transaction() as tx``."""

from __future__ import annotations

import asyncio
import contextlib
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import (
    ConnectionLostError,
    DatabaseError,
    ProgrammingError,
    QueryInterruptedError,
    TransactionEndedError,
)
from .queries import Queries
from .runtime import Params, QueryResult

if TYPE_CHECKING:
    from .database import Database

__all__ = ["Transaction", "TransactionContext"]

#: The transaction the current task runs in, per database (so ``db.execute`` inside
#: ``async with db.write_transaction()`` joins the transaction instead of deadlocking).
current_transaction: ContextVar[dict[int, Transaction] | None] = ContextVar(
    "tabsqlite_current_transaction", default=None
)


class Transaction(Queries):
    """An open transaction. Queries run inside it; it ends when its ``async with`` ends."""

    def __init__(self, db: Database, write: bool) -> None:
        self._db = db
        self.write = write
        self.active = False

    async def _query(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> QueryResult:
        if not self.active:
            raise TransactionEndedError("the transaction has ended")
        db = self._db
        if not db._conn.in_transaction:  # SQLite ended it (an error rolled it back)
            self.active = False
            if db._conn.lost:
                raise ConnectionLostError("the connection was lost: the transaction is gone")
            raise TransactionEndedError(
                "the transaction was rolled back by SQLite after an earlier error; "
                "nothing of it will be committed"
            )
        try:
            return await db._raw(sql, params, many, timeout)
        except QueryInterruptedError:
            # A stopped statement may have done half its work: nothing of the
            # transaction stays (SQLite rolls back interrupted writes itself; reads too).
            await asyncio.shield(self._end_quietly())
            raise

    async def commit(self) -> None:
        """Commit now; the transaction ends (leaving the ``async with`` does nothing more).

        Raises :class:`TransactionEndedError` if SQLite had already rolled it back.
        """
        await self._finish(commit=True)

    async def rollback(self) -> None:
        """Roll back now; the transaction ends."""
        await self._finish(commit=False)

    async def _finish(self, commit: bool) -> None:
        if not self.active:
            return
        db = self._db
        try:
            if db._conn.in_transaction:
                await db._raw("COMMIT" if commit else "ROLLBACK", (), False)
            elif commit:
                raise TransactionEndedError(
                    "the transaction was rolled back by SQLite after an earlier error; "
                    "nothing of it was committed"
                )
        finally:
            self.active = False
            if not self.write:
                await db._raw("PRAGMA query_only=0", (), False)

    async def _end_quietly(self) -> None:
        """Roll back whatever is open and end (after a failure; never raises a
        DatabaseError: the connection may be gone)."""
        db = self._db
        try:
            if db._conn.in_transaction:
                await db._raw("ROLLBACK", (), False)
        except DatabaseError:
            pass
        finally:
            was_active, self.active = self.active, False
            if was_active and not self.write:
                with contextlib.suppress(DatabaseError):
                    await db._raw("PRAGMA query_only=0", (), False)


class TransactionContext:
    """What ``write_transaction()``/``read_transaction()`` return: use with ``async with``."""

    def __init__(self, db: Database, write: bool) -> None:
        self._db = db
        self._write = write
        self._tx: Transaction | None = None
        self._token: Token[dict[int, Transaction] | None] | None = None

    async def __aenter__(self) -> Transaction:
        db = self._db
        db._check_open()
        if db._transaction_of_current_task() is not None:
            raise ProgrammingError("transactions do not nest: this task is already in one")
        await db._lock.acquire()
        tx = Transaction(db, self._write)
        began = False
        try:
            db._check_open()
            if db._conn.in_transaction:
                if db._manual_owner is asyncio.current_task():
                    raise ProgrammingError(
                        "transactions do not nest: this task ran BEGIN through execute()")
                await db._settle_foreign_transaction()  # raises
            began = True
            await db._raw("BEGIN IMMEDIATE" if self._write else "BEGIN", (), False)
            tx.active = True
            if not self._write:
                await db._raw("PRAGMA query_only=1", (), False)
        except BaseException:
            # Cancelled while BEGIN waited for the lock, BEGIN may still have succeeded
            # (the connection waited for it): end whatever this context opened.
            if began:
                await asyncio.shield(tx._end_quietly())
            db._lock.release()
            raise
        self._tx = tx
        mapping = dict(current_transaction.get() or {})
        mapping[id(db)] = tx
        self._token = current_transaction.set(mapping)
        return tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tx, self._tx = self._tx, None
        assert tx is not None
        if self._token is not None:
            current_transaction.reset(self._token)
            self._token = None
        try:
            if tx.active:
                if exc_type is None:
                    try:
                        await tx._finish(commit=True)
                    except BaseException:
                        await asyncio.shield(tx._end_quietly())
                        raise
                else:
                    await asyncio.shield(tx._end_quietly())
        finally:
            self._db._lock.release()
