"""Bad input gets a typed error and leaves the database usable with its data intact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tabsqlite


@pytest.fixture
async def db(db_path: str, open_db: Any) -> tabsqlite.Database:
    d = await open_db(db_path)
    await d.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
    await d.execute("INSERT INTO t(v) VALUES ('keep')")
    return d


async def still_usable(db: tabsqlite.Database) -> None:
    assert await db.get("SELECT v FROM t WHERE id = 1") == {"v": "keep"}
    await db.execute("INSERT INTO t(v) VALUES ('again')")
    await db.execute("DELETE FROM t WHERE v = 'again'")


@pytest.mark.parametrize(
    ("sql", "params", "error"),
    [
        ("SELEC 1", (), tabsqlite.SQLiteError),
        ("SELECT * FROM missing", (), tabsqlite.SQLiteError),
        ("INSERT INTO t(v) VALUES (?)", (), tabsqlite.BadCallError),
        ("INSERT INTO t(v) VALUES (?)", (1, 2), tabsqlite.BadCallError),
        ("INSERT INTO t(v) VALUES (?)", (object(),), tabsqlite.BadCallError),
        ("INSERT INTO t(v) VALUES (?)", (2**70,), tabsqlite.BadCallError),
        ("INSERT INTO t(v) VALUES (?)", ("\ud800",), tabsqlite.BadCallError),
        ("INSERT INTO t(v) VALUES (?)", "x", tabsqlite.BadCallError),
        ("INSERT INTO t(v) VALUES (:a)", {"b": 1}, tabsqlite.BadCallError),
        ("SELECT 1; SELECT 2", (), tabsqlite.BadCallError),
        ("SELECT '\x00'", (), tabsqlite.BadCallError),
        ("INSERT INTO t(id, v) VALUES (1, 'dup')", (), tabsqlite.ConstraintError),
    ],
)
async def test_bad_statements_give_typed_errors(
    db: tabsqlite.Database, sql: str, params: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await db.execute(sql, params)
    await still_usable(db)


async def test_sqlite_error_carries_codes(db: tabsqlite.Database) -> None:
    with pytest.raises(tabsqlite.ConstraintError) as info:
        await db.execute("INSERT INTO t(id, v) VALUES (1, 'dup')")
    assert info.value.code == 19
    assert info.value.extended_code == 1555  # SQLITE_CONSTRAINT_PRIMARYKEY
    assert info.value.code_name == "SQLITE_CONSTRAINT_PRIMARYKEY"


async def test_error_inside_transaction_rolls_back_everything(db: tabsqlite.Database) -> None:
    with pytest.raises(tabsqlite.ConstraintError):
        async with db.write_transaction() as tx:
            await tx.execute("INSERT INTO t(v) VALUES ('part')")
            await tx.execute("INSERT INTO t(id, v) VALUES (1, 'dup')")
    assert await db.get("SELECT count(*) AS n FROM t") == {"n": 1}
    await still_usable(db)


async def test_read_transaction_refuses_writes(db: tabsqlite.Database) -> None:
    async with db.read_transaction() as tx:
        with pytest.raises(tabsqlite.SQLiteError):
            await tx.execute("INSERT INTO t(v) VALUES ('no')")
        assert (await tx.get("SELECT count(*) AS n FROM t"))["n"] == 1
    await still_usable(db)


async def test_transactions_do_not_nest_and_end_cleanly(db: tabsqlite.Database) -> None:
    async with db.write_transaction() as tx:
        with pytest.raises(tabsqlite.BadCallError):
            async with db.write_transaction():
                pass
        with pytest.raises(tabsqlite.BadCallError):
            await db.close()
        await tx.execute("INSERT INTO t(v) VALUES ('in tx')")
    with pytest.raises(tabsqlite.TransactionEndedError):
        await tx.execute("SELECT 1")
    assert await db.get("SELECT count(*) AS n FROM t") == {"n": 2}


async def test_get_raises_not_found(db: tabsqlite.Database) -> None:
    with pytest.raises(tabsqlite.NotFoundError):
        await db.get("SELECT * FROM t WHERE id = 99")
    assert await db.get_optional("SELECT * FROM t WHERE id = 99") is None


async def test_calls_during_close_get_closed_error(db: tabsqlite.Database) -> None:
    async def slow() -> None:
        async with db.write_transaction() as tx:
            await tx.execute("INSERT INTO t(v) VALUES ('slow')")
            await asyncio.sleep(0.2)

    writer = asyncio.ensure_future(slow())
    await asyncio.sleep(0.05)
    closer = asyncio.ensure_future(db.close())
    await asyncio.sleep(0.01)
    with pytest.raises(tabsqlite.DatabaseClosedError):
        await db.execute("SELECT 1")
    await writer  # what started before close finishes
    await closer
    async with tabsqlite.open_database(db.path) as again:
        assert await again.get("SELECT count(*) AS n FROM t") == {"n": 2}


values = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.binary(max_size=2048),
    st.booleans(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20).map(lambda s: s + "\x00"),
)

sql_fragments = st.sampled_from([
    "SELECT ?", "INSERT INTO t(v) VALUES (?)", "SELECT * FROM t WHERE v = ?",
    "UPDATE t SET v = ? WHERE id = 99", "SELEC ?", "SELECT ?, ?", "INSERT INTO nope VALUES (?)",
    "SELECT ? FROM", "", ";", "SELECT 1; DROP TABLE t", "DROP TABLE t(?", "PRAGMA foo = ?",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(sql=sql_fragments, params=st.lists(values, max_size=3))
def test_fuzzed_statements(db_path: str, sql: str, params: list[Any]) -> None:
    async def run() -> None:
        async with tabsqlite.open_database(db_path) as db:
            await db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v)")
            await db.execute("INSERT OR IGNORE INTO t(id, v) VALUES (1, 'keep')")
            try:
                result = await db.execute(sql, params)
            except tabsqlite.DatabaseError:
                pass
            else:
                if sql == "SELECT ?" and len(params) == 1:
                    got = result.rows[0][0]
                    want = params[0]
                    if isinstance(want, bool):
                        want = int(want)
                    if want != want:  # SQLite binds a NaN as NULL
                        want = None
                    assert got == want
            assert await db.get("SELECT v FROM t WHERE id = 1") == {"v": "keep"}

    asyncio.run(run())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=40), columns=st.one_of(st.none(), st.lists(st.text(max_size=10),
                                                                         max_size=3)))
def test_fuzzed_trigger_identifiers(db_path: str, name: str, columns: list[str] | None) -> None:
    async def run() -> None:
        async with tabsqlite.open_database(db_path) as db:
            await db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v)")
            try:
                trig = await db.triggers.create_diff_trigger(
                    source="t", destination=name, when={"INSERT": None}, columns=columns)
            except tabsqlite.DatabaseError:
                pass
            else:
                await db.execute("INSERT INTO t(v) VALUES ('x')")
                q = name.replace('"', '""')
                assert (await db.get(f'SELECT count(*) AS n FROM "{q}"'))["n"] == 1
                await trig.dispose()
            assert await db.get_all("SELECT name FROM sqlite_schema WHERE type = 'trigger'") == []

    asyncio.run(run())


@settings(max_examples=150, deadline=None)
@given(path=st.text(max_size=80))
def test_fuzzed_paths(tmp_path_factory: pytest.TempPathFactory, path: str) -> None:
    from tabsqlite.paths import resolve_path

    try:
        resolved = resolve_path(path, "/base")
    except tabsqlite.InvalidPathError:
        return
    assert resolved == ":memory:" or resolved.startswith("/")
    if not path.startswith("/") and resolved != ":memory:":
        assert resolved.startswith("/base/")
        assert "/../" not in resolved + "/"
