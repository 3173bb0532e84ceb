"""Write and read transactions: ``async with db.write_transaction() as tx``."""

from __future__ import annotations

import asyncio
import contextlib
from contextvars import Token
from types import TracebackType

from .errors import (
    BadCallError,
    ConnectionLostError,
    DatabaseError,
    QueryInterruptedError,
    TransactionEndedError,
)
from .queries import Queries
from .runner import Runner, TaskTransaction
from .runtime import Params, Result
from .scripts import run_script_in, script_statements

__all__ = ["Transaction", "TransactionContext"]


class Transaction(Queries):
    """An open transaction. Queries run inside it; it ends when its ``async with`` ends.

    Made by :meth:`Database.write_transaction` / :meth:`Database.read_transaction`:

    :param runner: the database's runner (its lock is held for the whole transaction).
    :param write: a write transaction (True) or a read-only one (False).
    """

    def __init__(self, runner: Runner, write: bool) -> None:
        self._runner = runner
        #: True for a write transaction (``BEGIN IMMEDIATE``), False for a read-only one.
        self.write = write
        #: True from BEGIN until the transaction ends.
        self.active = False

    async def _query(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> Result:
        if not self.active:
            raise TransactionEndedError("the transaction has ended")
        runner = self._runner
        if not runner.conn.in_transaction:  # SQLite ended it (an error rolled it back)
            self.active = False
            if runner.conn.lost:
                raise ConnectionLostError("the connection was lost: the transaction is gone")
            raise TransactionEndedError(
                "the transaction was rolled back by SQLite after an earlier error; "
                "nothing of it will be committed"
            )
        try:
            return await runner.raw(sql, params, many, timeout)
        except QueryInterruptedError:
            # A stopped statement may have done half its work: nothing of the
            # transaction stays (SQLite rolls back interrupted writes itself; reads too).
            await asyncio.shield(self._end_quietly())
            raise

    async def execute_script(self, sql: str) -> None:
        """Run several statements (separated by ``;``) inside this transaction; a script
        that begins or ends transactions itself is refused.

        :param sql: the script.
        """
        await run_script_in(self, script_statements(sql))

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
        runner = self._runner
        try:
            if runner.conn.in_transaction:
                await runner.raw("COMMIT" if commit else "ROLLBACK", (), False)
            elif commit:
                raise TransactionEndedError(
                    "the transaction was rolled back by SQLite after an earlier error; "
                    "nothing of it was committed"
                )
        finally:
            self.active = False
            if not self.write:
                await runner.raw("PRAGMA query_only=0", (), False)

    async def _end_quietly(self) -> None:
        """Roll back whatever is open and end (after a failure; never raises a
        DatabaseError: the connection may be gone)."""
        runner = self._runner
        try:
            if runner.conn.in_transaction:
                await runner.raw("ROLLBACK", (), False)
        except DatabaseError:
            pass
        finally:
            was_active, self.active = self.active, False
            if was_active and not self.write:
                with contextlib.suppress(DatabaseError):
                    await runner.raw("PRAGMA query_only=0", (), False)


class TransactionContext:
    """What ``write_transaction()``/``read_transaction()`` return: use with ``async with``.

    :param runner: the database's runner.
    :param write: ``BEGIN IMMEDIATE`` (True) or a read-only ``BEGIN`` (False).
    """

    def __init__(self, runner: Runner, write: bool) -> None:
        self._runner = runner
        self._write = write
        self._tx: Transaction | None = None
        self._token: Token[dict[int, TaskTransaction] | None] | None = None

    async def __aenter__(self) -> Transaction:
        runner = self._runner
        runner.check_open()
        if runner.task_transaction() is not None:
            raise BadCallError("transactions do not nest: this task is already in one")
        await runner.lock.acquire()
        tx = Transaction(runner, self._write)
        began = False
        try:
            runner.check_open()
            if runner.conn.in_transaction:
                if runner.owns_manual_transaction():
                    raise BadCallError(
                        "transactions do not nest: this task ran BEGIN through execute()")
                await runner.settle_foreign_transaction()  # raises
            began = True
            await runner.raw("BEGIN IMMEDIATE" if self._write else "BEGIN", (), False)
            tx.active = True
            if not self._write:
                await runner.raw("PRAGMA query_only=1", (), False)
        except BaseException:
            # Cancelled while BEGIN waited for the lock, BEGIN may still have succeeded
            # (the connection waited for it): end whatever this context opened.
            if began:
                await asyncio.shield(tx._end_quietly())
            runner.lock.release()
            raise
        self._tx = tx
        self._token = runner.enter_transaction(tx)
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
            self._runner.leave_transaction(self._token)
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
            self._runner.lock.release()
