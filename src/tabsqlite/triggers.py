"""Managed diff triggers: record INSERT/UPDATE/DELETE of a table into a diff table.

Persisted triggers (the default for file databases) are real triggers and tables, so writes
from every connection are captured. Each is guarded by a *hold* taken before it is created;
on open (and every ``cleanup_interval`` seconds) triggers whose hold nobody has are orphans
of dead connections and are dropped with their tables. A registry table
``_tabsqlite_diff_triggers`` lists them; trigger names carry the ``_tabsqlite_`` prefix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, overload

from .background import Background
from .consumers import DurableConsumer, drop_durable_diff
from .diff_schema import When, check_diff_call, create_diff, resolve_shape
from .diff_tracking import (
    DiffContext,
    DiffServices,
    DiffTrigger,
    TableDiffTracker,
    drop_registered,
    registry_exists,
)
from .errors import BadCallError, HoldTakenError
from .feed import ChangeFeed
from .identifiers import validate_identifier
from .names import REGISTRY_TABLE, hold_name, tracker_destination
from .runner import Runner
from .runtime import Hold, HoldManager
from .transactions import Transaction, TransactionContext

__all__ = ["TriggerManager"]

log = logging.getLogger("tabsqlite")

REGISTRY = REGISTRY_TABLE  # (short: it appears in many statements below)


class TriggerManager:
    """``db.triggers``: create diff triggers, track table diffs, drop orphans.

    :param runner: where the trigger statements run.
    :param feed: the change feed trackers listen to.
    :param background: where trackers and the orphan cleanup run.
    :param holds: the holds that guard persisted triggers.
    :param path: the database's canonical path (hold names are scoped to it).
    :param shared: True for a file other connections may open (triggers persist by default).
    :param cleanup_interval: seconds between orphan cleanups (0: only at start).
    """

    def __init__(
        self,
        runner: Runner,
        feed: ChangeFeed,
        background: Background,
        holds: HoldManager,
        path: str,
        shared: bool,
        cleanup_interval: float = 60.0,
    ) -> None:
        self._services = DiffServices(runner, feed, background, holds, path)
        self._shared = shared
        self._handles: dict[str, DiffTrigger] = {}
        self._trackers: set[TableDiffTracker] = set()
        self._consumers: set[DurableConsumer] = set()
        self.cleanup_interval = cleanup_interval
        self._cleanup_task: asyncio.Task[Any] | None = None

    def _forget_handle(self, trigger_id: str) -> None:
        self._handles.pop(trigger_id, None)

    @property
    def default_persisted(self) -> bool:
        """Persisted for file databases (several connections), temporary for memory ones."""
        return self._shared

    async def start(self) -> None:
        """Drop orphans now and schedule periodic cleanup (called by ``open_database``)."""
        await self.cleanup_orphans()
        if self._cleanup_task is None and self.default_persisted and self.cleanup_interval > 0:
            self._cleanup_task = self._services.background.spawn(self._cleanup_loop())

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cleanup_interval)
            try:
                await self.cleanup_orphans()
            except Exception:
                log.warning("tabsqlite: orphan cleanup failed", exc_info=True)

    async def cleanup_orphans(self) -> list[str]:
        """Drop persisted diff triggers (and tables) whose hold nobody has; return their ids."""
        runner = self._services.runner
        if not self._shared or not await registry_exists(runner):
            return []
        rows = await runner.get_all(f"SELECT id, hold, destination, triggers FROM {REGISTRY}")
        dropped = []
        for row in rows:
            if row["id"] in self._handles:
                continue
            try:
                probe = await self._services.holds.acquire(row["hold"])
            except HoldTakenError:
                continue
            try:
                async with TransactionContext(runner, write=True) as tx:
                    still = await tx.get_optional(
                        f"SELECT 1 AS ok FROM {REGISTRY} WHERE id = ?", [row["id"]]
                    )
                    if still is not None:
                        await drop_registered(tx, json.loads(row["triggers"]),
                                              row["destination"], row["id"], True)
                        dropped.append(row["id"])
            finally:
                await probe.release()
                await self._services.holds.forget(row["hold"])
        return dropped

    async def create_diff_trigger(
        self,
        *,
        source: str,
        destination: str,
        when: When,
        columns: Sequence[str] | None = None,
        id_column: str = "id",
        persisted: bool | None = None,
        before_create: Callable[[Transaction], Awaitable[Any]] | None = None,
    ) -> DiffTrigger:
        """Record changes of table ``source``, readable as the new view ``destination``.

        ``when`` maps the operations to track (``"INSERT"``, ``"UPDATE"``, ``"DELETE"``) to a
        SQL condition on ``NEW``/``OLD`` (or ``None`` for every row). The triggers store plain
        values in ``_tabsqlite_log_<destination>``; the view (which takes ``DELETE``) has
        ``operation_id`` (increasing in the order of the changes; a rowid, so ids of deleted
        newest rows are used again), ``id`` (the row's ``id_column``), ``operation``,
        ``timestamp`` (ISO 8601 UTC, ms), ``value`` (JSON of ``columns`` of NEW, or OLD for
        DELETE; all columns when ``None``, ``{}`` for ``[]``) and ``previous_value`` (JSON of
        OLD, UPDATE only).

        :param source: the table to track.
        :param destination: the name of the new diff view.
        :param when: the operations to track, each with a condition or ``None``.
        :param columns: the columns recorded in ``value`` (``None``: all).
        :param id_column: the column recorded as ``id`` (``"rowid"`` works too).
        :param persisted: keep the triggers and tables in the file, where every connection
            writes through them (``None``: :attr:`default_persisted`).
        :param before_create: ``async def before_create(tx)``, run in the same transaction
            just before the triggers exist (e.g. to snapshot the table).
        """
        runner = self._services.runner
        runner.check_open()
        validate_identifier(destination, "destination")
        ops = check_diff_call(source, when, columns, id_column)
        if persisted is None:
            persisted = self.default_persisted
        trigger_id = secrets.token_hex(6)
        hold: Hold | None = None
        try:
            async with TransactionContext(runner, write=True) as tx:
                shape = await resolve_shape(tx, source, ops, columns, id_column)
                if persisted:
                    await self._ensure_registry(tx)
                    hold = await self._services.holds.acquire(
                        hold_name(self._services.path, trigger_id))
                trigger_names = await create_diff(tx, trigger_id, destination, shape,
                                                  persisted, before_create)
                if persisted:
                    assert hold is not None
                    await tx.execute(
                        f"INSERT INTO {REGISTRY} (id, hold, source, destination, triggers, "
                        "created_at) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                        [trigger_id, hold.name, source, destination, json.dumps(trigger_names)],
                    )
        except BaseException:
            if hold is not None:
                await hold.release()
                await self._services.holds.forget(hold.name)
            raise
        handle = DiffTrigger(runner, self._services.holds, trigger_id, source, destination,
                             trigger_names, persisted, hold, self._forget_handle)
        self._handles[trigger_id] = handle
        return handle

    @overload
    async def track_table_diff(
        self, *, source: str, when: When, on_change: Callable[[DiffContext], Awaitable[Any]],
        columns: Sequence[str] | None = None, id_column: str = "id",
        persisted: bool | None = None, throttle_ms: float = 30, name: None = None,
        durable: Literal[False] = False,
    ) -> TableDiffTracker: ...

    @overload
    async def track_table_diff(
        self, *, source: str, when: When, on_change: Callable[[DiffContext], Awaitable[Any]],
        columns: Sequence[str] | None = None, id_column: str = "id",
        persisted: bool | None = None, throttle_ms: float = 30, name: str,
        durable: Literal[True],
    ) -> DurableConsumer: ...

    @overload
    async def track_table_diff(
        self, *, source: str, when: When, on_change: Callable[[DiffContext], Awaitable[Any]],
        columns: Sequence[str] | None = None, id_column: str = "id",
        persisted: bool | None = None, throttle_ms: float = 30, name: str | None = None,
        durable: bool = False,
    ) -> TableDiffTracker | DurableConsumer: ...

    async def track_table_diff(
        self,
        *,
        source: str,
        when: When,
        on_change: Callable[[DiffContext], Awaitable[Any]],
        columns: Sequence[str] | None = None,
        id_column: str = "id",
        persisted: bool | None = None,
        throttle_ms: float = 30,
        name: str | None = None,
        durable: bool = False,
    ) -> TableDiffTracker | DurableConsumer:
        """Track ``source`` with a diff trigger of our own and call ``on_change(ctx)`` with
        the pending diff after relevant commits (this connection's and others').

        ``on_change`` runs inside a write transaction that also clears the rows it was
        given, so each diff row is delivered once; if it raises, nothing is cleared and the
        rows are offered again after the next change.

        By default the trigger belongs to this connection: closing the tracker or the
        connection drops it, and a dead connection's is dropped as an orphan. With
        ``durable=True`` it belongs to the file under ``name``: the trigger and its pending
        rows stay when every connection has closed, and whoever asks for ``name`` next takes
        them over (see :class:`~tabsqlite.consumers.DurableConsumer`). One connection at a
        time consumes; another one asking gets a consumer that waits and takes over when
        the first lets go (``await consumer.wait_active()``).

        :param source: the table to track.
        :param when: the operations to track, each with a condition or ``None`` (see
            :meth:`create_diff_trigger`).
        :param on_change: ``async def on_change(ctx: DiffContext)``.
        :param columns: the columns recorded (``None``: all).
        :param id_column: the column recorded as the row's ``id``.
        :param persisted: keep the trigger in the file (``None``: the default, see
            :attr:`default_persisted`; a durable one always is).
        :param throttle_ms: the least time between two calls, in milliseconds.
        :param name: the durable consumer's name (an identifier; with ``durable=True``).
        :param durable: keep the trigger and pending rows for the next consumer of ``name``.
        """
        if not callable(on_change):
            raise BadCallError("on_change must be an async callable")
        if durable is not False or name is not None:
            return await self._consume_durable(source, when, on_change, columns, id_column,
                                               persisted, throttle_ms, name, durable)
        trigger_id = secrets.token_hex(6)
        trigger = await self.create_diff_trigger(
            source=source, destination=tracker_destination(trigger_id), when=when,
            columns=columns, id_column=id_column, persisted=persisted,
        )
        services = self._services
        tracker = TableDiffTracker(services.runner, services.feed, trigger, on_change,
                                   throttle_ms)
        self._trackers.add(tracker)
        tracker.start(services.background)
        return tracker

    async def _consume_durable(
        self, source: str, when: When, on_change: Callable[[DiffContext], Awaitable[Any]],
        columns: Sequence[str] | None, id_column: str, persisted: bool | None,
        throttle_ms: float, name: str | None, durable: bool,
    ) -> DurableConsumer:
        if durable is not True:
            raise BadCallError("name= is for durable consumers: pass durable=True as well")
        if name is None:
            raise BadCallError("a durable consumer needs a name=")
        validate_identifier(name, "name")
        if persisted is False:
            raise BadCallError("a durable consumer is always persisted (persisted=False)")
        self._services.runner.check_open()
        ops = check_diff_call(source, when, columns, id_column)
        if any(c.name == name for c in self._consumers):
            raise BadCallError(f"this connection already has a durable consumer {name!r}")
        consumer = DurableConsumer(
            self._services, name, source, ops, columns, id_column, on_change, throttle_ms,
            self._consumers.discard,
        )
        self._consumers.add(consumer)
        try:
            if not await consumer.try_take_over():
                consumer.wait_in_background()
        except BaseException:
            await consumer.close()
            raise
        return consumer

    async def drop_durable(self, name: str) -> bool:
        """Remove the durable consumer ``name``'s trigger, diff and pending rows; False if
        there was none. Raises :class:`HoldTakenError` while another connection consumes it.

        :param name: the consumer's name.
        """
        validate_identifier(name, "name")
        mine = next((c for c in self._consumers if c.name == name), None)
        if mine is not None:
            return await mine.drop()
        return await drop_durable_diff(self._services, name)

    async def close(self) -> None:
        """Stop trackers and dispose of this connection's triggers (used by ``close``);
        durable consumers stop and let go, their triggers stay."""
        if self._cleanup_task is not None:
            self._cleanup_task.cancel()
        for consumer in list(self._consumers):
            try:
                await consumer.close()
            except Exception:
                log.warning("tabsqlite: could not close durable consumer %r", consumer.name,
                            exc_info=True)
        for tracker in list(self._trackers):
            try:
                await tracker.close()
            except Exception:
                log.warning("tabsqlite: could not drop a tracker's trigger", exc_info=True)
        self._trackers.clear()
        for handle in list(self._handles.values()):
            try:
                await handle.dispose()
            except Exception:
                log.warning("tabsqlite: could not drop diff trigger %s", handle.id,
                            exc_info=True)

    async def release_holds(self) -> None:
        """Release every hold still owned (their triggers become orphans)."""
        for consumer in list(self._consumers):
            await consumer.close()
        for handle in list(self._handles.values()):
            await handle.release_hold()

    @staticmethod
    async def _ensure_registry(tx: Transaction) -> None:
        await tx.execute(
            f"CREATE TABLE IF NOT EXISTS {REGISTRY} (id TEXT PRIMARY KEY, hold TEXT NOT NULL, "
            "source TEXT NOT NULL, destination TEXT NOT NULL, triggers TEXT NOT NULL, "
            "created_at TEXT NOT NULL)"
        )
