"""Managed diff triggers: record INSERT/UPDATE/DELETE of a table into a diff table.

Persisted triggers (the default for file databases) are real triggers and tables, so writes
from every connection are captured. Each is guarded by a *hold* taken before it is created;
on open (and every ``cleanup_interval`` seconds) triggers whose hold nobody has are orphans
of dead connections and are dropped with their tables. A registry table
``_tabsqlite_diff_triggers`` lists them; trigger names carry the ``_tabsqlite_`` prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from .background import Background
from .changes import SubscriptionClosed, throttled_wait
from .errors import BadCallError, HoldTakenError, NoSuchTableError
from .feed import ChangeFeed
from .identifiers import check_expression, quote_identifier, validate_identifier
from .names import (
    REGISTRY_TABLE,
    hold_name,
    managed_trigger_name,
    storage_table,
    tracker_destination,
)
from .queries import Queries, Row
from .runner import Runner
from .runtime import Hold, HoldManager
from .transactions import Transaction, TransactionContext

__all__ = ["DiffContext", "DiffTrigger", "TableDiffTracker", "TriggerManager"]

log = logging.getLogger("tabsqlite")

REGISTRY = REGISTRY_TABLE  # (short: it appears in many statements below)
OPERATIONS = ("INSERT", "UPDATE", "DELETE")
_JSON_CHUNK = 50  # columns per json_object() call (SQLite allows 127 arguments by default)
_MAX_TRACKED_COLUMNS = 990  # two stored copies each, under SQLite's 2000-column limit
_DIFF_COLUMNS = "operation_id, id, operation, timestamp, value, previous_value"

When = Mapping[str, str | None]


def _json_of(names: Sequence[str], prefix: str) -> str:
    """SQL for the JSON object of stored copies ``<prefix>0..`` keyed by ``names`` (blobs as
    hex text): a column of the diff view, computed when the row is read."""
    if not names:
        return "json_object()"
    parts = []
    for start in range(0, len(names), _JSON_CHUNK):
        args = []
        for i in range(start, min(start + _JSON_CHUNK, len(names))):
            q = f"{prefix}{i}"
            literal = "'" + names[i].replace("'", "''") + "'"
            args.append(f"{literal}, iif(typeof({q}) = 'blob', hex({q}), {q})")
        parts.append(f"json_object({', '.join(args)})")
    expr = parts[0]
    for part in parts[1:]:
        expr = f"json_patch({expr}, {part})"
    return expr


_OP_CODES = {"INSERT": 1, "UPDATE": 2, "DELETE": 3}


def _destination_sql(
    destination: str, columns: Sequence[str], temp: bool, with_previous: bool
) -> list[str]:
    """The diff: a storage table and, named ``destination``, a view of it (DELETE through the
    view works). Triggers store plain copies: the operation as a small integer, the time as a
    julian day number, the values (``_v<i>`` of NEW, or OLD for DELETE; ``_p<i>`` of OLD for
    UPDATE, only when UPDATE is tracked: unused columns still cost each stored row). The view
    formats them as the documented columns when read: building JSON and text on every write
    cost more than the write itself (and generated columns are computed on insert too), and
    so did AUTOINCREMENT (a read and a write of ``sqlite_sequence`` per row), so
    ``operation_id`` is the rowid."""
    n = len(columns)
    temp_sql = "TEMP " if temp else ""
    storage = quote_identifier(storage_table(destination))
    view = quote_identifier(destination)
    stored = "".join(f", _v{i}" for i in range(n))
    previous = "NULL"
    if with_previous:
        stored += "".join(f", _p{i}" for i in range(n))
        previous = f"iif(_op = {_OP_CODES['UPDATE']}, {_json_of(columns, '_p')}, NULL)"
    operation = " ".join(f"WHEN {code} THEN '{op}'" for op, code in _OP_CODES.items())
    return [
        f"CREATE {temp_sql}TABLE {storage} (operation_id INTEGER PRIMARY KEY, id, _op, _at"
        f"{stored})",
        f"CREATE {temp_sql}VIEW {view} AS SELECT operation_id, id, "
        f"CASE _op {operation} END AS operation, "
        "strftime('%Y-%m-%dT%H:%M:%fZ', _at) AS timestamp, "
        f"{_json_of(columns, '_v')} AS value, "
        f"{previous} AS previous_value "
        f"FROM {storage}",
    ]


def _view_delete_sql(name: str, destination: str, temp: bool) -> str:
    return (
        f"CREATE {'TEMP ' if temp else ''}TRIGGER {quote_identifier(name)} INSTEAD OF DELETE "
        f"ON {quote_identifier(destination)} BEGIN DELETE FROM "
        f"{quote_identifier(storage_table(destination))} "
        "WHERE operation_id = OLD.operation_id; END"
    )


def _check_when(when: object) -> dict[str, str | None]:
    if not isinstance(when, Mapping) or not when:
        raise BadCallError(
            "when must be a non-empty mapping of 'INSERT'/'UPDATE'/'DELETE' to a SQL "
            "condition or None"
        )
    checked: dict[str, str | None] = {}
    for op, condition in when.items():
        if not isinstance(op, str) or op.upper() not in OPERATIONS:
            raise BadCallError(f"unknown operation {op!r} in when")
        checked[op.upper()] = (
            None if condition is None else check_expression(condition, f"when[{op!r}]")
        )
    return checked


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
            f"SELECT {_DIFF_COLUMNS} FROM {quote_identifier(self.destination)} "
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


class DiffTrigger:
    """A managed diff trigger; :meth:`dispose` drops its triggers, view and table.

    Made by :meth:`TriggerManager.create_diff_trigger`:

    :param manager: the manager that made it.
    :param trigger_id: its id (in its trigger names and in the registry).
    :param source: the table it tracks.
    :param destination: the diff view.
    :param trigger_names: the SQLite triggers it consists of.
    :param persisted: True if the triggers and tables are in the file (not TEMP).
    :param hold: the hold that guards it (``None`` for a temporary trigger).
    """

    def __init__(
        self,
        manager: TriggerManager,
        trigger_id: str,
        source: str,
        destination: str,
        trigger_names: list[str],
        persisted: bool,
        hold: Hold | None,
    ) -> None:
        self._manager = manager
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
        self._manager._handles.pop(self.id, None)
        try:
            async with TransactionContext(self._manager._runner, write=True) as tx:
                await _drop(tx, self.trigger_names, self.destination, self.id, self.persisted)
        finally:
            await self.release_hold()

    async def release_hold(self) -> None:
        """Let go of the hold only (the trigger becomes an orphan for the next cleanup)."""
        hold, self._hold = self._hold, None
        if hold is not None:
            await hold.release()
            await self._manager._holds.forget(hold.name)

    async def __aenter__(self) -> DiffTrigger:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.dispose()


async def _drop(tx: Transaction, triggers: Iterable[str], destination: str, trigger_id: str,
                persisted: bool) -> None:
    schema = "main" if persisted else "temp"
    for name in triggers:
        await tx.execute(f"DROP TRIGGER IF EXISTS {schema}.{quote_identifier(name)}")
    kind = await tx.get_optional(
        f"SELECT type FROM {schema}.sqlite_schema WHERE name = ? AND type IN ('view', 'table')",
        [destination],
    )
    if kind is not None:
        await tx.execute(f"DROP {str(kind['type']).upper()} {schema}."
                         f"{quote_identifier(destination)}")
    await tx.execute(
        f"DROP TABLE IF EXISTS {schema}.{quote_identifier(storage_table(destination))}"
    )
    if persisted and await _registry_exists(tx):
        await tx.execute(f"DELETE FROM {REGISTRY} WHERE id = ?", [trigger_id])


async def _registry_exists(tx: Queries) -> bool:
    row = await tx.get_optional(
        "SELECT 1 AS ok FROM sqlite_schema WHERE type = 'table' AND name = ?", [REGISTRY]
    )
    return row is not None


class TableDiffTracker:
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

    def _start(self, background: Background) -> None:
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
            rows = await tx.get_all(f"SELECT {_DIFF_COLUMNS} FROM {dest} ORDER BY operation_id")
            if not rows:
                return 0
            ctx = DiffContext(tx, self.trigger.destination, rows)
            await self._on_change(ctx)
            await tx.execute(f"DELETE FROM {storage} WHERE operation_id <= ?", [ctx._last])
        self.calls += 1
        self.rows_delivered += len(rows)
        return len(rows)

    async def close(self) -> None:
        """Stop tracking; drop the trigger and its table."""
        self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.trigger.dispose()

    async def __aenter__(self) -> TableDiffTracker:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


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
        self._runner = runner
        self._feed = feed
        self._background = background
        self._holds = holds
        self._path = path
        self._shared = shared
        self._handles: dict[str, DiffTrigger] = {}
        self._trackers: set[TableDiffTracker] = set()
        self.cleanup_interval = cleanup_interval
        self._cleanup_task: asyncio.Task[Any] | None = None

    @property
    def default_persisted(self) -> bool:
        """Persisted for file databases (several connections), temporary for memory ones."""
        return self._shared

    async def start(self) -> None:
        """Drop orphans now and schedule periodic cleanup (called by ``open_database``)."""
        await self.cleanup_orphans()
        if self._cleanup_task is None and self.default_persisted and self.cleanup_interval > 0:
            self._cleanup_task = self._background.spawn(self._cleanup_loop())

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cleanup_interval)
            try:
                await self.cleanup_orphans()
            except Exception:
                log.warning("tabsqlite: orphan cleanup failed", exc_info=True)

    async def cleanup_orphans(self) -> list[str]:
        """Drop persisted diff triggers (and tables) whose hold nobody has; return their ids."""
        runner = self._runner
        if not self._shared or not await _registry_exists(runner):
            return []
        rows = await runner.get_all(f"SELECT id, hold, destination, triggers FROM {REGISTRY}")
        dropped = []
        for row in rows:
            if row["id"] in self._handles:
                continue
            try:
                probe = await self._holds.acquire(row["hold"])
            except HoldTakenError:
                continue
            try:
                async with TransactionContext(runner, write=True) as tx:
                    still = await tx.get_optional(
                        f"SELECT 1 AS ok FROM {REGISTRY} WHERE id = ?", [row["id"]]
                    )
                    if still is not None:
                        await _drop(tx, json.loads(row["triggers"]), row["destination"],
                                    row["id"], True)
                        dropped.append(row["id"])
            finally:
                await probe.release()
                await self._holds.forget(row["hold"])
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
        runner = self._runner
        runner.check_open()
        validate_identifier(source, "source")
        validate_identifier(destination, "destination")
        ops = _check_when(when)
        validate_identifier(id_column, "id_column")
        if columns is not None:
            if isinstance(columns, str) or not isinstance(columns, Sequence):
                raise BadCallError("columns must be a list of column names or None")
            for col in columns:
                validate_identifier(col, "column")
        if persisted is None:
            persisted = self.default_persisted
        trigger_id = secrets.token_hex(6)
        delete_name = managed_trigger_name(trigger_id, "view_delete")
        trigger_names = [managed_trigger_name(trigger_id, op.lower()) for op in ops]
        hold: Hold | None = None
        try:
            async with TransactionContext(runner, write=True) as tx:
                info = await tx.get_all(
                    "SELECT name FROM pragma_table_info(?) ORDER BY cid", [source]
                )
                exists = await tx.get_optional(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ? "
                    "COLLATE NOCASE", [source]
                )
                if exists is None or not info:
                    raise NoSuchTableError(source)
                names = [str(r["name"]) for r in info]
                lower = {n.lower(): n for n in names}
                tracked = names if columns is None else [self._column(lower, c) for c in columns]
                id_ref = "rowid" if id_column.lower() in ("rowid", "oid", "_rowid_") and \
                    id_column.lower() not in lower else self._column(lower, id_column)
                if persisted:
                    await self._ensure_registry(tx)
                    hold = await self._holds.acquire(hold_name(self._path, trigger_id))
                if len(tracked) > _MAX_TRACKED_COLUMNS:
                    raise BadCallError(
                        f"{len(tracked)} columns are more than a diff table can hold "
                        f"({_MAX_TRACKED_COLUMNS}); pass columns=[...]"
                    )
                for sql in _destination_sql(destination, tracked, not persisted,
                                            with_previous="UPDATE" in ops):
                    await tx.execute(sql)
                if before_create is not None:
                    await before_create(tx)
                for op, name in zip(ops, trigger_names, strict=True):
                    await tx.execute(self._trigger_sql(
                        name, op, ops[op], source, destination, tracked, id_ref, persisted
                    ))
                await tx.execute(_view_delete_sql(delete_name, destination, not persisted))
                await self._compile_check(tx, source, ops, names[0])
                if persisted:
                    assert hold is not None
                    await tx.execute(
                        f"INSERT INTO {REGISTRY} (id, hold, source, destination, triggers, "
                        "created_at) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                        [trigger_id, hold.name, source, destination,
                         json.dumps([*trigger_names, delete_name])],
                    )
        except BaseException:
            if hold is not None:
                await hold.release()
                await self._holds.forget(hold.name)
            raise
        handle = DiffTrigger(self, trigger_id, source, destination,
                             [*trigger_names, delete_name], persisted, hold)
        self._handles[trigger_id] = handle
        return handle

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
    ) -> TableDiffTracker:
        """Track ``source`` with a diff trigger of our own and call ``on_change(ctx)`` with
        the pending diff after relevant commits (this connection's and others').

        ``on_change`` runs inside a write transaction that also clears the rows it was
        given, so each diff row is delivered once; if it raises, nothing is cleared and the
        rows are offered again after the next change.

        :param source: the table to track.
        :param when: the operations to track, each with a condition or ``None`` (see
            :meth:`create_diff_trigger`).
        :param on_change: ``async def on_change(ctx: DiffContext)``.
        :param columns: the columns recorded (``None``: all).
        :param id_column: the column recorded as the row's ``id``.
        :param persisted: keep the trigger in the file (``None``: the default, see
            :attr:`default_persisted`).
        :param throttle_ms: the least time between two calls, in milliseconds.
        """
        if not callable(on_change):
            raise BadCallError("on_change must be an async callable")
        trigger_id = secrets.token_hex(6)
        trigger = await self.create_diff_trigger(
            source=source, destination=tracker_destination(trigger_id), when=when,
            columns=columns, id_column=id_column, persisted=persisted,
        )
        tracker = TableDiffTracker(self._runner, self._feed, trigger, on_change, throttle_ms)
        self._trackers.add(tracker)
        tracker._start(self._background)
        return tracker

    async def close(self) -> None:
        """Stop trackers and dispose of this connection's triggers (used by ``close``)."""
        if self._cleanup_task is not None:
            self._cleanup_task.cancel()
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
        for handle in list(self._handles.values()):
            await handle.release_hold()

    @staticmethod
    def _column(lower: dict[str, str], name: str) -> str:
        try:
            return lower[name.lower()]
        except KeyError:
            raise BadCallError(f"no column {name!r} in the source table") from None

    @staticmethod
    async def _compile_check(tx: Transaction, source: str, ops: Mapping[str, str | None],
                             first_column: str) -> None:
        """Compile (never run) a write of each tracked kind, which compiles the new triggers:
        a WHEN filter naming a missing column fails here rather than on the user's writes."""
        table = quote_identifier(source)
        col = quote_identifier(first_column)
        statements = {
            "INSERT": f"EXPLAIN INSERT INTO {table} DEFAULT VALUES",
            "UPDATE": f"EXPLAIN UPDATE {table} SET {col} = {col}",
            "DELETE": f"EXPLAIN DELETE FROM {table}",
        }
        # A fresh text each time: SQLite 3.40 (CPython's here) crashes stepping a cached
        # EXPLAIN of a write that it re-prepares after the table's triggers changed
        # (tests/test_triggers.py::test_compile_check_survives_trigger_churn).
        fresh = f"\n-- {secrets.token_hex(8)}"
        for op in ops:
            await tx.execute(statements[op] + fresh)

    @staticmethod
    async def _ensure_registry(tx: Transaction) -> None:
        await tx.execute(
            f"CREATE TABLE IF NOT EXISTS {REGISTRY} (id TEXT PRIMARY KEY, hold TEXT NOT NULL, "
            "source TEXT NOT NULL, destination TEXT NOT NULL, triggers TEXT NOT NULL, "
            "created_at TEXT NOT NULL)"
        )

    @staticmethod
    def _trigger_sql(name: str, op: str, condition: str | None, source: str, destination: str,
                     columns: Sequence[str], id_ref: str, persisted: bool) -> str:
        ref = "OLD" if op == "DELETE" else "NEW"
        row_id = "rowid" if id_ref == "rowid" else quote_identifier(id_ref)
        targets = [f"_v{i}" for i in range(len(columns))]
        values = [f"{ref}.{quote_identifier(c)}" for c in columns]
        if op == "UPDATE":
            targets += [f"_p{i}" for i in range(len(columns))]
            values += [f"OLD.{quote_identifier(c)}" for c in columns]
        when_sql = f" WHEN ({condition})" if condition is not None else ""
        kind = "TRIGGER" if persisted else "TEMP TRIGGER"
        target = quote_identifier(source) if persisted else f"main.{quote_identifier(source)}"
        names = ", ".join(["id", "_op", "_at", *targets])
        # The time costs more than its call: a function in a trigger makes SQLite keep a
        # statement journal (a copy of each page the statement touches) for every write
        # inside a transaction. Tables with NOT NULL or UNIQUE columns keep one anyway, and
        # a function-free clock would be wrong for writers outside tabsqlite (README, fig 6).
        row = ", ".join([f"{ref}.{row_id}", str(_OP_CODES[op]), "julianday('now')", *values])
        return (
            f"CREATE {kind} {quote_identifier(name)} AFTER {op} ON {target}{when_sql} BEGIN "
            f"INSERT INTO {quote_identifier(storage_table(destination))} ({names}) "
            f"VALUES ({row}); END"
        )
