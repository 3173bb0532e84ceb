"""The :class:`Database` object and :func:`open_database`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Generator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .changes import ChangeEvent, ChangeHub, normalize_tables
from .errors import (
    SQLITE_INTERRUPT,
    ConnectionLostError,
    DatabaseClosedError,
    DatabaseError,
    InvalidArgumentError,
    ProgrammingError,
    QueryTimeoutError,
    TransactionStateError,
)
from .names import channel_name
from .paths import is_memory, resolve_path
from .queries import Queries
from .retry import retry_while_busy
from .runtime import Connection, ConnectOptions, Params, QueryResult, Runtime, Transport
from .signal_protocol import Receiver, encode_message
from .table_inference import infer_tables
from .transactions import Transaction, TransactionContext, current_transaction
from .triggers import with_storage_views
from .watch import ChangeStream, Watch

if TYPE_CHECKING:
    from .triggers import TriggerManager

__all__ = ["Database", "OpenContext", "open_database"]

log = logging.getLogger("tabsqlite")
_KICK_SPACING = 0.25  # a pause in messages that ends a burst (see the back-stop)
_BURST = 256  # messages parsed per turn of the event loop; past that a flood is "unknown"

DEFAULT_OPEN_TIMEOUT = 15.0
DEFAULT_BUSY_TIMEOUT = 10.0


class Database(Queries):
    """One connection to a database file, shared with other tabs or processes.

    Obtain one with :func:`open_database`. Queries outside a transaction run one at a time;
    ``async with db.write_transaction() as tx`` (or ``read_transaction``) groups several.
    Every committed write is announced to the other connections on the same file, and
    their writes arrive in this object's change stream (:meth:`on_change`, :meth:`watch`).
    """

    def __init__(
        self,
        runtime: Runtime,
        path: str,
        connection: Connection,
        *,
        signal_check_interval: float,
        lock_timeout: float = 10.0,
    ) -> None:
        self.runtime = runtime
        #: The canonical path of the database file (``":memory:"`` for a memory database).
        self.path = path
        #: This connection's id in change messages.
        self.origin = secrets.token_hex(8)
        self._conn = connection
        self._lock_timeout = lock_timeout
        self._lock = asyncio.Lock()
        self._hub = ChangeHub()
        self._receiver = Receiver(self.origin)
        self._transport: Transport | None = None
        self._seq = 0
        self._closing = False
        self._closed_event = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signal_check_interval = signal_check_interval
        self._data_version_seen = 0
        self._heard = 0  # readable, in-sequence change messages from other connections
        self._heard_any = 0  # every message that arrived, garbage included
        self._burst = 0  # messages in this turn of the event loop
        self._incoming: ChangeEvent | None = None  # what they said, merged
        self._flush_scheduled = False
        self._last_message: str | None = None
        self._resend: asyncio.TimerHandle | None = None
        self._data_version_kick = asyncio.Event()
        self._triggers: TriggerManager | None = None
        # The task that opened a transaction with a plain ``execute("BEGIN")``.
        self._manual_owner: asyncio.Task[Any] | None = None
        #: Transactions found open with no owner, rolled back (see
        #: ``_settle_foreign_transaction``; for tests and diagnostics).
        self.orphans_rolled_back = 0
        #: Statements run through this connection (for tests and diagnostics).
        self.statements_run = 0

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def is_memory(self) -> bool:
        """True for a private in-memory database."""
        return is_memory(self.path)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has begun."""
        return self._closing

    @property
    def broken(self) -> bool:
        """True once the connection was lost (a tab's database worker died): every call
        raises :class:`ConnectionLostError`; close it and open the database again."""
        return self._conn.lost

    async def _start(self) -> None:
        if not self.is_memory:
            channel = channel_name(self.path)
            self._transport = await self.runtime.open_transport(channel, self._on_message)
            self._data_version_seen = await self._data_version()
            if self._signal_check_interval > 0:
                self._spawn(self._check_data_version_loop())

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._closing:
            log.error("tabsqlite background task failed", exc_info=task.exception())

    def _check_open(self) -> None:
        if self._closing:
            raise DatabaseClosedError(f"database {self.path!r} is closed")

    async def close(self, delete_database: bool = False) -> None:
        """Close the connection; with ``delete_database`` remove the file and its journals.

        Managed diff triggers of this connection are dropped and their holds released.
        Queries started before ``close`` finish first; later calls raise
        :class:`DatabaseClosedError`. Closing twice is harmless.
        """
        if self._transaction_of_current_task() is not None:
            raise ProgrammingError("close() inside a transaction of the same database")
        if self._closing:
            await self._closed_event.wait()
            if delete_database:
                await self.runtime.delete_database_files(self.path, self._lock_timeout)
            return
        try:
            await self.triggers.close()
        finally:
            self._closing = True
            if self._resend is not None:
                self._resend.cancel()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._hub.close()
            try:
                async with self._lock:
                    await self._conn.close()
            finally:
                if self._transport is not None:
                    await self._transport.close()
                await self.triggers.release_holds()
                self._closed_event.set()
        if delete_database:
            await self.runtime.delete_database_files(self.path, self._lock_timeout)

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- queries ------------------------------------------------------------------------------
    def _transaction_of_current_task(self) -> Transaction | None:
        mapping = current_transaction.get()
        tx = mapping.get(id(self)) if mapping else None
        return tx if tx is not None and tx.active else None

    async def _query(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> QueryResult:
        if self._closing:
            raise DatabaseClosedError(f"database {self.path!r} is closed")
        if self._conn.lost:  # fail now rather than queue behind a transaction that is gone
            raise ConnectionLostError(f"the connection to {self.path!r} was lost; open the "
                                      "database again")
        tx = self._transaction_of_current_task()
        if tx is not None:  # join the task's transaction
            return await tx._query(sql, params, many, timeout)
        deadline = None
        if timeout is None:
            await self._lock.acquire()
        else:
            deadline = _deadline(timeout)
            await _acquire_by(self._lock, deadline)
        try:
            self._check_open()
            if self._conn.in_transaction:
                await self._settle_foreign_transaction()
            remaining = None if deadline is None else _remaining(deadline)
            return await self._plain(sql, params, many, remaining)
        finally:
            self._lock.release()

    async def _plain(
        self, sql: str, params: Params, many: bool, timeout: float | None
    ) -> QueryResult:
        """A statement outside ``write_transaction``/``read_transaction`` (lock held). One
        that leaves a transaction open (``BEGIN``) makes its task that transaction's owner:
        only that task's plain statements run in it until it ends."""
        try:
            return await self._raw(sql, params, many, timeout)
        finally:
            if self._conn.in_transaction:
                if self._manual_owner is None:
                    self._manual_owner = asyncio.current_task()
            else:
                self._manual_owner = None

    async def _settle_foreign_transaction(self) -> None:
        """The guard before a statement outside a ``Transaction`` (lock held, connection
        inside a transaction): unless this task opened it, raise
        :class:`TransactionStateError` instead of letting the statement join a transaction
        nobody will commit. A transaction whose owner is gone (or that no task opened) is
        rolled back first: nothing in it was reported as committed."""
        owner = self._manual_owner
        if owner is not None and owner is asyncio.current_task():
            return
        if owner is not None and not owner.done():
            raise TransactionStateError(
                "another task has a transaction open on this connection (BEGIN through "
                "execute); use write_transaction() to wait for the database instead"
            )
        await self._rollback_orphan()
        raise TransactionStateError(
            "the connection was inside a transaction that nobody owned (its task ended "
            "without COMMIT or ROLLBACK); it was rolled back and this statement did not run"
        )

    async def _rollback_orphan(self) -> None:
        """Roll back a transaction whose owner is gone (lock held): before the guard raises,
        and in the back-stop, so an orphan never keeps other connections waiting until the
        next statement here."""
        owner = self._manual_owner
        if owner is None or owner.done():
            self._manual_owner = None
            self.orphans_rolled_back += 1
            with contextlib.suppress(DatabaseError):
                await asyncio.shield(self._raw("ROLLBACK", (), False))

    async def _raw(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> QueryResult:
        """Run a statement on the connection; the caller holds the lock."""
        if type(sql) is not str and not isinstance(sql, str):
            raise ProgrammingError(f"sql must be a str, not {type(sql).__name__}")
        conn = self._conn
        try:
            if many:
                _check_param_sets(params)  # type: ignore[arg-type]
                result = await conn.execute_many(sql, params, timeout)  # type: ignore[arg-type]
            else:
                kind = type(params)
                if kind is not list and kind is not tuple:  # (the common kinds skip the check)
                    _check_params(params)
                result = await conn.execute(sql, params, timeout)
        except asyncio.CancelledError:
            late = conn.take_late_result()  # it ran to the end: announce what it committed
            if late is not None and late.committed:
                await asyncio.shield(self._committed(late.committed))
            raise
        self.statements_run += 1
        if result.committed:
            await self._committed(result.committed)
        return result

    def write_transaction(self) -> TransactionContext:
        """``async with db.write_transaction() as tx``: BEGIN IMMEDIATE ... COMMIT.

        The transaction commits when the block ends and rolls back if it raises.
        """
        return TransactionContext(self, write=True)

    def read_transaction(self) -> TransactionContext:
        """``async with db.read_transaction() as tx``: a consistent, read-only snapshot."""
        return TransactionContext(self, write=False)

    # -- change stream ------------------------------------------------------------------------
    async def _committed(self, tables: frozenset[str]) -> None:
        tables = with_storage_views(tables)
        self._hub.publish(ChangeEvent(tables, local=True))
        if self._transport is not None:
            self._seq += 1
            message = encode_message(self.origin, self._seq, tables)
            try:
                await self._transport.send(message)
            except Exception:  # receivers recover from a lost message
                log.warning("tabsqlite: could not announce a change", exc_info=True)
            self._schedule_resend(message)

    def _schedule_resend(self, message: str) -> None:
        """Send the last message again once commits pause: a receiver that got it drops the
        copy as a duplicate; one that lost it (and would see no gap, since nothing follows)
        gets it now. Costs one message per burst of commits."""
        self._last_message = message
        if self._resend is not None:
            self._resend.cancel()
        if self._signal_check_interval > 0:
            self._resend = asyncio.get_running_loop().call_later(
                self._signal_check_interval, self._resend_last)

    def _resend_last(self) -> None:
        self._resend = None
        message, transport = self._last_message, self._transport
        if message is not None and transport is not None and not self._closing:
            self._spawn(transport.send(message))

    def _on_message(self, raw: object) -> None:
        """One message from another connection. The work per message is small and bounded:
        past ``_BURST`` messages in one turn of the event loop nothing more is parsed (the
        burst counts as "unknown tables"), and one merged event is published per turn."""
        if self._closing:
            return
        self._heard_any += 1
        self._data_version_kick.set()
        self._burst += 1
        if self._burst > _BURST:
            self._incoming = ChangeEvent(frozenset(), unknown=True, remote=True)
            self._receiver.unreadable += 1
        else:
            decoded = self._receiver.receive(raw)
            if decoded is None:
                return
            if decoded.unknown:
                event = ChangeEvent(frozenset(), unknown=True, remote=True)
            else:
                self._heard += 1
                event = ChangeEvent(with_storage_views(decoded.tables), remote=True)
            self._incoming = event if self._incoming is None else self._incoming.merge(event)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_incoming)

    def _flush_incoming(self) -> None:
        self._flush_scheduled = False
        self._burst = 0
        event, self._incoming = self._incoming, None
        if event is not None and not self._closing:
            self._hub.publish(event)

    async def _data_version(self) -> int:
        result = await self._conn.execute("PRAGMA data_version")
        value = result.rows[0][0]
        return int(value)

    async def _check_data_version_loop(self) -> None:
        """Back-stop for lost messages: another connection committed, nobody told us.

        After messages, ``PRAGMA data_version`` is read to note the versions they covered. A
        burst shares one read, taken once messages pause for ``_KICK_SPACING`` s: under
        contention every extra read queues for the database lock behind the writers (and a
        lost message between two that came is a sequence gap, which the receiver reports;
        a lost last one comes again, see ``_schedule_resend``). If the version moved while
        no readable, in-sequence message came (only garbage, duplicates or forged numbers),
        "unknown tables changed" is published. With no message for
        ``signal_check_interval`` s, a changed version is waited on for a short grace and
        then announced as "unknown tables changed".
        """
        loop = asyncio.get_running_loop()
        interval = self._signal_check_interval
        grace = min(0.25, interval)
        kick = self._data_version_kick
        next_kick_read = 0.0
        heard_at_read = self._heard
        while True:
            kicked = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(kick.wait(), interval)
                kicked = True
            if kicked and loop.time() < next_kick_read:
                # Wait for the burst to pause (no wake-up per message), but read at least
                # once per interval while messages never stop.
                give_up = loop.time() + max(interval, _KICK_SPACING)
                while loop.time() < give_up:
                    before = self._heard_any
                    await asyncio.sleep(_KICK_SPACING)
                    if self._heard_any == before:
                        break
            kick.clear()
            if self._lock.locked() and not kicked:
                continue
            heard = self._heard
            async with self._lock:
                if self._closing:
                    return
                if self._conn.in_transaction:
                    await self._rollback_orphan()
                version = await self._data_version()
            if kicked:
                next_kick_read = loop.time() + _KICK_SPACING
                changed = version > self._data_version_seen
                self._data_version_seen = max(self._data_version_seen, version)
                if changed and heard == heard_at_read:  # nothing readable explains it
                    self._receiver.gaps += 1
                    self._hub.publish(ChangeEvent(frozenset(), unknown=True, remote=True))
                heard_at_read = heard  # (what came during the read counts for the next)
                continue
            heard_at_read = heard
            if version <= self._data_version_seen:
                continue
            await asyncio.sleep(grace)  # its message may be on the way
            self._data_version_seen = max(self._data_version_seen, version)
            if self._heard == heard:
                self._receiver.gaps += 1
                self._hub.publish(ChangeEvent(frozenset(), unknown=True, remote=True))

    def on_change(
        self, tables: Iterable[str] | None = None, *, throttle_ms: float = 0
    ) -> AsyncIterator[ChangeEvent]:
        """Async iterator of committed changes (this connection's and others').

        With ``tables``, only changes that may concern them are reported. Changes that come
        while the consumer is busy, or within ``throttle_ms`` of the last one, are merged.
        """
        self._check_open()
        return ChangeStream(self, None if tables is None else normalize_tables(tables),
                            throttle_ms)

    def watch(
        self,
        sql: str,
        params: Params = (),
        *,
        tables: Iterable[str] | None = None,
        throttle_ms: float = 30,
    ) -> Watch:
        """Async iterator of a query's rows: now, and again after each relevant commit.

        The tables are found from the query plan unless given. A change right after a quiet
        period re-runs the query at once; bursts within ``throttle_ms`` are merged.
        ``db.watch(...).differential(key="id")`` yields added/removed/updated rows instead.
        """
        self._check_open()
        return Watch(self, sql, params, None if tables is None else normalize_tables(tables),
                     throttle_ms)

    async def tables_read_by(self, sql: str, params: Params = ()) -> frozenset[str] | None:
        """The tables a query reads (``None`` if they can't be known, e.g. virtual tables)."""
        return await infer_tables(self, sql, params)

    # -- managed triggers ---------------------------------------------------------------------
    @property
    def triggers(self) -> TriggerManager:
        """Managed diff triggers: :meth:`TriggerManager.create_diff_trigger` and friends."""
        if self._triggers is None:
            from .triggers import TriggerManager

            self._triggers = TriggerManager(self)
        return self._triggers

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        return f"<tabsqlite.Database {self.path!r} {state} on {self.runtime.name}>"


def _deadline(timeout: float) -> float:
    if not (isinstance(timeout, int | float) and timeout >= 0) or isinstance(timeout, bool):
        raise InvalidArgumentError("timeout must be a number of seconds >= 0, or None")
    return asyncio.get_running_loop().time() + timeout


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - asyncio.get_running_loop().time())


