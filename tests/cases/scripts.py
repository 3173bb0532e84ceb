"""``execute_script``: several statements, one transaction unless the script has its own."""

from __future__ import annotations

import asyncio
from typing import Any

import tabsqlite

SCHEMA = """
-- the app's tables; a comment with a ; in it
CREATE TABLE todo(id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0);
CREATE TABLE log(msg TEXT);
CREATE TRIGGER todo_log AFTER INSERT ON todo BEGIN
  INSERT INTO log VALUES ('added ' || NEW.title || CASE WHEN NEW.done THEN ';done' END);
  INSERT INTO log VALUES ('second statement; of the trigger');
END;
INSERT INTO todo(title) VALUES ('semi;colon'), ('it''s');
"""


async def case_a_script_runs_every_statement_in_one_commit(ctx: Any) -> None:
    db = await ctx.open()
    other = await ctx.open()
    changes = other.on_change(tables=["todo"])
    waiter = asyncio.ensure_future(anext(changes))
    await db.execute_script(SCHEMA)
    titles = [r["title"] for r in await db.get_all("SELECT title FROM todo ORDER BY id")]
    assert titles == ["semi;colon", "it's"]
    assert (await db.get("SELECT count(*) AS n FROM log"))["n"] == 4
    event = await asyncio.wait_for(waiter, 10)
    assert "todo" in event.tables or event.unknown
    await db.execute_script("")  # nothing to do
    await db.execute_script("  -- only a comment\n ; ;")


async def case_a_failing_statement_rolls_the_whole_script_back(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute("CREATE TABLE t(x INTEGER UNIQUE)")
    script = "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nINSERT INTO t VALUES (1)"
    try:
        await db.execute_script(script)
    except tabsqlite.ConstraintError as error:
        notes = "\n".join(getattr(error, "__notes__", []))
        assert "statement 3 of 3" in notes and "VALUES (1)" in notes, notes
    else:
        raise AssertionError("the script did not fail")
    assert (await db.get("SELECT count(*) AS n FROM t"))["n"] == 0
    assert not db.in_transaction


async def case_a_script_with_its_own_transaction_runs_as_written(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute_script("""
        CREATE TABLE t(x);
        BEGIN; INSERT INTO t VALUES (1); COMMIT;
        BEGIN; INSERT INTO t VALUES (2); ROLLBACK;
        SAVEPOINT s; INSERT INTO t VALUES (3); RELEASE s;
    """)
    assert [r["x"] for r in await db.get_all("SELECT x FROM t")] == [1, 3]
    # Left open at its end, or failing inside: rolled back, nothing held.
    for script in ("BEGIN; INSERT INTO t VALUES (4)",
                   "BEGIN; INSERT INTO t VALUES (5); INSERT INTO nowhere VALUES (1); COMMIT"):
        try:
            await db.execute_script(script)
        except tabsqlite.DatabaseError:
            pass
        else:
            raise AssertionError(f"{script!r} did not fail")
        assert not db.in_transaction
    assert [r["x"] for r in await db.get_all("SELECT x FROM t")] == [1, 3]
    other = await ctx.open()  # the write lock is free
    await other.execute("INSERT INTO t VALUES (6)", timeout=5)


async def case_a_script_inside_a_transaction_joins_it(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute("CREATE TABLE t(x)")
    try:
        async with db.write_transaction() as tx:
            await tx.execute_script("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
            await db.execute_script("INSERT INTO t VALUES (3)")
            assert (await tx.get("SELECT count(*) AS n FROM t"))["n"] == 3
            raise KeyError("undo")
    except KeyError:
        pass
    assert (await db.get("SELECT count(*) AS n FROM t"))["n"] == 0
    async with db.write_transaction() as tx:
        try:
            await tx.execute_script("BEGIN; SELECT 1")
        except tabsqlite.BadCallError:
            pass
        else:
            raise AssertionError("a BEGIN inside a transaction was run")
    try:
        await db.execute_script(b"SELECT 1")  # type: ignore[arg-type]
    except tabsqlite.BadCallError:
        pass
    else:
        raise AssertionError("bytes were taken as a script")


async def case_a_cancelled_script_leaves_nothing_open(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute("CREATE TABLE t(x)")
    rows = ";".join(f"INSERT INTO t VALUES ({i})" for i in range(300))
    for delay in (0.0, 0.001, 0.003, 0.01, 0.03):
        for script in (rows, f"BEGIN; {rows}; COMMIT"):
            task = asyncio.ensure_future(db.execute_script(script))
            await asyncio.sleep(delay)
            task.cancel()
            try:
                await task
                done = True
            except asyncio.CancelledError:
                done = False
            assert not db.in_transaction
            n = (await db.get("SELECT count(*) AS n FROM t"))["n"]
            assert n == (300 if done else n) and n in (0, 300), (delay, n)
            await db.execute("DELETE FROM t")
