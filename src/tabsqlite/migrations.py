"""Schema migrations: what :meth:`Database.migrate` does.

A migration is a list
of steps numbered from 1; ``PRAGMA user_version`` holds the number of the last step
applied. Each step runs in its own write transaction that first reads ``user_version``
again, under the database's lock: connections that migrate at the same moment queue on
that lock, and each step is applied once, by whichever gets there first.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from .errors import BadCallError, DatabaseError, MigrationError
from .scripts import run_script_in, script_statements
from .transactions import Transaction, TransactionContext

if TYPE_CHECKING:
    from .queries import Queries
    from .runner import Runner

__all__ = ["MigrationStep", "migrate"]

#: One migration step: SQL (one or more statements) or a function given the open write
#: transaction (``async def step(tx): ...``; a plain function works too).
MigrationStep = str | Callable[[Transaction], Awaitable[None] | None]


def _check_steps(steps: Sequence[MigrationStep]) -> list[MigrationStep]:
    if isinstance(steps, str | bytes) or not isinstance(steps, Sequence):
        raise BadCallError("migrate() takes a list of steps (SQL strings or functions)")
    for number, step in enumerate(steps, 1):
        if not (isinstance(step, str) or callable(step)):
            raise BadCallError(f"migration step {number} is a {type(step).__name__}: "
                               "each step is SQL (a str) or a function taking the transaction")
    return list(steps)


async def _version(queries: Queries) -> int:
    return int((await queries.get("PRAGMA user_version"))["user_version"])


async def migrate(runner: Runner, steps: Sequence[MigrationStep]) -> list[int]:
    """Apply the steps the file has not had yet; the numbers of those this call applied.

    :param runner: the database's runner.
    :param steps: the migration steps, the first one number 1.
    """
    checked = _check_steps(steps)
    last = len(checked)
    if runner.task_transaction() is not None:
        raise BadCallError("migrate() runs each step in its own write transaction: call it "
                           "outside a transaction")
    version = await _version(runner)  # (no write lock when there is nothing to do: every start)
    _check_not_newer(version, last)
    applied: list[int] = []
    for number in range(version + 1, last + 1):
        async with TransactionContext(runner, write=True) as tx:
            version = await _version(tx)
            _check_not_newer(version, last)
            if version >= number:
                continue  # another connection applied it meanwhile
            step = checked[number - 1]
            try:
                if isinstance(step, str):
                    await run_script_in(tx, script_statements(step))
                else:
                    outcome = step(tx)
                    if inspect.isawaitable(outcome):
                        await outcome
            except DatabaseError as error:
                raise MigrationError(
                    f"migration step {number} failed and was rolled back (the file stays "
                    f"at version {version}): {error}", number) from error
            await tx.execute(f"PRAGMA user_version = {number}")
        applied.append(number)
    return applied


def _check_not_newer(version: int, last: int) -> None:
    if version > last:
        raise MigrationError(
            f"the database is at schema version {version} but only {last} migration steps "
            "were given: it was migrated by a newer version of the app", version)
