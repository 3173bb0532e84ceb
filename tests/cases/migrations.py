"""``migrate``: versioned steps, each applied once, whoever gets there first."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import tabsqlite


async def _add_seed(tx: Any) -> None:
    await tx.execute("INSERT INTO notes(body) VALUES ('seed')")


STEPS: list[Any] = [
    "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
    "CREATE TABLE applied(step INTEGER)",
    "ALTER TABLE notes ADD COLUMN pinned INTEGER DEFAULT 0; INSERT INTO applied VALUES (2)",
    _add_seed,
    "CREATE INDEX notes_pinned ON notes(pinned); INSERT INTO applied VALUES (4)",
]


async def case_steps_apply_in_order_and_only_once(ctx: Any) -> None:
    db = await ctx.open()
    assert await db.migrate(STEPS[:2]) == [1, 2]
    assert await db.migrate(STEPS[:2]) == []
    assert await db.migrate(STEPS) == [3, 4]
    assert (await db.get("PRAGMA user_version"))["user_version"] == 4
    assert [r["step"] for r in await db.get_all("SELECT step FROM applied")] == [2, 4]
    assert (await db.get("SELECT count(*) AS n FROM notes"))["n"] == 1
    assert await db.migrate(STEPS) == []


async def case_connections_migrating_at_once_apply_each_step_once(ctx: Any) -> None:
    for trial in range(4):
        path = ctx.path(f"race{trial}.db")
        dbs = [await ctx.open(path) for _ in range(4)]

        async def go(db: Any) -> list[int]:
            await asyncio.sleep(random.uniform(0, 0.01))
            return list(await db.migrate(STEPS))

        applied = await asyncio.wait_for(asyncio.gather(*(go(db) for db in dbs)), 30)
        assert sorted(n for got in applied for n in got) == [1, 2, 3, 4], applied
        for db in dbs:  # each sees the whole schema, nobody saw half of it
            assert (await db.get("PRAGMA user_version"))["user_version"] == 4
            assert (await db.get("SELECT count(*) AS n FROM notes"))["n"] == 1
            assert await db.migrate(STEPS) == []


async def case_a_failing_step_is_rolled_back_and_named(ctx: Any) -> None:
    db = await ctx.open()
    steps = [*STEPS[:2], "INSERT INTO applied VALUES (3); INSERT INTO nowhere VALUES (1)"]
    try:
        await db.migrate(steps)
    except tabsqlite.MigrationError as error:
        assert error.version == 3, error.version
        assert "step 3" in str(error) and "nowhere" in str(error), str(error)
        assert isinstance(error.__cause__, tabsqlite.SQLiteError)
    else:
        raise AssertionError("the step did not fail")
    assert (await db.get("PRAGMA user_version"))["user_version"] == 2
    assert [r["step"] for r in await db.get_all("SELECT step FROM applied")] == [2]
    assert not db.in_transaction
    assert await db.migrate(STEPS[:2]) == []


async def case_a_newer_file_is_reported(ctx: Any) -> None:
    db = await ctx.open()
    await db.migrate(STEPS)
    try:
        await db.migrate(STEPS[:2])
    except tabsqlite.MigrationError as error:
        assert error.version == 4 and "newer" in str(error)
    else:
        raise AssertionError("an older app's steps were taken")


async def case_bad_steps_are_refused_before_anything_runs(ctx: Any) -> None:
    db = await ctx.open()
    for steps in ("CREATE TABLE t(x)", [1], ["CREATE TABLE t(x)", None]):
        try:
            await db.migrate(steps)
        except tabsqlite.BadCallError:
            pass
        else:
            raise AssertionError(f"{steps!r} was taken")
    assert (await db.get("PRAGMA user_version"))["user_version"] == 0
    assert await db.get_optional("SELECT name FROM sqlite_schema") is None
    async with db.write_transaction():
        try:
            await db.migrate(STEPS)
        except tabsqlite.BadCallError:
            pass
        else:
            raise AssertionError("migrate ran inside a transaction")


async def case_a_cancelled_migration_leaves_a_whole_version(ctx: Any) -> None:
    async def slow(tx: Any) -> None:
        for i in range(200):
            await tx.execute("INSERT INTO notes(body) VALUES (?)", [str(i)])

    steps = [STEPS[0], slow]
    for trial in range(6):
        db = await ctx.open(ctx.path(f"cancel{trial}.db"))
        task = asyncio.ensure_future(db.migrate(steps))
        await asyncio.sleep(random.uniform(0, 0.02))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not db.in_transaction
        version = (await db.get("PRAGMA user_version"))["user_version"]
        count = (await db.get("SELECT count(*) AS n FROM notes"))["n"] if version else 0
        assert (version, count) in ((0, 0), (1, 0), (2, 200)), (version, count)
        await db.migrate(steps)
        assert (await db.get("SELECT count(*) AS n FROM notes"))["n"] == 200
