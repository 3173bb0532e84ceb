"""Statements run again and again inside a transaction must report what happened each
time, on every runtime (the browser test runs this file's source in a tab). In the browser a
repeated statement takes a shorter path with a compact answer, so these are its edges: row
ids and counts a compact answer can't hold, a schema change under a prepared statement, and
more distinct statements than the shortcut keeps."""

import asyncio
from typing import Any

INSERT = "INSERT INTO r(id, a) VALUES (?, ?)"


async def _next_change(changes: Any) -> set[str]:
    return set((await asyncio.wait_for(anext(changes), 5)).tables)


async def reuse(db: Any) -> dict[str, Any]:
    """Run the edge cases; return what each reported (see :func:`check`)."""
    await db.execute("DROP TABLE IF EXISTS r")
    await db.execute("DROP TABLE IF EXISTS r_log")
    await db.execute("CREATE TABLE r(id INTEGER PRIMARY KEY, a)")
    await db.execute("CREATE TABLE r_log(id INTEGER PRIMARY KEY, rid)")
    await db.execute("DROP TABLE IF EXISTS d")
    await db.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, a)")
    out: dict[str, Any] = {}
    async with db.write_transaction() as tx:
        ids = [1, 2, 2**40 - 1, 2**40, 2**53 + 1, -5, 2**63 - 1]
        out["rowids"] = [
            (await tx.execute(INSERT, [i, "x"])).last_insert_rowid for i in ids
        ]
        out["counts"] = [
            (await tx.execute("UPDATE r SET a = ? WHERE id > ?", ["y", lo])).rows_affected
            for lo in (2**63 - 2, 0, -10, 2**63 - 2, 2**63 - 1, 2**63 - 1)
        ]
        out["select"] = [(await tx.get("SELECT a, ? AS f FROM r WHERE id = ?", [f, 1]))
                         for f in (2.0, 2.5, 2.0)]
        filler = [[i, "f"] for i in range(100, 140)]
        await tx.execute_many(INSERT, filler)
        out["many"] = (
            await tx.execute("UPDATE r SET a = ? WHERE id BETWEEN ? AND ?", ["z", 100, 139])
        ).rows_affected
        # More distinct statements than any per-connection shortcut keeps, each twice.
        got = []
        for rep in range(2):
            for k in range(300):
                res = await tx.execute(f"INSERT INTO d(a) VALUES (? + {k})", [rep])
                got.append((res.rows_affected, res.last_insert_rowid))
        out["distinct"] = got
    # A trigger added under a statement that ran before: its commit names the new table.
    changes = aiter(db.on_change())
    async with db.write_transaction() as tx:
        await tx.execute(INSERT, [10, "before"])
    out["before_trigger"] = await _next_change(changes)
    await db.execute(
        "CREATE TRIGGER r_ins AFTER INSERT ON r BEGIN INSERT INTO r_log(rid) VALUES (new.id); END"
    )
    async with db.write_transaction() as tx:
        await tx.execute(INSERT, [11, "after"])
        await tx.execute(INSERT, [12, "after"])
    out["after_trigger"] = await _next_change(changes)
    await db.execute("DROP TRIGGER r_ins")  # (trigger DDL changes no table's rows)
    async with db.write_transaction() as tx:
        await tx.execute(INSERT, [13, "dropped"])
    out["after_drop"] = await _next_change(changes)
    # A repeated statement whose error ends the transaction (OR ROLLBACK): nothing of it
    # stays, and the next transaction works.
    failed = ""
    try:
        async with db.write_transaction() as tx:
            for a in ("first", "again"):
                await tx.execute("INSERT OR ROLLBACK INTO r(id, a) VALUES (?, ?)", [500, a])
    except Exception as e:  # the runtime's ConstraintError (the test file imports no tabsqlite)
        failed = type(e).__name__
    out["rolled_back"] = (failed, (await db.get("SELECT count(*) AS n FROM r WHERE id = 500"))["n"])
    async with db.write_transaction() as tx:
        await tx.execute("INSERT OR ROLLBACK INTO r(id, a) VALUES (?, ?)", [501, "after"])
    out["log"] = (await db.get("SELECT count(*) AS n FROM r_log"))["n"]
    out["rows"] = (await db.get("SELECT count(*) AS n FROM r"))["n"]
    return out


def check(out: dict[str, Any]) -> None:
    """What :func:`reuse` must report."""
    assert out["rowids"] == [1, 2, 2**40 - 1, 2**40, 2**53 + 1, -5, 2**63 - 1], out["rowids"]
    assert all(type(i) is int for i in out["rowids"]), out["rowids"]
    assert out["counts"] == [1, 6, 7, 1, 0, 0], out["counts"]
    assert out["select"] == [{"a": "y", "f": f} for f in (2.0, 2.5, 2.0)], out["select"]
    assert all(type(row["f"]) is float for row in out["select"]), out["select"]
    assert out["many"] == 40, out["many"]
    assert out["distinct"] == [(1, i) for i in range(1, 601)], out["distinct"]
    assert out["before_trigger"] == {"r"}, out["before_trigger"]
    assert out["after_trigger"] == {"r", "r_log"}, out["after_trigger"]
    assert out["after_drop"] == {"r"}, out["after_drop"]
    assert out["rolled_back"] == ("ConstraintError", 0), out["rolled_back"]
    assert out["log"] == 2, out["log"]
    assert out["rows"] == 7 + 40 + 4 + 1, out["rows"]
