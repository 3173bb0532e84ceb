"""Running SQL scripts: what ``execute_script`` does.

A script is split into statements (:mod:`.sql_script`) and run one by one, so each statement
is tracked and announced like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from .errors import BadCallError, DatabaseError
from .sql_script import manages_transaction, split_statements

if TYPE_CHECKING:
    from .queries import Queries
    from .runner import Runner

__all__ = ["manages_own_transaction", "run_own_script", "run_script_in"]


def _noted(error: DatabaseError, number: int, count: int, statement: str) -> DatabaseError:
    text = statement if len(statement) <= 200 else statement[:200] + "..."
    error.add_note(f"in statement {number} of {count} of the script: {text}")
    return error


def _statements(script: str) -> list[str]:
    if not isinstance(script, str):
        raise BadCallError(f"the script must be a str, not {type(script).__name__}")
    return split_statements(script)


async def run_script_in(queries: Queries, script: str) -> None:
    """Run ``script`` inside an open transaction (``queries``: it, or the database from a
    task inside it). A script that begins or ends transactions itself is refused.

    :param queries: where the statements run.
    :param script: the SQL.
    """
    statements = _statements(script)
    if any(manages_transaction(s) for s in statements):
        raise BadCallError("this script begins or ends a transaction itself, so it cannot "
                           "run inside one; run it with db.execute_script outside it")
    for number, statement in enumerate(statements, 1):
        try:
            await queries.execute(statement)
        except DatabaseError as error:
            raise _noted(error, number, len(statements), statement) from None


def manages_own_transaction(script: str) -> bool:
    """True if a statement of ``script`` begins or ends a transaction or savepoint.

    :param script: the SQL.
    """
    return any(manages_transaction(s) for s in _statements(script))


async def run_own_script(runner: Runner, script: str) -> None:
    """Run a script that manages its own transactions (``BEGIN`` ... ``COMMIT``,
    savepoints): its statements run in order under the connection's lock, and whatever
    it leaves open (it failed, was cancelled or ended without ``COMMIT``) is rolled back.

    :param runner: the database's runner (outside a transaction).
    :param script: the SQL.
    """
    statements = _statements(script)
    runner.check_open()
    await runner.lock.acquire()
    try:
        runner.check_open()
        if runner.conn.in_transaction:
            await runner.settle_foreign_transaction()
        try:
            for number, statement in enumerate(statements, 1):
                try:
                    await runner.raw(statement, (), False)
                except DatabaseError as error:
                    raise _noted(error, number, len(statements), statement) from None
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
