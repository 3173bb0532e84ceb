"""Durable diff consumers: a named diff whose trigger and pending rows outlive every
connection, consumed by one connection at a time.

``track_table_diff(..., name=N, durable=True)`` makes a :class:`DurableConsumer`. Its diff
(triggers, storage table, view ``_tabsqlite_consumer_<N>``) is listed in
``_tabsqlite_durable_consumers``, which the orphan cleanup never reads, so nothing drops it
but :meth:`DurableConsumer.drop` or :meth:`~.triggers.TriggerManager.drop_durable`. Who
consumes is a hold (a Web Lock, an ``flock``): a connection asking while another consumes
waits in the background and takes over as soon as the hold is free: a closed consumer, a
closed tab, a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .diff_schema import create_diff, drop_diff, resolve_shape, table_exists
from .diff_tracking import ClosesOnExit, DiffContext, DiffServices, DiffTrigger, TableDiffTracker
from .errors import BadCallError, BusyError, HoldTakenError
from .identifiers import quote_identifier
from .names import CONSUMER_REGISTRY_TABLE, consumer_destination, consumer_hold_name, storage_table
from .runtime import Hold
from .transactions import Transaction, TransactionContext

__all__ = ["TAKEOVER_INTERVAL", "DurableConsumer", "drop_durable_diff"]

log = logging.getLogger("tabsqlite")

CONSUMERS = CONSUMER_REGISTRY_TABLE
#: Seconds between a waiting consumer's tries to take the hold (jittered by +-50%).
TAKEOVER_INTERVAL = 0.25


class DurableConsumer(ClosesOnExit):
    """A durable diff consumer: see :meth:`~.triggers.TriggerManager.track_table_diff`.

    Active while this connection consumes the diff (:attr:`active`); otherwise it waits in
    the background for the connection that consumes it to let go, then takes over and
    first hands over every row recorded meanwhile. :meth:`close` stops consuming and keeps
    the diff recording; :meth:`drop` removes it with its pending rows.

    :param services: the database's runner, feed, background tasks, holds and path.
    :param name: the consumer's name.
    :param source: the tracked table.
    :param ops: the tracked operations with their conditions (checked).
    :param columns: the recorded columns (``None``: all).
    :param id_column: the column recorded as ``id``.
    :param on_change: ``async def on_change(ctx: DiffContext)``.
    :param throttle_ms: the least time between two calls, in milliseconds.
    :param on_closed: called with the consumer once it has closed.
    """

    def __init__(
        self,
        services: DiffServices,
        name: str,
        source: str,
        ops: dict[str, str | None],
        columns: Sequence[str] | None,
        id_column: str,
        on_change: Callable[[DiffContext], Awaitable[Any]],
        throttle_ms: float,
        on_closed: Callable[[DurableConsumer], None],
    ) -> None:
        self._services = services
        self.name = name
        #: The diff view (``DELETE`` works through it, like any diff).
        self.destination = consumer_destination(name)
        self._source = source
        self._ops = ops
        self._columns = columns
        self._id_column = id_column
        self._on_change = on_change
        self._throttle_ms = throttle_ms
        self._on_closed = on_closed
        self._hold: Hold | None = None
        self._tracker: TableDiffTracker | None = None
        self._waiting: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._failure: BaseException | None = None
        self.closed = False

    @property
    def active(self) -> bool:
        """True while this connection is the one consuming the diff."""
        return self._tracker is not None

    @property
    def calls(self) -> int:
        """How many times ``on_change`` was called since this connection took over."""
        return self._tracker.calls if self._tracker is not None else 0

    @property
    def rows_delivered(self) -> int:
        """How many diff rows ``on_change`` was given since this connection took over."""
        return self._tracker.rows_delivered if self._tracker is not None else 0

    @property
    def errors(self) -> int:
        """How many times ``on_change`` raised (its rows are offered again)."""
        return self._tracker.errors if self._tracker is not None else 0

    async def try_take_over(self) -> bool:
        """Consume the diff now if nobody else does (creating or repairing it); return
        False if another connection has it. Used by ``track_table_diff`` and the waiting."""
        services = self._services
        try:
            hold = await services.holds.acquire(consumer_hold_name(services.path, self.name))
        except HoldTakenError:
            return False
        try:
            async with TransactionContext(services.runner, write=True) as tx:
                trigger_id, names = await self._take_over(tx)
        except BaseException:
            await hold.release()
            raise
        self._hold = hold
        trigger = DiffTrigger(services.runner, services.holds, trigger_id, self._source,
                              self.destination, names, True, None)
        self._tracker = TableDiffTracker(services.runner, services.feed, trigger,
                                         self._on_change, self._throttle_ms)
        self._tracker.start(services.background)
        self._settled.set()
        return True

    async def _take_over(self, tx: Transaction) -> tuple[str, list[str]]:
        """Under the hold: make sure the diff exists with this definition; its id and
        trigger names."""
        await _ensure_registry(tx)
        shape = await resolve_shape(tx, self._source, self._ops, self._columns,
                                    self._id_column)
        spec = json.dumps(shape.spec(), sort_keys=True)
        row = await tx.get_optional(
            f"SELECT trigger_id, triggers, spec FROM {CONSUMERS} WHERE name = ?", [self.name]
        )
        if row is not None and row["spec"] != spec:
            pending = await _pending(tx, self.destination)
            if pending:
                raise BadCallError(
                    f"durable consumer {self.name!r} has {pending} pending row(s) recorded "
                    f"as {_describe(json.loads(str(row['spec'])))}, not "
                    f"{_describe(shape.spec())}: consume them with that definition, or "
                    f"drop them with db.triggers.drop_durable({self.name!r}) (a table that "
                    "gains columns changes a definition without columns=[...])"
                )
            await drop_diff(tx, json.loads(str(row["triggers"])), self.destination, True)
            await tx.execute(f"DELETE FROM {CONSUMERS} WHERE name = ?", [self.name])
            row = None
        if row is not None:
            names = [str(n) for n in json.loads(str(row["triggers"]))]
            if await _intact(tx, names, self.destination):
                return str(row["trigger_id"]), names
            # Its table was rebuilt (DROP TABLE takes its triggers along): record again,
            # keeping the rows recorded so far.
            trigger_id = str(row["trigger_id"])
        else:
            trigger_id = secrets.token_hex(6)
        names = await create_diff(tx, trigger_id, self.destination, shape, True,
                                  keep_existing=True)
        await tx.execute(
            f"INSERT OR REPLACE INTO {CONSUMERS} (name, trigger_id, source, destination, "
            "triggers, spec, created_at) VALUES (?, ?, ?, ?, ?, ?, "
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            [self.name, trigger_id, shape.source, self.destination, json.dumps(names), spec],
        )
        return trigger_id, names

    def wait_in_background(self) -> None:
        """Try again every :data:`TAKEOVER_INTERVAL` seconds until this connection consumes
        the diff, or a take-over fails for good (the consumer closes, and :meth:`wait_active`
        raises why)."""
        self._waiting = self._services.background.spawn(self._wait())

    async def _wait(self) -> None:
        while True:
            await asyncio.sleep(TAKEOVER_INTERVAL * random.uniform(0.5, 1.5))
            try:
                if await self.try_take_over():
                    return
            except BusyError:
                continue  # the database is busy: the next try
            except Exception as error:
                log.warning("tabsqlite: durable consumer %r cannot take over", self.name,
                            exc_info=True)
                self._failure = error
                self.closed = True  # for good: the name is free for a corrected call
                self._settled.set()
                self._on_closed(self)
                return

    async def wait_active(self) -> None:
        """Wait until this connection consumes the diff.

        Raises what made a background take-over fail (e.g. a changed definition with pending
        rows), or :class:`BadCallError` once the consumer is closed.
        """
        await self._settled.wait()
        if self._failure is not None:
            raise self._failure
        if self.closed:
            raise BadCallError(f"durable consumer {self.name!r} is closed")

    async def drain(self) -> int:
        """Hand the pending diff to ``on_change`` now; returns the number of rows.

        Raises :class:`BadCallError` while another connection consumes the diff.
        """
        if self._tracker is None:
            state = "closed" if self.closed else "waiting: another connection consumes it"
            raise BadCallError(f"durable consumer {self.name!r} is {state}")
        return await self._tracker.drain()

    async def close(self) -> None:
        """Stop consuming (or waiting) and let the next connection take over; the diff goes
        on recording."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._waiting is not None:
                self._waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._waiting
            tracker, self._tracker = self._tracker, None
            if tracker is not None:
                await tracker.stop()
        finally:
            hold, self._hold = self._hold, None
            if hold is not None:
                await hold.release()
            self._settled.set()
            self._on_closed(self)

    async def drop(self) -> bool:
        """Close, and remove the diff with its pending rows and triggers; False if there
        was none (dropped meanwhile by another connection).

        Raises :class:`HoldTakenError` if another connection consumes it.
        """
        if self._tracker is None:
            await self.close()
            return await drop_durable_diff(self._services, self.name)
        await self._tracker.stop()
        async with TransactionContext(self._services.runner, write=True) as tx:
            dropped = await _drop_named(tx, self.name)  # still under this consumer's hold
        await self.close()
        return dropped

    async def aclose(self) -> None:
        """:meth:`close` (what ``async with`` ends with)."""
        await self.close()


