"""The seam between the runtime-free core and a runtime (CPython, Pyodide, ...).

A runtime implements three small interfaces:

* :class:`Connection` -- one SQLite connection: execute, execute many, close, and for every
  call the set of tables whose changes that call *committed*.
* :class:`Transport` -- carries opaque change messages to the other connections on the same
  database (and never back to the sender).
* :class:`HoldManager` -- named holds that outlive nothing: a hold disappears when its owner
  releases it or dies, and anyone can ask whether a name is held.

and bundles them in a :class:`Runtime`. The core (paths, retry, change stream, watch,
triggers) only talks to these; nothing in it imports ``sqlite3``, ``js`` or ``pyodide``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import HoldTakenError, NotSupportedError

#: How a transport hands over received messages: several at once (see
#: :meth:`Runtime.open_transport`).
Deliver = Callable[[Sequence[str]], None]

__all__ = [
    "ConnectOptions",
    "Connection",
    "Hold",
    "HoldManager",
    "HoldTakenError",
    "Params",
    "Result",
    "Runtime",
    "Transport",
    "ends_transaction",
    "wait_out",
]

Params = Sequence[Any] | Mapping[str, Any]


@dataclass(slots=True)
class Result:
    """The outcome of one call (``db.execute`` returns it as well).

    ``rows`` are tuples in ``columns`` order; ``rows_affected`` is what SQLite counted for
    INSERT/UPDATE/DELETE (-1 otherwise); ``last_insert_rowid`` the rowid of the last insert.
    ``committed`` is ``None`` when the call did not end a transaction by committing (it ran
    inside an open transaction, rolled back, or failed); otherwise it is the set of tables
    (lower-case names) whose rows the committed transaction changed, possibly empty.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    rows_affected: int
    last_insert_rowid: int | None
    committed: frozenset[str] | None = None

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dictionaries keyed by column name."""
        columns = self.columns
        return [dict(zip(columns, row, strict=True)) for row in self.rows]

    def first(self) -> dict[str, Any] | None:
        """The first row as a dictionary keyed by column name (as :meth:`dicts` makes
        them), or ``None`` without rows."""
        return dict(zip(self.columns, self.rows[0], strict=True)) if self.rows else None


def ends_transaction(sql: str) -> bool:
    """True for COMMIT/END/ROLLBACK: a runtime waits for these and never interrupts them
    (a half-done end of a transaction is worse than a late one).

    :param sql: the statement.
    """
    return sql.lstrip()[:8].upper().startswith(("COMMIT", "ROLLBACK", "END"))


async def wait_out(
    future: asyncio.Future[Any], on_cancel: Callable[[], None] | None = None
) -> None:
    """Wait until ``future`` is done, whatever cancellations of the caller arrive meanwhile
    (``on_cancel`` runs for each: e.g. interrupt the statement again). How a runtime keeps
    its promise that a cancelled call never leaves its statement running unseen."""
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            if on_cancel is not None:
                on_cancel()


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """The policy a connection opens with: a runtime's defaults (:attr:`Runtime.options`)
    with the user's choices put in by ``open_database``. The core applies the pragmas;
    the runtime's ``connect`` reads the lock wait.

    :param lock_timeout: seconds a statement may wait for the database lock while another
        connection writes (``open_database(busy_timeout=...)``); past it, ``BusyError``.
    :param journal_mode: the journal mode of file databases (``PRAGMA journal_mode``).
    :param page_size: the page size (bytes) of files this connection creates; ``None``
        keeps SQLite's default. An existing file keeps the page size it was made with.
    :param journal_size_limit: bytes a kept journal (``persist``, ``truncate``, WAL) may
        keep after a commit (``PRAGMA journal_size_limit``); ``None`` keeps SQLite's default.
    """

    lock_timeout: float = 10.0
    journal_mode: str = "wal"
    page_size: int | None = None
    journal_size_limit: int | None = None


class Connection(ABC):
    """One open SQLite connection, driven asynchronously.

    Cancellation contract: a call whose task is cancelled never leaves its statement
    running unseen. The connection stops the statement where it can (``interrupt``) and
    waits until it has ended before the :class:`asyncio.CancelledError` propagates, so
    :attr:`in_transaction` is true to the file afterwards. If the statement completed
    anyway, its result is kept for :meth:`take_late_result` (a commit that happened must
    still be announced).
    """

    @abstractmethod
    async def execute(
        self, sql: str, params: Params = (), timeout: float | None = None
    ) -> Result:
        """Run one statement; raise a :class:`~tabsqlite.DatabaseError` on failure.

        :param sql: one statement.
        :param params: its values (a sequence, or a mapping for ``:name`` placeholders).
        :param timeout: seconds this call may take, waiting for the database lock
            included; past it the statement is stopped in SQLite and
            :class:`~tabsqlite.QueryTimeoutError` is raised (``None``: no limit).
        """

    @abstractmethod
    async def execute_many(
        self, sql: str, seq_of_params: Sequence[Params], timeout: float | None = None
    ) -> Result:
        """Run one statement once for each parameter set, in one call.

        :param sql: one statement.
        :param seq_of_params: one sequence or mapping of values per run.
        :param timeout: seconds for the whole call (see :meth:`execute`).
        """

    def __init__(self) -> None:
        #: Inside a transaction as of the last call's end (kept by the runtime's calls).
        self._in_tx = False
        #: The result of a statement whose call was cancelled (see take_late_result).
        self._late: Result | None = None

    @property
    def in_transaction(self) -> bool:
        """True while the connection is inside a transaction (as of the last call's end)."""
        return self._in_tx

    @property
    def lost(self) -> bool:
        """True once the engine behind the connection went away (its calls then raise
        :class:`~tabsqlite.ConnectionLostError`)."""
        return False

    def take_late_result(self) -> Result | None:
        """The result of a statement that completed although its call was cancelled (once),
        else ``None``."""
        late, self._late = self._late, None
        return late

    async def create_function(
        self, name: str, nargs: int, fn: Callable[..., Any], deterministic: bool = False
    ) -> None:
        """Make the Python function ``fn`` an SQL function of this connection (what
        ``sqlite3.Connection.create_function`` does). A runtime that cannot call Python
        from inside a statement raises :class:`~tabsqlite.errors.NotSupportedError`.

        :param name: the SQL name.
        :param nargs: how many arguments it takes (-1: any number).
        :param fn: the function; it gets and returns SQLite values.
        :param deterministic: same arguments, same result (lets SQLite use it in indexes).
        """
        raise NotSupportedError(f"this runtime cannot define SQL functions ({name})")

    @abstractmethod
    async def close(self) -> None:
        """Close the connection; an open transaction is rolled back."""


class Transport(ABC):
    """Carries change messages between the connections of one database."""

    @abstractmethod
    async def send(self, message: str) -> None:
        """Deliver ``message`` to every other receiver on the channel (best effort)."""

    @abstractmethod
    async def close(self) -> None:
        """Stop receiving and free the channel."""

    def set_listening(self, listening: bool) -> int:
        """Hand incoming messages to ``deliver`` (``True``, the start) or let them go by
        uncounted by the receiver (``False``: nothing on this connection waits for changes,
        so none need waking it). A transport that cannot stop listening ignores it.

        :param listening: whether to hand messages over from now on.
        :returns: how many messages went by since the last call (0 if none, or never
            stopped).
        """
        return 0


class Hold(ABC):
    """A named hold owned by this connection."""

    name: str

    @abstractmethod
    async def release(self) -> None:
        """Let go of the hold (idempotent)."""


class HoldManager(ABC):
    """Named holds that vanish with their owner (closed tab, dead process)."""

    @abstractmethod
    async def acquire(self, name: str) -> Hold:
        """Take the hold ``name`` now; raise :class:`HoldTakenError` if anyone has it."""

    @abstractmethod
    async def is_held(self, name: str) -> bool:
        """True if anyone (this connection included) has the hold ``name``."""

    async def forget(self, name: str) -> None:  # noqa: B027 - optional hook
        """Free whatever the runtime keeps for an unheld hold ``name`` (e.g. a lock file)."""


class Runtime(ABC):
    """A runtime: how to open connections, carry signals and keep holds."""

    #: Short name ("cpython", "pyodide").
    name: str = "abstract"
    #: This runtime's connection policy (journal mode, page size; the lock wait is the
    #: user's, see ``open_database(busy_timeout=...)``).
    options: ConnectOptions = ConnectOptions()

    @abstractmethod
    def default_directory(self) -> str:
        """The absolute directory where plain database names are placed."""

    @abstractmethod
    async def prepare_path(self, path: str) -> str:
        """Create the parent directories of absolute ``path``; return its canonical form."""

    @abstractmethod
    async def connect(self, path: str, options: ConnectOptions) -> Connection:
        """Open one connection (a single attempt, no waiting on locks).

        :param path: canonical, or ``":memory:"``.
        :param options: the policy (how long its statements may wait for the lock).
        """

    @abstractmethod
    async def delete_database_files(self, path: str, lock_timeout: float = 10.0) -> None:
        """Remove the database file, its ``-journal``/``-wal``/``-shm`` and runtime files.

        :param path: the canonical path of the database.
        :param lock_timeout: seconds to wait for the database lock, where there is one.
        """

    @abstractmethod
    async def open_transport(self, channel: str, deliver: Deliver) -> Transport:
        """Join the message channel ``channel``.

        :param channel: the channel's name (one per database file).
        :param deliver: called with the messages that arrived together, a bounded batch per
            call (at most one call per turn of the event loop where the transport can tell).
        """

    @abstractmethod
    def hold_manager(self, path: str) -> HoldManager:
        """The hold manager for holds scoped to the database at canonical ``path``."""