async def _acquire_by(lock: asyncio.Lock, deadline: float) -> None:
    """Take ``lock`` before ``deadline`` (a loop time), else raise QueryTimeoutError."""
    try:
        async with asyncio.timeout_at(deadline):
            await lock.acquire()
    except TimeoutError:
        raise QueryTimeoutError(
            "timed out waiting for this connection's other queries",
            extended_code=SQLITE_INTERRUPT,
        ) from None


_TEXT_LIKE = (str, bytes, bytearray)  # iterable, but not parameters; a tuple: faster than a union


def _check_params(params: object) -> None:
    if isinstance(params, _TEXT_LIKE):
        raise ProgrammingError(
            "params must be a sequence or mapping of values, not a single str/bytes"
        )


def _check_param_sets(seq_of_params: list[Any]) -> None:
    """Refuse a str or bytes parameter set on every runtime (stdlib sqlite3 would bind its
    characters one by one), before anything runs."""
    for params in seq_of_params:
        kind = type(params)
        if kind is not list and kind is not tuple and isinstance(params, _TEXT_LIKE):
            raise ProgrammingError(
                "each parameter set must be a sequence or mapping of values, not a str/bytes"
            )


async def _open(
    path: str,
    *,
    open_timeout: float,
    busy_timeout: float,
    runtime: Runtime | None,
    signal_check_interval: float,
) -> Database:
    if not (isinstance(open_timeout, int | float) and open_timeout >= 0):
        raise InvalidArgumentError("open_timeout must be a number of seconds >= 0")
    if not (isinstance(busy_timeout, int | float) and busy_timeout >= 0):
        raise InvalidArgumentError("busy_timeout must be a number of seconds >= 0")
    if runtime is None:
        from .runtimes import default_runtime

        runtime = default_runtime()
    resolved = resolve_path(path, runtime.default_directory())
    canonical = await runtime.prepare_path(resolved)
    memory = is_memory(canonical)
    started = time.monotonic()
    options = ConnectOptions(lock_timeout=float(busy_timeout))

    async def attempt() -> Connection:
        conn = await runtime.connect(canonical, options)
        try:
            await conn.execute("PRAGMA busy_timeout=0")
            if not memory:
                if runtime.page_size is not None:  # only takes effect on a new, empty file
                    await conn.execute(f"PRAGMA page_size={int(runtime.page_size)}")
                await conn.execute(f"PRAGMA journal_mode={runtime.journal_mode}")
            await conn.execute("SELECT count(*) FROM sqlite_schema")
            await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        except BaseException:
            await asyncio.shield(conn.close())
            raise
        return conn

    conn = await retry_while_busy(attempt, path=canonical, timeout=open_timeout)
    db = Database(runtime, canonical, conn, signal_check_interval=signal_check_interval,
                  lock_timeout=options.lock_timeout)
    try:
        await db._start()
        remaining = max(0.0, open_timeout - (time.monotonic() - started))
        await retry_while_busy(db.triggers.start, path=canonical, timeout=remaining)
    except BaseException:
        await asyncio.shield(db.close())
        raise
    return db


