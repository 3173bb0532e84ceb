"""Reading a diff: the :class:`DiffTrigger` handle, the :class:`TableDiffTracker` that hands
pending rows to a callback after relevant commits, and the :class:`DiffContext` it gets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from .background import Background
from .changes import SubscriptionClosed, throttled_wait
from .diff_schema import DIFF_COLUMNS, drop_diff, table_exists
from .feed import ChangeFeed
from .identifiers import quote_identifier
from .names import REGISTRY_TABLE, storage_table
from .queries import Queries, Row
from .runner import Runner
from .runtime import Hold, HoldManager
from .transactions import Transaction, TransactionContext

__all__ = ["ClosesOnExit", "DiffContext", "DiffServices", "DiffTrigger", "TableDiffTracker",
           "drop_registered", "registry_exists"]

log = logging.getLogger("tabsqlite")

REGISTRY = REGISTRY_TABLE


@dataclass(frozen=True, slots=True)
class DiffServices:
    """What the diff triggers, trackers and consumers of one database work with.

    :param runner: where their statements run.
    :param feed: the change feed trackers listen to.
    :param background: where trackers, waiting consumers and the cleanup run.
    :param holds: the database's hold manager.
    :param path: the database's canonical path (hold names are scoped to it).
    """

    runner: Runner
    feed: ChangeFeed
    background: Background
    holds: HoldManager
    path: str


class ClosesOnExit:
    """``async with`` gives the object and ends with its :meth:`aclose`."""

    async def aclose(self) -> None:
        """What leaving the ``async with`` block does."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class DiffContext:
    """What a :func:`track_table_diff` callback gets: the pending diff, inside the write
    transaction that will clear it.

    :param tx: the write transaction that clears the rows once the callback returns.
    :param destination: the diff view's name.
    :param rows: the pending diff rows, oldest first.
    """

    def __init__(self, tx: Transaction, destination: str, rows: list[Row]) -> None:
        #: The transaction; write to your own tables through it.
        self.tx = tx
        self.destination = destination
        self._rows = rows
        self._last = int(rows[-1]["operation_id"]) if rows else 0

    def diff_rows(self) -> list[Row]:
        """The pending diff rows, oldest first; ``value``/``previous_value`` decoded."""
        out = []
        for row in self._rows:
            decoded = dict(row)
            for col in ("value", "previous_value"):
                if decoded[col] is not None:
                    decoded[col] = json.loads(decoded[col])
            out.append(decoded)
        return out

    def diff_sql(self) -> str:
        """A ``SELECT`` of exactly the pending diff rows."""
        return (
            f"SELECT {DIFF_COLUMNS} FROM {quote_identifier(self.destination)} "
            f"WHERE operation_id <= {self._last}"
        )

    async def with_diff(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
                        ) -> list[Row]:
        """Run ``sql`` with the pending diff available as the CTE ``DIFF``.

        :param sql: a query that reads ``DIFF`` (it may start with its own ``WITH``).
        :param params: its values.
        """
        cte = f"DIFF AS ({self.diff_sql()})"
        stripped = sql.lstrip()
        if stripped[:4].upper() == "WITH" and stripped[4:5].isspace():
            rest = stripped[4:].lstrip()
            if rest[:9].upper() == "RECURSIVE" and rest[9:10].isspace():
                full = f"WITH RECURSIVE {cte}, {rest[9:].lstrip()}"
            else:
                full = f"WITH {cte}, {rest}"
        else:
            full = f"WITH {cte} {sql}"
        return await self.tx.get_all(full, params)


