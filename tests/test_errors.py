"""The error hierarchy: one root, SQLite's refusals apart from bad calls, each kind from
what happened (a result code, a check) and never from message text."""

from __future__ import annotations

from typing import Any

import pytest

import tabsqlite
from tabsqlite.errors import sqlite_error
from tabsqlite.runtime import Runtime


@pytest.fixture
def runtime(both_runtimes: Runtime | None) -> Runtime | None:
    return both_runtimes


def test_every_public_error_is_a_database_error() -> None:
    errors = [getattr(tabsqlite, n) for n in tabsqlite.__all__ if n.endswith("Error")]
    assert len(errors) >= 18
    for error in errors:
        assert issubclass(error, tabsqlite.DatabaseError), error
    assert not hasattr(tabsqlite, "ProgrammingError")  # one bad-call error, not two
    assert not hasattr(tabsqlite, "InvalidArgumentError")


def test_the_places_of_the_kinds() -> None:
    assert issubclass(tabsqlite.BadCallError, ValueError)
    for kind in (tabsqlite.InvalidPathError, tabsqlite.InvalidIdentifierError):
        assert issubclass(kind, tabsqlite.BadCallError)
    for kind in (tabsqlite.BusyError, tabsqlite.ConstraintError, tabsqlite.NoSuchTableError,
                 tabsqlite.QueryInterruptedError, tabsqlite.QueryTimeoutError):
        assert issubclass(kind, tabsqlite.SQLiteError)
    assert not issubclass(tabsqlite.SQLiteError, tabsqlite.BadCallError)
    assert not issubclass(tabsqlite.TransactionEndedError, tabsqlite.DatabaseClosedError)
    assert issubclass(tabsqlite.ConnectionLostError, tabsqlite.DatabaseClosedError)
    assert issubclass(tabsqlite.HoldTakenError, tabsqlite.DatabaseError)


@pytest.mark.parametrize(("code", "kind"), [
    (5, tabsqlite.BusyError), (6, tabsqlite.BusyError), (517, tabsqlite.BusyError),
    (9, tabsqlite.QueryInterruptedError), (2067, tabsqlite.ConstraintError),
    (1, tabsqlite.SQLiteError), (13, tabsqlite.SQLiteError),
])
def test_kind_comes_from_the_code_not_the_words(code: int, kind: type) -> None:
    misleading = sqlite_error("database is locked: constraint failed, interrupted", code)
    assert type(misleading) is kind
    assert misleading.code == code & 0xFF and misleading.code_name is not None


async def test_sqlite_and_tabsqlite_say_no_such_table_alike(db_path: str, open_db: Any
                                                            ) -> None:
    db = await open_db(db_path)
    with pytest.raises(tabsqlite.SQLiteError) as from_sqlite:
        await db.execute("SELECT * FROM missing")
    with pytest.raises(tabsqlite.NoSuchTableError) as from_us:
        await db.triggers.create_diff_trigger(source="missing", destination="d",
                                              when={"INSERT": None})
    assert from_us.value.code == from_sqlite.value.code == 1
    assert from_us.value.table == "missing"
    await db.execute("CREATE TABLE t(x)")  # still usable
    assert await db.get_optional("SELECT x FROM t") is None


async def test_bad_calls_are_one_kind_and_leave_the_database_usable(
    db_path: str, open_db: Any
) -> None:
    db = await open_db(db_path)
    await db.execute("CREATE TABLE t(x)")
    calls = [
        db.execute(42),  # type: ignore[arg-type]
        db.execute("SELECT ?", "x"),
        db.execute_many("INSERT INTO t VALUES (?)", ["ab"]),
        db.execute("SELECT 1", timeout=-1),
        db.triggers.create_diff_trigger(source="t", destination="a b", when={"INSERT": None}),
        db.triggers.create_diff_trigger(source="t", destination="d", when={"MERGE": None}),
    ]
    for call in calls:
        with pytest.raises(tabsqlite.BadCallError):
            await call
    async with db.write_transaction() as tx:
        with pytest.raises(tabsqlite.BadCallError):
            async with db.write_transaction():
                pass
        await tx.execute("INSERT INTO t VALUES (1)")
    assert await db.get("SELECT x FROM t") == {"x": 1}


async def test_an_ended_transaction_is_not_a_closed_database(db_path: str, open_db: Any
                                                             ) -> None:
    db = await open_db(db_path)
    async with db.write_transaction() as tx:
        pass
    with pytest.raises(tabsqlite.TransactionEndedError) as ended:
        await tx.execute("SELECT 1")
    assert not isinstance(ended.value, tabsqlite.DatabaseClosedError)
    assert await db.get("SELECT 1 AS one") == {"one": 1}