async def drop_durable_diff(services: DiffServices, name: str) -> bool:
    """Remove the durable diff ``name`` nobody consumes; False if there was none.

    :param services: the database's runner, holds and path.
    :param name: the consumer's name.
    """
    try:
        hold = await services.holds.acquire(consumer_hold_name(services.path, name))
    except HoldTakenError:
        raise HoldTakenError(
            f"durable consumer {name!r} is consumed by another connection; close it there"
        ) from None
    try:
        async with TransactionContext(services.runner, write=True) as tx:
            return await _drop_named(tx, name)
    finally:
        await hold.release()


async def _drop_named(tx: Transaction, name: str) -> bool:
    if not await table_exists(tx, CONSUMERS):
        return False
    row = await tx.get_optional(
        f"SELECT triggers, destination FROM {CONSUMERS} WHERE name = ?", [name]
    )
    if row is None:
        return False
    await drop_diff(tx, json.loads(str(row["triggers"])), str(row["destination"]), True)
    await tx.execute(f"DELETE FROM {CONSUMERS} WHERE name = ?", [name])
    return True


async def _ensure_registry(tx: Transaction) -> None:
    await tx.execute(
        f"CREATE TABLE IF NOT EXISTS {CONSUMERS} (name TEXT PRIMARY KEY, "
        "trigger_id TEXT NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL, "
        "triggers TEXT NOT NULL, spec TEXT NOT NULL, created_at TEXT NOT NULL)"
    )


async def _intact(tx: Transaction, triggers: list[str], destination: str) -> bool:
    """True if every trigger, the view and the storage table of a diff exist."""
    wanted = {*triggers, destination, storage_table(destination)}
    marks = ", ".join("?" for _ in wanted)
    row = await tx.get(
        f"SELECT count(*) AS n FROM sqlite_schema WHERE name IN ({marks})", list(wanted)
    )
    return int(row["n"]) == len(wanted)


async def _pending(tx: Transaction, destination: str) -> int:
    storage = storage_table(destination)
    if not await table_exists(tx, storage):
        return 0
    row = await tx.get(f"SELECT count(*) AS n FROM {quote_identifier(storage)}")
    return int(row["n"])


def _describe(spec: dict[str, Any]) -> str:
    ops = ", ".join(f"{op}" + (f" WHEN {cond}" if cond else "")
                    for op, cond in spec["ops"].items())
    return f"{spec['source']}({', '.join(spec['tracked'])}) on {ops}"

