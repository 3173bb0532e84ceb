"""Migrations across real tabs: four tabs open a new database and migrate it at the same
moment (wa-sqlite's concurrent first-open migrations hang, its issue #341): each step is
applied once, none hangs, each tab ends with the whole schema. And export/import across
tabs: an import in one tab wakes another tab's watch."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

STEPS = """
import asyncio, json, tabsqlite

async def slow_step(tx):
    for i in range(20):
        await tx.execute("INSERT INTO log(step, n) VALUES (3, ?)", [i])
        await asyncio.sleep(0.005)

STEPS = [
    "CREATE TABLE log(step INTEGER, n INTEGER); INSERT INTO log VALUES (1, 0)",
    "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO log VALUES (2, 0)",
    slow_step,
    "ALTER TABLE notes ADD COLUMN pinned INTEGER DEFAULT 0; INSERT INTO log VALUES (4, 0)",
]
"""

MIGRATE = """
db = await tabsqlite.open_database({path!r})
applied = await db.migrate(STEPS)
out = json.dumps({{"applied": applied,
                  "version": (await db.get("PRAGMA user_version"))["user_version"],
                  "log": (await db.get("SELECT count(*) AS n FROM log"))["n"]}})
await db.close()
out
"""


async def test_tabs_migrating_at_once_apply_each_step_once(open_tabs: Any) -> None:
    tabs = await open_tabs(4)
    for tab in tabs:
        await tab.run(STEPS)
    for trial in range(3):
        path = f"/migrate/race{trial}.db"
        outs = [json.loads(out) for out in await asyncio.wait_for(asyncio.gather(
            *(tab.run(MIGRATE.format(path=path), timeout=60) for tab in tabs)), 90)]
        assert sorted(s for out in outs for s in out["applied"]) == [1, 2, 3, 4], outs
        assert all(out["version"] == 4 and out["log"] == 23 for out in outs), outs


async def test_an_import_in_one_tab_wakes_the_others(open_tabs: Any) -> None:
    a, b = await open_tabs(2)
    await b.run("""
        import asyncio, tabsqlite
        db = await tabsqlite.open_database("/shared/imported.db")
        await db.execute("CREATE TABLE IF NOT EXISTS old(x)")
        seen = []
        async def follow():
            async for rows in db.watch("SELECT count(*) AS n FROM sqlite_schema",
                                       tables=["old", "fresh"]):
                seen.append(rows[0]["n"])
        task = asyncio.ensure_future(follow())
        while not seen:
            await asyncio.sleep(0.01)
    """)
    await a.run("""
        import tabsqlite
        src = await tabsqlite.open_database(":memory:")
        await src.execute_script("CREATE TABLE fresh(y); INSERT INTO fresh VALUES (1), (2)")
        await tabsqlite.import_database("/shared/imported.db", await src.export())
    """)
    for _ in range(100):
        if len(await b.run("seen")) > 1:
            break
        await asyncio.sleep(0.05)
    assert await b.run("(await db.get('SELECT count(*) AS n FROM fresh'))['n']") == 2
    assert len(await b.run("seen")) > 1
