"""tabsqlite.dbapi (PEP 249) on CPython: the module's contract, sqlite3's transaction
behaviour, commits announced, and SQLAlchemy 2 (Core and ORM) and pandas on it, with two
real processes writing one file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tabsqlite
import tabsqlite.dbapi as dbapi


def test_the_module_has_what_pep_249_names() -> None:
    assert (dbapi.apilevel, dbapi.threadsafety, dbapi.paramstyle) == ("2.0", 1, "qmark")
    assert dbapi.sqlite_version_info >= (3, 35, 0)
    assert dbapi.Error is tabsqlite.DatabaseError is dbapi.DatabaseError
    assert issubclass(tabsqlite.ConstraintError, dbapi.IntegrityError)
    assert issubclass(tabsqlite.BusyError, dbapi.OperationalError)
    assert issubclass(tabsqlite.BadCallError, dbapi.ProgrammingError)
    assert issubclass(tabsqlite.DatabaseClosedError, dbapi.ProgrammingError)
    for name in ("InterfaceError", "DataError", "OperationalError", "IntegrityError",
                 "InternalError", "ProgrammingError", "NotSupportedError"):
        assert issubclass(getattr(dbapi, name), dbapi.DatabaseError), name
    assert issubclass(dbapi.Warning, Exception)


def test_a_transaction_begins_with_the_first_statement(tmp_path: Path) -> None:
    path = str(tmp_path / "app.db")
    conn = dbapi.connect(path)
    other = dbapi.connect(path, isolation_level=None)  # autocommit: reads on their own
    try:
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
        assert conn.in_transaction  # DDL too: PEP 249's transactions
        conn.commit()
        assert not conn.in_transaction
        assert conn.execute("PRAGMA user_version").fetchone() == (0,)
        assert not conn.in_transaction  # (pragmas run on their own)
        cur = conn.execute("INSERT INTO t(v) VALUES (?)", ["a"])
        assert (cur.rowcount, cur.lastrowid, conn.in_transaction) == (1, 1, True)
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
        conn.commit()
        assert other.execute("SELECT v FROM t").fetchall() == [("a",)]
        conn.execute("INSERT INTO t(v) VALUES (:v)", {"v": "b"})
        conn.rollback()
        assert other.execute("SELECT count(*) FROM t").fetchone() == (1,)
        with pytest.raises(dbapi.IntegrityError, match="UNIQUE"):
            conn.execute("INSERT INTO t(v) VALUES ('a')")
        conn.rollback()
        with conn:  # commits at the end of the block
            conn.executemany("INSERT INTO t(v) VALUES (?)", [("c",), ("d",)])
        with pytest.raises(KeyError), conn:  # rolls back
            conn.execute("INSERT INTO t(v) VALUES ('e')")
            raise KeyError("e")
        assert [r[0] for r in other.execute("SELECT v FROM t ORDER BY v")] == [
            "a", "c", "d"]
        other.execute("INSERT INTO t(v) VALUES ('f')")  # autocommit: at once
        assert not other.in_transaction
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (4,)
        assert conn.in_transaction  # a read began one, holding the write lock:
        blocked = dbapi.connect(path, timeout=0.2)
        with pytest.raises(dbapi.OperationalError, match="locked"):
            blocked.execute("SELECT 1")
        blocked.close()
        conn.rollback()
    finally:
        conn.close()
        other.close()
    with pytest.raises(dbapi.ProgrammingError, match="closed database"):
        conn.execute("SELECT 1")


def test_cursors_fetch_describe_and_use_row_factories(tmp_path: Path) -> None:
    conn = dbapi.connect(str(tmp_path / "app.db"))
    try:
        conn.executescript("CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'x'), (2, 'y'), "
                           "(3, 'z')")
        cur = conn.cursor()
        cur.execute("SELECT a, b FROM t ORDER BY a")
        assert [d[0] for d in cur.description or ()] == ["a", "b"]
        assert cur.fetchone() == (1, "x")
        cur.arraysize = 2
        assert cur.fetchmany() == [(2, "y"), (3, "z")]
        assert cur.fetchone() is None
        assert list(cur.execute("SELECT a FROM t WHERE a > ?", (1,))) == [(2,), (3,)]
        conn.row_factory = lambda c, row: dict(
            zip([d[0] for d in c.description], row, strict=True))
        assert conn.execute("SELECT a, b FROM t WHERE a = 1").fetchall() == [
            {"a": 1, "b": "x"}]
        conn.create_function("twice", 1, lambda x: 2 * x, deterministic=True)
        conn.row_factory = None
        assert conn.execute("SELECT twice(a) FROM t ORDER BY a").fetchall() == [
            (2,), (4,), (6,)]
        cur.close()
        with pytest.raises(dbapi.ProgrammingError):
            cur.fetchall()
        with pytest.raises(dbapi.ProgrammingError, match="isolation_level"):
            dbapi.connect(str(tmp_path / "x.db"), isolation_level="SOMETIMES")
    finally:
        conn.close()


async def test_its_commits_wake_async_watchers(tmp_path: Path) -> None:
    path = str(tmp_path / "app.db")
    db = await tabsqlite.open_database(path)
    try:
        await db.execute("CREATE TABLE t(x)")
        changes = db.on_change(tables=["t"])
        waiter = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0.05)

        def write() -> None:
            conn = dbapi.connect(path)
            conn.execute("INSERT INTO t VALUES (1)")
            conn.commit()
            conn.close()

        await asyncio.to_thread(write)
        event = await asyncio.wait_for(waiter, 10)
        assert "t" in event.tables and event.remote
    finally:
        await db.close()


def test_sqlalchemy_orm_in_two_processes_loses_no_increment(tmp_path: Path) -> None:
    import sqlalchemy
    from sqlalchemy.orm import Session

    import sa_counter
    from sa_counter import Counter

    path = tmp_path / "app.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{path}", module=dbapi)
    sa_counter.Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add(Counter(name="hits", value=0))
    children = [subprocess.Popen([sys.executable, sa_counter.__file__, str(path), "40"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == "done"
    with Session(engine) as session:
        row = session.scalars(sqlalchemy.select(Counter)).one()
        assert row.value == 80
    # Core, and the errors SQLAlchemy sorts by their DB-API class
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE u(id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(sqlalchemy.text("INSERT INTO u(v) VALUES (:v)"),
                     [{"v": "a"}, {"v": "b"}])
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT v FROM u ORDER BY id")).scalars().all() == [
            "a", "b"]
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            conn.execute(sqlalchemy.text("INSERT INTO u(id, v) VALUES (1, 'dup')"))
        conn.rollback()
        assert conn.execute(sqlalchemy.text(
            "SELECT count(*) FROM u WHERE v REGEXP '^[ab]$'")).scalar() == 2
    engine.dispose()


def test_pandas_reads_and_writes_through_it(tmp_path: Path) -> None:
    import pandas
    import sqlalchemy

    path = tmp_path / "app.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{path}", module=dbapi)
    frame = pandas.DataFrame({"name": ["a", "b", "c"], "score": [1.5, 2.0, 3.25]})
    frame.to_sql("scores", engine, index=False)
    back = pandas.read_sql("SELECT name, score FROM scores ORDER BY name", engine)
    assert back.equals(frame)
    engine.dispose()
    conn = dbapi.connect(str(path))  # a plain DB-API connection works too (pandas warns)
    try:
        with pytest.warns(UserWarning):
            raw = pandas.read_sql("SELECT count(*) AS n FROM scores", conn)
        assert int(raw["n"][0]) == 3
    finally:
        conn.close()


def test_a_child_process_sees_dbapi_commits(tmp_path: Path) -> None:
    path = str(tmp_path / "app.db")
    conn = dbapi.connect(path)
    try:
        conn.execute("CREATE TABLE t(x)")
        conn.execute("INSERT INTO t VALUES (42)")
        conn.commit()
        code = textwrap.dedent(f"""
            import tabsqlite.dbapi as d
            c = d.connect({path!r})
            print(c.execute("SELECT x FROM t").fetchone()[0])
            c.close()
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, check=True)
        assert out.stdout.strip() == "42"
    finally:
        conn.close()