class OpenContext:
    """What :func:`open_database` returns: ``await`` it, or use it with ``async with``."""

    def __init__(self, path: str, **options: Any) -> None:
        self._path = path
        self._options = options
        self._db: Database | None = None

    def __await__(self) -> Generator[Any, None, Database]:
        return _open(self._path, **self._options).__await__()

    async def __aenter__(self) -> Database:
        self._db = await _open(self._path, **self._options)
        return self._db

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._db is not None:
            await self._db.close()


def open_database(
    path: str,
    *,
    open_timeout: float = DEFAULT_OPEN_TIMEOUT,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    runtime: Runtime | None = None,
    signal_check_interval: float = 1.0,
) -> OpenContext:
    """Open (creating if needed) the database ``path``.

    ``path`` is a plain name (placed in the runtime's default directory), an absolute path
    (parent directories are created) or ``":memory:"``. Opening retries while other
    connections hold locks, with exponential backoff, until ``open_timeout`` seconds have
    passed, then raises :class:`~tabsqlite.OpenTimeoutError`; cancelling the task stops it
    at once. ``busy_timeout`` is how long a statement waits for a lock once open.
    ``signal_check_interval`` is how often (seconds) the connection checks for commits whose
    message was lost (0 disables the check).

    ``db = await open_database("app.db")`` or ``async with open_database("app.db") as db:``.
    """
    return OpenContext(
        path,
        open_timeout=open_timeout,
        busy_timeout=busy_timeout,
        runtime=runtime,
        signal_check_interval=signal_check_interval,
    )