class DiffTrigger(ClosesOnExit):
    """A managed diff trigger; :meth:`dispose` drops its triggers, view and table.

    Made by :meth:`TriggerManager.create_diff_trigger`:

    :param runner: where its statements run.
    :param holds: the manager of its hold.
    :param trigger_id: its id (in its trigger names and in the registry).
    :param source: the table it tracks.
    :param destination: the diff view.
    :param trigger_names: the SQLite triggers it consists of.
    :param persisted: True if the triggers and tables are in the file (not TEMP).
    :param hold: the hold that guards it (``None`` for a temporary trigger).
    :param on_disposed: called with its id once :meth:`dispose` begins.
    """

    def __init__(
        self,
        runner: Runner,
        holds: HoldManager,
        trigger_id: str,
        source: str,
        destination: str,
        trigger_names: list[str],
        persisted: bool,
        hold: Hold | None,
        on_disposed: Callable[[str], None] | None = None,
    ) -> None:
        self._runner = runner
        self._holds = holds
        self._on_disposed = on_disposed
        self.id = trigger_id
        self.source = source
        self.destination = destination
        self.trigger_names = trigger_names
        self.persisted = persisted
        self._hold = hold
        self.disposed = False

    async def dispose(self) -> None:
        """Drop the triggers, the destination view and its table, and release the hold."""
        if self.disposed:
            return
        self.disposed = True
        if self._on_disposed is not None:
            self._on_disposed(self.id)
        try:
            async with TransactionContext(self._runner, write=True) as tx:
                await drop_registered(tx, self.trigger_names, self.destination, self.id,
                                      self.persisted)
        finally:
            await self.release_hold()

    async def release_hold(self) -> None:
        """Let go of the hold only (the trigger becomes an orphan for the next cleanup)."""
        hold, self._hold = self._hold, None
        if hold is not None:
            await hold.release()
            await self._holds.forget(hold.name)

    async def aclose(self) -> None:
        """:meth:`dispose` (what ``async with`` ends with)."""
        await self.dispose()


async def drop_registered(tx: Transaction, triggers: Iterable[str], destination: str,
                          trigger_id: str, persisted: bool) -> None:
    """Drop a registered diff trigger's objects and its registry entry.

    :param tx: a write transaction.
    :param triggers: its triggers' names.
    :param destination: its diff view.
    :param trigger_id: its registry id.
    :param persisted: in the file (else TEMP: no registry entry).
    """
    await drop_diff(tx, triggers, destination, persisted)
    if persisted and await registry_exists(tx):
        await tx.execute(f"DELETE FROM {REGISTRY} WHERE id = ?", [trigger_id])


async def registry_exists(tx: Queries) -> bool:
    """True if the database has the diff trigger registry.

    :param tx: where to look.
    """
    return await table_exists(tx, REGISTRY)


class TableDiffTracker(ClosesOnExit):
    """Calls ``on_change(ctx)`` with pending diffs after relevant commits; see
    :meth:`TriggerManager.track_table_diff`. Stop it with :meth:`close`.

    :param runner: where the diff is read and cleared.
    :param feed: the change feed that says when the diff table changed.
    :param trigger: the diff trigger it reads.
    :param on_change: the async callback, given a :class:`DiffContext`.
    :param throttle_ms: the least time between two calls, in milliseconds.
    """

    def __init__(
        self,
        runner: Runner,
        feed: ChangeFeed,
        trigger: DiffTrigger,
        on_change: Callable[[DiffContext], Awaitable[Any]],
        throttle_ms: float,
    ) -> None:
        self._runner = runner
        self.trigger = trigger
        self._on_change = on_change
        self._throttle_ms = throttle_ms
        self._sub = feed.subscribe([storage_table(trigger.destination)])
        self._task: asyncio.Task[None] | None = None
        #: How many times ``on_change`` was called, and how many diff rows it was given.
        self.calls = 0
        self.rows_delivered = 0
        self.errors = 0

    def start(self, background: Background) -> None:
        """Call ``on_change`` from a task of ``background`` until stopped.

        :param background: the connection's background tasks.
        """
        self._task = background.spawn(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                self.errors += 1
                log.exception("tabsqlite: track_table_diff callback failed; will retry")
            try:
                await throttled_wait(self._sub, time.monotonic(), self._throttle_ms)
            except SubscriptionClosed:
                return

    async def drain(self) -> int:
        """Hand the pending diff to ``on_change`` now; returns the number of rows."""
        dest = quote_identifier(self.trigger.destination)
        storage = quote_identifier(storage_table(self.trigger.destination))
        if await self._runner.get_optional(f"SELECT 1 AS x FROM {storage} LIMIT 1") is None:
            return 0
        async with TransactionContext(self._runner, write=True) as tx:
            rows = await tx.get_all(f"SELECT {DIFF_COLUMNS} FROM {dest} ORDER BY operation_id")
            if not rows:
                return 0
            ctx = DiffContext(tx, self.trigger.destination, rows)
            await self._on_change(ctx)
            await tx.execute(f"DELETE FROM {storage} WHERE operation_id <= ?", [ctx._last])
        self.calls += 1
        self.rows_delivered += len(rows)
        return len(rows)

    async def stop(self) -> None:
        """Stop calling ``on_change``; the trigger goes on recording."""
        self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def close(self) -> None:
        """Stop tracking; drop the trigger and its table."""
        await self.stop()
        await self.trigger.dispose()

    async def aclose(self) -> None:
        """:meth:`close` (what ``async with`` ends with)."""
        await self.close()
