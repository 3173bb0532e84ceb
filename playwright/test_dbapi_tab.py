"""tabsqlite.dbapi in real tabs: synchronous calls through JSPI (Chromium), in worker and
main-thread mode, a commit waking another tab's watch, and SQLAlchemy's ORM on it (its pure
wheel loaded from the test server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/shared/dbapi.db"


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_dbapi_calls_block_through_jspi_and_wake_other_tabs(open_tabs: Any,
                                                                  mode: str) -> None:
    writer, watcher = await open_tabs(2, mode=mode)
    await watcher.run(f"""
        import asyncio, tabsqlite
        db = await tabsqlite.open_database({DB!r})
        await db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        seen = []
        async def follow():
            async for rows in db.watch("SELECT count(*) AS n FROM t"):
                seen.append(rows[0]["n"])
        task = asyncio.ensure_future(follow())
        while not seen:
            await asyncio.sleep(0.01)
    """)
    out = await writer.run(f"""
        import json
        import tabsqlite.dbapi as dbapi
        conn = dbapi.connect({DB!r})
        cur = conn.execute("INSERT INTO t(v) VALUES (?)", ["from dbapi"])
        before = conn.in_transaction
        conn.commit()
        rows = conn.execute("SELECT v FROM t").fetchall()
        try:
            conn.execute("INSERT INTO t(id, v) VALUES (?, 'dup')", [cur.lastrowid])
            error = None
        except dbapi.IntegrityError as e:
            error = e.code_name
        conn.rollback()
        try:
            conn.create_function("twice", 1, lambda x: 2 * x)
            twice = conn.execute("SELECT twice(21)").fetchone()[0]
        except dbapi.NotSupportedError:
            twice = "not supported"
        conn.close()
        json.dumps([before, rows, error, twice])
    """)
    before, rows, error, twice = json.loads(out)
    assert before is True and rows == [["from dbapi"]]
    assert error == "SQLITE_CONSTRAINT_PRIMARYKEY"
    assert twice == (42 if mode == "worker" else "not supported")
    for _ in range(200):
        if await watcher.run("seen[-1]") == 1:
            break
        await asyncio.sleep(0.05)
    assert await watcher.run("seen[-1]") == 1


SQLALCHEMY_ORM = """
import pyodide_js
from pyodide.ffi import to_js
await pyodide_js.loadPackage(to_js([f"{location.origin}/wheels/dbapi/{name}"
                                    for name in WHEELS]))
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
import tabsqlite.dbapi

class Base(DeclarativeBase):
    pass

class Counter(Base):
    __tablename__ = "counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)

engine = create_engine("sqlite:////shared/orm.db", module=tabsqlite.dbapi)
Base.metadata.create_all(engine)
with Session(engine) as session, session.begin():
    if session.get(Counter, 1) is None:
        session.add(Counter(id=1, value=0))
"""

INCREMENT = """
for _ in range({times}):
    with Session(engine) as session, session.begin():
        row = session.scalars(select(Counter).where(Counter.id == 1)).one()
        row.value = row.value + 1
with Session(engine) as session:
    value = session.get(Counter, 1).value
value
"""


async def test_sqlalchemy_orm_in_two_tabs_loses_no_increment(open_tabs: Any,
                                                             wheels: Any) -> None:
    names = sorted(p.name for p in (wheels / "dbapi").glob("*.whl"))
    tabs = await open_tabs(2, mode="worker")
    for tab in tabs:
        await tab.run(f"from js import location\nWHEELS = {names!r}\n" + SQLALCHEMY_ORM,
                      timeout=120)
    await asyncio.gather(*(tab.run(INCREMENT.format(times=25), timeout=120) for tab in tabs))
    final = await tabs[0].run(INCREMENT.format(times=0))
    assert final == 50
