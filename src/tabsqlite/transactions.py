"""Write and read transactions: ``async with db.write_transaction() as tx``."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import DatabaseClosedError, ProgrammingError
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

    async def _query(self, sql: str, params: Params, many: bool) -> QueryResult:
        if not self.active:
            raise DatabaseClosedError("the transaction has ended")
        return await self._db._raw(sql, params, many)

    async def commit(self) -> None:
        """Commit now; the transaction ends (leaving the ``async with`` does nothing more)."""
        await self._finish(commit=True)

    async def rollback(self) -> None:
        """Roll back now; the transaction ends."""
        await self._finish(commit=False)

    async def _finish(self, commit: bool) -> None:
        if not self.active:
            return
        try:
            await self._db._raw("COMMIT" if commit else "ROLLBACK", (), False)
        finally:
            self.active = False
            if not self.write:
                await self._db._raw("PRAGMA query_only=0", (), False)


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
        try:
            db._check_open()
            await db._raw("BEGIN IMMEDIATE" if self._write else "BEGIN", (), False)
            tx.active = True
            if not self._write:
                await db._raw("PRAGMA query_only=1", (), False)
        except BaseException:
            if tx.active:
                await asyncio.shield(tx._finish(commit=False))
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
                        await asyncio.shield(self._rollback_quietly(tx))
                        raise
                else:
                    await asyncio.shield(self._rollback_quietly(tx))
        finally:
            self._db._lock.release()

    @staticmethod
    async def _rollback_quietly(tx: Transaction) -> None:
        tx.active = True
        try:
            await tx._finish(commit=False)
        except Exception:  # the connection may be gone; nothing more to undo
            tx.active = False
