"""Which tables did a committed transaction change? Shared by every runtime's connection.

A runtime reports, for each statement, the tables it may write (from SQLite's authorizer,
which names the tables of the statement and of the triggers it fires), the tables it
creates/drops/alters, whether it is a ROLLBACK, whether rows really changed
(``total_changes`` moved), and whether a transaction was open before and after it.
:class:`CommitTracker` turns that into "these tables were committed" at the right moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AuthorizerCodes", "CommitTracker", "StatementInfo"]


class AuthorizerCodes:
    """SQLite authorizer action codes (https://sqlite.org/c3ref/c_alter_table.html)."""

    CREATE_TABLE = 2
    CREATE_TEMP_TABLE = 4
    DELETE = 9
    DROP_TABLE = 11
    DROP_TEMP_TABLE = 13
    INSERT = 18
    TRANSACTION = 22
    UPDATE = 23
    ALTER_TABLE = 26

    DML = frozenset({INSERT, UPDATE, DELETE})
    DDL_ARG1 = frozenset({CREATE_TABLE, CREATE_TEMP_TABLE, DROP_TABLE, DROP_TEMP_TABLE})


@dataclass(slots=True)
class StatementInfo:
    """What the authorizer said about one statement."""

    writes: set[str] = field(default_factory=set)
    ddl: set[str] = field(default_factory=set)
    rollback: bool = False
    fired: bool = False

    def authorize(self, action: int, arg1: str | None, arg2: str | None) -> None:
        """Record one authorizer callback."""
        self.fired = True
        if action in AuthorizerCodes.DML and arg1 and not arg1.lower().startswith("sqlite_"):
            self.writes.add(arg1.lower())
        elif action in AuthorizerCodes.DDL_ARG1 and arg1:
            self.ddl.add(arg1.lower())
        elif action == AuthorizerCodes.ALTER_TABLE and arg2:
            self.ddl.add(arg2.lower())
        elif action == AuthorizerCodes.TRANSACTION and (arg1 or "").upper() == "ROLLBACK":
            self.rollback = True


class CommitTracker:
    """Accumulates the tables of an open transaction and reports them when it commits."""

    def __init__(self) -> None:
        self._pending: set[str] = set()

    def statement_done(
        self,
        info: StatementInfo,
        rows_changed: bool,
        was_in_transaction: bool,
        in_transaction: bool,
    ) -> frozenset[str] | None:
        """A statement succeeded: the committed tables if it ended a transaction by
        committing (or ran in autocommit mode), else ``None``."""
        if in_transaction:  # inside (or just begun): remember the tables for the commit
            if info.ddl:
                self._pending |= info.ddl
            if rows_changed and info.writes and not info.writes <= self._pending:
                self._pending |= info.writes
            return None
        tables = set(info.ddl)
        if rows_changed:
            tables |= info.writes
        if was_in_transaction:  # the transaction ended with this statement
            committed = None if info.rollback else frozenset(self._pending | tables)
            self._pending.clear()
            return committed
        return frozenset(tables)  # autocommit

    def statement_failed(self, *, was_in_transaction: bool, in_transaction: bool) -> None:
        """A statement failed; if that rolled the transaction back, forget its tables."""
        if was_in_transaction and not in_transaction:
            self._pending.clear()
