"""Running SQL scripts: what ``execute_script`` does.

A script is split into statements (:mod:`.sql_script`) and run one by one, so each statement
is tracked and announced like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .errors import BadCallError, DatabaseError
from .sql_script import manages_transaction, split_statements

if TYPE_CHECKING:
    from .queries import Queries
    from .runner import Runner

__all__ = [
    "manages_own_transaction",
    "run_own_script",
    "run_script_in",
    "run_statements",
    "script_statements",
]


def _noted(error: DatabaseError, number: int, count: int, statement: str) -> DatabaseError:
    text = statement if len(statement) <= 200 else statement[:200] + "..."
    error.add_note(f"in statement {number} of {count} of the script: {text}")
    return error


def script_statements(script: str) -> list[str]:
    """The statements of ``script`` (split once; the functions below take them).

    :param script: the SQL.
    """
    if not isinstance(script, str):
        raise BadCallError(f"the script must be a str, not {type(script).__name__}")
    return split_statements(script)


def manages_own_transaction(statements: list[str]) -> bool:
    """True if one of ``statements`` begins or ends a transaction or savepoint.

    :param statements: a script's statements.
    """
    return any(manages_transaction(s) for s in statements)


async def run_statements(execute: Callable[[str], Awaitable[object]],
                         statements: list[str]) -> None:
    """Run ``statements`` in order with ``execute``; a failing one's error gets a note
    naming it.

    :param execute: runs one statement.
    :param statements: a script's statements.
    """
    for number, statement in enumerate(statements, 1):
        try:
            await execute(statement)
        except DatabaseError as error:
            raise _noted(error, number, len(statements), statement) from None


async def run_script_in(queries: Queries, statements: list[str]) -> None:
    """Run a script's statements inside an open transaction (``queries``: it, or the
    database from a task inside it). A script that begins or ends transactions itself is
    refused.

    :param queries: where the statements run.
    :param statements: the script's statements.
    """
    if manages_own_transaction(statements):
        raise BadCallError("this script begins or ends a transaction itself, so it cannot "
                           "run inside one; run it with db.execute_script outside it")
    await run_statements(queries.execute, statements)


async def run_own_script(runner: Runner, statements: list[str]) -> None:
    """Run a script that manages its own transactions (``BEGIN`` ... ``COMMIT``,
    savepoints): its statements run in order under the connection's lock, and whatever
    it leaves open (it failed, was cancelled or ended without ``COMMIT``) is rolled back.

    :param runner: the database's runner (outside a transaction).
    :param statements: the script's statements.
    """
    runner.check_open()
    await runner.lock.acquire()
    try:
        runner.check_open()
        if runner.conn.in_transaction:
            await runner.settle_foreign_transaction()
        try:
            await run_statements(lambda statement: runner.raw(statement, (), False),
                                 statements)
            if runner.conn.in_transaction:
                raise BadCallError("the script ended inside a transaction it began (no "
                                   "COMMIT at its end); it was rolled back")
        except BaseException:
            if runner.conn.in_transaction and not runner.conn.lost:
                with contextlib.suppress(DatabaseError):
                    await asyncio.shield(runner.raw("ROLLBACK", (), False))
            raise
    finally:
        runner.lock.release()
