"""tabsqlite: one SQLite database shared by several browser tabs or OS processes.

Each tab (Pyodide + sqlite-wasm on OPFS) or process (CPython + ``sqlite3``) holds its own
connection; commits are announced to the others, so :meth:`Database.watch` and
:meth:`Database.on_change` wake for everyone's writes, and managed diff triggers record
changes made through any connection.

>>> db = await open_database("app.db")            # doctest: +SKIP
>>> async for rows in db.watch("SELECT * FROM todo"):  # doctest: +SKIP
...     print(rows)
"""

from __future__ import annotations

from .changes import ChangeEvent
from .consumers import DurableConsumer
from .database import Database, OpenContext, import_database, open_database
from .diff_tracking import DiffContext, DiffTrigger, TableDiffTracker
from .errors import (
    BadCallError,
    BrowserSetupError,
    BusyError,
    ConnectionLostError,
    ConstraintError,
    DatabaseClosedError,
    DatabaseError,
    HoldTakenError,
    InvalidIdentifierError,
    InvalidPathError,
    MigrationError,
    NoSuchTableError,
    NotADatabaseError,
    NotFoundError,
    OpenTimeoutError,
    QueryInterruptedError,
    QueryTimeoutError,
    SQLiteError,
    TransactionEndedError,
    TransactionStateError,
    TransportError,
)
from .holds import MemoryHoldManager
from .migrations import MigrationStep
from .queries import Result, Row
from .runtime import Connection, ConnectOptions, Hold, HoldManager, Runtime, Transport
from .transactions import Transaction
from .triggers import TriggerManager
from .watch import ChangeStream, Watch, WatchDiff

__version__ = "0.1.0"

__all__ = [
    "BadCallError",
    "BrowserSetupError",
    "BusyError",
    "ChangeEvent",
    "ChangeStream",
    "ConnectOptions",
    "Connection",
    "ConnectionLostError",
    "ConstraintError",
    "Database",
    "DatabaseClosedError",
    "DatabaseError",
    "DiffContext",
    "DiffTrigger",
    "DurableConsumer",
    "Hold",
    "HoldManager",
    "HoldTakenError",
    "InvalidIdentifierError",
    "InvalidPathError",
    "MemoryHoldManager",
    "MigrationError",
    "MigrationStep",
    "NoSuchTableError",
    "NotADatabaseError",
    "NotFoundError",
    "OpenContext",
    "OpenTimeoutError",
    "QueryInterruptedError",
    "QueryTimeoutError",
    "Result",
    "Row",
    "Runtime",
    "SQLiteError",
    "TableDiffTracker",
    "Transaction",
    "TransactionEndedError",
    "TransactionStateError",
    "Transport",
    "TransportError",
    "TriggerManager",
    "Watch",
    "WatchDiff",
    "__version__",
    "import_database",
    "open_database",
]
