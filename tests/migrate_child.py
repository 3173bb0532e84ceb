"""A process that opens a database and migrates it at a given moment:
``python migrate_child.py DB_PATH START_AT`` (``START_AT``: a ``time.time()`` to wait for,
so several children begin together). Prints the steps it applied, as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import tabsqlite


async def slow_step(tx: tabsqlite.Transaction) -> None:
    """A step that takes a while, inserting rows in between (others must wait it out)."""
    for i in range(20):
        await tx.execute("INSERT INTO log(step, n) VALUES (3, ?)", [i])
        await asyncio.sleep(0.005)


STEPS: list[tabsqlite.MigrationStep] = [
    "CREATE TABLE log(step INTEGER, n INTEGER); INSERT INTO log VALUES (1, 0)",
    "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO log VALUES (2, 0)",
    slow_step,
    "ALTER TABLE notes ADD COLUMN pinned INTEGER DEFAULT 0; INSERT INTO log VALUES (4, 0)",
]


async def main(path: str, start_at: float) -> None:
    await asyncio.sleep(max(0.0, start_at - time.time()))
    async with tabsqlite.open_database(path, open_timeout=60) as db:
        applied = await db.migrate(STEPS)
        version = (await db.get("PRAGMA user_version"))["user_version"]
        columns = [r["name"] for r in await db.get_all("PRAGMA table_info(notes)")]
    print(json.dumps({"applied": applied, "version": version, "columns": columns}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
